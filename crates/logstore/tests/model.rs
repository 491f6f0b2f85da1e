//! A model test: random appends, maintenance and reopens against a `BTreeMap` oracle.

use std::collections::BTreeMap;

use proptest::prelude::*;
use vigil_logstore::{LogStore, Options};
use vigil_model::{Direction, LogEntry};

use crate::{labels, read_all};

#[derive(Clone, Debug)]
enum Op {
    /// Stream index, then (timestamp, line number) pairs.
    Append(usize, Vec<(i64, u16)>),
    Maintain,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, prop::collection::vec((0..3_000i64, any::<u16>()), 1..40)).prop_map(|(s, e)| Op::Append(s, e)),
        2 => Just(Op::Maintain),
        1 => Just(Op::Reopen),
    ]
}

fn options() -> Options {
    // Tiny blocks and partitions of a minute (in ns, timestamps up to 3 µs land in one), frequent merges.
    Options { retention: None, block_max_records: 7, merge_min_parts: 2, ..Options::default() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_oracle(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let streams = [labels(&[("job", "a")]), labels(&[("job", "b"), ("host", "h")]), labels(&[("unit", "c")])];
        let mut oracle: BTreeMap<usize, Vec<(i64, String)>> = BTreeMap::new();
        let mut store = Some(LogStore::open(dir.path(), options()).unwrap());
        for op in ops {
            match op {
                Op::Append(s, entries) => {
                    let entries: Vec<LogEntry> = entries
                        .iter()
                        .map(|&(ts, n)| LogEntry { ts_ns: ts * 1000, line: format!("line {n} of {s}"), fields: vec![] })
                        .collect();
                    oracle.entry(s).or_default().extend(entries.iter().map(|e| (e.ts_ns, e.line.clone())));
                    store.as_ref().unwrap().append(&[(streams[s].clone(), entries)]).unwrap();
                }
                Op::Maintain => { store.as_ref().unwrap().maintain(0).unwrap(); }
                Op::Reopen => {
                    drop(store.take());
                    store = Some(LogStore::open(dir.path(), options()).unwrap());
                }
            }
            let st = store.as_ref().unwrap();
            for (&s, want) in &oracle {
                let id = st.stream_id(&streams[s]).unwrap();
                let (lo, hi) = (500_000, 2_000_000);
                let mut want: Vec<(i64, String)> = want.iter().filter(|(t, _)| *t >= lo && *t <= hi).cloned().collect();
                want.sort();
                let mut fwd: Vec<(i64, String)> =
                    read_all(st, id, lo, hi, Direction::Forward, &[]).into_iter().map(|(t, l, _)| (t, l)).collect();
                prop_assert!(fwd.windows(2).all(|w| w[0].0 <= w[1].0));
                fwd.sort();
                prop_assert_eq!(&fwd, &want);
                let bwd: Vec<i64> = read_all(st, id, lo, hi, Direction::Backward, &[]).iter().map(|r| r.0).collect();
                prop_assert!(bwd.windows(2).all(|w| w[0] >= w[1]));
                prop_assert_eq!(bwd.len(), want.len());
            }
            let stats = st.stats(&[], 0, i64::MAX).unwrap();
            prop_assert_eq!(stats.entries, oracle.values().map(|v| v.len() as u64).sum::<u64>());
        }
    }
}
