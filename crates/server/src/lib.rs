//! The vigil server: the Prometheus-compatible HTTP API and ingest endpoints over the embedded tsdb, the
//! Alertmanager, and the fleet-wide ban list.

pub mod alertmanager;
pub mod api;
pub mod bans;
pub mod dashboards;
pub mod ingest;
pub mod local;
pub mod logs;
pub mod metadata;
mod reload;
pub mod rules;
mod server;
pub mod storage;
pub mod ui;

pub use reload::{ConfigSource, ServerReload};
pub use server::{Server, ServerError, ServerOptions};
