//! A small store of nginx, logfmt and JSON streams with known timestamps, and helpers that run queries.

use vigil_logql::{parse, query, Direction, EvalError, Limits, MemLogStorage, Params, QueryError, QueryResult};
use vigil_model::Labels;

pub const S: i64 = 1_000_000_000;

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

pub fn store() -> MemLogStorage {
    let mut s = MemLogStorage::new().with_batch_size(2);
    let nginx = labels(&[("app", "nginx"), ("env", "prod")]);
    for (t, line) in [
        (10, r#"10.0.0.1 - - [21/Nov/2026:10:00:10 +0000] "GET /index.html HTTP/1.1" 200 512"#),
        (20, r#"10.0.0.2 - - [21/Nov/2026:10:00:20 +0000] "POST /api/login HTTP/1.1" 401 128"#),
        (30, r#"10.0.0.1 - - [21/Nov/2026:10:00:30 +0000] "GET /missing HTTP/1.1" 404 64"#),
        (40, r#"10.0.0.3 - - [21/Nov/2026:10:00:40 +0000] "GET /api/data HTTP/1.1" 500 2048"#),
        (50, r#"10.0.0.2 - - [21/Nov/2026:10:00:50 +0000] "GET /index.html HTTP/1.1" 200 1024"#),
    ] {
        s.push(&nginx, t * S, line);
    }
    let api = labels(&[("app", "api"), ("env", "prod")]);
    for (t, line) in [
        (15, r#"level=info msg="request done" status=200 latency=120ms size=1KB"#),
        (25, r#"level=error msg="db down" status=500 latency=2.5s size=3KB"#),
        (35, r#"level=warn msg="slow" status=200 latency=800ms size=512B"#),
        (45, r#"level=error msg="timeout" status=504 latency=5s size=0"#),
        (55, r#"level=info msg="request done" status=201 latency=90ms size=2KB"#),
    ] {
        s.push(&api, t * S, line);
    }
    let json = labels(&[("app", "json"), ("env", "dev")]);
    for (t, line) in [
        (12, r#"{"level":"info","req":{"method":"GET","path":"/a","status":200},"latency_ms":12.5,"tags":["x","y"]}"#),
        (22, r#"{"level":"error","req":{"method":"POST","path":"/b","status":500},"latency_ms":300}"#),
        (32, "not json at all"),
        (42, r#"{"level":"info","req":{"method":"GET","path":"/c","status":404},"latency_ms":7,"env":"collide"}"#),
    ] {
        s.push(&json, t * S, line);
    }
    s.push(&labels(&[("app", "color")]), 5 * S, "\x1b[31mred\x1b[0m text");
    s.push(&labels(&[("app", "packed")]), 5 * S, r#"{"_entry":"original line","pod":"p1"}"#);
    s
}

/// Runs a log query over [0s, 60s) and flattens the result to `(labels, seconds, line)` in result order.
pub fn logs_with(q: &str, direction: Direction, limit: usize) -> Vec<(String, i64, String)> {
    let params = Params { start_ns: 0, end_ns: 60 * S, step_ns: 0, limit, direction };
    match query(&store(), q, &params, &Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}")) {
        QueryResult::Streams(streams) => streams
            .into_iter()
            .flat_map(|s| {
                let l = s.labels.to_string();
                s.entries.into_iter().map(move |(t, line)| (l.clone(), t / S, line))
            })
            .collect(),
        other => panic!("{q}: not streams: {other:?}"),
    }
}

/// The timestamps (seconds) of a forward log query, over all streams, sorted.
pub fn times(q: &str) -> Vec<i64> {
    let mut t: Vec<i64> = logs_with(q, Direction::Forward, 1000).into_iter().map(|e| e.1).collect();
    t.sort_unstable();
    t
}

/// An instant metric query at `t` seconds: `(labels, value)` in result order.
pub fn instant(q: &str, t: i64) -> Vec<(String, f64)> {
    match query(&store(), q, &Params::instant(t * S), &Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}")) {
        QueryResult::Vector(v) => v
            .into_iter()
            .map(|(l, ts, v)| {
                assert_eq!(ts, t * S);
                (l.to_string(), v)
            })
            .collect(),
        QueryResult::Scalar(_, v) => vec![("scalar".to_string(), v)],
        other => panic!("{q}: {other:?}"),
    }
}

/// The single value of an instant query.
pub fn value(q: &str, t: i64) -> f64 {
    let v = instant(q, t);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

/// A range metric query, times in seconds.
pub fn range(q: &str, start: i64, end: i64, step: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    match query(&store(), q, &Params::range(start * S, end * S, step * S), &Limits::default())
        .unwrap_or_else(|e| panic!("{q}: {e}"))
    {
        QueryResult::Matrix(m) => {
            m.into_iter().map(|(l, p)| (l.to_string(), p.into_iter().map(|(t, v)| (t / S, v)).collect())).collect()
        }
        other => panic!("{q}: {other:?}"),
    }
}

pub fn eval_err(q: &str, params: &Params, limits: &Limits) -> EvalError {
    let expr = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    match vigil_logql::evaluate(&store(), &expr, params, limits) {
        Err(e) => e,
        Ok(r) => panic!("{q}: expected an error, got {r:?}"),
    }
}

pub fn parse_err(q: &str) -> String {
    match parse(q) {
        Err(e) => e.to_string(),
        Ok(e) => panic!("{q}: expected a parse error, got {e:?}"),
    }
}

#[allow(dead_code)]
pub fn query_err(q: &str) -> QueryError {
    query(&store(), q, &Params::instant(60 * S), &Limits::default()).unwrap_err()
}
