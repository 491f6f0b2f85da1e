//! vigil-loadgen: sends node_exporter-like series to a Prometheus remote_write 1.0 receiver, or realistic log
//! lines to a Loki push endpoint (`logrun`).

mod gate;
pub mod http;
pub mod loggen;
pub mod logrun;
pub mod nodegen;
pub mod run;
pub mod send;

pub use run::{run, Config, LoadgenError, Summary};
