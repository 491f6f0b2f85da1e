//! Test support: a server with an Alertmanager configuration on a data directory the test keeps (so it can be
//! restarted), a webhook sink, and JSON requests.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_alerting::AlertmanagerConfig;
use vigil_server::alertmanager::{AlertingConfig, Alertmanager};
use vigil_server::{Server, ServerOptions};

use crate::support::{request, Response};

pub const LIMIT: Duration = Duration::from_secs(20);

/// A configuration routing everything to the webhook at `url`, grouped by alertname, with short timers.
pub fn webhook_config(url: &str) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {url}\n"
    )
}

/// A running server; dropping it stops it (the data directory stays).
pub struct AmServer {
    pub addr: SocketAddr,
    pub am: Arc<Alertmanager>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AmServer {
    pub fn start(dir: &Path, yaml: &str) -> AmServer {
        AmServer::start_with(dir, yaml, |_| {})
    }

    /// Starts a server after `configure` adjusted its options.
    pub fn start_with(dir: &Path, yaml: &str, configure: impl FnOnce(&mut ServerOptions)) -> AmServer {
        let mut options = ServerOptions::new(dir);
        configure(&mut options);
        let config = AlertmanagerConfig::parse(yaml, "am.yml").unwrap();
        options.alerting = AlertingConfig { config, original: yaml.to_owned() };
        let server = Server::open(options).unwrap();
        let am = server.alertmanager().clone();
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
        AmServer { addr, am, stop: Some(stop), thread: Some(thread) }
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], &[])
    }

    pub fn post_json(&self, path: &str, body: &str) -> Response {
        request(self.addr, "POST", path, &[("Content-Type", "application/json")], body.as_bytes())
    }

    pub fn delete(&self, path: &str) -> Response {
        request(self.addr, "DELETE", path, &[], &[])
    }

    /// Creates a silence through the API; returns its id.
    pub fn silence(&self, matchers: &str) -> String {
        let body = format!(
            r#"{{"matchers":{matchers},"startsAt":"2020-01-01T00:00:00Z","endsAt":"2100-01-01T00:00:00Z","createdBy":"test","comment":"c"}}"#
        );
        let r = self.post_json("/api/v2/silences", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["silenceID"].as_str().unwrap().to_owned()
    }
}

impl Drop for AmServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP server that records every request body; answers 200.
pub struct Sink {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Sink {
    pub fn start() -> Sink {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = bodies.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |body: String| async move {
                    seen.lock().unwrap().push(body);
                    "ok"
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
        Sink { url, bodies, _runtime: runtime }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until at least `n` notifications arrived; returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        crate::support::wait_for(&format!("{n} notifications"), LIMIT, || {
            let b = self.bodies();
            (b.len() >= n).then_some(b)
        })
    }
}

/// A postable alert firing since 2024 until 2100, with `alertname` and `instance`.
pub fn alert(alertname: &str, instance: &str) -> String {
    format!(
        r#"{{"labels":{{"alertname":"{alertname}","instance":"{instance}"}},"annotations":{{"summary":"load"}},"startsAt":"2024-01-01T00:00:00Z","endsAt":"2100-01-01T00:00:00Z","generatorURL":"http://prom/graph"}}"#
    )
}
