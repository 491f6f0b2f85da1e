//! End-to-end tests of the `vigil` binary: real processes, real sockets, real peers on loopback.

mod support;

mod agent_logs;
mod bans;
mod check_config;
mod fleet;
mod guard;
mod interop_alertmanager;
mod interop_prometheus_alerts;
mod logs;
mod metrics_endpoint;
mod node_exporter_parity;
mod prometheus_interop;
mod prometheus_scrape;
mod reload;
mod rules;
mod server_kill;
mod silence;
mod up;
