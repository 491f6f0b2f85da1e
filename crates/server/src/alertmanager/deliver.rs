//! Delivering notifications: the [`Deliver`] trait the runtime hands each notification to, and the built-in
//! deliverer: webhooks POSTed over plain HTTP, every other receiver kind only recorded (until `vigil-notify`
//! sends them).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_alerting::config::IntegrationKind;
use vigil_alerting::{AlertmanagerConfig, Notification};

use super::http_client;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one notification to its integration; `Err` is a message for the log (the dispatcher retries at the
/// next flush).
pub trait Deliver: Send + Sync {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>>;
}

/// Builds the deliverer for a configuration; called at start and on every reload.
pub type DelivererFactory = Arc<dyn Fn(&AlertmanagerConfig) -> Arc<dyn Deliver> + Send + Sync>;

/// The factory of [`BuiltinDeliverer`].
pub fn builtin_factory() -> DelivererFactory {
    Arc::new(|config: &AlertmanagerConfig| Arc::new(BuiltinDeliverer::new(config)) as Arc<dyn Deliver>)
}

/// Alertmanager has no webhook timeout by default; an unanswered POST must not hold its group forever.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
struct WebhookTarget {
    url: String,
    max_alerts: u64,
    timeout: Duration,
}

/// Posts webhook notifications; records the rest.
#[derive(Debug)]
pub struct BuiltinDeliverer {
    webhooks: HashMap<(String, usize), Result<WebhookTarget, String>>,
    recorder: Arc<Recorder>,
}

impl BuiltinDeliverer {
    pub fn new(config: &AlertmanagerConfig) -> BuiltinDeliverer {
        let mut webhooks = HashMap::new();
        for r in &config.receivers {
            let name = r.value.name().to_owned();
            for (i, w) in r.value.webhook_configs.iter().enumerate() {
                let w = &w.value;
                let url = match &w.url {
                    Some(u) => Ok(u.expose().to_owned()),
                    None => std::fs::read_to_string(&w.url_file)
                        .map(|s| s.trim().to_owned())
                        .map_err(|e| format!("reading url_file {}: {e}", w.url_file)),
                };
                let timeout =
                    w.timeout.as_ref().map(|t| t.0).filter(|t| !t.is_zero()).unwrap_or(DEFAULT_WEBHOOK_TIMEOUT);
                webhooks
                    .insert((name.clone(), i), url.map(|url| WebhookTarget { url, max_alerts: w.max_alerts, timeout }));
            }
        }
        BuiltinDeliverer { webhooks, recorder: Arc::new(Recorder::default()) }
    }

    /// What the recording deliverer saw (receivers of kinds not sent yet).
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }
}

impl Deliver for BuiltinDeliverer {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if n.integration.kind != IntegrationKind::Webhook {
                return self.recorder.deliver(n).await;
            }
            let target = self
                .webhooks
                .get(&(n.receiver.clone(), n.integration.index))
                .ok_or_else(|| format!("no webhook {} of receiver {:?}", n.integration.index, n.receiver))?
                .as_ref()
                .map_err(Clone::clone)?;
            let body = vigil_alerting::webhook::render(n, target.max_alerts);
            let r = http_client::request("POST", &target.url, Some("application/json"), body, target.timeout).await?;
            if (200..300).contains(&r.status) {
                Ok(())
            } else {
                Err(format!("POST {}: unexpected status {}", target.url, r.status))
            }
        })
    }
}

/// How many recorded notifications are kept.
pub const RECORDED_MAX: usize = 1000;

/// Accepts every notification, logs it, and keeps the latest [`RECORDED_MAX`].
#[derive(Debug, Default)]
pub struct Recorder {
    seen: Mutex<VecDeque<Notification>>,
}

impl Recorder {
    pub fn recorded(&self) -> Vec<Notification> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

impl Deliver for Recorder {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(
                receiver = %n.receiver,
                integration = n.integration.kind.as_str(),
                group_key = %n.group_key,
                alerts = n.alerts.len(),
                "notification recorded, not sent"
            );
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() == RECORDED_MAX {
                seen.pop_front();
            }
            seen.push_back(n.clone());
            Ok(())
        })
    }
}
