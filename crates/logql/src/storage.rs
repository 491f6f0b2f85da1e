//! What the engine reads logs from: streams selected by matchers, and one stream's records batch by batch;
//! plus `MemLogStorage`, an in-memory implementation for tests.

use std::sync::Mutex;

use vigil_model::log::{Direction, LogBatch, LogEntry};
use vigil_model::{Labels, Matcher};

/// A storage failure, passed through to the caller of the query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

/// The read side of a log store. Times are nanoseconds since the Unix epoch, bounds inclusive.
pub trait LogStorage: Sync {
    /// Streams with at least one record in [start_ns, end_ns] matching every matcher.
    fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<(u64, Labels)>, StorageError>;

    /// One stream's records in [start_ns, end_ns] (inclusive), in `dir` order, batch by batch. Every line the
    /// query keeps contains each of `needles`: the store may skip records and blocks without them (bloom
    /// filters), and may still return some.
    fn read<'a>(
        &'a self,
        stream: u64,
        start_ns: i64,
        end_ns: i64,
        dir: Direction,
        needles: &[&str],
    ) -> Result<Box<dyn BatchReader + 'a>, StorageError>;
}

/// Batches of one stream's records.
pub trait BatchReader {
    /// Replaces the contents of `out` with the next batch; false at the end (then `out` is empty).
    fn next_batch(&mut self, out: &mut LogBatch) -> Result<bool, StorageError>;
}

/// An in-memory [`LogStorage`]: streams as vectors of records, read in batches of a chosen size. It records
/// the `needles` of every read so tests can check what a query asked the store for.
#[derive(Debug)]
pub struct MemLogStorage {
    streams: Vec<(Labels, Vec<LogEntry>)>,
    batch_size: usize,
    reads: Mutex<Vec<Vec<String>>>,
}

impl Default for MemLogStorage {
    fn default() -> MemLogStorage {
        MemLogStorage { streams: Vec::new(), batch_size: 64, reads: Mutex::new(Vec::new()) }
    }
}

impl MemLogStorage {
    pub fn new() -> MemLogStorage {
        MemLogStorage::default()
    }

    /// Rows per batch handed out by readers (at least 1).
    pub fn with_batch_size(mut self, rows: usize) -> MemLogStorage {
        self.batch_size = rows.max(1);
        self
    }

    /// Appends a record to the stream `labels` (created on first use); records may come in any order.
    pub fn push(&mut self, labels: &Labels, ts_ns: i64, line: &str) {
        self.push_entry(labels, LogEntry { ts_ns, line: line.to_string(), fields: Vec::new() });
    }

    pub fn push_entry(&mut self, labels: &Labels, entry: LogEntry) {
        let i = match self.streams.iter().position(|(l, _)| l == labels) {
            Some(i) => i,
            None => {
                self.streams.push((labels.clone(), Vec::new()));
                self.streams.len() - 1
            }
        };
        let records = &mut self.streams[i].1;
        let at = records.partition_point(|r| r.ts_ns <= entry.ts_ns);
        records.insert(at, entry);
    }

    /// The `needles` of every read so far, in order, and forgets them.
    pub fn take_reads(&self) -> Vec<Vec<String>> {
        match self.reads.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl LogStorage for MemLogStorage {
    fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<(u64, Labels)>, StorageError> {
        Ok(self
            .streams
            .iter()
            .enumerate()
            .filter(|(_, (labels, records))| {
                matchers.iter().all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
                    && records.iter().any(|r| r.ts_ns >= start_ns && r.ts_ns <= end_ns)
            })
            .map(|(i, (labels, _))| (i as u64, labels.clone()))
            .collect())
    }

    fn read<'a>(
        &'a self,
        stream: u64,
        start_ns: i64,
        end_ns: i64,
        dir: Direction,
        needles: &[&str],
    ) -> Result<Box<dyn BatchReader + 'a>, StorageError> {
        let Some((_, records)) = self.streams.get(stream as usize) else {
            return Err(StorageError(format!("no stream {stream}")));
        };
        if let Ok(mut reads) = self.reads.lock() {
            reads.push(needles.iter().map(|t| t.to_string()).collect());
        }
        let lo = records.partition_point(|r| r.ts_ns < start_ns);
        let hi = records.partition_point(|r| r.ts_ns <= end_ns).max(lo);
        Ok(Box::new(MemReader { records: &records[lo..hi], dir, batch_size: self.batch_size }))
    }
}

struct MemReader<'a> {
    /// What is left to hand out, ascending by time.
    records: &'a [LogEntry],
    dir: Direction,
    batch_size: usize,
}

impl BatchReader for MemReader<'_> {
    fn next_batch(&mut self, out: &mut LogBatch) -> Result<bool, StorageError> {
        out.clear();
        let n = self.records.len().min(self.batch_size);
        let taken = match self.dir {
            Direction::Forward => {
                let (head, rest) = self.records.split_at(n);
                self.records = rest;
                head
            }
            Direction::Backward => {
                let (rest, tail) = self.records.split_at(self.records.len() - n);
                self.records = rest;
                tail
            }
        };
        let mut push = |r: &LogEntry| out.push(r.ts_ns, &r.line, &r.fields);
        match self.dir {
            Direction::Forward => taken.iter().for_each(&mut push),
            Direction::Backward => taken.iter().rev().for_each(&mut push),
        }
        Ok(n > 0)
    }
}
