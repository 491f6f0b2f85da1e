//! Unit tests of the engine internals: vector matching errors, staleness, `@` and subquery alignment, duration
//! expressions and label names.

use vigil_model::{Labels, Matcher};

use super::{Engine, EngineOptions, QueryError, QueryOptions};
use crate::storage::{Aggregate, MemStorage, SeriesSet, Storage, StorageError, StoredSeries};
use crate::value::Value;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn vector(res: Value) -> Vec<(String, f64)> {
    let Value::Vector(v) = res else { panic!("expected vector, got {res:?}") };
    let mut out: Vec<(String, f64)> = v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn store() -> MemStorage {
    let mut s = MemStorage::new();
    s.add(labels(&[("__name__", "a"), ("job", "x"), ("i", "1")]), [(0, 1.0), (60_000, 2.0)]);
    s.add(labels(&[("__name__", "a"), ("job", "x"), ("i", "2")]), [(0, 3.0), (60_000, 4.0)]);
    s.add(labels(&[("__name__", "b"), ("job", "x")]), [(0, 10.0), (60_000, 20.0)]);
    s
}

#[test]
fn many_to_one_needs_group_left() {
    let e = Engine::new(EngineOptions::default());
    let err = e.instant_query(&store(), "a * on(job) b", 60_000).unwrap_err();
    assert_eq!(
        err,
        QueryError::Execution(
            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into()
        )
    );
    let ok = e.instant_query(&store(), "a * on(job) group_left b", 60_000).unwrap();
    assert_eq!(vector(ok.value), vec![("{i=\"1\", job=\"x\"}".into(), 40.0), ("{i=\"2\", job=\"x\"}".into(), 80.0)]);
    let err = e.instant_query(&store(), "b * on(job) group_right a", 60_000).map(|_| ());
    assert!(err.is_ok());
    let err = e.instant_query(&store(), "b * on(job) group_left a", 60_000).unwrap_err();
    assert!(
        err.to_string().starts_with("found duplicate series for the match group {job=\"x\"} on the right"),
        "{err}"
    );
}

#[test]
fn staleness_marker_ends_a_series_in_lookback() {
    let mut s = MemStorage::new();
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    s.add(labels(&[("__name__", "m")]), [(0, 1.0), (30_000, stale)]);
    let e = Engine::new(EngineOptions::default());
    assert_eq!(vector(e.instant_query(&s, "m", 20_000).unwrap().value).len(), 1);
    assert!(vector(e.instant_query(&s, "m", 40_000).unwrap().value).is_empty());
    // The lookback window is left-open.
    assert!(vector(e.instant_query(&s, "m", 300_000).unwrap().value).is_empty());
    // Range windows are left-open and drop staleness markers.
    let res = e.instant_query(&s, "m[1m]", 60_000).unwrap();
    assert_eq!(res.value, Value::Matrix(Vec::new()));
    let res = e.instant_query(&s, "m[1m]", 50_000).unwrap();
    let Value::Matrix(m) = res.value else { panic!() };
    assert_eq!(m[0].points, vec![(0, 1.0)]);
}

#[test]
fn at_modifier_pins_the_evaluation_time() {
    let e = Engine::new(EngineOptions::default());
    let res = e.range_query(&store(), "b @ 0", 0, 120_000, 60_000).unwrap();
    let Value::Matrix(m) = res.value else { panic!() };
    assert_eq!(m[0].points, vec![(0, 10.0), (60_000, 10.0), (120_000, 10.0)]);
    let res = e.range_query(&store(), "b @ end()", 0, 60_000, 60_000).unwrap();
    let Value::Matrix(m) = res.value else { panic!() };
    assert_eq!(m[0].points, vec![(0, 20.0), (60_000, 20.0)]);
}

#[test]
fn delayed_name_removal_reports_collisions_at_the_end() {
    let mut s = MemStorage::new();
    s.add(labels(&[("__name__", "x1"), ("k", "v")]), [(0, 1.0)]);
    s.add(labels(&[("__name__", "x2"), ("k", "v")]), [(0, 2.0)]);
    let e = Engine::new(EngineOptions::default());
    let err = e.instant_query(&s, "abs({k=\"v\"})", 0).unwrap_err();
    assert_eq!(err.to_string(), "vector cannot contain metrics with the same labelset");
    // An aggregation drops the names before they could collide.
    let ok = e.instant_query(&s, "sum(abs({k=\"v\"}))", 0).unwrap();
    assert_eq!(vector(ok.value), vec![("{}".into(), 3.0)]);
}

#[test]
fn duration_expressions_are_evaluated_before_parsing() {
    let e = Engine::new(EngineOptions::default());
    let plain = e.instant_query(&store(), "count_over_time(b[2m])", 60_000).unwrap();
    let computed = e.instant_query(&store(), "count_over_time(b[1m*(1+1)] offset -(30s-30s))", 60_000).unwrap();
    assert_eq!(vector(plain.value), vector(computed.value));
    let res = e.instant_query(&store(), "b offset (2 * 30s)", 60_000).unwrap();
    assert_eq!(vector(res.value), vec![("b{job=\"x\"}".into(), 10.0)]);
    let err = e.instant_query(&store(), "b[1m-2m]", 60_000).unwrap_err();
    assert_eq!(err.to_string(), "parse error: invalid duration expression \"1m-2m\": duration must be greater than 0");
}

#[test]
fn label_names_that_are_not_utf8_are_refused() {
    let e = Engine::new(EngineOptions::default());
    let err = e.instant_query(&store(), r#"label_replace(b, "\xff", "", "job", "(.*)")"#, 0).unwrap_err();
    assert!(err.to_string().starts_with("invalid destination label name in label_replace(): "), "{err}");
    let err = e.instant_query(&store(), r#"label_join(b, "dst", "-", "\xc3")"#, 0).unwrap_err();
    assert!(err.to_string().starts_with("invalid source label name in label_join(): "), "{err}");
    // Bytes that are UTF-8 make up the characters they encode, as in Go.
    let res = e.instant_query(&store(), r#"label_replace(b, "\xc3\xbf", "$1", "job", "(.*)")"#, 0).unwrap();
    assert_eq!(vector(res.value), vec![("b{job=\"x\", ÿ=\"x\"}".into(), 10.0)]);
}

/// A store that also serves 5-minute and 1-hour aggregates, computed from its raw samples, and records which
/// aggregates a query read.
struct Downsampling {
    raw: MemStorage,
    reads: std::sync::Mutex<Vec<(i64, Aggregate)>>,
}

impl Storage for Downsampling {
    fn select(&self, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        self.raw.select(mint, maxt, m)
    }

    fn resolutions(&self) -> &[i64] {
        &[300_000, 3_600_000]
    }

    fn select_aggregate(
        &self,
        mint: i64,
        maxt: i64,
        m: &[Matcher],
        resolution: i64,
        aggregate: Aggregate,
    ) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        self.reads.lock().unwrap().push((resolution, aggregate));
        let whole = self.raw.select(i64::MIN, i64::MAX, m)?;
        let mut out = Vec::new();
        for i in 0..whole.len() {
            let mut samples = Vec::new();
            whole.samples(i, &mut samples)?;
            let mut points: Vec<(i64, f64)> = Vec::new();
            for chunk in samples.chunk_by(|a, b| a.0.div_euclid(resolution) == b.0.div_euclid(resolution)) {
                let values = chunk.iter().map(|s| s.1);
                let v = match aggregate {
                    Aggregate::Min => values.fold(f64::INFINITY, f64::min),
                    Aggregate::Max => values.fold(f64::NEG_INFINITY, f64::max),
                    Aggregate::Sum => values.sum(),
                    Aggregate::Count => chunk.len() as f64,
                    Aggregate::Last => chunk[chunk.len() - 1].1,
                };
                points.push((chunk[chunk.len() - 1].0, v));
            }
            points.retain(|p| (mint..=maxt).contains(&p.0));
            out.push(StoredSeries { labels: whole.labels(i).clone(), samples: points });
        }
        Ok(Box::new(out))
    }

    fn label_names(&self, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.raw.label_names(mint, maxt, m)
    }

    fn label_values(&self, n: &str, mint: i64, maxt: i64, m: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.raw.label_values(n, mint, maxt, m)
    }
}

#[test]
fn range_functions_read_downsampled_aggregates_when_step_and_window_allow() {
    const MIN: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MIN;
    let mut raw = MemStorage::new();
    // A counter rising by one a second and a gauge at 3, scraped every minute for two days.
    raw.add(labels(&[("__name__", "c_total")]), (0..2 * DAY / MIN).map(|k| (k * MIN, (k * 60) as f64)));
    raw.add(labels(&[("__name__", "g")]), (0..2 * DAY / MIN).map(|k| (k * MIN, 3.0)));
    let store = Downsampling { raw, reads: Default::default() };
    let e = Engine::new(EngineOptions::default());
    let auto = QueryOptions { timeout: std::time::Duration::from_secs(60), max_resolution_ms: i64::MAX };
    let run = |q: &str, step: i64, options: QueryOptions| {
        store.reads.lock().unwrap().clear();
        let res = e.range_query_with(&store, q, (DAY, 2 * DAY - MIN, step), options).unwrap();
        let Value::Matrix(m) = res.value else { panic!("{q}: not a matrix") };
        let values: Vec<f64> = m.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
        (values, std::mem::take(&mut *store.reads.lock().unwrap()))
    };
    type Reads = &'static [(i64, Aggregate)];
    let cases: [(&str, f64, Reads); 6] = [
        ("rate(c_total[1h])", 1.0, &[(5 * MIN, Aggregate::Last)]),
        ("increase(c_total[2h])", 7200.0, &[(5 * MIN, Aggregate::Last)]),
        ("count_over_time(g[1h])", 60.0, &[(5 * MIN, Aggregate::Count)]),
        ("sum_over_time(g[1h])", 180.0, &[(5 * MIN, Aggregate::Sum)]),
        ("max_over_time(g[1h])", 3.0, &[(5 * MIN, Aggregate::Max)]),
        ("avg_over_time(g[1h])", 3.0, &[(5 * MIN, Aggregate::Sum), (5 * MIN, Aggregate::Count)]),
    ];
    for (q, want, reads) in cases {
        let (values, read) = run(q, 30 * MIN, auto);
        assert_eq!(read, reads, "{q}");
        assert_eq!(values.len(), 48, "{q}: {values:?}");
        assert!(values.iter().all(|v| (v - want).abs() < 1e-9), "{q}: {values:?}");
        let raw_options = QueryOptions { max_resolution_ms: 0, ..auto };
        let (raw_values, read) = run(q, 30 * MIN, raw_options);
        assert!(read.is_empty(), "{q}");
        assert_eq!(raw_values.len(), values.len(), "{q}");
    }
    // A step of six hours and a window of a day take hourly buckets, unless the query caps the resolution.
    assert_eq!(run("max_over_time(g[1d])", 6 * 60 * MIN, auto).1, [(60 * MIN, Aggregate::Max)]);
    let capped = QueryOptions { max_resolution_ms: 5 * MIN, ..auto };
    assert_eq!(run("max_over_time(g[1d])", 6 * 60 * MIN, capped).1, [(5 * MIN, Aggregate::Max)]);
    // Steps or windows under five buckets, functions aggregates cannot answer and instant queries read raw data.
    for (q, step) in
        [("rate(c_total[1h])", 20 * MIN), ("rate(c_total[20m])", 60 * MIN), ("irate(c_total[1h])", 60 * MIN)]
    {
        let (values, read) = run(q, step, auto);
        assert!(read.is_empty() && !values.is_empty(), "{q}");
    }
    store.reads.lock().unwrap().clear();
    e.instant_query(&store, "max_over_time(g[1d])", 2 * DAY).unwrap();
    assert!(store.reads.lock().unwrap().is_empty());
}
