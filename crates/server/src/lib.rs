//! The vigil server: the Prometheus-compatible HTTP API and ingest endpoints over the embedded tsdb.

pub mod alertmanager;
pub mod api;
pub mod ingest;
pub mod local;
pub mod logs;
pub mod metadata;
mod reload;
pub mod rules;
mod server;
pub mod storage;

pub use reload::{ConfigSource, ServerReload};
pub use server::{Server, ServerError, ServerOptions};
