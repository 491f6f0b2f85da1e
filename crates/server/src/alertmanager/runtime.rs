//! The running Alertmanager: every change (alerts, silences, delivered notifications) goes through the
//! dispatcher under one mutex and is committed to the store before the caller is answered; a task sleeps
//! until the dispatcher's next deadline (or a wake-up), flushes, hands the notifications to the
//! `vigil-notify` [`Notifier`], and applies each of its reports to the dispatcher.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use vigil_alerting::{Dispatcher, DispatcherOptions, PostableAlert, PostableSilence, SilenceError, Timestamp};
use vigil_notify::{Notifier, NotifierOptions, Report, SetupError};

use super::config::AlertingConfig;
use super::store::{Store, StoreError};

/// How the Alertmanager runs besides its configuration.
#[derive(Clone, Debug, Default)]
pub struct AlertmanagerOptions {
    /// The URL notifications link back to (`externalURL` in webhook bodies, `.ExternalURL` in templates):
    /// `server.external_url`. Empty when not set, as in the tests.
    pub external_url: String,
    /// Timeouts, retries and the history length of deliveries.
    pub notify: NotifierOptions,
}

/// Why the Alertmanager could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("setting up the receivers: {0}")]
    Receivers(#[from] SetupError),
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    /// Bad input; 400 in the API.
    #[error("{0}")]
    Invalid(String),
    #[error("silence not found")]
    NotFound,
    /// The state could not be stored; nothing more is accepted until restart.
    #[error("{0}")]
    Store(String),
}

/// A configuration whose receivers are set up, ready for [`Alertmanager::apply_prepared`].
pub struct PreparedConfig {
    config: AlertingConfig,
    notifier: Notifier,
}

struct Inner {
    dispatcher: Dispatcher,
    store: Store,
    config: AlertingConfig,
    /// Sends for the current configuration; the notifiers of earlier ones finish their queues and are dropped.
    notifier: Notifier,
    /// Set after a failed write; every later change is refused.
    poisoned: Option<String>,
}

/// The Alertmanager runtime. Methods that change state block on the store's fsync: call them from blocking
/// threads (`spawn_blocking`) in async code.
pub struct Alertmanager {
    inner: Mutex<Inner>,
    wake: Notify,
    /// The reports of every notifier (they share one channel across reloads); taken by [`Alertmanager::run`].
    reports: Mutex<Option<mpsc::UnboundedReceiver<Report>>>,
    started_at: Timestamp,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager").field("started_at", &self.started_at).finish()
    }
}

impl Alertmanager {
    /// Opens the state in `data_dir` (restoring alerts, silences and the notification log) under `config`,
    /// and sets up its receivers (reading their templates). Needs no runtime: nothing is sent before
    /// [`Alertmanager::run`].
    pub fn open(
        data_dir: &Path,
        config: AlertingConfig,
        options: AlertmanagerOptions,
    ) -> Result<Alertmanager, OpenError> {
        let (notifier, reports) = Notifier::new(&config.config, options.notify)?;
        let (store, state) = Store::open(data_dir)?;
        let now = Timestamp::now();
        let dispatcher_options =
            DispatcherOptions { external_url: options.external_url, ..DispatcherOptions::default() };
        let dispatcher = Dispatcher::from_state(&config.config, dispatcher_options, state, now);
        let inner = Inner { dispatcher, store, config, notifier, poisoned: None };
        Ok(Alertmanager {
            inner: Mutex::new(inner),
            wake: Notify::new(),
            reports: Mutex::new(Some(reports)),
            started_at: now,
        })
    }

    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the dispatcher and the configuration under the lock.
    pub fn read<T>(&self, f: impl FnOnce(&Dispatcher, &AlertingConfig) -> T) -> T {
        let inner = self.lock();
        f(&inner.dispatcher, &inner.config)
    }

    /// The current notifier: its counters and history span reloads.
    pub fn notifier(&self) -> Notifier {
        self.lock().notifier.clone()
    }

    /// Runs `change` on the dispatcher, then commits the state; refuses when a previous commit failed.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut Dispatcher, Timestamp) -> Result<T, AlertmanagerError>,
    ) -> Result<T, AlertmanagerError> {
        let mut inner = self.lock();
        if let Some(p) = &inner.poisoned {
            return Err(AlertmanagerError::Store(format!("alerting state is read-only after a failed write: {p}")));
        }
        let result = change(&mut inner.dispatcher, Timestamp::now());
        commit(&mut inner)?;
        drop(inner);
        self.wake.notify_one();
        result
    }

    /// Takes posted alerts: valid ones are stored and dispatched even when others are refused.
    pub fn post_alerts(&self, alerts: Vec<PostableAlert>) -> Result<(), AlertmanagerError> {
        self.change(|d, now| {
            d.ingest(alerts, now).map_err(|errors| {
                AlertmanagerError::Invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            })
        })
    }

    /// Creates or updates a silence; returns its id (a new one when the update had to replace it).
    pub fn put_silence(&self, silence: PostableSilence) -> Result<String, AlertmanagerError> {
        self.change(|d, now| d.silences_mut().post(silence, now).map_err(silence_error))
    }

    pub fn expire_silence(&self, id: &str) -> Result<(), AlertmanagerError> {
        self.change(|d, now| d.silences_mut().expire(id, now).map_err(silence_error))
    }

    /// Applies a new configuration; alerts, silences and the log are kept. When its receivers cannot be set
    /// up (a template that does not parse, a bad TLS file), nothing changes. Notifications already queued
    /// are still sent with the old configuration, and reported.
    pub fn reload(&self, config: AlertingConfig) -> Result<(), SetupError> {
        let prepared = self.prepare(config)?;
        self.apply_prepared(prepared);
        Ok(())
    }

    /// Sets up the receivers of `config` (reading its templates) without applying it: the first half of
    /// [`Alertmanager::reload`], for a reload that applies only once every part of the configuration is valid.
    pub fn prepare(&self, config: AlertingConfig) -> Result<PreparedConfig, SetupError> {
        // Templates are read without holding the lock.
        let current = self.notifier();
        let notifier = current.reconfigured(&config.config)?;
        Ok(PreparedConfig { config, notifier })
    }

    /// Switches to a prepared configuration.
    pub fn apply_prepared(&self, prepared: PreparedConfig) {
        let PreparedConfig { config, notifier } = prepared;
        let mut inner = self.lock();
        inner.dispatcher.reload(&config.config, Timestamp::now());
        inner.notifier = notifier;
        inner.config = config;
        drop(inner);
        self.wake.notify_one();
    }

    /// Flushes what is due; returns the notifications handed to the notifier and when to come back.
    fn step(&self) -> Option<Timestamp> {
        let mut inner = self.lock();
        let notes = if inner.poisoned.is_some() { Vec::new() } else { inner.dispatcher.run_due(Timestamp::now()) };
        // Stored before anything is sent: a restart then knows these flushes started.
        if let Err(err) = commit(&mut inner) {
            tracing::error!(%err, "storing alerting state failed");
        }
        for n in notes {
            inner.notifier.notify(n);
        }
        inner.dispatcher.next_deadline()
    }

    /// Applies reports to the dispatcher, each exactly once, and commits them together.
    fn apply(&self, reports: Vec<Report>) {
        let mut inner = self.lock();
        let now = Timestamp::now();
        for r in reports {
            if r.succeeded() {
                inner.dispatcher.delivered(r.id, now);
            } else {
                inner.dispatcher.failed(r.id);
            }
        }
        if let Err(err) = commit(&mut inner) {
            tracing::error!(%err, "storing alerting state failed");
        }
    }

    /// Flushes groups when due, hands their notifications to the notifier and applies its reports, until
    /// `stop` changes. Runs once per Alertmanager.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let Some(mut reports) = self.reports.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            tracing::error!("the alertmanager is already running");
            return;
        };
        loop {
            let me = self.clone();
            let Ok(deadline) = tokio::task::spawn_blocking(move || me.step()).await else { return };
            let wait = deadline.map_or(Duration::from_secs(3600), |d| d.since(Timestamp::now()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                Some(first) = reports.recv() => {
                    let mut batch = vec![first];
                    while let Ok(r) = reports.try_recv() {
                        batch.push(r);
                    }
                    let me = self.clone();
                    if tokio::task::spawn_blocking(move || me.apply(batch)).await.is_err() {
                        return;
                    }
                }
                _ = stop.changed() => return,
            }
        }
    }
}

/// Rule evaluation posts its alerts here, in process, from its blocking thread: storing them takes an fsync.
impl crate::rules::AlertSink for Alertmanager {
    fn post(&self, alerts: Vec<PostableAlert>) {
        if let Err(err) = self.post_alerts(alerts) {
            tracing::error!(error = %err, "cannot take the alerts of a rule evaluation");
        }
    }
}

fn commit(inner: &mut Inner) -> Result<(), AlertmanagerError> {
    let state = inner.dispatcher.state();
    if let Err(err) = inner.store.save(&state) {
        let message = err.to_string();
        inner.poisoned = Some(message.clone());
        return Err(AlertmanagerError::Store(message));
    }
    Ok(())
}

fn silence_error(e: SilenceError) -> AlertmanagerError {
    match e {
        SilenceError::NotFound => AlertmanagerError::NotFound,
        other => AlertmanagerError::Invalid(other.to_string()),
    }
}
