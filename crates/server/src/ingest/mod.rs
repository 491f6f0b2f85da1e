//! Ingest endpoints: data pushed to the server in the ecosystem's protocols.

pub mod loki_push;
pub mod remote_write;
pub mod scrape;
