//! How a [`crate::LogStore`] behaves: retention, partitioning, the caps on what an append may carry.

use std::time::Duration;

use crate::error::Error;

/// Options of a log store. `Options::default()` suits a small fleet.
#[derive(Clone, Debug)]
pub struct Options {
    /// Partitions whose newest record is older than this (before `now` given to `maintain`) are deleted.
    pub retention: Option<Duration>,
    /// The oldest parts are deleted while all parts together take more bytes than this.
    pub max_bytes: Option<u64>,
    /// The time span of a partition directory; at least one minute. Default one day.
    pub partition: Duration,
    /// Longer lines are refused. Default 256 KiB; at most 16 MiB.
    pub max_line_bytes: usize,
    /// Records with more fields are refused. Default 64.
    pub max_fields: usize,
    /// Records whose field names and values together are longer are refused. Default 64 KiB.
    pub max_field_bytes: usize,
    /// Records stamped further ahead of the wall clock are refused. Default 10 minutes.
    pub max_future: Duration,
    /// Streams with more labels are refused. Default 32.
    pub max_labels: usize,
    /// Streams with a longer label name or value are refused. Default 1 KiB.
    pub max_label_bytes: usize,
    /// A block holds at most this many records. Default 8192.
    pub block_max_records: usize,
    /// A block is cut once its lines reach this many bytes. Default 1 MiB.
    pub block_max_bytes: usize,
    /// A WAL segment is closed before a record that would make it larger. Default 64 MiB.
    pub wal_segment_bytes: u64,
    /// `maintain` merges the small parts of a partition once it has this many. Default 4.
    pub merge_min_parts: usize,
    /// Parts at least this large are not merged again. Default 64 MiB.
    pub merge_max_part_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            retention: Some(Duration::from_secs(30 * 86_400)),
            max_bytes: None,
            partition: Duration::from_secs(86_400),
            max_line_bytes: 256 << 10,
            max_fields: 64,
            max_field_bytes: 64 << 10,
            max_future: Duration::from_secs(600),
            max_labels: 32,
            max_label_bytes: 1 << 10,
            block_max_records: 8192,
            block_max_bytes: 1 << 20,
            wal_segment_bytes: 64 << 20,
            merge_min_parts: 4,
            merge_max_part_bytes: 64 << 20,
        }
    }
}

/// The largest line any configuration accepts: keeps WAL records and blocks far below their caps.
pub(crate) const MAX_LINE_LIMIT: usize = 16 << 20;

impl Options {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |msg: String| Err(Error::InvalidOptions(msg));
        if self.partition < Duration::from_secs(60) || self.partition.as_nanos() > i64::MAX as u128 / 4 {
            return invalid(format!("partition {:?} is not between one minute and 500 years", self.partition));
        }
        if self.max_line_bytes == 0 || self.max_line_bytes > MAX_LINE_LIMIT {
            return invalid(format!("max_line_bytes {} is not in 1..={MAX_LINE_LIMIT}", self.max_line_bytes));
        }
        if self.max_field_bytes > MAX_LINE_LIMIT {
            return invalid(format!("max_field_bytes {} exceeds {MAX_LINE_LIMIT}", self.max_field_bytes));
        }
        if !(1..=1 << 20).contains(&self.block_max_records) {
            return invalid(format!("block_max_records {} is not in 1..=1048576", self.block_max_records));
        }
        if !(1..=64 << 20).contains(&self.block_max_bytes) {
            return invalid(format!("block_max_bytes {} is not in 1..=64 MiB", self.block_max_bytes));
        }
        if !(1 << 16..=1 << 30).contains(&self.wal_segment_bytes) {
            return invalid(format!("wal_segment_bytes {} is not in 64 KiB..=1 GiB", self.wal_segment_bytes));
        }
        if self.merge_min_parts < 2 {
            return invalid(format!("merge_min_parts {} is below 2", self.merge_min_parts));
        }
        Ok(())
    }

    pub(crate) fn partition_ns(&self) -> i64 {
        self.partition.as_nanos() as i64
    }
}

pub(crate) fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
