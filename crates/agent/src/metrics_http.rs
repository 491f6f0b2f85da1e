//! The `/metrics` endpoint: runs every collector on each scrape (like node_exporter) and answers in the
//! Prometheus text format, gzip-compressed when the scraper asks for it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Mutex;
use vigil_collect::CollectorSet;
use vigil_proto::exposition::{TextEncoder, CONTENT_TYPE};

use crate::guard::GuardMetrics;
use crate::logs::LogMetrics;
use crate::self_metrics::SelfMetrics;

/// Collectors plus the buffers reused from one scrape to the next.
pub struct Scraper {
    set: CollectorSet,
    own: SelfMetrics,
    logs: Option<Arc<LogMetrics>>,
    guard: Option<Arc<GuardMetrics>>,
    encoder: TextEncoder,
    last_len: usize,
}

impl Scraper {
    pub fn new(set: CollectorSet) -> Self {
        Scraper { set, own: SelfMetrics::default(), logs: None, guard: None, encoder: TextEncoder::new(), last_len: 0 }
    }

    /// Adds the log shipper's metrics to every scrape.
    pub fn with_log_metrics(mut self, logs: Arc<LogMetrics>) -> Self {
        self.logs = Some(logs);
        self
    }

    /// Adds the guard's metrics to every scrape.
    pub fn with_guard_metrics(mut self, guard: Arc<GuardMetrics>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Runs all collectors and returns the exposition text.
    pub fn scrape(&mut self) -> String {
        self.set.collect(&mut self.encoder);
        self.own.collect(&mut self.encoder);
        if let Some(logs) = &self.logs {
            logs.collect(&mut self.encoder);
        }
        if let Some(guard) = &self.guard {
            guard.collect(&mut self.encoder);
        }
        let mut out = String::with_capacity(self.last_len + self.last_len / 8);
        self.encoder.finish(&mut out);
        self.last_len = out.len();
        out
    }
}

type Shared = Arc<Mutex<Scraper>>;

/// Serves `/metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    scraper: Scraper,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(Arc::new(Mutex::new(scraper)));
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><title>vigil agent</title></head><body><h1>vigil agent</h1>\
         <p><a href=\"/metrics\">Metrics</a></p></body></html>\n",
    )
}

async fn metrics(State(scraper): State<Shared>, headers: HeaderMap) -> Response {
    // One scrape at a time: a second scraper waits here instead of tying up another blocking thread.
    let mut guard = scraper.lock_owned().await;
    let text = match tokio::task::spawn_blocking(move || guard.scrape()).await {
        Ok(text) => text,
        Err(err) => {
            tracing::error!(%err, "scrape task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n").into_response();
        }
    };
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))];
    if accepts_gzip(&headers) {
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 4), flate2::Compression::fast());
        if gz.write_all(text.as_bytes()).is_ok() {
            if let Ok(body) = gz.finish() {
                return (content_type, [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], body)
                    .into_response();
            }
        }
    }
    (content_type, text).into_response()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused =
                parts.any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>() == Ok(0.0)));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip"));
        assert!(h("deflate, GZIP;q=0.5"));
        assert!(!h("gzip;q=0"));
        assert!(!h("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
