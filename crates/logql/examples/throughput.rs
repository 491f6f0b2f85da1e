//! Lines per second through common LogQL queries over an in-memory store: `cargo run --release -p vigil-logql
//! --example throughput`.

use std::time::Instant;

use vigil_logql::{query, Direction, Limits, MemLogStorage, Params};
use vigil_model::Labels;

const S: i64 = 1_000_000_000;

fn main() {
    let lines_per_stream = 100_000;
    let mut logfmt = MemLogStorage::new().with_batch_size(1024);
    let mut json = MemLogStorage::new().with_batch_size(1024);
    for stream in 0..10 {
        let labels = Labels::from_pairs([("job", "bench".to_string()), ("host", format!("h{stream}"))]).unwrap();
        for i in 0..lines_per_stream {
            let ts = i as i64 * 36 * S / 1000; // one hour per stream
            let level = ["info", "warn", "error", "debug"][i % 4];
            let status = [200, 200, 404, 500][i % 4];
            let user = if i == 77_777 { "needle_user" } else { "alice" };
            logfmt.push(&labels, ts, &format!(
                "ts=2026-11-21T10:00:00Z level={level} msg=\"request done\" method=GET path=/api/v1/items/{i} status={status} latency={}ms user={user}",
                i % 997
            ));
            json.push(&labels, ts, &format!(
                r#"{{"level":"{level}","req":{{"method":"GET","path":"/api/v1/items/{i}","status":{status}}},"latency_ms":{},"user":"{user}"}}"#,
                i % 997
            ));
        }
    }
    let total = 10 * lines_per_stream;
    let end = 3600 * S;
    let run = |name: &str, store: &MemLogStorage, q: &str, params: Params| {
        let t = Instant::now();
        let r = query(store, q, &params, &Limits::default()).expect(q);
        let secs = t.elapsed().as_secs_f64();
        let size = match r {
            vigil_logql::QueryResult::Streams(s) => s.iter().map(|s| s.entries.len()).sum(),
            vigil_logql::QueryResult::Matrix(m) => m.len(),
            vigil_logql::QueryResult::Vector(v) => v.len(),
            vigil_logql::QueryResult::Scalar(..) => 1,
        };
        println!("{name:<28} {:>8.1} ms {:>6.2} M lines/s  result {size}", secs * 1e3, total as f64 / secs / 1e6);
    };
    let logs = Params { start_ns: 0, end_ns: end, step_ns: 0, limit: 100, direction: Direction::Backward };
    let range = Params::range(0, end, 60 * S);
    run("needle |=", &logfmt, r#"{job="bench"} |= "needle_user""#, logs.clone());
    run("regex |~", &logfmt, r#"{job="bench"} |~ "needle_[a-z]+""#, logs.clone());
    run(
        "logfmt label filter",
        &logfmt,
        r#"{job="bench"} | logfmt | status >= 500 and user="needle_user""#,
        logs.clone(),
    );
    run("json label filter", &json, r#"{job="bench"} | json | user="needle_user""#, logs);
    run("count_over_time", &logfmt, r#"sum(count_over_time({job="bench"}[1m]))"#, range.clone());
    run(
        "logfmt sum by level",
        &logfmt,
        r#"sum by (level) (count_over_time({job="bench"} | logfmt | keep level [1m]))"#,
        range.clone(),
    );
    run(
        "json quantile unwrap",
        &json,
        r#"quantile_over_time(0.99, {job="bench"} | json | unwrap latency_ms [5m]) by (job)"#,
        range,
    );
}
