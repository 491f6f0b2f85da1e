//! Appends from several threads while maintenance runs and readers read: nothing lost, doubled or disordered.

use std::sync::atomic::{AtomicBool, Ordering};

use vigil_model::Direction;

use crate::{entry, labels, open, read_all};

#[test]
fn concurrent_appends_maintenance_and_reads_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let l = labels(&[("job", "conc")]);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..4i64)
            .map(|w| {
                let (store, l) = (&store, l.clone());
                s.spawn(move || {
                    for b in 0..40i64 {
                        let entries =
                            (0..25).map(|i| entry((b * 25 + i) * 4 + w, &format!("w{w} b{b} i{i}"))).collect();
                        store.append(&[(l.clone(), entries)]).unwrap();
                    }
                })
            })
            .collect();
        let (store_ref, done_ref) = (&store, &done);
        let maintainer = s.spawn(move || {
            while !done_ref.load(Ordering::Relaxed) {
                store_ref.maintain(0).unwrap();
            }
        });
        let reader = s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Some(id) = store.stream_id(&l) {
                    let ts: Vec<i64> =
                        read_all(&store, id, 0, i64::MAX, Direction::Forward, &[]).iter().map(|r| r.0).collect();
                    assert!(ts.windows(2).all(|w| w[0] < w[1]), "out of order or doubled");
                }
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        maintainer.join().unwrap();
        reader.join().unwrap();
    });
    let id = store.stream_id(&l).unwrap();
    let want: Vec<i64> = (0..4000).collect();
    let got = |store: &vigil_logstore::LogStore| -> Vec<i64> {
        read_all(store, id, 0, i64::MAX, Direction::Forward, &[]).iter().map(|r| r.0).collect()
    };
    assert_eq!(got(&store), want);
    drop(store);
    let store = open(dir.path());
    assert_eq!(got(&store), want);
}
