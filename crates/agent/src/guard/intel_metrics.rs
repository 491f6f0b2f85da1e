//! Threat-intel metrics, per feed: entries loaded, fetches by result, the last good fetch, and matches.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use vigil_model::{Desc, MetricSink};

const ENTRIES: Desc<'static> = Desc::gauge("vigil_intel_entries", "Entries of each threat-intel feed in use.");
const FETCHES: Desc<'static> =
    Desc::counter("vigil_intel_fetch_total", "Fetches of each threat-intel feed, by result.");
const LAST_SUCCESS: Desc<'static> = Desc::gauge(
    "vigil_intel_last_success_timestamp_seconds",
    "When each threat-intel feed was last fetched successfully (0: never).",
);
const HITS: Desc<'static> =
    Desc::counter("vigil_intel_hits_total", "Security events with an address a threat-intel feed lists.");

/// How a fetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FetchResult {
    Ok,
    /// `304 Not Modified`.
    Unchanged,
    Error,
}

struct FeedCounters {
    name: String,
    entries: AtomicU64,
    fetches: [AtomicU64; 3],
    last_success: AtomicU64,
    hits: AtomicU64,
}

/// Counters of the configured feeds, addressed by their index in the configuration.
pub struct IntelMetrics {
    feeds: Vec<FeedCounters>,
}

impl IntelMetrics {
    pub fn new(names: &[String]) -> IntelMetrics {
        let feeds = names
            .iter()
            .map(|n| FeedCounters {
                name: n.clone(),
                entries: AtomicU64::new(0),
                fetches: Default::default(),
                last_success: AtomicU64::new(0),
                hits: AtomicU64::new(0),
            })
            .collect();
        IntelMetrics { feeds }
    }

    pub(crate) fn fetched(&self, feed: usize, r: FetchResult, now: i64) {
        let Some(f) = self.feeds.get(feed) else { return };
        f.fetches[r as usize].fetch_add(1, Relaxed);
        if r != FetchResult::Error {
            f.last_success.store(now.max(0) as u64, Relaxed);
        }
    }

    pub(crate) fn set_entries(&self, feed: usize, n: usize) {
        if let Some(f) = self.feeds.get(feed) {
            f.entries.store(n as u64, Relaxed);
        }
    }

    pub(crate) fn hit(&self, feed: &str) {
        if let Some(f) = self.feeds.iter().find(|f| f.name == feed) {
            f.hits.fetch_add(1, Relaxed);
        }
    }

    pub fn collect(&self, out: &mut dyn MetricSink) {
        for f in &self.feeds {
            let l = [("feed", f.name.as_str())];
            out.sample(&ENTRIES, &l, f.entries.load(Relaxed) as f64);
            for (i, r) in ["ok", "unchanged", "error"].into_iter().enumerate() {
                out.sample(&FETCHES, &[("feed", f.name.as_str()), ("result", r)], f.fetches[i].load(Relaxed) as f64);
            }
            out.sample(&LAST_SUCCESS, &l, f.last_success.load(Relaxed) as f64);
            out.sample(&HITS, &l, f.hits.load(Relaxed) as f64);
        }
    }
}
