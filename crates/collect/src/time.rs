//! `time`: the system clock, the local time zone's offset, and the kernel's clocksources from sysfs.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use vigil_model::{Desc, MetricSink};

use crate::util::read_into;
use crate::{CollectError, Collector, Options, Paths};

const SECONDS: Desc<'static> = Desc::gauge("node_time_seconds", "System time in seconds since epoch (1970).");
const ZONE_OFFSET: Desc<'static> = Desc::gauge("node_time_zone_offset_seconds", "System time zone offset in seconds.");
const CLOCKSOURCE_AVAILABLE: Desc<'static> = Desc::gauge(
    "node_time_clocksource_available_info",
    "Available clocksources read from '/sys/devices/system/clocksource'.",
);
const CLOCKSOURCE_CURRENT: Desc<'static> = Desc::gauge(
    "node_time_clocksource_current_info",
    "Current clocksource read from '/sys/devices/system/clocksource'.",
);

pub struct TimeCollector {
    zone: String,
    dirs: Vec<PathBuf>,
    available: String,
    words: Vec<(usize, usize)>,
    current: String,
    device: String,
}

impl TimeCollector {
    pub fn new(_: &Options) -> Self {
        TimeCollector {
            zone: String::new(),
            dirs: Vec::new(),
            available: String::new(),
            words: Vec::new(),
            current: String::new(),
            device: String::new(),
        }
    }

    /// Writes the local time zone's abbreviation at `secs` into `self.zone` and returns its offset from UTC in
    /// seconds.
    fn local_zone(&mut self, secs: u64) -> Result<f64, CollectError> {
        let t = libc::time_t::try_from(secs).map_err(|_| CollectError::Other("time out of range".into()))?;
        // SAFETY: tm is plain data; all zeroes (a null tm_zone) is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call; localtime_r is thread-safe.
        if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
            return Err(CollectError::Other("localtime_r failed".into()));
        }
        self.zone.clear();
        if !tm.tm_zone.is_null() {
            // SAFETY: a non-null tm_zone points to a NUL-terminated string in libc's static time zone data.
            let name = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) };
            self.zone.push_str(&name.to_string_lossy());
        }
        Ok(tm.tm_gmtoff as f64)
    }

    /// Writes the available and current clocksource of every `clocksource<N>` device. The `device` label is the
    /// device's position among them in name order, as node_exporter numbers them.
    fn clocksources(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        self.dirs.clear();
        // A missing directory means no clocksources, not an error.
        if let Ok(entries) = std::fs::read_dir(paths.sys("devices/system/clocksource")) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let is_device = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("clocksource"))
                    .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()));
                if is_device {
                    self.dirs.push(entry.path());
                }
            }
        }
        self.dirs.sort();
        for (i, dir) in self.dirs.iter().enumerate() {
            read_into(&dir.join("available_clocksource"), &mut self.available)?;
            read_into(&dir.join("current_clocksource"), &mut self.current)?;
            self.device.clear();
            let _ = write!(self.device, "{i}");
            // Available clocksources go out in name order, as node_exporter sorts them; `words` holds byte ranges
            // into `available` so that sorting allocates nothing.
            let base = self.available.as_ptr() as usize;
            self.words.clear();
            self.words.extend(self.available.split_ascii_whitespace().map(|w| {
                let start = w.as_ptr() as usize - base;
                (start, start + w.len())
            }));
            let available = self.available.as_str();
            self.words.sort_unstable_by_key(|&(start, end)| available.get(start..end));
            for &(start, end) in &self.words {
                let Some(name) = available.get(start..end) else { continue };
                out.sample(&CLOCKSOURCE_AVAILABLE, &[("clocksource", name), ("device", &self.device)], 1.0);
            }
            out.sample(&CLOCKSOURCE_CURRENT, &[("clocksource", self.current.trim()), ("device", &self.device)], 1.0);
        }
        Ok(())
    }
}

impl Collector for TimeCollector {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| CollectError::Other("system clock is before 1970".into()))?;
        // Nanoseconds divided by 1e9, as node_exporter computes it, so the two agree to the last digit.
        out.sample(&SECONDS, &[], now.as_nanos() as f64 / 1e9);
        let offset = self.local_zone(now.as_secs())?;
        out.sample(&ZONE_OFFSET, &[("time_zone", &self.zone)], offset);
        self.clocksources(paths, out)
    }
}
