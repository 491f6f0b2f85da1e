//! The rule manager in a real server: samples pushed by remote_write, a recording rule and an alerting rule with
//! `for` and a templated annotation evaluated every second, alerts seen through the API, `ALERTS` and an
//! `AlertSink` double, `for` state restored after a restart on the same data directory.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_alerting::PostableAlert;
use vigil_model::Labels;
use vigil_proto::remote_write::{encode_write_request, WriteRequest};
use vigil_rules::RestoreOptions;
use vigil_server::rules::{AlertSink, RuleOptions};
use vigil_server::{Server, ServerError, ServerOptions};

use crate::remote_write::series;
use crate::support::{request, wait_for, Response};

const RULES: &str = r#"groups:
  - name: demo
    interval: 1s
    rules:
      - record: job:temp:max
        expr: max by (job) (temp)
      - alert: Hot
        expr: job:temp:max > 30
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} is at {{ $value }} degrees"
"#;

/// Keeps every alert posted.
#[derive(Default)]
struct Recorder(Mutex<Vec<PostableAlert>>);

impl AlertSink for Recorder {
    fn post(&self, alerts: Vec<PostableAlert>) {
        self.0.lock().unwrap().extend(alerts);
    }
}

fn options(data: &Path, rules: &Path) -> ServerOptions {
    let mut o = ServerOptions::new(data);
    o.rules = RuleOptions {
        rule_files: vec![rules.display().to_string()],
        evaluation_interval_ms: 1_000,
        external_labels: Labels::from_pairs([("dc", "eu1")]).unwrap(),
        external_url: "http://vigil.test".into(),
        restore: RestoreOptions { outage_tolerance_ms: 3_600_000, for_grace_period_ms: 1_000 },
        ..RuleOptions::default()
    };
    o
}

/// A server on the given data directory; dropping it stops the server.
struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(options: ServerOptions, sink: Arc<Recorder>) -> Running {
        let server = Server::open(options).unwrap();
        server.set_alert_sink(sink);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                server.serve(listener, shutdown).await.unwrap();
            });
        });
        Running { addr, stop: Some(stop), thread: Some(thread) }
    }

    fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], &[])
    }

    fn query(&self, promql: &str) -> serde_json::Value {
        let r = self.get(&format!("/api/v1/query?query={}", encode(promql)));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["data"]["result"].clone()
    }

    /// The alerts of `/api/v1/alerts`.
    fn alerts(&self) -> Vec<serde_json::Value> {
        self.get("/api/v1/alerts").json()["data"]["alerts"].as_array().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = self.thread.take().map(|t| t.join());
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn push(addr: std::net::SocketAddr, value: f64) {
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "temp"), ("job", "oven")], &[(now_ms(), value)])],
        metadata: vec![],
    };
    let headers = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")];
    let r = request(addr, "POST", "/api/v1/write", &headers, &encode_write_request(&req));
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The firing `Hot` alert of `/api/v1/alerts`, once there is one.
fn firing(server: &Running) -> serde_json::Value {
    wait_for("the alert to fire", Duration::from_secs(10), || {
        server.alerts().into_iter().find(|a| a["state"] == "firing")
    })
}

#[test]
fn rules_record_alert_notify_and_restore_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let sink = Arc::new(Recorder::default());
    let server = Running::start(options(&dir.path().join("data"), &rules), sink.clone());
    push(server.addr, 42.0);

    let recorded = wait_for("the recorded series", Duration::from_secs(10), || {
        let r = server.query("job:temp:max");
        (r.as_array().is_some_and(|a| !a.is_empty())).then_some(r)
    });
    assert_eq!(recorded[0]["metric"], serde_json::json!({"__name__": "job:temp:max", "job": "oven"}));
    assert_eq!(recorded[0]["value"][1], "42");

    let pending = wait_for("the pending alert", Duration::from_secs(10), || {
        server.alerts().into_iter().find(|a| a["state"] == "pending")
    });
    let alert = firing(&server);
    assert_eq!(alert["activeAt"], pending["activeAt"]);
    assert_eq!(alert["labels"], serde_json::json!({"alertname": "Hot", "job": "oven", "severity": "page"}));
    assert_eq!(alert["annotations"], serde_json::json!({"summary": "oven is at 42 degrees"}));
    assert_eq!(alert["value"], "4.2e+01");
    let series = wait_for("ALERTS firing", Duration::from_secs(5), || {
        let r = server.query(r#"ALERTS{alertstate="firing"}"#);
        (r.as_array().is_some_and(|a| !a.is_empty())).then_some(r)
    });
    let want = serde_json::json!({"__name__": "ALERTS", "alertname": "Hot", "alertstate": "firing", "job": "oven",
                                  "severity": "page"});
    assert_eq!(series[0]["metric"], want);

    let sent =
        wait_for("the alert posted to the sink", Duration::from_secs(5), || sink.0.lock().unwrap().first().cloned());
    let labels: Vec<(&str, &str)> = sent.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(labels, [("alertname", "Hot"), ("dc", "eu1"), ("job", "oven"), ("severity", "page")]);
    assert_eq!(sent.annotations["summary"], "oven is at 42 degrees");
    assert_eq!(sent.generator_url, "http://vigil.test/graph?g0.expr=job%3Atemp%3Amax+%3E+30&g0.tab=1");
    let (starts, ends) = (sent.starts_at.unwrap().as_millis(), sent.ends_at.unwrap().as_millis());
    // Sent when it fired, valid for four resend delays (1m each by default).
    assert!(starts > now_ms() - 10_000 && starts <= now_ms(), "{starts}");
    assert_eq!(ends - starts, 4 * 60_000);

    let body = server.get("/api/v1/rules").json();
    check_rules_shape(&body);
    let only_alerts = server.get("/api/v1/rules?type=alert").json();
    assert_eq!(only_alerts["data"]["groups"][0]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(server.get("/api/v1/rules?type=x").status, 400);
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("vigil_rule_evaluations_total{rule_group=\""), "{metrics}");

    let active_at = alert["activeAt"].as_str().unwrap().to_owned();
    drop(server);

    // Same data: the alert's activation time comes back from ALERTS_FOR_STATE (in whole seconds), so it fires
    // without waiting `for` from the restart.
    let sink = Arc::new(Recorder::default());
    let server = Running::start(options(&dir.path().join("data"), &rules), sink);
    let alert = firing(&server);
    let whole_seconds = match active_at.split_once('.') {
        Some((head, _)) => format!("{head}Z"),
        None => active_at.clone(),
    };
    assert_eq!(alert["activeAt"], whole_seconds.as_str());
}

/// The value of the rule group counter `name` in the server's own metrics.
fn group_counter(server: &Running, name: &str) -> u64 {
    let metrics = server.get("/metrics").body;
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l.contains(";fast\""))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse::<f64>().unwrap() as u64)
}

fn parse_rfc3339_ms(s: &str) -> i64 {
    vigil_model::time::parse_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn alerts_are_evaluated_when_their_samples_arrive_and_fire_when_for_ends() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    let fast = "groups:\n  - name: fast\n    interval: 4s\n    rules:\n      - alert: Hot\n        expr: temp > 30\n        for: 1s\n";
    std::fs::write(&rules, fast).unwrap();
    let sink = Arc::new(Recorder::default());
    let server = Running::start(options(&dir.path().join("data"), &rules), sink.clone());
    // Early evaluations start once the `for` state is restored, after the second iteration. Push right after
    // an iteration, so the next one is about 4 s away.
    wait_for("two iterations", Duration::from_secs(15), || {
        (group_counter(&server, "vigil_rule_group_iterations_total") >= 2).then_some(())
    });
    let iterations = group_counter(&server, "vigil_rule_group_iterations_total");
    wait_for("the next iteration", Duration::from_secs(6), || {
        (group_counter(&server, "vigil_rule_group_iterations_total") > iterations).then_some(())
    });
    let pushed = now_ms();
    push(server.addr, 42.0);
    let alert = firing(&server);
    let active_at = parse_rfc3339_ms(alert["activeAt"].as_str().unwrap());
    assert!(active_at >= pushed - 1_000 && active_at < pushed + 2_000, "pending at {active_at}, pushed at {pushed}");
    let sent =
        wait_for("the alert posted to the sink", Duration::from_secs(5), || sink.0.lock().unwrap().first().cloned());
    let fired_at = sent.starts_at.unwrap().as_millis();
    // Fired when its `for` ended, not at the next aligned iteration.
    assert!(fired_at >= active_at + 1_000 && fired_at < active_at + 1_800, "fired at {fired_at}, active {active_at}");
    assert!(group_counter(&server, "vigil_rule_group_early_evaluations_total") >= 2);
}

fn check_rules_shape(body: &serde_json::Value) {
    assert_eq!(body["status"], "success");
    let group = &body["data"]["groups"][0];
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut want = ["name", "file", "rules", "interval", "limit", "evaluationTime", "lastEvaluation"];
    want.sort_unstable();
    assert_eq!(keys(group), want);
    assert_eq!(
        (group["name"].as_str(), group["interval"].as_f64(), group["limit"].as_u64()),
        (Some("demo"), Some(1.0), Some(0))
    );
    let record = &group["rules"][0];
    let mut want = ["name", "query", "health", "evaluationTime", "lastEvaluation", "type"];
    want.sort_unstable();
    assert_eq!(keys(record), want);
    assert_eq!((record["type"].as_str(), record["health"].as_str()), (Some("recording"), Some("ok")));
    assert_eq!(record["query"], "max by (job) (temp)");
    let alerting = &group["rules"][1];
    let mut want = [
        "state",
        "name",
        "query",
        "duration",
        "labels",
        "annotations",
        "alerts",
        "health",
        "evaluationTime",
        "lastEvaluation",
        "keepFiringFor",
        "type",
    ];
    want.sort_unstable();
    assert_eq!(keys(alerting), want);
    assert_eq!((alerting["state"].as_str(), alerting["duration"].as_f64()), (Some("firing"), Some(2.0)));
    assert_eq!(alerting["annotations"]["summary"], "{{ $labels.job }} is at {{ $value }} degrees");
    assert_eq!(alerting["alerts"][0]["state"], "firing");
    assert!(alerting["lastEvaluation"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn bad_rule_files_stop_the_server_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n").unwrap();
    let err = Server::open(options(&dir.path().join("data"), &rules)).err().unwrap();
    assert!(matches!(err, ServerError::Rules(_)));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:5:15: group \"g\", rule 1, \"x\": could not parse", rules.display())),
        "{text}"
    );
}

#[test]
fn reload_swaps_groups_marks_removed_series_stale_and_keeps_them_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    let group = |name: &str, record: &str| {
        format!("groups:\n  - name: {name}\n    interval: 1s\n    rules:\n      - record: {record}\n        expr: vector(1)\n")
    };
    std::fs::write(&rules, group("a", "one")).unwrap();
    let server = Running::start(options(&dir.path().join("data"), &rules), Arc::new(Recorder::default()));
    let has = |name: &str| server.query(name).as_array().is_some_and(|a| !a.is_empty());
    wait_for("the first group's series", Duration::from_secs(10), || has("one").then_some(()));

    std::fs::write(&rules, "groups: [{name: a, rules: [{record: one, expr: 'sum('}]}]\n").unwrap();
    let r = request(server.addr, "POST", "/-/reload", &[], &[]);
    assert_eq!(r.status, 500);
    assert!(r.body.contains("could not parse expression"), "{}", r.body);
    assert_eq!(server.get("/api/v1/rules").json()["data"]["groups"][0]["name"], "a");

    std::fs::write(&rules, group("b", "two")).unwrap();
    assert_eq!(request(server.addr, "POST", "/-/reload", &[], &[]).status, 200);
    assert_eq!(server.get("/api/v1/rules").json()["data"]["groups"].as_array().unwrap().len(), 1);
    assert_eq!(server.get("/api/v1/rules").json()["data"]["groups"][0]["name"], "b");
    wait_for("the new group's series", Duration::from_secs(10), || has("two").then_some(()));
    assert!(!has("one"), "the removed group's series is marked stale");
}
