//! Loki's push and query APIs on a real server: protobuf and JSON pushes, log and metric queries in the shapes
//! Grafana's Loki data source reads, the metadata endpoints, errors as Loki words them.

use vigil_model::log::LogEntry;
use vigil_model::Labels;
use vigil_proto::loki::encode_push;

use crate::support::{request, Response, TestServer};

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn entry(ts_ns: i64, line: &str) -> LogEntry {
    LogEntry { ts_ns, line: line.into(), fields: Vec::new() }
}

fn push_proto(server: &TestServer, streams: &[(Labels, Vec<LogEntry>)]) -> Response {
    request(
        server.addr,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/x-protobuf")],
        &encode_push(streams),
    )
}

/// 2023-11-14T22:13:20Z, in nanoseconds: a fixed base so the expected answers are exact.
const BASE: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn loaded() -> TestServer {
    let server = TestServer::start();
    let nginx = labels(&[("job", "nginx"), ("host", "web1")]);
    let lines: Vec<LogEntry> = (0..10)
        .map(|i| {
            let status = if i % 5 == 4 { 500 } else { 200 };
            entry(BASE + i * SEC, &format!("10.0.0.{i} - - \"GET /p{i} HTTP/1.1\" {status} {}", 100 + i))
        })
        .collect();
    let r = push_proto(&server, &[(nginx, lines)]);
    assert_eq!(r.status, 204, "{}", r.body);
    let json = format!(
        r#"{{"streams":[{{"stream":{{"job":"app","host":"web1"}},"values":[["{}","level=error msg=\"disk full\" needle_7f3a"],["{}","level=info msg=ok"]]}}]}}"#,
        BASE + 2 * SEC,
        BASE + 3 * SEC
    );
    let r = request(server.addr, "POST", "/loki/api/v1/push", &[("Content-Type", "application/json")], json.as_bytes());
    assert_eq!(r.status, 204, "{}", r.body);
    server
}

fn range(server: &TestServer, q: &str, extra: &str) -> serde_json::Value {
    let path = format!("/loki/api/v1/query_range?query={}&start={}&end={}{extra}", enc(q), BASE - SEC, BASE + 20 * SEC);
    let r = server.get(&path);
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    r.json()
}

#[test]
fn log_queries_return_streams_newest_first_within_the_limit() {
    let server = loaded();
    let body = range(&server, r#"{job="nginx"} |= "500""#, "&limit=1");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "streams");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["stream"], serde_json::json!({"host": "web1", "job": "nginx"}));
    assert_eq!(
        result[0]["values"],
        serde_json::json!([[(BASE + 9 * SEC).to_string(), "10.0.0.9 - - \"GET /p9 HTTP/1.1\" 500 109"]])
    );
    let forward = range(&server, r#"{job="nginx"} |= "500""#, "&direction=forward");
    let values = forward["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0][0], (BASE + 4 * SEC).to_string());
    // A needle and a logfmt pipeline on the JSON-pushed stream.
    let needle = range(&server, r#"{host="web1"} |= "needle_7f3a" | logfmt | level="error""#, "");
    let result = needle["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["stream"]["msg"], "disk full");
    assert_eq!(result[0]["stream"]["job"], "app");
}

#[test]
fn metric_queries_are_matrices_and_instant_vectors() {
    let server = loaded();
    let body = range(&server, r#"sum by (job) (count_over_time({host="web1"}[1m]))"#, "&step=10s");
    assert_eq!(body["data"]["resultType"], "matrix");
    let result = body["data"]["result"].as_array().unwrap();
    let counts: Vec<(String, String)> = result
        .iter()
        .map(|s| {
            (
                s["metric"]["job"].as_str().unwrap().to_owned(),
                s["values"].as_array().unwrap().last().unwrap()[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(counts, [("app".to_string(), "2".to_string()), ("nginx".to_string(), "10".to_string())]);

    // Grafana's health check.
    let r = server.get(&format!("/loki/api/v1/query?query={}&time={}", enc("vector(1)+vector(1)"), BASE / SEC));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(body["data"]["result"][0]["value"], serde_json::json!([1_700_000_000, "2"]));

    let q = r#"sum(count_over_time({job="nginx"} | pattern `<_> - - "<_>" <status> <_>` | status="500" [1h]))"#;
    let r = server.get(&format!("/loki/api/v1/query?query={}&time={}", enc(q), BASE + 20 * SEC));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["result"][0]["value"][1], "2");
}

#[test]
fn labels_values_series_and_stats() {
    let server = loaded();
    let window = format!("start={}&end={}", BASE - SEC, BASE + 20 * SEC);
    let r = server.get(&format!("/loki/api/v1/labels?{window}"));
    assert_eq!(r.json()["data"], serde_json::json!(["host", "job"]));
    let r = server.get(&format!("/loki/api/v1/label/job/values?{window}"));
    assert_eq!(r.json()["data"], serde_json::json!(["app", "nginx"]));
    let r = server.get(&format!("/loki/api/v1/series?match[]={}&{window}", enc(r#"{job="app"}"#)));
    assert_eq!(r.json()["data"], serde_json::json!([{"host": "web1", "job": "app"}]));
    let r = server.get(&format!("/loki/api/v1/index/stats?query={}&{window}", enc(r#"{job="nginx"}"#)));
    assert_eq!(r.status, 200, "{}", r.body);
    let stats = r.json();
    assert_eq!(stats["streams"], 1);
    assert_eq!(stats["entries"], 10);
    assert!(stats["bytes"].as_u64().unwrap() > 300);
    let r = server.get("/loki/api/v1/status/buildinfo");
    assert_eq!(r.json()["version"], "2.9.0");
}

#[test]
fn bad_requests_get_loki_errors_and_nothing_is_stored() {
    let server = loaded();
    let r = server.get(&format!("/loki/api/v1/query_range?query={}", enc(r#"{job="nginx"} |= "#)));
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("parse error at line 1, col"), "{}", r.body);
    let r = server.get(&format!("/loki/api/v1/query?query={}", enc(r#"{job="nginx"}"#)));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = request(
        server.addr,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/x-protobuf")],
        b"\xff\x00garbage",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = request(
        server.addr,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/json")],
        br#"{"streams":[{"stream":{},"values":[]}]}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let huge = vec![b'x'; 17 << 20];
    let r = request(server.addr, "POST", "/loki/api/v1/push", &[("Content-Type", "application/x-protobuf")], &huge);
    assert_eq!(r.status, 413);
    // A line over the store's cap is refused, the rest of the push kept.
    let big = "y".repeat(300 << 10);
    let r = push_proto(&server, &[(labels(&[("job", "big")]), vec![entry(BASE, &big), entry(BASE + SEC, "small")])]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("1 of 2 entries refused"), "{}", r.body);
    let kept = range(&server, r#"{job="big"}"#, "");
    assert_eq!(kept["data"]["result"][0]["values"][0][1], "small");
}

#[test]
fn log_rules_record_and_alert_on_logql() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("log-rules.yml");
    std::fs::write(
        &rules,
        r#"groups:
  - name: app-logs
    interval: 1s
    rules:
      - record: job:log_errors:count5m
        expr: sum by (job) (count_over_time({job="app"} |= "error" [5m]))
      - alert: AppErrors
        expr: sum by (job) (count_over_time({job="app"} |= "error" [5m])) > 2
        annotations:
          summary: "{{ $labels.job }} logged {{ $value }} errors"
"#,
    )
    .unwrap();
    let server = TestServer::start_with(|o| {
        o.rules.log_rule_files = vec![rules.display().to_string()];
        o.rules.evaluation_interval_ms = 1_000;
    });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let lines =
        (0..4).map(|i| entry(now - 10 * SEC + i, if i == 1 { "all good" } else { "error: disk full" })).collect();
    assert_eq!(push_proto(&server, &[(labels(&[("job", "app")]), lines)]).status, 204);
    let alert = crate::support::wait_for("the log alert", std::time::Duration::from_secs(15), || {
        let body = server.get("/api/v1/alerts").json();
        body["data"]["alerts"].as_array().and_then(|a| a.iter().find(|a| a["state"] == "firing").cloned())
    });
    assert_eq!(alert["labels"], serde_json::json!({"alertname": "AppErrors", "job": "app"}));
    assert_eq!(alert["annotations"]["summary"], "app logged 3 errors");
    let recorded = server.get("/api/v1/query?query=job:log_errors:count5m").json();
    assert_eq!(recorded["data"]["result"][0]["value"][1], "3");
}

#[test]
fn a_large_log_head_is_persisted_before_maintenance_is_due() {
    let server = TestServer::start_with(|o| {
        o.maintain_every = std::time::Duration::from_secs(3_600);
        o.logs_head_persist_bytes = 64 << 10;
    });
    let lines: Vec<LogEntry> = (0..2_000).map(|i| entry(BASE + i, &format!("line {i} {}", "x".repeat(60)))).collect();
    assert_eq!(push_proto(&server, &[(labels(&[("job", "burst")]), lines)]).status, 204);
    let gauge = |name: &str| -> Option<f64> {
        let metrics = server.get("/metrics").body;
        metrics.lines().find(|l| l.starts_with(&format!("{name} "))).and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    crate::support::wait_for("the head persisted", std::time::Duration::from_secs(10), || {
        (gauge("vigil_logstore_head_lines") == Some(0.0) && gauge("vigil_logstore_parts")? >= 1.0).then_some(())
    });
    let kept = range(&server, r#"{job="burst"}"#, "&limit=1");
    assert_eq!(kept["data"]["result"][0]["values"][0][1].as_str().unwrap().split(' ').nth(1), Some("1999"));
}
