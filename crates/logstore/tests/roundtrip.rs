//! Appends read back forward and backward, from the head, from parts, and after reopening.

use vigil_model::Direction;

use crate::{entry, labels, lines, open, read_all};

fn expected(n: i64) -> Vec<(i64, String)> {
    (0..n).map(|i| (i * 10, format!("line {i}"))).collect()
}

fn check(store: &vigil_logstore::LogStore, id: u64, n: i64) {
    let fwd = lines(&read_all(store, id, 0, i64::MAX, Direction::Forward, &[]));
    assert_eq!(fwd, expected(n));
    let mut bwd = lines(&read_all(store, id, 0, i64::MAX, Direction::Backward, &[]));
    bwd.reverse();
    assert_eq!(bwd, expected(n));
    // Inclusive bounds.
    let some = lines(&read_all(store, id, 20, 50, Direction::Forward, &[]));
    assert_eq!(some, expected(6)[2..].to_vec());
}

#[test]
fn reads_see_head_parts_and_reopened_data_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels(&[("job", "app"), ("host", "a")]);
    let half: Vec<_> = (0..150).map(|i| entry(i * 10, &format!("line {i}"))).collect();
    let rest: Vec<_> = (150..300).map(|i| entry(i * 10, &format!("line {i}"))).collect();
    let id;
    {
        let store = open(dir.path());
        let stats = store.append(&[(l.clone(), half)]).unwrap();
        assert_eq!((stats.entries, stats.rejected, stats.streams_created), (150, 0, 1));
        id = store.stream_id(&l).unwrap();
        check(&store, id, 150);
        let report = store.maintain(0).unwrap();
        assert_eq!(report.persisted_lines, 150);
        assert_eq!(store.metrics().head_lines, 0);
        check(&store, id, 150);
        store.append(&[(l.clone(), rest)]).unwrap();
        // Half in a part, half in the head.
        check(&store, id, 300);
    }
    // Reopen without maintain: the head comes back from the WAL, the part from disk.
    let store = open(dir.path());
    assert_eq!(store.stream_id(&l), Some(id));
    check(&store, id, 300);
    store.flush().unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.metrics().replayed_lines, 0);
    check(&store, id, 300);
}

#[test]
fn out_of_order_appends_are_merged_in_order_across_head_and_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let l = labels(&[("job", "ooo")]);
    // Three appends whose times interleave, one of them persisted in between.
    store.append(&[(l.clone(), (0..100).map(|i| entry(i * 3, &format!("a{i}"))).collect())]).unwrap();
    store.maintain(0).unwrap();
    store.append(&[(l.clone(), (0..100).rev().map(|i| entry(i * 3 + 1, &format!("b{i}"))).collect())]).unwrap();
    store.append(&[(l.clone(), (0..100).map(|i| entry(i * 3 + 2, &format!("c{i}"))).collect())]).unwrap();
    let id = store.stream_id(&l).unwrap();
    let want: Vec<i64> = (0..300).collect();
    let check = |store: &vigil_logstore::LogStore| {
        let fwd: Vec<i64> = read_all(store, id, 0, 1000, Direction::Forward, &[]).iter().map(|r| r.0).collect();
        assert_eq!(fwd, want);
        let bwd: Vec<i64> = read_all(store, id, 0, 1000, Direction::Backward, &[]).iter().map(|r| r.0).collect();
        assert_eq!(bwd, want.iter().rev().copied().collect::<Vec<_>>());
    };
    check(&store);
    store.maintain(0).unwrap();
    check(&store);
    // Overlapping parts merged into one.
    for _ in 0..4 {
        store.append(&[(l.clone(), vec![entry(150, "dup")])]).unwrap();
        store.maintain(0).unwrap();
    }
    assert!(store.metrics().merges >= 1);
    let rows = read_all(&store, id, 150, 150, Direction::Forward, &[]);
    assert_eq!(rows.len(), 5, "{rows:?}");
}

#[test]
fn fields_round_trip_and_needles_match_lines_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let l = labels(&[("job", "f")]);
    let mut e = entry(5, "GET /index.html");
    e.fields = vec![("client_ip".into(), "10.1.2.3".into()), ("user".into(), "jörg".into())];
    store.append(&[(l.clone(), vec![entry(1, "no fields"), e.clone(), entry(9, "after")])]).unwrap();
    let id = store.stream_id(&l).unwrap();
    for persisted in [false, true] {
        if persisted {
            store.maintain(0).unwrap();
        }
        let rows = read_all(&store, id, 0, 10, Direction::Forward, &[]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].2, e.fields);
        assert!(rows[0].2.is_empty());
        let found = read_all(&store, id, 0, 10, Direction::Forward, &["index.htm"]);
        assert_eq!(lines(&found), [(5, "GET /index.html".to_string())]);
        assert!(read_all(&store, id, 0, 10, Direction::Forward, &["jörg"]).is_empty());
    }
}
