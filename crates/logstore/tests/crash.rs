//! Durability: what reopening after a crash (a drop without flush, a torn WAL, a crash between steps of
//! maintenance) gives back, and damage reported as typed errors naming the file.

use std::fs;
use std::path::{Path, PathBuf};

use vigil_logstore::{Error, LogStore, Options};
use vigil_model::Direction;

use crate::{entry, labels, lines, open, read_all, test_options};

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_with_suffix(&p, suffix));
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn wal_segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn acknowledged_appends_survive_a_drop_without_flush() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "k")]);
    {
        let store = open(dir.path());
        for i in 0..50 {
            store.append(&[(l.clone(), vec![entry(i, &format!("r{i}"))])]).unwrap();
        }
    }
    let store = open(dir.path());
    let id = store.stream_id(&l).unwrap();
    assert_eq!(read_all(&store, id, 0, 100, Direction::Forward, &[]).len(), 50);
    assert_eq!(store.metrics().replayed_lines, 50);
}

#[test]
fn a_torn_wal_tail_loses_only_the_torn_append() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "torn")]);
    {
        let store = open(dir.path());
        store.append(&[(l.clone(), vec![entry(1, "kept")])]).unwrap();
        store.append(&[(l.clone(), vec![entry(2, "torn away by the crash")])]).unwrap();
    }
    let last = wal_segments(dir.path()).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 5).unwrap();
    let store = open(dir.path());
    let id = store.stream_id(&l).unwrap();
    assert_eq!(lines(&read_all(&store, id, 0, 10, Direction::Forward, &[])), [(1, "kept".to_string())]);
    // New appends after the repair are durable too.
    store.append(&[(l.clone(), vec![entry(3, "after")])]).unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(read_all(&store, id, 0, 10, Direction::Forward, &[]).len(), 2);
}

#[test]
fn damage_in_an_older_wal_segment_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { wal_segment_bytes: 64 << 10, ..test_options() };
    let l = labels(&[("job", "big")]);
    {
        let store = LogStore::open(dir.path(), opts.clone()).unwrap();
        for i in 0..40 {
            store.append(&[(l.clone(), vec![entry(i, &"x".repeat(4000))])]).unwrap();
        }
    }
    let segments = wal_segments(dir.path());
    assert!(segments.len() >= 2, "{segments:?}");
    let mut bytes = fs::read(&segments[0]).unwrap();
    bytes[100] ^= 0x40;
    fs::write(&segments[0], bytes).unwrap();
    match LogStore::open(dir.path(), opts) {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, segments[0]),
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
}

#[test]
fn a_crash_before_the_wal_is_truncated_neither_loses_nor_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "twice")]);
    let saved: Vec<(PathBuf, Vec<u8>)>;
    {
        let store = open(dir.path());
        store.append(&[(l.clone(), (0..10).map(|i| entry(i, "a")).collect())]).unwrap();
        saved = wal_segments(dir.path()).into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())).collect();
        store.maintain(0).unwrap();
        store.append(&[(l.clone(), (10..15).map(|i| entry(i, "b")).collect())]).unwrap();
    }
    // The WAL as it was before truncation: the persisted records are back in it.
    for (p, bytes) in &saved {
        fs::write(p, bytes).unwrap();
    }
    let store = open(dir.path());
    let id = store.stream_id(&l).unwrap();
    assert_eq!(read_all(&store, id, 0, 100, Direction::Forward, &[]).len(), 15);
    let m = store.metrics();
    assert_eq!((m.replay_skipped_lines, m.replayed_lines), (10, 5));
}

#[test]
fn parts_a_merge_replaced_are_removed_when_a_crash_left_them() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "merge")]);
    let mut saved = Vec::new();
    {
        let store = open(dir.path());
        for i in 0..3 {
            store.append(&[(l.clone(), vec![entry(i, "x")])]).unwrap();
            store.maintain(0).unwrap();
        }
        saved.extend(files_with_suffix(dir.path(), ".part").into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())));
        store.append(&[(l.clone(), vec![entry(3, "x")])]).unwrap();
        let report = store.maintain(0).unwrap();
        assert_eq!(report.merges, 1);
        assert_eq!(files_with_suffix(dir.path(), ".part").len(), 1);
    }
    for (p, bytes) in &saved {
        fs::write(p, bytes).unwrap();
    }
    let store = open(dir.path());
    let id = store.stream_id(&l).unwrap();
    assert_eq!(read_all(&store, id, 0, 100, Direction::Forward, &[]).len(), 4);
    assert_eq!(files_with_suffix(dir.path(), ".part").len(), 1);
}

#[test]
fn a_flipped_byte_in_a_part_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "flip")]);
    {
        let store = open(dir.path());
        store.append(&[(l.clone(), (0..10).map(|i| entry(i, &format!("line number {i}"))).collect())]).unwrap();
        store.flush().unwrap();
    }
    let part = files_with_suffix(dir.path(), ".part").pop().unwrap();
    let original = fs::read(&part).unwrap();

    // In block data: opening works, reading the block fails.
    let mut bytes = original.clone();
    bytes[20] ^= 0x01;
    fs::write(&part, &bytes).unwrap();
    let store = open(dir.path());
    let id = store.stream_id(&l).unwrap();
    let mut reader = store.read(id, 0, 100, Direction::Forward, &[]).unwrap();
    match reader.next_batch(&mut Default::default()) {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, part),
        other => panic!("expected a corrupt-file error, got {other:?}"),
    }
    drop(reader);
    drop(store);

    // In the block index or footer: opening fails.
    for at in [original.len() - 10, original.len() - 100] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        fs::write(&part, &bytes).unwrap();
        match LogStore::open(dir.path(), test_options()) {
            Err(Error::Corrupt { path, .. }) => assert_eq!(path, part),
            other => panic!("expected a corrupt-file error, got {other:?}"),
        }
    }
}
