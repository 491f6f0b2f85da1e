//! The running Alertmanager: every change (alerts, silences, delivered notifications) goes through the
//! dispatcher under one mutex and is committed to the store before the caller is answered; a task sleeps
//! until the dispatcher's next deadline (or a wake-up), flushes, and delivers.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use vigil_alerting::{
    Dispatcher, DispatcherOptions, Notification, PostableAlert, PostableSilence, SilenceError, Timestamp,
};

use super::config::AlertingConfig;
use super::deliver::{Deliver, DelivererFactory};
use super::store::{Store, StoreError};

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

struct Inner {
    dispatcher: Dispatcher,
    store: Store,
    config: AlertingConfig,
    deliverer: Arc<dyn Deliver>,
    /// Set after a failed write; every later change is refused.
    poisoned: Option<String>,
}

/// The Alertmanager runtime. Methods that change state block on the store's fsync: call them from blocking
/// threads (`spawn_blocking`) in async code.
pub struct Alertmanager {
    inner: Mutex<Inner>,
    wake: Notify,
    factory: DelivererFactory,
    started_at: Timestamp,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager").field("started_at", &self.started_at).finish()
    }
}

impl Alertmanager {
    /// Opens the state in `data_dir` (restoring alerts, silences and the notification log) under `config`.
    pub fn open(
        data_dir: &Path,
        config: AlertingConfig,
        factory: DelivererFactory,
    ) -> Result<Alertmanager, StoreError> {
        let (store, state) = Store::open(data_dir)?;
        let now = Timestamp::now();
        let dispatcher = Dispatcher::from_state(&config.config, DispatcherOptions::default(), state, now);
        let deliverer = factory(&config.config);
        let inner = Inner { dispatcher, store, config, deliverer, poisoned: None };
        Ok(Alertmanager { inner: Mutex::new(inner), wake: Notify::new(), factory, started_at: now })
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

    /// Applies a new configuration; alerts, silences and the log are kept.
    pub fn reload(&self, config: AlertingConfig) {
        let mut inner = self.lock();
        inner.dispatcher.reload(&config.config, Timestamp::now());
        inner.deliverer = (self.factory)(&config.config);
        inner.config = config;
        drop(inner);
        self.wake.notify_one();
    }

    /// Flushes what is due; returns the notifications with their deliverer and when to come back.
    fn step(&self) -> (Vec<Notification>, Arc<dyn Deliver>, Option<Timestamp>) {
        let mut inner = self.lock();
        let notes = if inner.poisoned.is_some() { Vec::new() } else { inner.dispatcher.run_due(Timestamp::now()) };
        if let Err(err) = commit(&mut inner) {
            tracing::error!(%err, "storing alerting state failed");
        }
        (notes, inner.deliverer.clone(), inner.dispatcher.next_deadline())
    }

    fn report(&self, n: &Notification, outcome: Result<(), String>) {
        let mut inner = self.lock();
        match outcome {
            Ok(()) => inner.dispatcher.delivered(n.id, Timestamp::now()),
            Err(err) => {
                tracing::warn!(receiver = %n.receiver, integration = n.integration.kind.as_str(), %err, "notification failed");
                inner.dispatcher.failed(n.id);
            }
        }
        if let Err(err) = commit(&mut inner) {
            tracing::error!(%err, "storing alerting state failed");
        }
    }

    /// Flushes groups when due and delivers their notifications until `stop` changes.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            let me = self.clone();
            let Ok((notes, deliverer, deadline)) = tokio::task::spawn_blocking(move || me.step()).await else {
                return;
            };
            for n in notes {
                let me = self.clone();
                let deliverer = deliverer.clone();
                tokio::spawn(async move {
                    let outcome = deliverer.deliver(&n).await;
                    let reporter = me.clone();
                    let _ = tokio::task::spawn_blocking(move || reporter.report(&n, outcome)).await;
                    me.wake.notify_one();
                });
            }
            let wait = deadline.map_or(Duration::from_secs(3600), |d| d.since(Timestamp::now()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
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
