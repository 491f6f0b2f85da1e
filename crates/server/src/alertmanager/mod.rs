//! The Alertmanager inside the server: owns the `vigil-alerting` dispatcher behind a mutex, stores its state
//! in SQLite after every change, and runs the task that flushes groups when due and hands notifications to the
//! `vigil-notify` notifier. `post_alerts` is the in-process entry point (the rule manager's and
//! `POST /api/v2/alerts`').

pub mod client;
mod config;
mod metrics;
mod runtime;
pub mod store;

pub use config::{AlertingConfig, DEFAULT_RECEIVER};
pub use runtime::{Alertmanager, AlertmanagerError, AlertmanagerOptions, OpenError, PreparedConfig};
pub use store::StoreError;
