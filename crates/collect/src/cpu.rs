//! `cpu`: per-CPU time by mode from `/proc/stat`, and thermal throttle counts from sysfs.

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
}

impl CpuCollector {
    pub fn new(_: &Options) -> Self {
        CpuCollector { buf: String::new(), attr: String::new(), hz: user_hz() }
    }

    fn throttles(&mut self, paths: &Paths, out: &mut dyn MetricSink) {
        let Ok(dir) = std::fs::read_dir(paths.sys("devices/system/cpu")) else { return };
        let mut packages_seen: Vec<String> = Vec::new();
        let mut cores_seen: Vec<(String, String)> = Vec::new();
        let mut cpus: Vec<_> = dir.flatten().map(|e| e.path()).collect();
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
            if !cores_seen.contains(&(package.clone(), core.clone())) {
                if read_attr(&cpu.join("thermal_throttle/core_throttle_count"), &mut self.attr).is_some() {
                    if let Ok(v) = self.attr.parse::<u64>() {
                        out.sample(&CORE_THROTTLES, &[("core", &core), ("package", &package)], v as f64);
                    }
                }
                cores_seen.push((package.clone(), core));
            }
            if !packages_seen.contains(&package) {
                if read_attr(&cpu.join("thermal_throttle/package_throttle_count"), &mut self.attr).is_some() {
                    if let Ok(v) = self.attr.parse::<u64>() {
                        out.sample(&PACKAGE_THROTTLES, &[("package", &package)], v as f64);
                    }
                }
                packages_seen.push(package);
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
        self.throttles(paths, out);
        Ok(())
    }
}
