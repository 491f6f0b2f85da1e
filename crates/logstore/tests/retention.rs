//! Retention: whole partitions dropped by age, oldest parts dropped by total size.

use std::time::Duration;

use vigil_logstore::{LogStore, Options};
use vigil_model::Direction;

use crate::{entry, labels, read_all, test_options};

const DAY: i64 = 86_400_000_000_000;

#[test]
fn partitions_older_than_retention_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { retention: Some(Duration::from_secs(2 * 86_400)), ..test_options() };
    let store = LogStore::open(dir.path(), opts).unwrap();
    let l = labels(&[("job", "r")]);
    let entries: Vec<_> = (0..5).map(|d| entry(d * DAY + 1000, &format!("day {d}"))).collect();
    store.append(&[(l.clone(), entries)]).unwrap();
    store.maintain(0).unwrap();
    assert_eq!(store.metrics().partitions, 5);
    // Just before the end of day 4, days 0 and 1 ended more than two days ago, day 2 not quite.
    let report = store.maintain(5 * DAY - 1).unwrap();
    assert_eq!((report.parts_deleted, report.partitions_deleted), (2, 2));
    let id = store.stream_id(&l).unwrap();
    let left: Vec<i64> = read_all(&store, id, 0, i64::MAX, Direction::Forward, &[]).iter().map(|r| r.0 / DAY).collect();
    assert_eq!(left, [2, 3, 4]);
    let dirs = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(dirs, 4, "three partitions and the wal");
    drop(store);
    let store = LogStore::open(dir.path(), test_options()).unwrap();
    assert_eq!(read_all(&store, id, 0, i64::MAX, Direction::Forward, &[]).len(), 3);
}

#[test]
fn the_oldest_parts_go_first_when_over_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "s")]);
    let part_bytes;
    {
        let store = LogStore::open(dir.path(), test_options()).unwrap();
        store.append(&[(l.clone(), vec![entry(1000, "probe")])]).unwrap();
        store.flush().unwrap();
        part_bytes = store.metrics().disk_bytes;
    }
    std::fs::remove_dir_all(dir.path()).unwrap();
    // Room for about three parts of one record each.
    let opts = Options { max_bytes: Some(part_bytes * 3 + part_bytes / 2), merge_min_parts: 100, ..test_options() };
    let store = LogStore::open(dir.path(), opts).unwrap();
    for d in 0..6 {
        store.append(&[(l.clone(), vec![entry(d * DAY + 1000, "probe")])]).unwrap();
        store.maintain(0).unwrap();
    }
    let m = store.metrics();
    assert_eq!(m.parts, 3, "{m:?}");
    assert!(m.disk_bytes <= part_bytes * 3 + part_bytes / 2);
    let id = store.stream_id(&l).unwrap();
    let left: Vec<i64> = read_all(&store, id, 0, i64::MAX, Direction::Forward, &[]).iter().map(|r| r.0 / DAY).collect();
    assert_eq!(left, [3, 4, 5]);
}
