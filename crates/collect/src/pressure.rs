//! `pressure`: pressure stall information (PSI) totals from `/proc/pressure/{cpu,io,memory}`.

use std::path::Path;

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_f64, parse_u64, read_into};
use crate::{CollectError, Collector, Options, Paths};

const CPU_WAITING: Desc<'static> = Desc::counter(
    "node_pressure_cpu_waiting_seconds_total",
    "Total time in seconds that processes have waited for CPU time",
);
const IO_WAITING: Desc<'static> = Desc::counter(
    "node_pressure_io_waiting_seconds_total",
    "Total time in seconds that processes have waited due to IO congestion",
);
const IO_STALLED: Desc<'static> = Desc::counter(
    "node_pressure_io_stalled_seconds_total",
    "Total time in seconds no process could make progress due to IO congestion",
);
const MEMORY_WAITING: Desc<'static> = Desc::counter(
    "node_pressure_memory_waiting_seconds_total",
    "Total time in seconds that processes have waited for memory",
);
const MEMORY_STALLED: Desc<'static> = Desc::counter(
    "node_pressure_memory_stalled_seconds_total",
    "Total time in seconds no process could make progress due to memory congestion",
);

/// Each resource with the families of its "some" and "full" totals. node_exporter 1.5 ignores the "full" line
/// of cpu, which kernels since 5.13 write.
const RESOURCES: [(&str, Desc<'static>, Option<Desc<'static>>); 3] = [
    ("pressure/cpu", CPU_WAITING, None),
    ("pressure/io", IO_WAITING, Some(IO_STALLED)),
    ("pressure/memory", MEMORY_WAITING, Some(MEMORY_STALLED)),
];

/// The keys of a "some" or "full" line, in order, after the line's kind.
const LINE_KEYS: [&str; 4] = ["avg10=", "avg60=", "avg300=", "total="];

pub struct PressureCollector {
    buf: String,
}

impl PressureCollector {
    pub fn new(_: &Options) -> Self {
        PressureCollector { buf: String::new() }
    }
}

/// Parses `avg10=F avg60=F avg300=F total=N` (what follows "some" or "full") and returns the total in
/// microseconds. The averages are checked but not kept.
fn parse_line<'a>(mut fields: impl Iterator<Item = &'a str>, path: &Path, line: usize) -> Result<u64, CollectError> {
    let mut total = 0;
    for key in LINE_KEYS {
        let Some(value) = fields.next().and_then(|f| f.strip_prefix(key)) else {
            return Err(CollectError::parse(path, line, format!("expected {key}<value>")));
        };
        if key == "total=" {
            total = parse_u64(value, path, line)?;
        } else {
            parse_f64(value, path, line)?;
        }
    }
    Ok(total)
}

/// Whether a read error means the kernel has no PSI (too old, not built in, or disabled with psi=0).
fn unavailable(err: &CollectError) -> bool {
    match err {
        CollectError::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::NotFound || source.raw_os_error() == Some(libc::EOPNOTSUPP)
        }
        _ => false,
    }
}

impl Collector for PressureCollector {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        for (rel, some_desc, full_desc) in RESOURCES {
            let path = paths.proc(rel);
            if let Err(err) = read_into(&path, &mut self.buf) {
                if unavailable(&err) {
                    return Err(CollectError::NoData(format!("{err} (needs Linux 4.20+ with PSI enabled)")));
                }
                return Err(err);
            }
            let (mut some, mut full) = (None, None);
            for (n, line) in self.buf.lines().enumerate() {
                let mut fields = line.split_ascii_whitespace();
                // Lines of other kinds are skipped, as node_exporter skips them.
                match fields.next() {
                    Some("some") => some = Some(parse_line(fields, &path, n + 1)?),
                    Some("full") => full = Some(parse_line(fields, &path, n + 1)?),
                    _ => {}
                }
            }
            let Some(some) = some else {
                return Err(CollectError::parse(&path, 0, "no \"some\" line"));
            };
            // Microseconds to seconds in two steps, as node_exporter does, so the floats agree exactly.
            out.sample(&some_desc, &[], some as f64 / 1000.0 / 1000.0);
            if let Some(full_desc) = full_desc {
                let Some(full) = full else {
                    return Err(CollectError::parse(&path, 0, "no \"full\" line"));
                };
                out.sample(&full_desc, &[], full as f64 / 1000.0 / 1000.0);
            }
        }
        Ok(())
    }
}
