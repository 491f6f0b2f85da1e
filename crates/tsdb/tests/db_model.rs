//! Model-based test of the database: random appends, queries (raw and downsampled), maintenance, restarts and
//! crashes (also in the middle of maintenance) against a plain in-memory oracle.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::backend::MemBackend;
use vigil_tsdb::{Aggregate, Db, DbOptions, Resolution, SeriesBatch};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
const BLOCK_RANGE: i64 = 60_000;
const OOO_WINDOW: i64 = 20_000;
const HOUR: i64 = 3_600_000;

fn options() -> DbOptions {
    DbOptions {
        block_range: BLOCK_RANGE,
        ooo_window: OOO_WINDOW,
        compaction_ranges: vec![3 * BLOCK_RANGE, HOUR],
        retention: None,
        downsampled_retention: None,
        max_bytes: None,
        downsample: true,
        ..DbOptions::default()
    }
}

fn series_labels(i: usize) -> Labels {
    let host = ["a", "b", "c"][i % 3];
    let kind = ["x", "y"][i / 3 % 2];
    Labels::from_pairs([("__name__", "m"), ("host", host), ("kind", kind)]).unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    /// Samples as (series, offset from the time cursor, value choice).
    Append(Vec<(usize, i64, u8)>),
    Advance(i64),
    Query {
        matcher: u8,
        from: i64,
        len: i64,
    },
    Downsampled {
        matcher: u8,
        from: i64,
        len: i64,
        hour: bool,
        aggregate: u8,
    },
    Maintain,
    Restart,
    Crash,
    /// Maintenance that stops after this many backend operations, then a crash.
    CrashDuringMaintain(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0..6usize, -40_000..10_000i64, any::<u8>()), 1..12).prop_map(Op::Append),
        3 => (1_000..400_000i64).prop_map(Op::Advance),
        2 => (any::<u8>(), 0..3 * HOUR, 0..3 * HOUR).prop_map(|(matcher, from, len)| Op::Query { matcher, from, len }),
        1 => (any::<u8>(), 0..4 * HOUR, 0..4 * HOUR, any::<bool>(), 0..5u8).prop_map(
            |(matcher, from, len, hour, aggregate)| Op::Downsampled { matcher, from, len, hour, aggregate }
        ),
        2 => Just(Op::Maintain),
        1 => Just(Op::Restart),
        1 => Just(Op::Crash),
        1 => (1..400u64).prop_map(Op::CrashDuringMaintain),
    ]
}

fn value(choice: u8, t: i64) -> u64 {
    match choice % 8 {
        0 => STALE_NAN,
        1 => f64::NAN.to_bits(),
        2 => (t as f64 / 1000.0).to_bits(),
        3 => (-1.5f64).to_bits(),
        4 => 0.0f64.to_bits(),
        _ => f64::from(choice).to_bits(),
    }
}

fn matchers(choice: u8) -> Vec<Matcher> {
    let m = |op, name: &str, value: &str| Matcher::new(op, name, value).unwrap();
    match choice % 6 {
        0 => vec![m(MatchOp::Equal, "__name__", "m")],
        1 => vec![m(MatchOp::Equal, "host", "a")],
        2 => vec![m(MatchOp::Regex, "host", "a|c"), m(MatchOp::NotEqual, "kind", "y")],
        3 => vec![m(MatchOp::NotRegex, "host", "b.*")],
        4 => vec![m(MatchOp::Equal, "kind", "y"), m(MatchOp::Regex, "host", ".+")],
        _ => vec![m(MatchOp::Equal, "missing", "")],
    }
}

/// Every sample acknowledged so far, and the newest timestamp.
#[derive(Default)]
struct Oracle {
    series: BTreeMap<Labels, BTreeMap<i64, u64>>,
    max_t: Option<i64>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    appended: u64,
    unchanged: u64,
    out_of_order: u64,
    too_old: u64,
    duplicate: u64,
}

impl Oracle {
    /// Applies a batch with the documented rules, given the oldest writable time before it.
    fn append(&mut self, batch: &[(Labels, i64, u64)], min_valid_before: i64) -> Expected {
        let lookback = (BLOCK_RANGE / 2).max(OOO_WINDOW);
        let mut e = Expected::default();
        for (labels, t, bits) in batch {
            let (t, bits) = (*t, *bits);
            let min_valid = self.max_t.map_or(min_valid_before, |m| min_valid_before.max(m - lookback));
            let samples = self.series.entry(labels.clone()).or_default();
            let newest = samples.keys().next_back().copied();
            let in_window = self.max_t.is_some_and(|m| t >= m - OOO_WINDOW);
            if t < min_valid {
                e.too_old += 1;
            } else if newest.is_some_and(|n| t < n) && !in_window {
                // As in Prometheus, an old sample outside the window is out of order even if it repeats one.
                e.out_of_order += 1;
            } else if let Some(&existing) = samples.get(&t) {
                if existing == bits {
                    e.unchanged += 1;
                } else {
                    e.duplicate += 1;
                }
            } else {
                samples.insert(t, bits);
                self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
                e.appended += 1;
            }
        }
        e
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<(i64, u64)>)> {
        self.series
            .iter()
            .filter(|(labels, _)| matchers.iter().all(|m| m.matches(labels.get(m.name()).unwrap_or(""))))
            .map(|(labels, samples)| {
                (labels.clone(), samples.range(mint..=maxt).map(|(&t, &v)| (t, v)).collect::<Vec<_>>())
            })
            .filter(|(_, samples)| !samples.is_empty())
            .collect()
    }

    /// Downsampled points computed straight from the definition: 5-minute buckets of non-stale samples, each
    /// point at its last sample's time; 1-hour points fold the 5-minute ones.
    fn downsampled(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        hour: bool,
        a: Aggregate,
    ) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let mut out = Vec::new();
        for (labels, samples) in self.select(matchers, i64::MIN, i64::MAX) {
            let mut five: Vec<(i64, i64, [f64; 5])> = Vec::new();
            for (t, bits) in samples.into_iter().filter(|s| s.1 != STALE_NAN) {
                let v = f64::from_bits(bits);
                let k = t.div_euclid(300_000);
                match five.last_mut() {
                    Some((bk, bt, acc)) if *bk == k => {
                        *bt = t;
                        *acc = [acc[0].min(v), acc[1].max(v), acc[2] + v, acc[3] + 1.0, v];
                    }
                    _ => five.push((k, t, [v, v, v, 1.0, v])),
                }
            }
            let index = Aggregate::ALL.iter().position(|x| *x == a).unwrap();
            let mut points: Vec<(i64, f64)> = five.iter().map(|(_, t, acc)| (*t, acc[index])).collect();
            if hour {
                let mut folded: Vec<(i64, f64)> = Vec::new();
                for (t, v) in points {
                    match folded.last_mut() {
                        Some(last) if last.0.div_euclid(HOUR) == t.div_euclid(HOUR) => {
                            let acc = last.1;
                            *last = (
                                t,
                                match a {
                                    Aggregate::Min => acc.min(v),
                                    Aggregate::Max => acc.max(v),
                                    Aggregate::Sum | Aggregate::Count => acc + v,
                                    Aggregate::Last => v,
                                },
                            );
                        }
                        _ => folded.push((t, v)),
                    }
                }
                points = folded;
            }
            points.retain(|p| (mint..=maxt).contains(&p.0));
            if !points.is_empty() {
                out.push((labels, points));
            }
        }
        out
    }
}

fn open(mem: &Arc<MemBackend>) -> Db {
    Db::open_with(mem.clone(), Path::new("/db"), options()).unwrap()
}

fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mem = Arc::new(MemBackend::new());
    let mut db = Some(open(&mem));
    let mut oracle = Oracle::default();
    let mut cursor: i64 = 1_000_000;
    for (step, op) in ops.into_iter().enumerate() {
        let d = db.as_ref().unwrap();
        match op {
            Op::Append(samples) => {
                let batch: Vec<(Labels, i64, u64)> = samples
                    .iter()
                    .map(|&(s, off, v)| (series_labels(s), cursor + off, value(v, cursor + off)))
                    .collect();
                let min_valid = d.min_valid_time();
                let expected = oracle.append(&batch, min_valid);
                // One series per entry, in order, so the database sees the samples in the oracle's order.
                let request: Vec<SeriesBatch> = batch
                    .iter()
                    .map(|(labels, t, bits)| SeriesBatch {
                        labels: labels.clone(),
                        samples: vec![vigil_tsdb::Sample { t: *t, v: f64::from_bits(*bits) }],
                    })
                    .collect();
                let report = d.append(&request).unwrap();
                let got = Expected {
                    appended: report.appended,
                    unchanged: report.unchanged,
                    out_of_order: report.out_of_order,
                    too_old: report.too_old,
                    duplicate: report.duplicate,
                };
                prop_assert_eq!(got, expected, "step {}: append outcome", step);
            }
            Op::Advance(ms) => cursor += ms,
            Op::Query { matcher, from, len } => {
                let (mint, maxt) = (cursor - from, cursor - from + len);
                let m = matchers(matcher);
                let got: Vec<(Labels, Vec<(i64, u64)>)> = d
                    .querier(mint, maxt)
                    .select(&m)
                    .unwrap()
                    .map(|s| {
                        let s = s.unwrap();
                        (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect())
                    })
                    .collect();
                prop_assert_eq!(
                    got,
                    oracle.select(&m, mint, maxt),
                    "step {}: select {:?} [{}, {}]",
                    step,
                    m,
                    mint,
                    maxt
                );
            }
            Op::Downsampled { matcher, from, len, hour, aggregate } => {
                let (mint, maxt) = (cursor - from, cursor - from + len);
                let m = matchers(matcher);
                let a = Aggregate::ALL[aggregate as usize];
                let resolution = if hour { Resolution::OneHour } else { Resolution::FiveMinutes };
                let got = d.select_downsampled(&m, mint, maxt, resolution, a).unwrap();
                let want = oracle.downsampled(&m, mint, maxt, hour, a);
                COVERAGE.downsampled_points.fetch_add(want.iter().map(|w| w.1.len() as u64).sum(), Relaxed);
                prop_assert_eq!(got.len(), want.len(), "step {}: downsampled series count", step);
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(&g.labels, &w.0);
                    prop_assert_eq!(g.samples.len(), w.1.len(), "step {}: points of {}", step, g.labels);
                    for (gs, ws) in g.samples.iter().zip(&w.1) {
                        prop_assert!(gs.t == ws.0 && same_float(gs.v, ws.1), "step {step}: {gs:?} != {ws:?}");
                    }
                }
            }
            Op::Maintain => {
                let report = d.maintain().unwrap();
                COVERAGE.compactions.fetch_add(report.compacted, Relaxed);
                COVERAGE.downsamplings.fetch_add(report.downsampled, Relaxed);
            }
            Op::Restart => {
                db.take().unwrap().close().unwrap();
                db = Some(open(&mem));
            }
            Op::Crash => {
                drop(db.take());
                mem.crash();
                db = Some(open(&mem));
            }
            Op::CrashDuringMaintain(n) => {
                mem.halt_after(n);
                if d.maintain().is_err() {
                    COVERAGE.crashes_in_maintenance.fetch_add(1, Relaxed);
                }
                drop(db.take());
                mem.crash();
                db = Some(open(&mem));
            }
        }
    }
    // Everything acknowledged is there at the end, also after one more restart.
    drop(db.take());
    mem.crash();
    let d = open(&mem);
    let all = oracle.select(&[], i64::MIN, i64::MAX);
    let got: Vec<(Labels, Vec<(i64, u64)>)> = d
        .querier(i64::MIN, i64::MAX)
        .select(&[])
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect())
        })
        .collect();
    prop_assert_eq!(got, all, "final state");
    Ok(())
}

/// What the generated cases exercised, summed over all cases, so the test fails if they stop reaching the
/// interesting states.
#[derive(Debug, Default)]
struct Coverage {
    compactions: AtomicU64,
    downsamplings: AtomicU64,
    downsampled_points: AtomicU64,
    crashes_in_maintenance: AtomicU64,
}

static COVERAGE: Coverage = Coverage {
    compactions: AtomicU64::new(0),
    downsamplings: AtomicU64::new(0),
    downsampled_points: AtomicU64::new(0),
    crashes_in_maintenance: AtomicU64::new(0),
};

#[test]
fn database_matches_the_oracle() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..100), run);
    if let Err(err) = result {
        panic!("{err}");
    }
    let c = &COVERAGE;
    eprintln!("db model coverage: {c:?}");
    assert!(c.compactions.load(Relaxed) > 0, "no case compacted: {c:?}");
    assert!(c.downsamplings.load(Relaxed) > 0, "no case wrote a downsampled block: {c:?}");
    assert!(c.downsampled_points.load(Relaxed) > 0, "no downsampled query returned points: {c:?}");
    assert!(c.crashes_in_maintenance.load(Relaxed) > 0, "no crash hit maintenance: {c:?}");
}
