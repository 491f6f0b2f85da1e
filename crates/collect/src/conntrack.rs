//! `conntrack`: netfilter connection tracking table usage and statistics from `/proc/sys/net/netfilter` and
//! `/proc/net/stat/nf_conntrack`.

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_u64, read_into};
use crate::{CollectError, Collector, Options, Paths};

const ENTRIES: Desc<'static> =
    Desc::gauge("node_nf_conntrack_entries", "Number of currently allocated flow entries for connection tracking.");
const ENTRIES_LIMIT: Desc<'static> =
    Desc::gauge("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.");

/// The statistics reported, each with its column in `/proc/net/stat/nf_conntrack`. Columns are found by position,
/// as node_exporter finds them; kernels have renamed some others but not moved these.
const STATS: [(usize, Desc<'static>); 8] = [
    (2, Desc::gauge("node_nf_conntrack_stat_found", "Number of searched entries which were successful.")),
    (4, Desc::gauge("node_nf_conntrack_stat_invalid", "Number of packets seen which can not be tracked.")),
    (
        5,
        Desc::gauge(
            "node_nf_conntrack_stat_ignore",
            "Number of packets seen which are already connected to a conntrack entry.",
        ),
    ),
    (8, Desc::gauge("node_nf_conntrack_stat_insert", "Number of entries inserted into the list.")),
    (
        9,
        Desc::gauge(
            "node_nf_conntrack_stat_insert_failed",
            "Number of entries for which list insertion was attempted but failed.",
        ),
    ),
    (10, Desc::gauge("node_nf_conntrack_stat_drop", "Number of packets dropped due to conntrack failure.")),
    (
        11,
        Desc::gauge(
            "node_nf_conntrack_stat_early_drop",
            "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
        ),
    ),
    (
        16,
        Desc::gauge(
            "node_nf_conntrack_stat_search_restart",
            "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
        ),
    ),
];

/// Columns per CPU line: 16 before Linux 2.6.35 (no search_restart), 17 since.
const MIN_COLUMNS: usize = 16;
const MAX_COLUMNS: usize = 17;

pub struct ConntrackCollector {
    buf: String,
}

impl ConntrackCollector {
    pub fn new(_: &Options) -> Self {
        ConntrackCollector { buf: String::new() }
    }

    /// Reads a file holding one unsigned integer. A missing file means the conntrack module is not loaded.
    fn read_u64(&mut self, paths: &Paths, rel: &str) -> Result<u64, CollectError> {
        let path = paths.proc(rel);
        if let Err(err) = read_into(&path, &mut self.buf) {
            return Err(match err {
                CollectError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    CollectError::NoData(format!("{}: conntrack is probably not loaded", path.display()))
                }
                err => err,
            });
        }
        parse_u64(self.buf.trim(), &path, 1)
    }
}

impl Collector for ConntrackCollector {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let entries = self.read_u64(paths, "sys/net/netfilter/nf_conntrack_count")?;
        out.sample(&ENTRIES, &[], entries as f64);
        let limit = self.read_u64(paths, "sys/net/netfilter/nf_conntrack_max")?;
        out.sample(&ENTRIES_LIMIT, &[], limit as f64);

        // One header line, then one line of hex counters per CPU, summed here.
        let path = paths.proc("net/stat/nf_conntrack");
        read_into(&path, &mut self.buf)?;
        let mut sums = [0u64; STATS.len()];
        let mut cpus = 0;
        for (n, line) in self.buf.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let mut columns = [0u64; MAX_COLUMNS];
            let mut count = 0;
            for field in line.split_ascii_whitespace() {
                let Some(slot) = columns.get_mut(count) else {
                    return Err(CollectError::parse(&path, n + 1, format!("more than {MAX_COLUMNS} columns")));
                };
                *slot = u64::from_str_radix(field, 16).map_err(|_| {
                    CollectError::parse(&path, n + 1, format!("expected a hexadecimal counter, got {field:?}"))
                })?;
                count += 1;
            }
            if count < MIN_COLUMNS {
                return Err(CollectError::parse(
                    &path,
                    n + 1,
                    format!("{count} columns, want {MIN_COLUMNS} or {MAX_COLUMNS}"),
                ));
            }
            // A missing search_restart column stays 0. Counters wrap like the kernel's own rather than overflow.
            for (sum, (column, _)) in sums.iter_mut().zip(STATS) {
                *sum = sum.wrapping_add(columns.get(column).copied().unwrap_or(0));
            }
            cpus += 1;
        }
        if cpus == 0 {
            return Err(CollectError::parse(&path, 0, "no per-cpu lines"));
        }
        for (sum, (_, desc)) in sums.iter().zip(STATS) {
            out.sample(&desc, &[], *sum as f64);
        }
        Ok(())
    }
}
