//! vigil-loadgen: sends node_exporter-like series to a Prometheus remote_write 1.0 receiver.

mod gate;
pub mod http;
pub mod nodegen;
pub mod run;

pub use run::{run, Config, LoadgenError, Summary};
