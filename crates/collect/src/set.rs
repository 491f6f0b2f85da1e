//! The set of enabled collectors: runs each on every scrape and reports its duration and success the way
//! node_exporter does (`node_scrape_collector_duration_seconds`, `node_scrape_collector_success`).

use std::time::Instant;

use vigil_model::{Desc, MetricSink};

use crate::{CollectError, Collector, Options};

type Constructor = fn(&Options) -> Box<dyn Collector>;

/// Every collector vigil has, in the order they run, with its constructor.
const REGISTRY: &[(&str, Constructor)] = &[
    ("cpu", |o| Box::new(crate::cpu::CpuCollector::new(o))),
    ("meminfo", |o| Box::new(crate::meminfo::MeminfoCollector::new(o))),
    ("loadavg", |o| Box::new(crate::loadavg::LoadavgCollector::new(o))),
    ("filesystem", |o| Box::new(crate::filesystem::FilesystemCollector::new(o))),
    ("diskstats", |o| Box::new(crate::diskstats::DiskstatsCollector::new(o))),
    ("netdev", |o| Box::new(crate::netdev::NetdevCollector::new(o))),
    ("netclass", |o| Box::new(crate::netclass::NetclassCollector::new(o))),
    ("stat", |o| Box::new(crate::stat::StatCollector::new(o))),
    ("uname", |o| Box::new(crate::uname::UnameCollector::new(o))),
    ("time", |o| Box::new(crate::time::TimeCollector::new(o))),
    ("pressure", |o| Box::new(crate::pressure::PressureCollector::new(o))),
    ("vmstat", |o| Box::new(crate::vmstat::VmstatCollector::new(o))),
    ("sockstat", |o| Box::new(crate::sockstat::SockstatCollector::new(o))),
    ("netstat", |o| Box::new(crate::netstat::NetstatCollector::new(o))),
    ("tcpstat", |o| Box::new(crate::tcpstat::TcpstatCollector::new(o))),
    ("filefd", |o| Box::new(crate::filefd::FilefdCollector::new(o))),
    ("entropy", |o| Box::new(crate::entropy::EntropyCollector::new(o))),
    ("conntrack", |o| Box::new(crate::conntrack::ConntrackCollector::new(o))),
    ("hwmon", |o| Box::new(crate::hwmon::HwmonCollector::new(o))),
    ("systemd", |o| Box::new(crate::systemd::SystemdCollector::new(o))),
];

/// Names of every collector, in run order.
pub const ALL_COLLECTORS: &[&str] = &[
    "cpu",
    "meminfo",
    "loadavg",
    "filesystem",
    "diskstats",
    "netdev",
    "netclass",
    "stat",
    "uname",
    "time",
    "pressure",
    "vmstat",
    "sockstat",
    "netstat",
    "tcpstat",
    "filefd",
    "entropy",
    "conntrack",
    "hwmon",
    "systemd",
];

const DURATION: Desc<'static> =
    Desc::gauge("node_scrape_collector_duration_seconds", "node_exporter: Duration of a collector scrape.");
const SUCCESS: Desc<'static> =
    Desc::gauge("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.");
const ERRORS: Desc<'static> =
    Desc::counter("vigil_collector_errors_total", "Collections that failed, by collector, since the agent started.");

/// A collector name in the config that vigil does not have.
#[derive(Debug, thiserror::Error)]
#[error("unknown collector {name:?} (known: {known})")]
pub struct UnknownCollector {
    pub name: String,
    pub known: String,
}

struct Entry {
    collector: Box<dyn Collector>,
    /// Set while the collector is failing, so each failure streak is logged once.
    failing: bool,
    errors: u64,
}

/// The enabled collectors of one agent.
pub struct CollectorSet {
    options: Options,
    entries: Vec<Entry>,
}

impl CollectorSet {
    /// Builds the named collectors (all of them when `names` is `None`), in registry order.
    pub fn new(options: Options, names: Option<&[String]>) -> Result<Self, UnknownCollector> {
        if let Some(names) = names {
            if let Some(bad) = names.iter().find(|n| !REGISTRY.iter().any(|(r, _)| r == n)) {
                return Err(UnknownCollector { name: bad.clone(), known: ALL_COLLECTORS.join(", ") });
            }
        }
        let entries = REGISTRY
            .iter()
            .filter(|(name, _)| names.is_none_or(|ns| ns.iter().any(|n| n == name)))
            .map(|(_, build)| Entry { collector: build(&options), failing: false, errors: 0 })
            .collect();
        Ok(CollectorSet { options, entries })
    }

    /// Names of the enabled collectors.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|e| e.collector.name())
    }

    /// Runs every collector once. A failing collector reports `success 0` and is logged once per failure streak;
    /// the others are unaffected.
    pub fn collect(&mut self, out: &mut dyn MetricSink) {
        for entry in &mut self.entries {
            let name = entry.collector.name();
            let start = Instant::now();
            let result = entry.collector.collect(&self.options.paths, out);
            let elapsed = start.elapsed().as_secs_f64();
            let ok = match result {
                Ok(()) => {
                    if entry.failing {
                        tracing::info!(collector = name, "collector recovered");
                    }
                    entry.failing = false;
                    true
                }
                Err(err) => {
                    entry.errors += 1;
                    if !entry.failing {
                        match err {
                            CollectError::NoData(_) => tracing::debug!(collector = name, %err, "collector has no data"),
                            _ => tracing::warn!(collector = name, %err, "collector failed"),
                        }
                    }
                    entry.failing = true;
                    false
                }
            };
            out.sample(&DURATION, &[("collector", name)], elapsed);
            out.sample(&SUCCESS, &[("collector", name)], if ok { 1.0 } else { 0.0 });
            out.sample(&ERRORS, &[("collector", name)], entry.errors as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_and_names_agree() {
        let names: Vec<&str> = REGISTRY.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ALL_COLLECTORS);
        let set = CollectorSet::new(Options::default(), None).unwrap();
        assert!(set.names().eq(ALL_COLLECTORS.iter().copied()));
    }

    #[test]
    fn unknown_collector_is_named() {
        let err = CollectorSet::new(Options::default(), Some(&["cpu".into(), "bogus".into()])).err().unwrap();
        assert!(err.to_string().contains("\"bogus\""), "{err}");
    }
}
