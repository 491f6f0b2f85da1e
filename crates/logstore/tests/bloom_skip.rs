//! Needle reads: bloom filters let a read skip every block whose lines cannot contain the needle.

use vigil_logstore::{LogStore, Options};
use vigil_model::Direction;

use crate::{entry, labels, read_all};

#[test]
fn a_needle_read_decodes_only_the_block_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), Options { retention: None, ..Options::default() }).unwrap();
    let l = labels(&[("job", "nginx")]);
    const N: i64 = 120_000;
    const NEEDLE_AT: i64 = 77_777;
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let entries = chunk
            .iter()
            .map(|&i| {
                if i == NEEDLE_AT {
                    entry(i, "GET /login user=needle_7f3a status=403")
                } else {
                    entry(i, &format!("GET /page/{} user=u{} status={}", i % 5000, i % 997, 200 + i % 3))
                }
            })
            .collect();
        store.append(&[(l.clone(), entries)]).unwrap();
    }
    let id = store.stream_id(&l).unwrap();
    // From the head: the row filter alone.
    let rows = read_all(&store, id, 0, N, Direction::Forward, &["needle_7f3a"]);
    assert_eq!(rows.len(), 1);
    store.maintain(0).unwrap();
    let before = store.metrics();
    let mut reader = store.read(id, 0, N, Direction::Backward, &["needle_7f3a"]).unwrap();
    let mut batch = Default::default();
    let mut found = Vec::new();
    while reader.next_batch(&mut batch).unwrap() {
        found.extend(batch.ts.iter().copied());
    }
    assert_eq!(found, [NEEDLE_AT]);
    let stats = reader.stats();
    assert_eq!(stats.blocks_read, 1, "{stats:?}");
    assert!(stats.blocks_skipped >= 13, "{stats:?}");
    let after = store.metrics();
    assert_eq!(after.blocks_read - before.blocks_read, 1);
    assert_eq!(after.blocks_skipped_bloom - before.blocks_skipped_bloom, stats.blocks_skipped);
    // Needles are substrings: a part of a token, or text across tokens, is found the same way.
    for needle in ["eedle_7f", "r=needle_7f3a st", "needle_7f3a status=403"] {
        let mut reader = store.read(id, 0, N, Direction::Forward, &[needle]).unwrap();
        let mut rows = 0;
        while reader.next_batch(&mut batch).unwrap() {
            rows += batch.len();
        }
        assert_eq!((rows, reader.stats().blocks_read), (1, 1), "{needle}: {:?}", reader.stats());
    }
    assert!(read_all(&store, id, 0, N, Direction::Forward, &["needle_7f3b"]).is_empty());
    assert_eq!(read_all(&store, id, 0, N, Direction::Forward, &["/page/4999 user=u"]).len(), 24);
}
