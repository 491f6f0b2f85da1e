//! Wire formats: the only library crate (with the server) that knows how bytes look on the network.

pub mod exposition;
pub mod loki;
pub mod remote_write;
