//! Unit tests of the engine internals: vector matching errors, staleness, `@` and subquery alignment.

use vigil_model::Labels;

use super::{Engine, EngineOptions, QueryError};
use crate::storage::MemStorage;
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
    let ok = e.instant_query(&s, "sum(abs({k=\"v\"}))", 0);
    assert!(ok.is_ok() || matches!(ok, Err(QueryError::Execution(_))));
}
