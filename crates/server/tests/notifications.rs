//! Notifications through vigil-notify end to end: a real server on 127.0.0.1 with local HTTP services standing
//! in for Slack and a webhook; retries, the self-metrics on `/metrics`, `/api/v1/notifications`, the external
//! URL in what is sent, and a reload of the receivers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_alerting::AlertmanagerConfig;
use vigil_server::alertmanager::AlertingConfig;
use vigil_server::ServerOptions;

use crate::alertmanager::harness::{alert, AmServer, LIMIT};
use crate::support::wait_for;

const EXTERNAL_URL: &str = "http://vigil.example:9090";

/// An HTTP service on 127.0.0.1 that records every request (path and body) and answers with the statuses it
/// was given, in order, then 200.
struct Service {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Service {
    fn start(statuses: &[u16]) -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(statuses.iter().copied().collect::<VecDeque<u16>>()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let record = seen.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: String| async move {
                record.lock().unwrap().push((uri.path().to_owned(), body));
                let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                (axum::http::StatusCode::from_u16(status).unwrap(), "ok")
            });
            axum::serve(listener, app).await.unwrap();
        });
        Service { base, seen, _runtime: runtime }
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived; returns their bodies as JSON.
    fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        wait_for(&format!("{n} requests to {}", self.base), LIMIT, || {
            let seen = self.seen();
            (seen.len() >= n).then(|| seen.iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect())
        })
    }
}

/// Routes everything to receiver `team`: a webhook and a Slack channel.
fn config(webhook: &str, slack: &str) -> String {
    format!(
        "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: team\n    webhook_configs:\n      - url: {webhook}/hook\n    slack_configs:\n      - api_url: {slack}/slack\n        channel: '#alerts'\n"
    )
}

fn webhook_only(webhook: &str) -> String {
    format!(
        "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: team\n    webhook_configs:\n      - url: {webhook}/hook\n"
    )
}

/// The external URL, and retries fast enough for a test.
fn options(o: &mut ServerOptions) {
    o.alertmanager.external_url = EXTERNAL_URL.into();
    o.alertmanager.notify.initial_backoff = Duration::from_millis(50);
    o.alertmanager.notify.max_backoff = Duration::from_millis(200);
}

/// The value of the series written exactly as `series` on `/metrics`.
fn metric(server: &AmServer, series: &str) -> Option<f64> {
    let r = server.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn wait_metric(server: &AmServer, series: &str, value: f64) {
    wait_for(&format!("{series} {value}"), LIMIT, || (metric(server, series) == Some(value)).then_some(()));
}

/// `/api/v1/notifications` with `query`, once it lists `n` entries.
fn wait_history(server: &AmServer, query: &str, n: usize) -> Vec<serde_json::Value> {
    wait_for(&format!("{n} notifications in the history"), LIMIT, || {
        let r = server.get(&format!("/api/v1/notifications{query}"));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["status"], "success");
        let data = v["data"].as_array().unwrap().clone();
        (data.len() == n).then_some(data)
    })
}

#[test]
fn an_alert_reaches_slack_and_the_webhook_with_their_shapes() {
    let hook = Service::start(&[]);
    let slack = Service::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start_with(dir.path(), &config(&hook.base, &slack.base), options);
    let r = server.post_json("/api/v2/alerts", &format!("[{}]", alert("HighLoad", "a")));
    assert_eq!(r.status, 200, "{}", r.body);

    let body = &hook.wait_for(1)[0];
    assert_eq!(hook.seen()[0].0, "/hook");
    assert_eq!((body["version"].as_str(), body["receiver"].as_str()), (Some("4"), Some("team")));
    assert_eq!((body["status"].as_str(), body["externalURL"].as_str()), (Some("firing"), Some(EXTERNAL_URL)));
    assert_eq!(body["groupKey"], r#"{}:{alertname="HighLoad"}"#);
    assert_eq!(body["alerts"][0]["labels"], serde_json::json!({"alertname": "HighLoad", "instance": "a"}));

    let body = &slack.wait_for(1)[0];
    assert_eq!(slack.seen()[0].0, "/slack");
    assert_eq!(body["channel"], "#alerts");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["title"], "[FIRING:1] HighLoad (a)");
    // Alertmanager's default `slack.default.titlelink` is built from `.ExternalURL`.
    assert_eq!(attachment["title_link"], format!("{EXTERNAL_URL}/#/alerts?receiver=team"));
    assert!(attachment["text"].as_str().is_some_and(|t| t.contains("load")), "{attachment}");

    let history = wait_history(&server, "", 2);
    let mut integrations: Vec<&str> = history.iter().map(|e| e["integration"].as_str().unwrap()).collect();
    integrations.sort();
    assert_eq!(integrations, ["slack", "webhook"]);
    for e in &history {
        assert_eq!((e["receiver"].as_str(), e["status"].as_str()), (Some("team"), Some("firing")), "{e}");
        assert_eq!((e["outcome"].as_str(), e["attempts"].as_u64()), (Some("delivered"), Some(1)), "{e}");
        assert!(e.get("error").is_none(), "{e}");
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
        assert_eq!(e["alerts"], serde_json::json!({"firing": 1, "resolved": 0, "alertnames": ["HighLoad"]}), "{e}");
    }
    assert_eq!(wait_history(&server, "?limit=1", 1)[0], history[0]);
    assert_eq!(wait_history(&server, "?receiver=team", 2), history);
    assert!(wait_history(&server, "?receiver=other", 0).is_empty());
    assert_eq!(server.get("/api/v1/notifications?limit=x").status, 400);

    // Both outcomes reached the dispatcher: the log has one entry per integration.
    wait_for("both deliveries in the notification log", LIMIT, || {
        server.am.read(|d, _| d.nflog().entries().count() == 2).then_some(())
    });
    for kind in ["slack", "webhook"] {
        assert_eq!(
            metric(&server, &format!(r#"vigil_notifications_total{{integration="{kind}",outcome="delivered"}}"#)),
            Some(1.0)
        );
        assert_eq!(
            metric(&server, &format!(r#"vigil_notifications_total{{integration="{kind}",outcome="failed"}}"#)),
            Some(0.0)
        );
        assert_eq!(
            metric(&server, &format!(r#"vigil_notification_requests_total{{integration="{kind}"}}"#)),
            Some(1.0)
        );
        assert_eq!(
            metric(&server, &format!(r#"vigil_notification_requests_failed_total{{integration="{kind}"}}"#)),
            Some(0.0)
        );
    }
    assert_eq!(metric(&server, r#"vigil_alerts{state="active"}"#), Some(1.0));
    assert_eq!(metric(&server, r#"vigil_alerts{state="suppressed"}"#), Some(0.0));
    assert_eq!(metric(&server, r#"vigil_silences{state="active"}"#), Some(0.0));

    server.silence(r#"[{"name":"instance","value":"b","isRegex":false,"isEqual":true}]"#);
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("HighLoad", "b")));
    assert_eq!(metric(&server, r#"vigil_silences{state="active"}"#), Some(1.0));
    assert_eq!(metric(&server, r#"vigil_alerts{state="suppressed"}"#), Some(1.0));
    assert_eq!(metric(&server, r#"vigil_alerts{state="active"}"#), Some(1.0));
}

#[test]
fn a_receiver_answering_500_then_200_is_retried_and_counted() {
    let hook = Service::start(&[500]);
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start_with(dir.path(), &webhook_only(&hook.base), options);
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Disk", "a")));
    let bodies = hook.wait_for(2);
    assert_eq!(bodies[0], bodies[1], "the retry sends the same body");

    let history = wait_history(&server, "", 1);
    assert_eq!((history[0]["outcome"].as_str(), history[0]["attempts"].as_u64()), (Some("delivered"), Some(2)));
    wait_metric(&server, r#"vigil_notification_requests_total{integration="webhook"}"#, 2.0);
    assert_eq!(metric(&server, r#"vigil_notification_requests_failed_total{integration="webhook"}"#), Some(1.0));
    assert_eq!(metric(&server, r#"vigil_notifications_total{integration="webhook",outcome="delivered"}"#), Some(1.0));
    assert_eq!(metric(&server, r#"vigil_notifications_total{integration="webhook",outcome="failed"}"#), Some(0.0));
    wait_for("the delivery in the notification log", LIMIT, || {
        server.am.read(|d, _| d.nflog().entries().count() == 1).then_some(())
    });
    assert_eq!(hook.seen().len(), 2);
}

#[test]
fn a_receiver_refusing_with_400_fails_once_and_is_sent_again_at_the_next_flush() {
    let hook = Service::start(&[400]);
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start_with(dir.path(), &webhook_only(&hook.base), options);
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Disk", "a")));
    // A 400 is not retried; the notification log is not written, so the next flush (group_interval) sends
    // the group again, and that one is delivered.
    hook.wait_for(2);
    let history = wait_history(&server, "", 2);
    assert_eq!((history[0]["outcome"].as_str(), history[0]["attempts"].as_u64()), (Some("delivered"), Some(1)));
    assert_eq!((history[1]["outcome"].as_str(), history[1]["attempts"].as_u64()), (Some("failed"), Some(1)));
    let error = history[1]["error"].as_str().unwrap();
    assert!(error.contains("400"), "{error}");
    wait_metric(&server, r#"vigil_notifications_total{integration="webhook",outcome="failed"}"#, 1.0);
    assert_eq!(metric(&server, r#"vigil_notifications_total{integration="webhook",outcome="delivered"}"#), Some(1.0));
}

#[test]
fn a_reload_sends_to_the_new_receivers_and_keeps_the_history() {
    let before = Service::start(&[]);
    let after = Service::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start_with(dir.path(), &webhook_only(&before.base), options);
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Disk", "a")));
    before.wait_for(1);
    wait_history(&server, "", 1);

    let yaml = webhook_only(&after.base);
    let config = AlertmanagerConfig::parse(&yaml, "am.yml").unwrap();
    server.am.reload(AlertingConfig { config, original: yaml }).unwrap();
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Load", "a")));
    let body = &after.wait_for(1)[0];
    assert_eq!(body["groupKey"], r#"{}:{alertname="Load"}"#);
    let history = wait_history(&server, "", 2);
    assert!(history.iter().all(|e| e["outcome"] == "delivered"), "{history:?}");
    wait_metric(&server, r#"vigil_notifications_total{integration="webhook",outcome="delivered"}"#, 2.0);
    assert_eq!(before.seen().len(), 1);
}
