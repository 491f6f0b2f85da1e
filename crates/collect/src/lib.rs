//! Agent collectors: each reads one corner of the host (`/proc`, `/sys`, `statfs`, D-Bus) and writes samples
//! with node_exporter 1.5's names, labels, help texts and types into a [`vigil_model::MetricSink`].

mod collector;
mod options;
mod set;
pub mod util;

pub mod conntrack;
pub mod cpu;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod pressure;
pub mod sockstat;
pub mod stat;
pub mod systemd;
pub mod tcpstat;
pub mod time;
pub mod uname;
pub mod vmstat;

pub use collector::{CollectError, Collector};
pub use options::{Options, Paths};
pub use set::{CollectorSet, UnknownCollector, ALL_COLLECTORS};
