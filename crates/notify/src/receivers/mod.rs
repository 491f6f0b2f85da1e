//! One module per service. Each turns a notification into exactly the request its service documents and
//! sends it; [`Integration`] is the common shape the delivery queues drive.

pub mod discord;
pub mod email;
pub mod jira;
pub mod pagerduty;
pub mod slack;
pub mod telegram;
pub mod webhook;

use std::time::Duration;

use vigil_alerting::config::types::resolve_secret;
use vigil_alerting::config::IntegrationKind;
use vigil_alerting::{AlertmanagerConfig, Notification};
use vigil_template::Value;

use crate::data::template_data;
use crate::error::{SendError, SetupError};
use crate::templates::Templates;

/// What a receiver needs besides the notification.
#[derive(Clone, Copy, Debug)]
pub struct SendContext<'a> {
    pub templates: &'a Templates,
    /// The deadline of one request (an integration's own `timeout` wins).
    pub timeout: Duration,
}

/// One configured integration of one receiver.
#[derive(Debug)]
pub struct Integration {
    pub receiver: String,
    pub kind: IntegrationKind,
    pub index: usize,
    pub send_resolved: bool,
    sender: Sender,
}

#[derive(Debug)]
enum Sender {
    Webhook(webhook::Webhook),
    Email(email::Email),
    Pagerduty(pagerduty::Pagerduty),
    Slack(slack::Slack),
    Telegram(telegram::Telegram),
    Discord(discord::Discord),
    Jira(jira::Jira),
}

impl Integration {
    /// Every integration of every receiver in `config`, in Alertmanager's order.
    pub fn all_from(config: &AlertmanagerConfig) -> Result<Vec<Integration>, SetupError> {
        let mut out = Vec::new();
        for r in &config.receivers {
            let r = &r.value;
            let name = r.name().to_owned();
            let mut add = |kind, index, send_resolved, sender| {
                out.push(Integration { receiver: name.clone(), kind, index, send_resolved, sender });
            };
            for (i, c) in r.webhook_configs.iter().enumerate() {
                add(
                    IntegrationKind::Webhook,
                    i,
                    c.value.send_resolved,
                    Sender::Webhook(webhook::Webhook::new(&c.value)?),
                );
            }
            for (i, c) in r.email_configs.iter().enumerate() {
                add(IntegrationKind::Email, i, c.value.send_resolved, Sender::Email(email::Email::new(&c.value)?));
            }
            for (i, c) in r.pagerduty_configs.iter().enumerate() {
                let s = Sender::Pagerduty(pagerduty::Pagerduty::new(&c.value)?);
                add(IntegrationKind::Pagerduty, i, c.value.send_resolved, s);
            }
            for (i, c) in r.slack_configs.iter().enumerate() {
                add(IntegrationKind::Slack, i, c.value.send_resolved, Sender::Slack(slack::Slack::new(&c.value)?));
            }
            for (i, c) in r.telegram_configs.iter().enumerate() {
                let s = Sender::Telegram(telegram::Telegram::new(&c.value)?);
                add(IntegrationKind::Telegram, i, c.value.send_resolved, s);
            }
            for (i, c) in r.discord_configs.iter().enumerate() {
                add(
                    IntegrationKind::Discord,
                    i,
                    c.value.send_resolved,
                    Sender::Discord(discord::Discord::new(&c.value)?),
                );
            }
            for (i, c) in r.jira_configs.iter().enumerate() {
                add(IntegrationKind::Jira, i, c.value.send_resolved, Sender::Jira(jira::Jira::new(&c.value)?));
            }
        }
        Ok(out)
    }

    /// Sends `n` (whose alerts are already those this integration sends) once.
    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        match &self.sender {
            Sender::Webhook(s) => s.send(n, ctx).await,
            Sender::Email(s) => s.send(n, ctx).await,
            Sender::Pagerduty(s) => s.send(n, ctx).await,
            Sender::Slack(s) => s.send(n, ctx).await,
            Sender::Telegram(s) => s.send(n, ctx).await,
            Sender::Discord(s) => s.send(n, ctx).await,
            Sender::Jira(s) => s.send(n, ctx).await,
        }
    }
}

/// Executes configuration fields as templates over one notification's data; a failure names the field.
pub(crate) struct Render<'a> {
    templates: &'a Templates,
    data: Value,
}

impl<'a> Render<'a> {
    pub(crate) fn new(n: &Notification, templates: &'a Templates) -> Render<'a> {
        Render { templates, data: template_data(n, &n.alerts) }
    }

    pub(crate) fn text(&self, field: &str, text: &str) -> Result<String, SendError> {
        self.templates
            .execute_text(text, &self.data)
            .map_err(|e| SendError::permanent(format!("template {field}: {e}")))
    }
}

/// A secret given inline or in a file, as a send-time error when the file cannot be read.
pub(crate) fn secret(inline: &str, file: &str) -> Result<String, SendError> {
    resolve_secret(inline, file).map_err(SendError::permanent)
}

/// Lowercase hex SHA-256 of the group key: Alertmanager's `notify.Key.Hash`.
pub fn group_key_hash(group_key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, group_key.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts `value` under `key` unless it is empty (Go's `omitempty`).
pub(crate) fn put(obj: &mut serde_json::Map<String, serde_json::Value>, key: &str, value: &str) {
    if !value.is_empty() {
        obj.insert(key.to_owned(), value.into());
    }
}
