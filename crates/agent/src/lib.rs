//! The agent runtime: turns the configuration into collectors and serves their samples on `/metrics`, ships
//! logs (`logs/`) and runs the security jails (`guard/`).

pub mod guard;
mod http;
pub mod logs;
mod metrics_http;
mod self_metrics;
mod settings;

pub use metrics_http::{serve, Scraper};
pub use settings::{AgentSettings, SettingsError};
