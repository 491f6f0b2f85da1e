//! Integration tests of the log store, one binary with a module per concern.

mod bloom_skip;
mod concurrent;
mod crash;
mod hostile;
mod model;
mod queries;
mod retention;
mod roundtrip;

use std::path::Path;

use vigil_logstore::{LogStore, Options};
use vigil_model::{Direction, Labels, LogBatch, LogEntry};

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

pub fn entry(ts_ns: i64, line: &str) -> LogEntry {
    LogEntry { ts_ns, line: line.to_string(), fields: Vec::new() }
}

pub fn open(dir: &Path) -> LogStore {
    LogStore::open(dir, test_options()).unwrap()
}

/// Small blocks and no age retention, so tests with timestamps near 0 keep their data.
pub fn test_options() -> Options {
    Options { retention: None, block_max_records: 64, ..Options::default() }
}

/// A row read: timestamp, line, fields.
pub type Row = (i64, String, Vec<(String, String)>);

/// Every row of a read.
pub fn read_all(store: &LogStore, stream: u64, start: i64, end: i64, dir: Direction, tokens: &[&str]) -> Vec<Row> {
    let mut reader = store.read(stream, start, end, dir, tokens).unwrap();
    let mut batch = LogBatch::default();
    let mut out = Vec::new();
    while reader.next_batch(&mut batch).unwrap() {
        assert!(!batch.is_empty());
        for i in 0..batch.len() {
            out.push((batch.ts[i], batch.line(i).to_string(), batch.row_fields(i).to_vec()));
        }
    }
    out
}

pub fn lines(rows: &[Row]) -> Vec<(i64, String)> {
    rows.iter().map(|(t, l, _)| (*t, l.clone())).collect()
}

#[test]
fn the_store_and_its_readers_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shareable::<LogStore>();
    sendable::<vigil_logstore::Reader<'static>>();
}
