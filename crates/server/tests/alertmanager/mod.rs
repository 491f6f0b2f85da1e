//! The built-in Alertmanager end to end: a real server on 127.0.0.1, a webhook sink served by the test, the
//! API v2 and restarts on the same data directory.

mod api;
mod config;
mod delivery;
pub mod harness;
