//! `stat`: kernel activity from `/proc/stat`: boot time, context switches, forks, interrupts, and runnable and
//! blocked processes.

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_f64, parse_u64, read_into};
use crate::{CollectError, Collector, Options, Paths};

const BOOT_TIME: Desc<'static> = Desc::gauge("node_boot_time_seconds", "Node boot time, in unixtime.");
const CONTEXT_SWITCHES: Desc<'static> =
    Desc::counter("node_context_switches_total", "Total number of context switches.");
const FORKS: Desc<'static> = Desc::counter("node_forks_total", "Total number of forks.");
const INTR: Desc<'static> = Desc::counter("node_intr_total", "Total number of interrupts serviced.");
const PROCS_RUNNING: Desc<'static> = Desc::gauge("node_procs_running", "Number of processes in runnable state.");
const PROCS_BLOCKED: Desc<'static> =
    Desc::gauge("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.");

/// The keys of /proc/stat this collector reports, each with the family it becomes. All of them must be present:
/// a file without one of them is truncated or not /proc/stat at all.
const KEYS: [(&str, Desc<'static>); 6] = [
    ("btime", BOOT_TIME),
    ("ctxt", CONTEXT_SWITCHES),
    ("processes", FORKS),
    ("intr", INTR),
    ("procs_running", PROCS_RUNNING),
    ("procs_blocked", PROCS_BLOCKED),
];

pub struct StatCollector {
    buf: String,
}

impl StatCollector {
    pub fn new(_: &Options) -> Self {
        StatCollector { buf: String::new() }
    }
}

impl Collector for StatCollector {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("stat");
        read_into(&path, &mut self.buf)?;
        let mut values: [Option<u64>; KEYS.len()] = [None; KEYS.len()];
        for (n, line) in self.buf.lines().enumerate() {
            let mut fields = line.split_ascii_whitespace();
            let Some(key) = fields.next() else { continue };
            if let Some((slot, _)) = values.iter_mut().zip(KEYS).find(|(_, (k, _))| *k == key) {
                let Some(value) = fields.next() else {
                    return Err(CollectError::parse(&path, n + 1, format!("no value for {key}")));
                };
                *slot = Some(parse_u64(value, &path, n + 1)?);
                // The per-IRQ counts after the total are checked too, as node_exporter's parser does.
                for count in fields {
                    parse_u64(count, &path, n + 1)?;
                }
            } else if key == "softirq" {
                for count in fields {
                    parse_u64(count, &path, n + 1)?;
                }
            } else if let Some(id) = key.strip_prefix("cpu") {
                // CPU lines belong to the cpu collector, but a malformed one fails this collector in node_exporter.
                if !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CollectError::parse(&path, n + 1, format!("bad cpu id {id:?}")));
                }
                for ticks in fields.take(10) {
                    parse_f64(ticks, &path, n + 1)?;
                }
            }
        }
        for (value, (key, _)) in values.iter().zip(KEYS) {
            if value.is_none() {
                return Err(CollectError::parse(&path, 0, format!("no {key} line")));
            }
        }
        for (value, (_, desc)) in values.iter().zip(KEYS) {
            if let Some(v) = value {
                out.sample(&desc, &[], *v as f64);
            }
        }
        Ok(())
    }
}
