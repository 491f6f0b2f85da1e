//! The agent's own health, in the names every Prometheus client library uses (`process_*`), plus
//! `vigil_build_info`. Read from `/proc/self`, so it always describes this process whatever `--path.procfs` says.

use vigil_model::{Desc, MetricSink};

const CPU: Desc<'static> =
    Desc::counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
const RSS: Desc<'static> = Desc::gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
const VSIZE: Desc<'static> = Desc::gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
const START: Desc<'static> =
    Desc::gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
const OPEN_FDS: Desc<'static> = Desc::gauge("process_open_fds", "Number of open file descriptors.");
const MAX_FDS: Desc<'static> = Desc::gauge("process_max_fds", "Maximum number of open file descriptors.");
const BUILD: Desc<'static> = Desc::gauge(
    "vigil_build_info",
    "A metric with a constant '1' value labeled by the version of vigil that is running.",
);

/// Scratch space kept between scrapes.
#[derive(Default)]
pub struct SelfMetrics {
    buf: String,
}

impl SelfMetrics {
    /// Writes what can be read; a value that cannot be read is left out rather than failing the scrape.
    pub fn collect(&mut self, out: &mut dyn MetricSink) {
        out.sample(&BUILD, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        if let Some(stat) = self.read("/proc/self/stat").and_then(parse_stat) {
            let hz = vigil_collect::util::user_hz();
            out.sample(&CPU, &[], (stat.utime + stat.stime) as f64 / hz);
            out.sample(&VSIZE, &[], stat.vsize as f64);
            out.sample(&RSS, &[], (stat.rss_pages * page_size()) as f64);
            if let Some(boot) = self.read("/proc/stat").and_then(boot_time) {
                out.sample(&START, &[], boot as f64 + stat.start_ticks as f64 / hz);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            out.sample(&OPEN_FDS, &[], dir.count() as f64);
        }
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes into the struct we pass and has no other effect.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            out.sample(&MAX_FDS, &[], limit.rlim_cur as f64);
        }
    }

    fn read(&mut self, path: &str) -> Option<&str> {
        vigil_collect::util::read_into(std::path::Path::new(path), &mut self.buf).ok()?;
        Some(&self.buf)
    }
}

struct Stat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

/// Fields of /proc/self/stat after the command name, which is in parentheses and may itself contain spaces.
fn parse_stat(s: &str) -> Option<Stat> {
    let after = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_ascii_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field N is index N - 3.
    let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat { utime: num(14)?, stime: num(15)?, start_ticks: num(22)?, vsize: num(23)?, rss_pages: num(24)? })
}

fn boot_time(s: &str) -> Option<u64> {
    s.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_and_parens_in_the_name() {
        let line = "42 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 111 222 0 0 20 0 1 0 3333 4444 55 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.utime, s.stime, s.start_ticks, s.vsize, s.rss_pages), (111, 222, 3333, 4444, 55));
        assert!(parse_stat("42 (truncated").is_none());
        assert!(parse_stat("42 (x) S 1").is_none());
    }

    #[test]
    fn describes_this_process() {
        let mut sink = vigil_model::metric::VecSink::default();
        SelfMetrics::default().collect(&mut sink);
        assert!(sink.value("process_resident_memory_bytes", &[]).unwrap() > 1e6);
        assert!(sink.value("process_open_fds", &[]).unwrap() >= 3.0);
        assert!(sink.value("process_start_time_seconds", &[]).unwrap() > 1e9);
        assert_eq!(sink.value("vigil_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    }
}
