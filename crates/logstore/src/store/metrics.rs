//! Counters and gauges of a store, for self-metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the store's counters (since open) and gauges (now).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    pub appended_lines: u64,
    /// Line bytes appended (fields not counted).
    pub appended_bytes: u64,
    pub rejected_lines: u64,
    pub streams_created: u64,
    pub wal_fsyncs: u64,
    pub wal_bytes_written: u64,
    /// Records replayed from the WAL at open.
    pub replayed_lines: u64,
    /// Replayed records skipped because a part already held them.
    pub replay_skipped_lines: u64,
    pub head_persists: u64,
    pub parts_written: u64,
    pub merges: u64,
    pub merge_failures: u64,
    pub parts_deleted: u64,
    pub partitions_deleted: u64,
    /// Blocks decoded by readers.
    pub blocks_read: u64,
    /// Blocks a reader skipped because their bloom filter lacked a required token.
    pub blocks_skipped_bloom: u64,
    /// Persisted stream ids found with two label sets at open.
    pub stream_id_conflicts: u64,
    // Gauges.
    pub streams: u64,
    pub parts: u64,
    pub partitions: u64,
    pub disk_bytes: u64,
    pub wal_bytes: u64,
    pub head_lines: u64,
    pub head_bytes: u64,
    pub poisoned: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub appended_lines: AtomicU64,
    pub appended_bytes: AtomicU64,
    pub rejected_lines: AtomicU64,
    pub streams_created: AtomicU64,
    pub replayed_lines: AtomicU64,
    pub replay_skipped_lines: AtomicU64,
    pub head_persists: AtomicU64,
    pub parts_written: AtomicU64,
    pub merges: AtomicU64,
    pub merge_failures: AtomicU64,
    pub parts_deleted: AtomicU64,
    pub partitions_deleted: AtomicU64,
    pub blocks_read: AtomicU64,
    pub blocks_skipped_bloom: AtomicU64,
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
