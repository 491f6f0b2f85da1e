//! `cpu`: per-CPU time by mode from `/proc/stat`, and thermal throttle counts from sysfs.

use std::path::PathBuf;

use vigil_model::{Desc, MetricSink};

use crate::util::{read_attr, read_into, user_hz};
use crate::{CollectError, Collector, Options, Paths};

const SECONDS: Desc<'static> = Desc::counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.");
const GUEST: Desc<'static> =
    Desc::counter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.");
const CORE_THROTTLES: Desc<'static> =
    Desc::counter("node_cpu_core_throttles_total", "Number of times this CPU core has been throttled.");
const PACKAGE_THROTTLES: Desc<'static> =
    Desc::counter("node_cpu_package_throttles_total", "Number of times this CPU package has been throttled.");

/// Columns of a `cpuN` line in /proc/stat, in order.
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

pub struct CpuCollector {
    buf: String,
    attr: String,
    hz: f64,
    /// CPUs with thermal throttle counters, found once and again whenever the number of CPUs changes.
    throttled: Vec<ThrottleSource>,
    throttled_for_cpus: Option<usize>,
}

/// One CPU's throttle counter directory and its topology.
struct ThrottleSource {
    dir: PathBuf,
    package: String,
    core: String,
    /// The first CPU of its core and of its package report for them; hyperthreads would count twice.
    reports_core: bool,
    reports_package: bool,
}

impl CpuCollector {
    pub fn new(_: &Options) -> Self {
        CpuCollector {
            buf: String::new(),
            attr: String::new(),
            hz: user_hz(),
            throttled: Vec::new(),
            throttled_for_cpus: None,
        }
    }

    fn find_throttle_sources(&mut self, paths: &Paths) {
        self.throttled.clear();
        let Ok(dir) = std::fs::read_dir(paths.sys("devices/system/cpu")) else { return };
        let mut cpus: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        cpus.sort();
        for cpu in cpus {
            let is_cpu = cpu
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("cpu"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !is_cpu || !cpu.join("thermal_throttle").is_dir() {
                continue;
            }
            let Some(package) =
                read_attr(&cpu.join("topology/physical_package_id"), &mut self.attr).map(|_| self.attr.clone())
            else {
                continue;
            };
            let Some(core) = read_attr(&cpu.join("topology/core_id"), &mut self.attr).map(|_| self.attr.clone()) else {
                continue;
            };
            let reports_core = !self.throttled.iter().any(|t| t.package == package && t.core == core);
            let reports_package = !self.throttled.iter().any(|t| t.package == package);
            self.throttled.push(ThrottleSource {
                dir: cpu.join("thermal_throttle"),
                package,
                core,
                reports_core,
                reports_package,
            });
        }
    }

    fn throttles(&mut self, paths: &Paths, cpus: usize, out: &mut dyn MetricSink) {
        if self.throttled_for_cpus != Some(cpus) {
            self.find_throttle_sources(paths);
            self.throttled_for_cpus = Some(cpus);
        }
        for t in &mut self.throttled {
            if t.reports_core {
                t.dir.push("core_throttle_count");
                if let Some(v) = read_attr(&t.dir, &mut self.attr).and_then(|_| self.attr.parse::<u64>().ok()) {
                    out.sample(&CORE_THROTTLES, &[("core", &t.core), ("package", &t.package)], v as f64);
                }
                t.dir.pop();
            }
            if t.reports_package {
                t.dir.push("package_throttle_count");
                if let Some(v) = read_attr(&t.dir, &mut self.attr).and_then(|_| self.attr.parse::<u64>().ok()) {
                    out.sample(&PACKAGE_THROTTLES, &[("package", &t.package)], v as f64);
                }
                t.dir.pop();
            }
        }
    }
}

impl Collector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("stat");
        read_into(&path, &mut self.buf)?;
        let mut cpus = 0;
        for (n, line) in self.buf.lines().enumerate() {
            // Per-CPU lines are "cpuN ..."; the aggregate line is "cpu  ..." and is skipped.
            let Some(rest) = line.strip_prefix("cpu") else { continue };
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let mut fields = rest.split_ascii_whitespace();
            let Some(id) = fields.next() else { continue };
            if !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CollectError::parse(&path, n + 1, format!("bad cpu id {id:?}")));
            }
            let mut values = [0u64; 10];
            let mut count = 0;
            for (slot, field) in values.iter_mut().zip(fields) {
                *slot = crate::util::parse_u64(field, &path, n + 1)?;
                count += 1;
            }
            if count < 4 {
                return Err(CollectError::parse(&path, n + 1, format!("cpu{id} has {count} fields, want at least 4")));
            }
            for (mode, v) in MODES.iter().zip(&values[..count.min(8)]) {
                out.sample(&SECONDS, &[("cpu", id), ("mode", mode)], *v as f64 / self.hz);
            }
            if count >= 10 {
                out.sample(&GUEST, &[("cpu", id), ("mode", "user")], values[8] as f64 / self.hz);
                out.sample(&GUEST, &[("cpu", id), ("mode", "nice")], values[9] as f64 / self.hz);
            }
            cpus += 1;
        }
        if cpus == 0 {
            return Err(CollectError::parse(&path, 0, "no per-cpu lines"));
        }
        self.throttles(paths, cpus, out);
        Ok(())
    }
}
