//! Hostile input: what an append refuses, with a typed reason, while storing the rest.

use std::time::{SystemTime, UNIX_EPOCH};

use vigil_logstore::{LogStore, Options, Rejection};
use vigil_model::{Direction, Labels, LogEntry};

use crate::{entry, labels, open, read_all, test_options};

fn refused(stats: &vigil_logstore::AppendStats) -> Rejection {
    stats.first_rejection.clone().expect("a rejection").reason
}

#[test]
fn oversized_lines_and_fields_are_refused_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), Options { max_line_bytes: 100, ..test_options() }).unwrap();
    let l = labels(&[("job", "h")]);
    let stats =
        store.append(&[(l.clone(), vec![entry(1, "ok"), entry(2, &"x".repeat(101)), entry(3, "ok too")])]).unwrap();
    assert_eq!((stats.entries, stats.rejected), (2, 1));
    assert_eq!(refused(&stats), Rejection::LineTooLong { len: 101, limit: 100 });
    let message = stats.first_rejection.unwrap().to_string();
    assert!(message.contains("101 bytes exceeds the limit of 100"), "{message}");

    let many =
        LogEntry { ts_ns: 4, line: "f".into(), fields: (0..65).map(|i| (format!("k{i}"), "v".into())).collect() };
    let stats = store.append(&[(l.clone(), vec![many])]).unwrap();
    assert_eq!(refused(&stats), Rejection::TooManyFields { count: 65, limit: 64 });
    let empty_name = LogEntry { ts_ns: 4, line: "f".into(), fields: vec![(String::new(), "v".into())] };
    assert_eq!(refused(&store.append(&[(l.clone(), vec![empty_name])]).unwrap()), Rejection::EmptyFieldName);

    let id = store.stream_id(&l).unwrap();
    assert_eq!(read_all(&store, id, 0, 10, Direction::Forward, &[]).len(), 2);
    assert_eq!(store.metrics().rejected_lines, 3);
}

#[test]
fn absurd_timestamps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let l = labels(&[("job", "t")]);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
    let stats = store.append(&[(l.clone(), vec![entry(now + 3_600_000_000_000, "future")])]).unwrap();
    assert!(matches!(refused(&stats), Rejection::TooFarInFuture { .. }));
    let stats = store.append(&[(l.clone(), vec![entry(i64::MAX, "far future")])]).unwrap();
    assert!(matches!(refused(&stats), Rejection::TooFarInFuture { .. }));
    let stats = store.append(&[(l.clone(), vec![entry(-1, "before 1970")])]).unwrap();
    assert_eq!(refused(&stats), Rejection::BeforeEpoch { ts_ns: -1 });
    // Slightly ahead of the clock is fine.
    assert_eq!(store.append(&[(l.clone(), vec![entry(now + 1_000_000_000, "soon")])]).unwrap().entries, 1);
}

#[test]
fn invalid_label_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stats = store.append(&[(Labels::default(), vec![entry(1, "x"), entry(2, "y")])]).unwrap();
    assert_eq!((stats.entries, stats.rejected), (0, 2));
    assert_eq!(refused(&stats), Rejection::NoLabels);
    let wide = Labels::from_pairs((0..33).map(|i| (format!("l{i}"), "v".to_string()))).unwrap();
    assert!(matches!(refused(&store.append(&[(wide, vec![entry(1, "x")])]).unwrap()), Rejection::TooManyLabels { .. }));
    let long = labels(&[("job", &"v".repeat(2000))]);
    assert!(matches!(refused(&store.append(&[(long, vec![entry(1, "x")])]).unwrap()), Rejection::LabelTooLong { .. }));
    assert_eq!(store.metrics().streams, 0);
}

#[test]
fn reversed_ranges_and_unknown_streams_read_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(&[(labels(&[("job", "x")]), vec![entry(5, "x")])]).unwrap();
    assert!(read_all(&store, 42, 0, 10, Direction::Forward, &[]).is_empty());
    let id = store.stream_id(&labels(&[("job", "x")])).unwrap();
    assert!(read_all(&store, id, 10, 0, Direction::Forward, &[]).is_empty());
    assert!(store.streams(&[], 10, 0).unwrap().is_empty());
}
