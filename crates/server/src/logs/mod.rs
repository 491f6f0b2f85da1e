//! The server's logs: the embedded log store (`vigil-logstore`) behind Loki's push and query APIs, and the
//! adapter through which LogQL reads it.

pub mod client;
pub mod metrics;
mod storage;

pub use storage::StoreReader;
