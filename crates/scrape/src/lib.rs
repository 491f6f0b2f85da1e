//! Scraping Prometheus exporters the way Prometheus 2.42 does: discover targets (static and file_sd), relabel
//! them, pull `/metrics` on a jittered schedule, add target labels, write samples plus the synthetic `up` and
//! `scrape_*` series, and mark vanished series stale.

mod discovery;
mod http;
mod ingest;
mod job;
mod manager;
mod md5;
mod pool;
pub mod relabel;
mod scrape_loop;
mod target;

/// The existing paths a shell pattern in the last path component names (`rules/*.yml`), sorted.
pub use discovery::expand_glob;
pub use job::JobError;
pub use manager::{DroppedTarget, Health, Manager, ManagerError, TargetStatus};

use vigil_tsdb::SeriesBatch;

/// Where scraped samples go. Blocking (storage may fsync); the scraper calls it from `spawn_blocking`.
pub trait Appender: Send + Sync + 'static {
    fn append(&self, batch: Vec<SeriesBatch>) -> Result<(), String>;
}

/// The bit pattern Prometheus writes to say "this series ended here" (a NaN no computation produces).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the staleness marker (compares bits: every NaN is unequal to itself).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
