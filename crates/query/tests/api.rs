//! Tests of the engine's public API: result shapes, query limits and hostile queries.

use vigil_model::Labels;
use vigil_query::{Engine, EngineOptions, MemStorage, QueryError, Value};

fn storage() -> MemStorage {
    let mut s = MemStorage::new();
    for (job, scale) in [("a", 1.0), ("b", 2.0)] {
        let labels = Labels::from_pairs([("__name__", "up_total"), ("job", job)]).unwrap();
        s.add(labels, (0..100).map(|i| (i * 15_000, i as f64 * scale)));
    }
    s
}

#[test]
fn instant_selector_returns_a_vector_at_the_evaluation_time() {
    let engine = Engine::new(EngineOptions::default());
    let res = engine.instant_query(&storage(), "up_total", 60_000).unwrap();
    let Value::Vector(v) = res.value else { panic!("expected vector, got {:?}", res.value) };
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|s| s.t == 60_000));
    assert_eq!(v.iter().map(|s| s.v).sum::<f64>(), 4.0 + 8.0);
}

#[test]
fn range_query_returns_a_sorted_matrix_without_names_after_arithmetic() {
    let engine = Engine::new(EngineOptions::default());
    let res = engine.range_query(&storage(), "up_total * 2", 0, 60_000, 30_000).unwrap();
    let Value::Matrix(m) = res.value else { panic!("expected matrix") };
    assert_eq!(m.len(), 2);
    assert!(m[0].labels < m[1].labels);
    assert_eq!(m[0].labels.metric_name(), None);
    assert_eq!(m[1].points, vec![(0, 0.0), (30_000, 8.0), (60_000, 16.0)]);
}

#[test]
fn range_query_validates_its_grid() {
    let engine = Engine::new(EngineOptions::default());
    let s = storage();
    assert!(matches!(engine.range_query(&s, "up_total", 0, 10, 0), Err(QueryError::BadRequest(_))));
    assert!(matches!(engine.range_query(&s, "up_total", 10, 0, 1), Err(QueryError::BadRequest(_))));
    assert!(matches!(engine.range_query(&s, "up_total", 0, 11_000, 1), Err(QueryError::BadRequest(_))));
    assert!(matches!(engine.range_query(&s, "up_total[5m]", 0, 10, 1), Err(QueryError::BadRequest(_))));
    assert!(engine.range_query(&s, "up_total", 0, 10_999, 1).is_ok());
    assert!(matches!(engine.range_query(&s, "up_total", i64::MIN, i64::MAX, i64::MAX), Err(QueryError::BadRequest(_))));
    assert!(engine.range_query(&s, "rate(up_total[5m:1m] offset -1h)", i64::MAX - 10, i64::MAX, 5).is_ok());
    assert!(engine.instant_query(&s, "up_total offset 1h", i64::MIN).is_ok());
}

#[test]
fn too_many_samples_is_an_error() {
    let engine = Engine::new(EngineOptions { max_samples: 10, ..EngineOptions::default() });
    let err = engine.range_query(&storage(), "up_total", 0, 600_000, 15_000).unwrap_err();
    assert_eq!(err, QueryError::TooManySamples { limit: 10 });
    let err = engine.instant_query(&storage(), "count_over_time(up_total[1h:1s])", 600_000).unwrap_err();
    assert_eq!(err, QueryError::TooManySamples { limit: 10 });
}

#[test]
fn timeout_is_an_error() {
    let engine = Engine::new(EngineOptions { timeout: std::time::Duration::ZERO, ..EngineOptions::default() });
    let err = engine.range_query(&storage(), "sum(up_total) by (job)", 0, 1_000_000, 100).unwrap_err();
    assert_eq!(err, QueryError::Timeout);
}

#[test]
fn concurrency_limit_refuses_queries() {
    let engine = Engine::new(EngineOptions { max_concurrent: 0, ..EngineOptions::default() });
    assert_eq!(engine.instant_query(&storage(), "1", 0).unwrap_err(), QueryError::TooManyConcurrent);
}

#[test]
fn hostile_queries_fail_cleanly() {
    let engine = Engine::new(EngineOptions::default());
    let s = storage();
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(matches!(engine.instant_query(&s, &deep, 0), Err(QueryError::BadRequest(_))));
    let chain = vec!["1"; 50_000].join(" + ");
    assert!(matches!(engine.instant_query(&s, &chain, 0), Err(QueryError::BadRequest(_))));
    let unary = format!("{}1", "-".repeat(50_000));
    assert!(matches!(engine.instant_query(&s, &unary, 0), Err(QueryError::BadRequest(_))));
    assert!(engine.instant_query(&s, "up_total offset 1000000000y", 0).is_err());
    assert!(engine.instant_query(&s, "rate(up_total[1000000000y])", 0).is_err());
    assert!(engine.instant_query(&s, "up_total{job=~\"(.{1000}){1000}\"}", 0).is_err());
    assert!(matches!(engine.instant_query(&s, "", 0), Err(QueryError::Parse(_))));
    assert!(matches!(engine.instant_query(&s, "sum(", 0), Err(QueryError::Parse(_))));
    // Moderately nested queries still work.
    let nested = format!("{}up_total{}", "abs(".repeat(100), ")".repeat(100));
    assert!(engine.instant_query(&s, &nested, 60_000).is_ok());
}

/// Enough counter series (with resets, gaps and staleness markers) that selectors spread over threads.
fn many_series() -> MemStorage {
    let mut s = MemStorage::new();
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    for host in 0..60 {
        for cpu in 0..40 {
            let labels = Labels::from_pairs([
                ("__name__", "cpu_seconds_total".to_string()),
                ("instance", format!("host-{host}")),
                ("cpu", cpu.to_string()),
            ])
            .unwrap();
            let mut value = 0.0;
            let samples = (0..400).filter_map(|i: i64| {
                let t = i * 10_000 + (host * 37 + cpu * 11 + i * 7) % 900;
                value = if (i + cpu) % 97 == 0 { 0.5 } else { value + ((i * 13 + host) % 17) as f64 / 3.0 };
                match (i + host) % 151 {
                    0 => None,
                    1 => Some((t, stale)),
                    _ => Some((t, value)),
                }
            });
            s.add(labels, samples.collect::<Vec<_>>());
        }
    }
    s
}

#[test]
fn queries_spread_over_threads_give_the_same_bits_as_one_thread() {
    let s = many_series();
    let one = Engine::new(EngineOptions { threads_per_query: 1, ..EngineOptions::default() });
    let four = Engine::new(EngineOptions { threads_per_query: 4, ..EngineOptions::default() });
    let bits = |v: Value| match v {
        Value::Matrix(m) => {
            m.into_iter().map(|s| (s.labels, s.points.iter().map(|p| (p.0, p.1.to_bits())).collect())).collect()
        }
        other => panic!("expected a matrix, got {other:?}"),
    };
    let queries = [
        "sum by (instance) (rate(cpu_seconds_total[5m]))",
        "increase(cpu_seconds_total{cpu=~\"1.*\"}[2m])",
        "cpu_seconds_total",
        "max_over_time(cpu_seconds_total[1m] offset 30s)",
        "avg(cpu_seconds_total{instance=\"host-3\" or cpu=\"7\"})",
    ];
    for q in queries {
        let expected: Vec<(Labels, Vec<(i64, u64)>)> =
            bits(one.range_query(&s, q, 300_000, 3_900_000, 15_000).unwrap().value);
        assert!(!expected.is_empty(), "{q}");
        let got: Vec<(Labels, Vec<(i64, u64)>)> =
            bits(four.range_query(&s, q, 300_000, 3_900_000, 15_000).unwrap().value);
        assert_eq!(got, expected, "{q}");
    }
}

#[test]
fn limits_hold_when_series_are_spread_over_threads() {
    let s = many_series();
    let options = EngineOptions { threads_per_query: 4, max_samples: 100_000, ..EngineOptions::default() };
    let err = Engine::new(options).range_query(&s, "rate(cpu_seconds_total[5m])", 0, 3_900_000, 15_000).unwrap_err();
    assert_eq!(err, QueryError::TooManySamples { limit: 100_000 });
    let options =
        EngineOptions { threads_per_query: 4, timeout: std::time::Duration::ZERO, ..EngineOptions::default() };
    let err = Engine::new(options).range_query(&s, "rate(cpu_seconds_total[5m])", 0, 3_900_000, 15_000).unwrap_err();
    assert_eq!(err, QueryError::Timeout);
}

#[test]
fn aggregations_agree_whether_grouped_by_step_or_by_series() {
    // Few groups take the path that walks each series once; one group per series the path that regroups
    // points by step. Integer values make every sum exact, so both must match a plain computation.
    let mut s = MemStorage::new();
    let value = |i: i64, step: i64| ((i * 7 + step * 3) % 23) as f64 - 5.0;
    for i in 0..60i64 {
        let labels =
            Labels::from_pairs([("__name__", "x".to_string()), ("id", i.to_string()), ("g", (i % 3).to_string())])
                .unwrap();
        s.add(labels, ((i % 7)..40).map(|step| (step * 15_000, value(i, step))).collect::<Vec<_>>());
    }
    let engine = Engine::new(EngineOptions::default());
    for (query, by_id) in [("sum by (g) (x)", false), ("sum by (id, g) (x)", true)] {
        let Value::Matrix(m) = engine.range_query(&s, query, 0, 39 * 15_000, 15_000).unwrap().value else {
            panic!("expected a matrix")
        };
        assert_eq!(m.len(), if by_id { 60 } else { 3 }, "{query}");
        for series in &m {
            let key: i64 = series.labels.get(if by_id { "id" } else { "g" }).unwrap().parse().unwrap();
            let members: Vec<i64> = (0..60).filter(|&i| if by_id { i == key } else { i % 3 == key }).collect();
            let expected: Vec<(i64, f64)> = (0..40)
                .filter(|&step| members.iter().any(|&i| i % 7 <= step))
                .map(|step| {
                    let sum = members.iter().filter(|&&i| i % 7 <= step).map(|&i| value(i, step)).sum();
                    (step * 15_000, sum)
                })
                .collect();
            assert_eq!(series.points, expected, "{query} {}", series.labels);
        }
    }
}

#[test]
fn subqueries_without_a_step_use_the_configured_default() {
    let scalar = |engine: &Engine| match engine.instant_query(
        &storage(),
        "count_over_time(up_total{job=\"a\"}[2m:])",
        120_000,
    ) {
        Ok(r) => match r.value {
            Value::Vector(v) => v[0].v,
            other => panic!("{other:?}"),
        },
        Err(e) => panic!("{e}"),
    };
    // Steps at 1m and 2m by default (Prometheus' evaluation interval); at every 30s when configured so.
    assert_eq!(scalar(&Engine::new(EngineOptions::default())), 2.0);
    let every_30s = Engine::new(EngineOptions { default_subquery_step_ms: 30_000, ..EngineOptions::default() });
    assert_eq!(scalar(&every_30s), 4.0);
}

#[test]
fn check_query_parses_the_engine_dialect_without_evaluating() {
    assert_eq!(vigil_query::check_query("rate(x[5m]) > 1"), Ok(()));
    assert_eq!(vigil_query::check_query("holt_winters(x[5m], 0.5, 0.5)"), Ok(()));
    assert!(matches!(vigil_query::check_query("sum("), Err(QueryError::Parse(_))));
    assert!(matches!(vigil_query::check_query(""), Err(QueryError::Parse(_))));
}
