//! The notifier: one queue per integration, each sending its notifications one at a time with retries
//! (exponential backoff on connection errors, timeouts and 5xx; a 429's `Retry-After` honoured; no retry on
//! other 4xx) within a bounded time, then reporting the outcome, counting it and recording it in the history.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use vigil_alerting::config::{IntegrationKind, IntegrationRef};
use vigil_alerting::{AlertStatus, AlertmanagerConfig, Notification, Timestamp};

use crate::error::{SendError, SetupError};
use crate::history::{AlertsSummary, History, HistoryEntry};
use crate::receivers::{Integration, SendContext};
use crate::templates::Templates;

/// How the notifier sends.
#[derive(Clone, Debug)]
pub struct NotifierOptions {
    /// The deadline of one request when the integration sets none.
    pub request_timeout: Duration,
    /// How long one notification may be retried in all; Alertmanager's default `group_interval` (5m), after
    /// which the next flush sends the group again anyway.
    pub retry_budget: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How many outcomes the history keeps.
    pub history_len: usize,
}

impl Default for NotifierOptions {
    fn default() -> NotifierOptions {
        NotifierOptions {
            request_timeout: Duration::from_secs(30),
            retry_budget: Duration::from_secs(5 * 60),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            history_len: 1000,
        }
    }
}

/// How one notification ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Nothing to send: only resolved alerts for an integration without `send_resolved`. Counts as delivered
    /// for the notification log, as in Alertmanager.
    Skipped,
    Failed(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Skipped => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// The outcome of one notification, for `Dispatcher::delivered` (when [`Report::succeeded`]) or
/// `Dispatcher::failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub id: u64,
    pub receiver: String,
    pub integration: IntegrationRef,
    pub outcome: Outcome,
    pub attempts: u32,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        !matches!(self.outcome, Outcome::Failed(_))
    }
}

/// One counter sample: `vigil_notifications_total{integration, outcome}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeCount {
    pub integration: &'static str,
    pub outcome: &'static str,
    pub value: u64,
}

/// Requests made per integration (`vigil_notification_requests_total`) and how many failed
/// (`vigil_notification_requests_failed_total`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCount {
    pub integration: &'static str,
    pub total: u64,
    pub failed: u64,
}

type Key = (String, IntegrationKind, usize);

/// Sends notifications; cheap to clone. Needs a tokio runtime: queues are tasks spawned on first use. When the
/// last clone is dropped, each queue still sends what it holds, then ends.
#[derive(Clone, Debug)]
pub struct Notifier {
    shared: Arc<Shared>,
    /// The queues' senders, kept apart from what the queue tasks hold, so that dropping the notifier closes them.
    queues: Arc<Mutex<HashMap<Key, mpsc::UnboundedSender<Notification>>>>,
}

#[derive(Debug)]
struct Shared {
    integrations: HashMap<Key, Arc<Integration>>,
    templates: Templates,
    options: NotifierOptions,
    stats: Arc<Stats>,
    reports: mpsc::UnboundedSender<Report>,
}

/// What outlives a configuration: the counters and the history, shared by a notifier and those
/// [`Notifier::reconfigured`] makes from it.
#[derive(Debug)]
struct Stats {
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    requests: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    history: Mutex<History>,
}

impl Notifier {
    /// A notifier for every integration in `config`, with the templates its `templates:` globs name.
    /// Reports arrive on the returned receiver.
    pub fn new(
        config: &AlertmanagerConfig,
        options: NotifierOptions,
    ) -> Result<(Notifier, mpsc::UnboundedReceiver<Report>), SetupError> {
        let templates = Templates::load(config.templates())?;
        Notifier::with_templates(config, templates, options)
    }

    pub fn with_templates(
        config: &AlertmanagerConfig,
        templates: Templates,
        options: NotifierOptions,
    ) -> Result<(Notifier, mpsc::UnboundedReceiver<Report>), SetupError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats {
            outcomes: Mutex::default(),
            requests: Mutex::default(),
            history: Mutex::new(History::new(options.history_len)),
        });
        Ok((Notifier::build(config, templates, options, stats, tx)?, rx))
    }

    /// A notifier for a new configuration (a reload) that shares this one's options, counters, history and
    /// report channel. This one keeps sending what it has queued until it is dropped; reports of both arrive
    /// on the same receiver.
    pub fn reconfigured(&self, config: &AlertmanagerConfig) -> Result<Notifier, SetupError> {
        let templates = Templates::load(config.templates())?;
        let s = &self.shared;
        Notifier::build(config, templates, s.options.clone(), s.stats.clone(), s.reports.clone())
    }

    fn build(
        config: &AlertmanagerConfig,
        templates: Templates,
        options: NotifierOptions,
        stats: Arc<Stats>,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Result<Notifier, SetupError> {
        let integrations = Integration::all_from(config)?
            .into_iter()
            .map(|i| ((i.receiver.clone(), i.kind, i.index), Arc::new(i)))
            .collect();
        let shared = Shared { integrations, templates, options, stats, reports };
        Ok(Notifier { shared: Arc::new(shared), queues: Arc::default() })
    }

    /// Queues `n` behind earlier notifications to the same integration.
    pub fn notify(&self, n: Notification) {
        let key = (n.receiver.clone(), n.integration.kind, n.integration.index);
        let Some(integration) = self.shared.integrations.get(&key).cloned() else {
            let error = format!("no integration {}[{}] in receiver {:?}", key.1.as_str(), key.2, key.0);
            self.shared.finish(&n, Outcome::Failed(error), 0);
            return;
        };
        let mut queues = self.queues.lock().unwrap();
        let tx = queues.entry(key).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run_queue(self.shared.clone(), integration, rx));
            tx
        });
        if let Err(mpsc::error::SendError(n)) = tx.send(n) {
            self.shared.finish(&n, Outcome::Failed("notification queue closed".into()), 0);
        }
    }

    /// Every outcome counted so far, by integration kind and outcome.
    pub fn outcome_counts(&self) -> Vec<OutcomeCount> {
        let counts = self.shared.stats.outcomes.lock().unwrap();
        counts.iter().map(|(&(integration, outcome), &value)| OutcomeCount { integration, outcome, value }).collect()
    }

    pub fn request_counts(&self) -> Vec<RequestCount> {
        let counts = self.shared.stats.requests.lock().unwrap();
        counts.iter().map(|(&integration, &(total, failed))| RequestCount { integration, total, failed }).collect()
    }

    /// The recent outcomes, oldest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.shared.stats.history.lock().unwrap().list()
    }
}

async fn run_queue(shared: Arc<Shared>, integration: Arc<Integration>, mut rx: mpsc::UnboundedReceiver<Notification>) {
    while let Some(n) = rx.recv().await {
        let (outcome, attempts) = shared.deliver(&integration, &n).await;
        shared.finish(&n, outcome, attempts);
    }
}

impl Shared {
    async fn deliver(&self, integration: &Integration, n: &Notification) -> (Outcome, u32) {
        let mut n = n.clone();
        if !integration.send_resolved {
            n.alerts.retain(|a| a.status == AlertStatus::Firing);
        }
        if n.alerts.is_empty() {
            return (Outcome::Skipped, 0);
        }
        let o = &self.options;
        let deadline = Instant::now() + o.retry_budget;
        let mut backoff = o.initial_backoff;
        let mut attempts = 0;
        // The error of the last attempt the budget's end did not interrupt: an interrupted one says less.
        let mut last_full_error: Option<String> = None;
        loop {
            attempts += 1;
            let timeout = o.request_timeout.min(deadline.saturating_duration_since(Instant::now()));
            let result = integration.send(&n, SendContext { templates: &self.templates, timeout }).await;
            let cut_short = timeout < o.request_timeout && Instant::now() >= deadline;
            self.count_request(integration.kind, result.is_err());
            let (message, wait) = match result {
                Ok(()) => return (Outcome::Delivered, attempts),
                Err(SendError::Permanent(message)) => return (Outcome::Failed(message), attempts),
                Err(SendError::Retryable { message, retry_after }) => (message, retry_after.unwrap_or(backoff)),
            };
            tracing::debug!(receiver = %n.receiver, integration = integration.kind.as_str(), attempts, error = %message, "notify attempt failed");
            if Instant::now() + wait >= deadline {
                let message = match last_full_error {
                    Some(earlier) if cut_short => earlier,
                    _ => message,
                };
                return (Outcome::Failed(format!("{message} (gave up after {attempts} attempts)")), attempts);
            }
            if !cut_short {
                last_full_error = Some(message);
            }
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(o.max_backoff);
        }
    }

    fn count_request(&self, kind: IntegrationKind, failed: bool) {
        let mut r = self.stats.requests.lock().unwrap();
        let e = r.entry(kind.as_str()).or_default();
        e.0 += 1;
        e.1 += u64::from(failed);
    }

    fn finish(&self, n: &Notification, outcome: Outcome, attempts: u32) {
        let kind = n.integration.kind.as_str();
        *self.stats.outcomes.lock().unwrap().entry((kind, outcome.as_str())).or_default() += 1;
        if let Outcome::Failed(error) = &outcome {
            tracing::warn!(receiver = %n.receiver, integration = kind, attempts, error = %error, "notification failed");
        }
        self.stats.history.lock().unwrap().push(HistoryEntry {
            at: Timestamp::now(),
            notification_id: n.id,
            receiver: n.receiver.clone(),
            integration: kind,
            index: n.integration.index,
            group_key: n.group_key.clone(),
            status: n.status().as_str(),
            outcome: outcome.as_str(),
            error: match &outcome {
                Outcome::Failed(e) => Some(e.clone()),
                _ => None,
            },
            attempts,
            alerts: AlertsSummary::of(&n.alerts),
        });
        let report = Report { id: n.id, receiver: n.receiver.clone(), integration: n.integration, outcome, attempts };
        // The receiving side may be gone at shutdown; the outcome is counted and recorded regardless.
        let _ = self.reports.send(report);
    }
}
