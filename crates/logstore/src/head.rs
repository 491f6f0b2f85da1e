//! The head: acknowledged records not yet in parts, per stream as runs ("chunks") of at most a block's size.
//!
//! A stream's full chunks are sealed behind an `Arc`, so a reader takes them without copying; only the one
//! open chunk is copied (the rows a read wants) under the store's lock. Records may arrive in any order: a
//! chunk remembers whether its rows are sorted, and readers and the part writer sort what is not.

use std::collections::HashMap;
use std::sync::Arc;

use vigil_model::{LogBatch, LogEntry};

/// A run of one stream's records, as columns.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chunk {
    pub rows: LogBatch,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Whether `rows` are in timestamp order.
    pub sorted: bool,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk { rows: LogBatch::default(), min_ts: i64::MAX, max_ts: i64::MIN, sorted: true }
    }

    fn push(&mut self, e: &LogEntry) {
        if e.ts_ns < self.max_ts {
            self.sorted = false;
        }
        self.min_ts = self.min_ts.min(e.ts_ns);
        self.max_ts = self.max_ts.max(e.ts_ns);
        self.rows.push(e.ts_ns, &e.line, &e.fields);
    }

    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        !self.rows.is_empty() && self.min_ts <= end && self.max_ts >= start
    }

    /// The rows with a timestamp in `[start, end]`, as a new chunk.
    fn slice(&self, start: i64, end: i64) -> Chunk {
        let mut out = Chunk::new();
        out.sorted = self.sorted;
        for i in 0..self.rows.len() {
            let ts = self.rows.ts[i];
            if ts >= start && ts <= end {
                out.min_ts = out.min_ts.min(ts);
                out.max_ts = out.max_ts.max(ts);
                out.rows.push(ts, self.rows.line(i), self.rows.row_fields(i));
            }
        }
        out
    }
}

/// Bytes a row costs in the head, for accounting: its text plus the columns' per-row overhead.
pub(crate) fn row_bytes(e: &LogEntry) -> u64 {
    let fields: usize = e.fields.iter().map(|(n, v)| n.len() + v.len() + 48).sum();
    (e.line.len() + fields + 16) as u64
}

/// One stream's records in the head.
#[derive(Debug, Default)]
pub(crate) struct HeadStream {
    pub sealed: Vec<Arc<Chunk>>,
    open: Option<Chunk>,
}

impl HeadStream {
    /// Every chunk overlapping `[start, end]`; the open one is cut to the range (it is copied).
    pub fn snapshot(&self, start: i64, end: i64, out: &mut Vec<Arc<Chunk>>) {
        out.extend(self.sealed.iter().filter(|c| c.overlaps(start, end)).cloned());
        if let Some(open) = self.open.as_ref().filter(|c| c.overlaps(start, end)) {
            let slice = open.slice(start, end);
            if !slice.rows.is_empty() {
                out.push(Arc::new(slice));
            }
        }
    }

    /// Every chunk, the open one included, without copying: for a head that no longer changes.
    pub fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        self.sealed.iter().map(|c| &**c).chain(self.open.as_ref())
    }

    pub fn has_record_in(&self, start: i64, end: i64) -> bool {
        self.chunks().any(|c| c.overlaps(start, end) && c.rows.ts.iter().any(|&t| t >= start && t <= end))
    }
}

/// Where the head cuts chunks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkLimits {
    pub max_records: usize,
    pub max_bytes: usize,
}

/// The head: stream id to its records.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub streams: HashMap<u64, HeadStream>,
    pub bytes: u64,
    pub records: u64,
}

impl Head {
    pub fn push(&mut self, id: u64, e: &LogEntry, limits: ChunkLimits) {
        let stream = self.streams.entry(id).or_default();
        let open = stream.open.get_or_insert_with(Chunk::new);
        open.push(e);
        if open.rows.len() >= limits.max_records || open.rows.lines.len() >= limits.max_bytes {
            if let Some(full) = stream.open.take() {
                stream.sealed.push(Arc::new(full));
            }
        }
        self.bytes += row_bytes(e);
        self.records += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}
