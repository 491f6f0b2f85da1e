//! The Alertmanager inside the server: owns the `vigil-alerting` dispatcher behind a mutex, stores its state
//! in SQLite after every change, and runs the task that flushes groups when due and hands notifications to a
//! [`Deliver`]. `post_alerts` is the in-process entry point (the rule manager's and `POST /api/v2/alerts`').

pub mod client;
mod config;
pub mod deliver;
pub mod http_client;
mod runtime;
pub mod store;

pub use config::{AlertingConfig, DEFAULT_RECEIVER};
pub use deliver::{builtin_factory, BoxFuture, BuiltinDeliverer, Deliver, DelivererFactory, Recorder};
pub use runtime::{Alertmanager, AlertmanagerError};
pub use store::StoreError;
