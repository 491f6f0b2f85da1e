//! The HTTP API: Prometheus' query API under `/api/v1`, health and reload endpoints, one router; Alertmanager's
//! API v2 (`v2/`), vigil's notification history (`notifications.rs`) and fleet bans (`bans.rs`) have routers of
//! their own, as have the dashboards (`dashboards.rs`); everything else falls back to the UI (`crate::ui`).

pub mod bans;
pub mod dashboards;
mod error;
pub mod json;
pub mod loki;
pub mod notifications;
mod params;
mod prometheus;
mod rules;
mod selector;
mod targets;
pub mod v2;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use vigil_query::Engine;
use vigil_tsdb::Db;

pub use error::{ApiError, ErrorType};
pub use params::{parse_duration_param, parse_time};

use crate::metadata::MetadataStore;
use crate::storage::TsdbStorage;

/// What the handlers share.
pub struct ApiState {
    pub db: Arc<Db>,
    /// The log store, behind Loki's push and query APIs.
    pub logs: Arc<vigil_logstore::LogStore>,
    pub storage: TsdbStorage,
    pub engine: Arc<Engine>,
    pub metadata: MetadataStore,
    /// The scrape manager, once started; for `/api/v1/targets`.
    pub scrapes: std::sync::RwLock<Option<Arc<vigil_scrape::Manager>>>,
    /// The rule manager, once started; for `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: std::sync::RwLock<Option<Arc<crate::rules::RuleManager>>>,
    /// Configuration reloads, once the server serves; for `/-/reload`.
    pub(crate) reloader: std::sync::RwLock<Option<Arc<crate::reload::Reloader>>>,
    /// The Alertmanager, for its self-metrics.
    pub alertmanager: std::sync::RwLock<Option<Arc<crate::alertmanager::Alertmanager>>>,
    /// The fleet ban list, for its self-metrics.
    pub bans: std::sync::RwLock<Option<Arc<crate::bans::FleetBans>>>,
    /// When the server started, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// The retention as shown by `status/runtimeinfo`, e.g. `15d`.
    pub retention: String,
    /// Told of the metrics remote_write stored, to wake the alerting rules selecting them.
    pub ingest_watch: Arc<crate::rules::IngestWatch>,
}

impl ApiState {
    /// The server's own metrics: the tsdb's, and those of the rule manager, the Alertmanager, the fleet ban list
    /// and reloads once they run.
    pub fn collect_metrics(&self, sink: &mut dyn vigil_model::MetricSink) {
        self.db.collect_metrics(sink);
        crate::logs::metrics::collect(&self.logs, sink);
        if let Some(rules) = self.rules.read().unwrap_or_else(|e| e.into_inner()).clone() {
            rules.collect_metrics(sink);
        }
        if let Some(am) = self.alertmanager.read().unwrap_or_else(|e| e.into_inner()).clone() {
            am.collect_metrics(sink);
        }
        if let Some(bans) = self.bans.read().unwrap_or_else(|e| e.into_inner()).clone() {
            bans.collect_metrics(sink);
        }
        if let Some(reloader) = self.reloader.read().unwrap_or_else(|e| e.into_inner()).clone() {
            reloader.collect_metrics(sink);
        }
    }

    pub fn new(
        db: Arc<Db>,
        logs: Arc<vigil_logstore::LogStore>,
        engine: Arc<Engine>,
        retention: String,
        ingest_watch: Arc<crate::rules::IngestWatch>,
    ) -> ApiState {
        ApiState {
            storage: TsdbStorage::new(db.clone()),
            db,
            logs,
            engine,
            metadata: MetadataStore::default(),
            scrapes: std::sync::RwLock::new(None),
            rules: std::sync::RwLock::new(None),
            reloader: std::sync::RwLock::new(None),
            alertmanager: std::sync::RwLock::new(None),
            bans: std::sync::RwLock::new(None),
            started_at_ms: now_ms(),
            retention,
            ingest_watch,
        }
    }
}

/// The router for every API route.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/write", post(crate::ingest::remote_write::write))
        .route("/loki/api/v1/push", post(crate::ingest::loki_push::push))
        .route("/loki/api/v1/query", get(loki::query).post(loki::query))
        .route("/loki/api/v1/query_range", get(loki::query_range).post(loki::query_range))
        .route("/loki/api/v1/labels", get(loki::labels).post(loki::labels))
        .route("/loki/api/v1/label/{name}/values", get(loki::label_values))
        .route("/loki/api/v1/series", get(loki::series).post(loki::series))
        .route("/loki/api/v1/index/stats", get(loki::index_stats).post(loki::index_stats))
        .route("/loki/api/v1/status/buildinfo", get(loki::buildinfo))
        .route("/api/v1/query", get(prometheus::query).post(prometheus::query))
        .route("/api/v1/query_range", get(prometheus::query_range).post(prometheus::query_range))
        .route("/api/v1/series", get(prometheus::series).post(prometheus::series))
        .route("/api/v1/labels", get(prometheus::labels).post(prometheus::labels))
        .route("/api/v1/label/{name}/values", get(prometheus::label_values))
        .route("/api/v1/metadata", get(prometheus::metadata))
        .route("/api/v1/query_exemplars", get(prometheus::exemplars).post(prometheus::exemplars))
        .route("/api/v1/format_query", get(prometheus::format_query).post(prometheus::format_query))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/-/reload", post(reload))
        .route("/api/v1/status/buildinfo", get(prometheus::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(prometheus::runtimeinfo))
        .route("/metrics", get(self_metrics))
        .route("/-/healthy", get(|| async { "vigil is healthy.\n" }))
        .route("/-/ready", get(|| async { "vigil is ready.\n" }))
        .fallback(crate::ui::fallback)
        .with_state(state)
}

/// The server's own metrics in the Prometheus text format, for scraping itself and being scraped.
async fn self_metrics(axum::extract::State(state): axum::extract::State<Arc<ApiState>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let text = tokio::task::spawn_blocking(move || {
        let mut encoder = vigil_proto::exposition::TextEncoder::new();
        state.collect_metrics(&mut encoder);
        let mut out = String::new();
        encoder.finish(&mut out);
        out
    })
    .await;
    match text {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, vigil_proto::exposition::CONTENT_TYPE)], text).into_response(),
        Err(err) => ApiError::internal(format!("collecting metrics failed: {err}")).into_response(),
    }
}

/// `POST /-/reload`: re-reads the configuration; 500 with the errors when it is invalid (nothing changes then).
async fn reload(axum::extract::State(state): axum::extract::State<Arc<ApiState>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(reloader) = state.reloader.read().unwrap_or_else(|e| e.into_inner()).clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the server is not running yet\n").into_response();
    };
    match reloader.reload().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {err}\n")).into_response(),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
