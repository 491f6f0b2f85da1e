//! The log shipper against a real HTTP receiver on loopback that decodes Loki pushes: labels, fields and
//! pipeline effects, multi-line records, a receiver answering 500 and then refusing connections (nothing is
//! lost), 429 with `Retry-After`, and a 400 (counted and skipped).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_agent::logs::{FailReason, LogShipper, LogsSettings};
use vigil_model::log::LogEntry;
use vigil_model::Labels;
use vigil_proto::loki::{decode_push, PushLimits};

/// What the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Store,
    Status(u16),
}

#[derive(Default)]
struct Received {
    entries: Vec<(Labels, LogEntry)>,
    pushes: usize,
}

struct Inner {
    answer: Answer,
    received: Received,
}

/// A Loki push receiver on its own thread and runtime; `stop` closes its port (connections are refused), `start`
/// opens it again on the same address.
struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    server: Option<(tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Receiver {
    fn new() -> Receiver {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner { answer: Answer::Store, received: Received::default() }));
        Receiver { addr, inner, server: None }
    }

    fn start(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (inner, addr) = (self.inner.clone(), self.addr);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                ready_tx.send(()).unwrap();
                let app = axum::Router::new().route("/loki/api/v1/push", axum::routing::post(push)).with_state(inner);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        ready_rx.recv().unwrap();
        self.server = Some((tx, thread));
    }

    fn stop(&mut self) {
        if let Some((tx, thread)) = self.server.take() {
            let _ = tx.send(());
            thread.join().unwrap();
        }
    }

    fn answer(&self, a: Answer) {
        self.inner.lock().unwrap().answer = a;
    }

    fn pushes(&self) -> usize {
        self.inner.lock().unwrap().received.pushes
    }

    fn entries(&self) -> Vec<(Labels, LogEntry)> {
        self.inner.lock().unwrap().received.entries.clone()
    }

    fn lines(&self) -> Vec<String> {
        self.entries().into_iter().map(|(_, e)| e.line).collect()
    }

    fn url(&self) -> String {
        format!("http://{}/loki/api/v1/push", self.addr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn push(State(inner): State<Arc<Mutex<Inner>>>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let mut inner = inner.lock().unwrap();
    inner.received.pushes += 1;
    match inner.answer {
        Answer::Store => {}
        Answer::Status(429) => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response()
        }
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (status, format!("answer {code}")).into_response();
        }
    }
    let streams = decode_push(&body, &PushLimits::default()).unwrap();
    for (labels, entries) in streams {
        for e in entries {
            inner.received.entries.push((labels.clone(), e));
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

fn wait_until(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// A shipper from YAML text for one source (the `sources:` list item), pushing to `url`.
fn shipper(dir: &Path, url: &str, source: &str) -> LogShipper {
    let text = format!(
        "agent:\n  logs:\n    push_url: {url}\n    data_dir: {}\n    batch_max_wait: 50ms\n    poll_interval: 20ms\n    timeout: 2s\n    sources:\n      - {source}\n",
        dir.join("data").display()
    );
    let config = vigil_config::Config::parse(&text, "test.yml").unwrap();
    let mut s = LogsSettings::from_config(config.agent.logs.as_ref().unwrap(), "testhost").unwrap();
    s.backoff_min = Duration::from_millis(20);
    s.backoff_max = Duration::from_millis(200);
    LogShipper::start(s).unwrap()
}

fn metric(s: &LogShipper, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sink = vigil_model::metric::VecSink::default();
    s.metrics().collect(&mut sink);
    sink.value(name, labels).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn lines_arrive_with_labels_fields_and_pipeline_effects() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::new();
    rx.start();
    let log = dir.path().join("app.log");
    let source = format!(
        "{{files: ['{}'], labels: {{job: app}}, pipeline: '| logfmt | level != \"debug\" | drop ts', labels_from_fields: [level]}}",
        log.display()
    );
    let s = shipper(dir.path(), &rx.url(), &source);
    append(
        &log,
        &[
            "level=info msg=hello ip=10.0.0.1 ts=1".into(),
            "level=debug msg=noise".into(),
            "level=error msg=boom".into(),
        ],
    );
    wait_until(Duration::from_secs(10), "two entries", || rx.entries().len() >= 2);
    let got = rx.entries();
    assert_eq!(got.len(), 2, "{got:?}");
    let (labels, e) = &got[0];
    let want = Labels::from_pairs([
        ("filename", log.to_str().unwrap()),
        ("host", "testhost"),
        ("job", "app"),
        ("level", "info"),
    ])
    .unwrap();
    assert_eq!(labels, &want);
    assert_eq!(e.line, "level=info msg=hello ip=10.0.0.1 ts=1");
    assert_eq!(e.fields, [("msg".to_string(), "hello".to_string()), ("ip".to_string(), "10.0.0.1".to_string())]);
    assert_eq!(got[1].0.get("level"), Some("error"));
    assert_eq!(metric(&s, "vigil_agent_log_pipeline_dropped_lines_total", &[]), 1.0);
    assert_eq!(metric(&s, "vigil_agent_log_lines_read_total", &[("source", "file")]), 3.0);
    wait_until(Duration::from_secs(5), "the ack", || metric(&s, "vigil_agent_log_outbox_pending_batches", &[]) == 0.0);
    assert_eq!(metric(&s, "vigil_agent_log_sent_lines_total", &[]), 2.0);
    s.shutdown();
}

#[test]
fn multiline_records_are_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::new();
    rx.start();
    let log = dir.path().join("java.log");
    let source = format!("{{files: ['{}'], multiline: {{firstline: '^\\d{{4}}-', max_wait: 100ms}}}}", log.display());
    let s = shipper(dir.path(), &rx.url(), &source);
    let lines =
        ["2024-01-01 boom", "  at a.b(C.java:1)", "  at d.e(F.java:2)", "2024-01-01 ok", "2024-01-02 last", "  tail"];
    append(&log, &lines.map(String::from));
    wait_until(Duration::from_secs(10), "three records", || rx.lines().len() >= 3);
    assert_eq!(
        rx.lines(),
        ["2024-01-01 boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)", "2024-01-01 ok", "2024-01-02 last\n  tail"]
    );
    s.shutdown();
}

#[test]
fn receiver_errors_and_downtime_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::new();
    rx.start();
    rx.answer(Answer::Status(500));
    let log = dir.path().join("app.log");
    let s = shipper(dir.path(), &rx.url(), &format!("{{files: ['{}']}}", log.display()));
    let numbered = |r: std::ops::Range<u32>| r.map(|i| i.to_string()).collect::<Vec<_>>();
    append(&log, &numbered(0..100));
    wait_until(Duration::from_secs(10), "a few 500s", || {
        metric(&s, "vigil_agent_log_send_failures_total", &[("reason", "5xx")]) >= 3.0
    });
    rx.stop();
    append(&log, &numbered(100..200));
    wait_until(Duration::from_secs(10), "refused connections", || s.metrics().failures(FailReason::Connect) >= 2);
    rx.answer(Answer::Status(429));
    rx.start();
    wait_until(Duration::from_secs(10), "a 429", || s.metrics().failures(FailReason::Status429) >= 1);
    rx.answer(Answer::Store);
    append(&log, &numbered(200..300));
    wait_until(Duration::from_secs(15), "every line", || rx.lines().len() >= 300);
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for l in rx.lines() {
        *seen.entry(l.parse().unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&n| n == 1), "a 5xx or refused push stores nothing, so nothing is duplicated");
    assert!(s.metrics().retries() >= 5);
    assert_eq!(s.metrics().rejected_batches(), 0);
    s.shutdown();
}

#[test]
fn a_refused_batch_is_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::new();
    rx.start();
    rx.answer(Answer::Status(400));
    let log = dir.path().join("app.log");
    let s = shipper(dir.path(), &rx.url(), &format!("{{files: ['{}']}}", log.display()));
    append(&log, &["refused".into()]);
    wait_until(Duration::from_secs(10), "the rejection", || s.metrics().rejected_batches() == 1);
    let pushes = rx.pushes();
    rx.answer(Answer::Store);
    append(&log, &["accepted".into()]);
    wait_until(Duration::from_secs(10), "the next line", || !rx.lines().is_empty());
    assert_eq!(rx.lines(), ["accepted"]);
    assert_eq!(rx.pushes(), pushes + 1, "the refused batch was not sent again");
    assert_eq!(metric(&s, "vigil_agent_log_rejected_lines_total", &[]), 1.0);
    s.shutdown();
}

#[test]
fn a_restart_resumes_after_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::new();
    rx.start();
    let log = dir.path().join("app.log");
    let source = format!("{{files: ['{}']}}", log.display());
    let s = shipper(dir.path(), &rx.url(), &source);
    append(&log, &["a".into(), "b".into()]);
    wait_until(Duration::from_secs(10), "two lines", || rx.lines().len() == 2);
    s.shutdown();
    append(&log, &["c".into()]);
    let s = shipper(dir.path(), &rx.url(), &source);
    wait_until(Duration::from_secs(10), "the third line", || rx.lines().len() >= 3);
    assert_eq!(rx.lines(), ["a", "b", "c"]);
    s.shutdown();
}
