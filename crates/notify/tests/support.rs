//! Test fixtures: a scripted HTTP server that records requests, notifications, and notifiers built from
//! YAML configuration.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use vigil_alerting::config::{IntegrationKind, IntegrationRef};
use vigil_alerting::labels::LabelSet;
use vigil_alerting::{AlertStatus, AlertmanagerConfig, Fingerprint, Notification, NotifiedAlert, Timestamp};
use vigil_notify::{Notifier, NotifierOptions, Report};

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Status, headers and body to answer.
pub type Answer = (u16, Vec<(&'static str, String)>, String);
type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

/// An HTTP server on 127.0.0.1 whose answers a closure decides.
#[derive(Clone)]
pub struct Server {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
}

impl Server {
    pub async fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Server { base, seen: Arc::default(), arrived: Arc::default() };
        let handler: Arc<Handler> = Arc::new(handler);
        let s = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                tokio::spawn(serve(TokioIo::new(tcp), s.clone(), handler.clone()));
            }
        });
        server
    }

    /// Serves already accepted connections (the TLS test's).
    pub fn from_parts(base: String) -> Server {
        Server { base, seen: Arc::default(), arrived: Arc::default() }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived, failing after a deadline.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "only {} of {n} requests arrived",
                seen.len()
            );
        }
    }
}

pub async fn serve<S>(io: TokioIo<S>, server: Server, handler: Arc<Handler>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let server = server.clone();
        let handler = handler.clone();
        async move {
            let method = req.method().to_string();
            let path = req.uri().path_and_query().map_or("/".into(), |p| p.to_string());
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
            let seen = Seen { method, path, headers, body, at: Instant::now() };
            let (status, headers, body) = handler(&seen);
            server.seen.lock().unwrap().push(seen);
            server.arrived.notify_waiters();
            let mut resp = hyper::Response::builder().status(status);
            for (k, v) in headers {
                resp = resp.header(k, v);
            }
            Ok::<_, Infallible>(resp.body(Full::new(Bytes::from(body))).unwrap())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
}

pub fn ok() -> Answer {
    (200, Vec::new(), "ok".into())
}

pub fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn alert(status: AlertStatus, pairs: &[(&str, &str)], annotations: &[(&str, &str)]) -> NotifiedAlert {
    let labels = labels(pairs);
    NotifiedAlert {
        status,
        fingerprint: Fingerprint::of(&labels),
        labels,
        annotations: self::labels(annotations),
        starts_at: Timestamp::from_secs(1_704_096_930),
        ends_at: (status == AlertStatus::Resolved).then(|| Timestamp::from_secs(1_704_097_930)),
        generator_url: "http://prom.example/graph".into(),
    }
}

/// A notification of `alerts` for the first integration of `kind` in receiver `team`.
pub fn notification(kind: IntegrationKind, group: &[(&str, &str)], alerts: Vec<NotifiedAlert>) -> Notification {
    Notification {
        id: 7,
        receiver: "team".into(),
        integration: IntegrationRef { kind, index: 0, send_resolved: true },
        group_key: "{}:{alertname=\"HighLatency\"}".into(),
        group_labels: labels(group),
        alerts,
        external_url: "http://am.example:9093".into(),
        at: Timestamp::from_secs(1_704_097_000),
    }
}

pub fn firing(kind: IntegrationKind) -> Notification {
    let a = alert(
        AlertStatus::Firing,
        &[("alertname", "HighLatency"), ("instance", "db1:9090"), ("severity", "critical")],
        &[("summary", "Latency is high on db1")],
    );
    notification(kind, &[("alertname", "HighLatency")], vec![a])
}

pub fn resolved(kind: IntegrationKind) -> Notification {
    let mut n = firing(kind);
    n.alerts[0].status = AlertStatus::Resolved;
    n.alerts[0].ends_at = Some(Timestamp::from_secs(1_704_097_930));
    n
}

/// Fast retries for tests.
pub fn options() -> NotifierOptions {
    NotifierOptions {
        request_timeout: Duration::from_secs(5),
        retry_budget: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        history_len: 100,
    }
}

/// A notifier for `receivers` (YAML under `receivers:`, the receiver named `team`).
pub fn notifier(receivers: &str) -> (Notifier, mpsc::UnboundedReceiver<Report>) {
    let yaml = format!("route:\n  receiver: team\nreceivers:\n{receivers}");
    let config = AlertmanagerConfig::parse(&yaml, "test.yml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Notifier::new(&config, options()).unwrap()
}

/// The next report, failing after a deadline.
pub async fn report(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a report in time").expect("open channel")
}
