//! The server process: opens the tsdb and the log store (replaying their logs), serves the API, runs
//! maintenance in the background, and flushes on shutdown.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use vigil_logstore::LogStore;
use vigil_query::{Engine, EngineOptions};
use vigil_tsdb::{Db, DbError, DbOptions};

use vigil_config::scrape::{GlobalConfig, ScrapeConfig};
use vigil_scrape::Manager;

use crate::alertmanager::{self, AlertingConfig, Alertmanager, AlertmanagerOptions};
use crate::api::{self, ApiState};
use crate::bans::{BansOptions, FleetBans};
use crate::dashboards::Dashboards;
use crate::ingest::scrape::DbAppender;
use crate::local::{self, LocalTarget};
use crate::reload::{ConfigSource, Reloader};
use crate::rules::{AlertSink, RuleManager, RuleOptions};

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub db: DbOptions,
    /// The log store's retention and limits.
    pub logs: vigil_logstore::Options,
    pub engine: EngineOptions,
    /// How often maintenance (persisting the head, compaction, retention) runs.
    pub maintain_every: Duration,
    /// The log store's in-memory head is persisted as soon as it holds this many bytes, not only at
    /// maintenance: it bounds the memory a burst of log ingest takes.
    pub logs_head_persist_bytes: u64,
    /// Prometheus' `global:` and `scrape_configs:`: the jobs to scrape (validated by the config loader).
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// The Alertmanager configuration (`alerting:`); the default keeps alerts and sends nothing.
    pub alerting: AlertingConfig,
    /// How the Alertmanager sends: its external URL, delivery timeouts and retries.
    pub alertmanager: AlertmanagerOptions,
    /// Rule files and how their groups are evaluated.
    pub rules: RuleOptions,
    /// Where SIGHUP and `POST /-/reload` re-read the configuration from; without one they re-read only the
    /// rule files.
    pub config_source: Option<ConfigSource>,
    /// The fleet ban list's allow-list and cap (`server.bans`).
    pub bans: BansOptions,
    /// The user's dashboards (`server.dashboards_dir`), shown beside the built-in ones.
    pub dashboards_dir: Option<PathBuf>,
}

impl ServerOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerOptions {
        ServerOptions {
            data_dir: data_dir.into(),
            db: DbOptions::default(),
            logs: vigil_logstore::Options::default(),
            engine: EngineOptions::default(),
            maintain_every: Duration::from_secs(60),
            logs_head_persist_bytes: 64 << 20,
            global: GlobalConfig::default(),
            scrape_configs: Vec::new(),
            alerting: AlertingConfig::default(),
            alertmanager: AlertmanagerOptions::default(),
            rules: RuleOptions::default(),
            config_source: None,
            bans: BansOptions::default(),
            dashboards_dir: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("opening the metric store in {dir}: {source}")]
    Open { dir: PathBuf, source: DbError },
    #[error("opening the log store in {dir}: {source}")]
    OpenLogs { dir: PathBuf, source: vigil_logstore::Error },
    #[error("serving http: {0}")]
    Http(std::io::Error),
    #[error("starting the scrape jobs: {0}")]
    Scrape(#[from] vigil_scrape::ManagerError),
    #[error("starting the alertmanager: {0}")]
    Alerting(#[from] alertmanager::OpenError),
    #[error("opening the fleet ban list: {0}")]
    Bans(#[from] crate::bans::StoreError),
    #[error("{}", .0.join("\n"))]
    Rules(Vec<String>),
    #[error("closing the metric store: {0}")]
    Close(DbError),
}

/// A started server: the database is open; [`Server::serve`] answers requests until shutdown.
pub struct Server {
    db: Arc<Db>,
    state: Arc<ApiState>,
    options: ServerOptions,
    local: Vec<LocalTarget>,
    local_every: Duration,
    alertmanager: Arc<Alertmanager>,
    rules: Arc<RuleManager>,
    bans: Arc<FleetBans>,
}

impl Server {
    /// Opens the database under `data_dir/tsdb`, replaying its write-ahead log.
    pub fn open(options: ServerOptions) -> Result<Server, ServerError> {
        let dir = options.data_dir.join("tsdb");
        let db = Db::open(&dir, options.db.clone()).map_err(|source| ServerError::Open { dir, source })?;
        let db = Arc::new(db);
        let engine = Arc::new(Engine::new(options.engine.clone()));
        let retention = options.db.retention.map_or_else(|| "0s".to_string(), vigil_model::time::format_duration);
        let logs_dir = options.data_dir.join("logs");
        let logs = LogStore::open(&logs_dir, options.logs.clone())
            .map_err(|source| ServerError::OpenLogs { dir: logs_dir, source })?;
        let logs = Arc::new(logs);
        let rules = RuleManager::new(db.clone(), logs.clone(), engine.clone(), options.rules.clone())
            .map_err(ServerError::Rules)?;
        let state = Arc::new(ApiState::new(db.clone(), logs, engine, retention, rules.ingest_watch()));
        let am = Alertmanager::open(&options.data_dir, options.alerting.clone(), options.alertmanager.clone())?;
        let alertmanager = Arc::new(am);
        *state.alertmanager.write().unwrap_or_else(|e| e.into_inner()) = Some(alertmanager.clone());
        let rules = Arc::new(rules);
        rules.set_sink(alertmanager.clone());
        let bans = Arc::new(FleetBans::open(&options.data_dir, options.bans.clone())?);
        *state.bans.write().unwrap_or_else(|e| e.into_inner()) = Some(bans.clone());
        let local_every = Duration::from_secs(15);
        Ok(Server { db, state, options, local: Vec::new(), local_every, alertmanager, rules, bans })
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The server's own metrics as a local source, for `vigil up` to collect itself as job `vigil`.
    pub fn own_metrics(&self) -> crate::local::ServerMetrics {
        crate::local::ServerMetrics(self.state.clone())
    }

    /// The Alertmanager: where rule evaluation posts alerts in process (`AlertSink`).
    pub fn alertmanager(&self) -> &Arc<Alertmanager> {
        &self.alertmanager
    }

    /// Adds in-process sources collected every `every` (as `vigil up` does with the host collectors).
    pub fn add_local_targets(&mut self, targets: impl IntoIterator<Item = LocalTarget>, every: Duration) {
        self.local.extend(targets);
        self.local_every = every;
    }

    /// Where alerts of the alerting rules go (by default they are logged and dropped).
    pub fn set_alert_sink(&self, sink: Arc<dyn AlertSink>) {
        self.rules.set_sink(sink);
    }

    fn log_maintenance(&self) -> LogMaintenance {
        LogMaintenance { every: self.options.maintain_every, head_persist_bytes: self.options.logs_head_persist_bytes }
    }

    /// Every HTTP route of the server.
    pub fn router(&self) -> Router {
        api::router(self.state.clone())
            .merge(api::v2::router(self.alertmanager.clone()))
            .merge(api::notifications::router(self.alertmanager.clone()))
            .merge(api::bans::router(self.bans.clone()))
            .merge(api::dashboards::router(Arc::new(Dashboards::new(self.options.dashboards_dir.clone()))))
    }

    /// Serves on `listener` until `shutdown` resolves, then stops maintenance and syncs the database.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let appender = Arc::new(DbAppender { db: self.db.clone(), watch: self.rules.ingest_watch() });
        let scrapes = Manager::start(&self.options.global, &self.options.scrape_configs, appender).await?;
        let scrapes = Arc::new(scrapes);
        *self.state.scrapes.write().unwrap_or_else(|e| e.into_inner()) = Some(scrapes.clone());
        *self.state.rules.write().unwrap_or_else(|e| e.into_inner()) = Some(self.rules.clone());
        let reloader = Arc::new(Reloader::new(
            self.options.config_source.clone(),
            self.rules.clone(),
            self.alertmanager.clone(),
            scrapes.clone(),
        ));
        *self.state.reloader.write().unwrap_or_else(|e| e.into_inner()) = Some(reloader.clone());
        self.rules.start();
        let reloads = tokio::spawn(reload_on_sighup(reloader));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let maintenance = tokio::spawn(maintain_loop(self.db.clone(), self.options.maintain_every, stop_rx.clone()));
        let logs_maintenance =
            tokio::spawn(maintain_logs(self.state.logs.clone(), self.log_maintenance(), stop_rx.clone()));
        let alerting = tokio::spawn(self.alertmanager.clone().run(stop_rx.clone()));
        let bans = tokio::spawn(self.bans.clone().run(stop_rx.clone()));
        let local_targets = std::mem::take(&mut self.local);
        let local = (!local_targets.is_empty()).then(|| {
            tokio::spawn(local::run(
                self.db.clone(),
                self.rules.ingest_watch(),
                local_targets,
                self.local_every,
                stop_rx,
            ))
        });
        let served = axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await;
        scrapes.stop().await;
        reloads.abort();
        let _ = reloads.await;
        self.rules.stop().await;
        let _ = stop_tx.send(true);
        let _ = maintenance.await;
        let _ = logs_maintenance.await;
        let _ = alerting.await;
        let _ = bans.await;
        if let Some(local) = local {
            let _ = local.await;
        }
        let Server { db, state, rules, .. } = self;
        let logs = state.logs.clone();
        match tokio::task::spawn_blocking(move || logs.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(%err, "flushing the log store failed; its log keeps what was acknowledged"),
            Err(err) => tracing::error!(%err, "log store flush task failed"),
        }
        state.scrapes.write().unwrap_or_else(|e| e.into_inner()).take();
        state.rules.write().unwrap_or_else(|e| e.into_inner()).take();
        state.reloader.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(rules);
        drop(scrapes);
        drop(state);
        match Arc::try_unwrap(db) {
            Ok(db) => tokio::task::spawn_blocking(move || db.close())
                .await
                .map_err(|e| ServerError::Http(std::io::Error::other(e)))?
                .map_err(ServerError::Close)?,
            Err(_) => tracing::warn!("metric store still in use at shutdown; its log is synced on every append anyway"),
        }
        served.map_err(ServerError::Http)
    }
}

/// Reloads the configuration on every SIGHUP (errors are logged by the reloader).
async fn reload_on_sighup(reloader: Arc<Reloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "cannot watch SIGHUP");
            return;
        }
    };
    while hup.recv().await.is_some() {
        let _ = reloader.reload().await;
    }
}

/// How often the maintenance loop checks whether the head has a range to persist before its next round is due.
const PERSIST_CHECK_EVERY: Duration = Duration::from_secs(1);

/// When the log store's maintenance runs.
#[derive(Clone, Copy)]
struct LogMaintenance {
    every: Duration,
    head_persist_bytes: u64,
}

/// Persists the log store's head, merges its parts and applies retention every `every`, and persists the head
/// alone as soon as it holds `head_persist_bytes`.
async fn maintain_logs(logs: Arc<LogStore>, when: LogMaintenance, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(when.every.min(PERSIST_CHECK_EVERY));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let full = last.elapsed() >= when.every;
        if !full && logs.metrics().head_bytes < when.head_persist_bytes {
            continue;
        }
        if full {
            last = tokio::time::Instant::now();
        }
        let logs = logs.clone();
        let now_ns = crate::api::now_ms().saturating_mul(1_000_000);
        let done =
            tokio::task::spawn_blocking(move || if full { logs.maintain(now_ns).map(drop) } else { logs.flush() });
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(%err, "log store maintenance failed"),
            Err(err) => tracing::error!(%err, "log store maintenance task failed"),
        }
    }
}

/// Runs maintenance every `every`, and as soon as the head has a range to persist, so that a burst of appends
/// (a backfill, a catching-up sender) does not leave queries decoding a large head for up to a round.
async fn maintain_loop(db: Arc<Db>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(every.min(PERSIST_CHECK_EVERY));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if last.elapsed() < every && !db.head_persistable() {
            continue;
        }
        last = tokio::time::Instant::now();
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.maintain()).await {
            Ok(Ok(report)) if report.persisted + report.compacted + report.downsampled + report.deleted > 0 => {
                tracing::info!(
                    persisted = report.persisted,
                    compacted = report.compacted,
                    downsampled = report.downsampled,
                    deleted = report.deleted,
                    "maintenance done"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(%err, "maintenance failed"),
            Err(err) => tracing::error!(%err, "maintenance task failed"),
        }
    }
}
