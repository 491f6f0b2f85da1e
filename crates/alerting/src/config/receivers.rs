//! `receivers:`: each receiver's integrations with every field Alertmanager knows, its defaults (including
//! the default templates) and its validation, plus the defaults they take from `global:`. Webhook, email,
//! Slack, PagerDuty, Telegram and Discord are Alertmanager's; `jira_configs` is vigil's (a later Alertmanager
//! has one with the same fields). Receiver kinds vigil does not implement are refused by name.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Location;

use super::global::GlobalConfig;
use super::http::{HttpConfig, TlsConfig};
use super::types::{GoDuration, PromDuration, Secret, SecretUrl, Url};
use super::{err_at, Located, Problem};

/// One named receiver and its integrations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: Option<Located<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub webhook_configs: Vec<Located<WebhookConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub email_configs: Vec<Located<EmailConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub pagerduty_configs: Vec<Located<PagerdutyConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub slack_configs: Vec<Located<SlackConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub telegram_configs: Vec<Located<TelegramConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub discord_configs: Vec<Located<DiscordConfig>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub jira_configs: Vec<Located<JiraConfig>>,
    // Alertmanager receivers vigil has no implementation of: refused by name.
    opsgenie_configs: Option<Located<IgnoredAny>>,
    wechat_configs: Option<Located<IgnoredAny>>,
    pushover_configs: Option<Located<IgnoredAny>>,
    victorops_configs: Option<Located<IgnoredAny>>,
    sns_configs: Option<Located<IgnoredAny>>,
    webex_configs: Option<Located<IgnoredAny>>,
    msteams_configs: Option<Located<IgnoredAny>>,
    msteamsv2_configs: Option<Located<IgnoredAny>>,
    rocketchat_configs: Option<Located<IgnoredAny>>,
    mattermost_configs: Option<Located<IgnoredAny>>,
    incidentio_configs: Option<Located<IgnoredAny>>,
}

/// The kinds of integration, in the order Alertmanager builds a receiver's integrations (which is the order
/// notifications for one flush come out in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    Webhook,
    Email,
    Pagerduty,
    Slack,
    Telegram,
    Discord,
    Jira,
}

impl IntegrationKind {
    /// The name Alertmanager uses in its notification log and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Email => "email",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Slack => "slack",
            IntegrationKind::Telegram => "telegram",
            IntegrationKind::Discord => "discord",
            IntegrationKind::Jira => "jira",
        }
    }
}

/// One integration of a receiver: its kind, its index among the receiver's integrations of that kind, and
/// whether it wants resolved notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IntegrationRef {
    pub kind: IntegrationKind,
    pub index: usize,
    pub send_resolved: bool,
}

impl ReceiverConfig {
    pub fn name(&self) -> &str {
        self.name.as_ref().map_or("", |n| n.value.as_str())
    }

    /// The receiver's integrations in Alertmanager's order.
    pub fn integrations(&self) -> Vec<IntegrationRef> {
        let mut out = Vec::new();
        let mut add = |kind, flags: Vec<bool>| {
            out.extend(flags.into_iter().enumerate().map(|(index, send_resolved)| IntegrationRef {
                kind,
                index,
                send_resolved,
            }));
        };
        add(IntegrationKind::Webhook, self.webhook_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Email, self.email_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Pagerduty, self.pagerduty_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Slack, self.slack_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Telegram, self.telegram_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Discord, self.discord_configs.iter().map(|c| c.value.send_resolved).collect());
        add(IntegrationKind::Jira, self.jira_configs.iter().map(|c| c.value.send_resolved).collect());
        out
    }

    /// Checks the receiver and fills in what its integrations inherit from `global`.
    pub(crate) fn prepare(&mut self, at: &Location, global: &GlobalConfig) -> Result<(), Problem> {
        if self.name().is_empty() {
            return Err(err_at(at, "missing name in receiver"));
        }
        let unsupported = [
            ("opsgenie_configs", &self.opsgenie_configs),
            ("wechat_configs", &self.wechat_configs),
            ("pushover_configs", &self.pushover_configs),
            ("victorops_configs", &self.victorops_configs),
            ("sns_configs", &self.sns_configs),
            ("webex_configs", &self.webex_configs),
            ("msteams_configs", &self.msteams_configs),
            ("msteamsv2_configs", &self.msteamsv2_configs),
            ("rocketchat_configs", &self.rocketchat_configs),
            ("mattermost_configs", &self.mattermost_configs),
            ("incidentio_configs", &self.incidentio_configs),
        ];
        if let Some((key, v)) = unsupported.iter().find_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
            return Err(err_at(&v.referenced, format!("{key} is not supported yet")));
        }
        let http = |h: &mut Option<Located<HttpConfig>>| -> Result<(), Problem> {
            match h {
                Some(h) => h.value.validate(&h.referenced),
                None => {
                    *h = Some(super::located(global.http_config()));
                    Ok(())
                }
            }
        };
        for c in &mut self.webhook_configs {
            c.value.prepare(&c.referenced)?;
            http(&mut c.value.http_config)?;
        }
        for c in &mut self.email_configs {
            c.value.prepare(&c.referenced, global)?;
        }
        for c in &mut self.pagerduty_configs {
            c.value.prepare(&c.referenced, global)?;
            http(&mut c.value.http_config)?;
        }
        for c in &mut self.slack_configs {
            c.value.prepare(&c.referenced, global)?;
            http(&mut c.value.http_config)?;
        }
        for c in &mut self.telegram_configs {
            c.value.prepare(&c.referenced, global)?;
            http(&mut c.value.http_config)?;
        }
        for c in &mut self.discord_configs {
            c.value.prepare(&c.referenced)?;
            http(&mut c.value.http_config)?;
        }
        for c in &mut self.jira_configs {
            c.value.prepare(&c.referenced, global)?;
            http(&mut c.value.http_config)?;
        }
        Ok(())
    }

    pub(crate) fn set_directory(&mut self, dir: &std::path::Path) {
        let fix = |h: &mut Option<Located<HttpConfig>>| {
            if let Some(h) = h {
                h.value.set_directory(dir);
            }
        };
        self.webhook_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
        self.pagerduty_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
        self.slack_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
        self.telegram_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
        self.discord_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
        self.jira_configs.iter_mut().for_each(|c| fix(&mut c.value.http_config));
    }
}

fn yes() -> bool {
    true
}

fn template(s: &str) -> String {
    format!("{{{{ template \"{s}\" . }}}}")
}

/// `webhook_configs:` entry. The payload is the webhook format version 4.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    pub url: Option<SecretUrl>,
    #[serde(default)]
    pub url_file: String,
    /// At most this many alerts per message; 0 means no limit.
    #[serde(default)]
    pub max_alerts: u64,
    pub timeout: Option<GoDuration>,
}

impl WebhookConfig {
    fn prepare(&mut self, at: &Location) -> Result<(), Problem> {
        match (&self.url, self.url_file.is_empty()) {
            (None, true) => Err(err_at(at, "missing URL in webhook config")),
            (Some(_), false) => Err(err_at(at, "at most one of url & url_file must be configured")),
            _ => Ok(()),
        }
    }

    pub fn http_config(&self) -> HttpConfig {
        self.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default()
    }
}

/// `email_configs:` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub send_resolved: bool,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub hello: String,
    /// `host:port`; the global one when empty.
    #[serde(default)]
    pub smarthost: String,
    #[serde(default)]
    pub auth_username: String,
    #[serde(default)]
    pub auth_password: Secret,
    #[serde(default)]
    pub auth_password_file: String,
    #[serde(default)]
    pub auth_secret: Secret,
    #[serde(default)]
    pub auth_secret_file: String,
    #[serde(default)]
    pub auth_identity: String,
    /// Header names are canonicalized (`content-type` becomes `Content-Type`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_email_html")]
    pub html: String,
    #[serde(default)]
    pub text: String,
    pub require_tls: Option<bool>,
    pub tls_config: Option<TlsConfig>,
}

fn default_email_html() -> String {
    template("email.default.html")
}

pub const DEFAULT_EMAIL_SUBJECT: &str = r#"{{ template "email.default.subject" . }}"#;

impl EmailConfig {
    fn prepare(&mut self, at: &Location, g: &GlobalConfig) -> Result<(), Problem> {
        if self.to.is_empty() {
            return Err(err_at(at, "missing to address in email config"));
        }
        let mut normalized = BTreeMap::new();
        for (h, v) in std::mem::take(&mut self.headers) {
            let key = canonical_mime_header_key(&h);
            if normalized.insert(key.clone(), v).is_some() {
                return Err(err_at(at, format!("duplicate header {key:?} in email config")));
            }
        }
        self.headers = normalized;
        if self.tls_config.is_none() {
            self.tls_config = Some(g.smtp_tls_config.clone());
        }
        if self.smarthost.is_empty() {
            if g.smtp_smarthost.is_empty() {
                return Err(err_at(at, "no global SMTP smarthost set"));
            }
            self.smarthost = g.smtp_smarthost.clone();
        }
        check_host_port(&self.smarthost).map_err(|e| err_at(at, e))?;
        if self.from.is_empty() {
            if g.smtp_from.is_empty() {
                return Err(err_at(at, "no global SMTP from set"));
            }
            self.from = g.smtp_from.clone();
        }
        if self.hello.is_empty() {
            self.hello = g.smtp_hello.clone();
        }
        if self.auth_username.is_empty() {
            self.auth_username = g.smtp_auth_username.clone();
        }
        if self.auth_password.is_empty() && self.auth_password_file.is_empty() {
            self.auth_password = g.smtp_auth_password.clone();
            self.auth_password_file = g.smtp_auth_password_file.clone();
        }
        if self.auth_secret.is_empty() && self.auth_secret_file.is_empty() {
            self.auth_secret = g.smtp_auth_secret.clone();
            self.auth_secret_file = g.smtp_auth_secret_file.clone();
        }
        if self.auth_identity.is_empty() {
            self.auth_identity = g.smtp_auth_identity.clone();
        }
        if self.require_tls.is_none() {
            self.require_tls = Some(g.smtp_require_tls);
        }
        Ok(())
    }

    /// The `Subject` header, or Alertmanager's default template.
    pub fn subject(&self) -> &str {
        self.headers.get("Subject").map_or(DEFAULT_EMAIL_SUBJECT, String::as_str)
    }
}

/// Go's `net.SplitHostPort` plus Alertmanager's "port cannot be empty".
pub(crate) fn check_host_port(s: &str) -> Result<(), String> {
    let missing = || format!("address {s}: missing port in address");
    let port = if let Some(rest) = s.strip_prefix('[') {
        let (_, after) = rest.split_once(']').ok_or_else(|| format!("address {s}: missing ']' in address"))?;
        after.strip_prefix(':').ok_or_else(missing)?
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(missing)?;
        if host.contains(':') {
            return Err(format!("address {s}: too many colons in address"));
        }
        port
    };
    if port.is_empty() {
        return Err(format!("address {s:?}: port cannot be empty"));
    }
    Ok(())
}

/// Go's `textproto.CanonicalMIMEHeaderKey`.
pub(crate) fn canonical_mime_header_key(s: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !s.bytes().all(token) {
        return s.to_owned();
    }
    let mut upper = true;
    s.bytes()
        .map(|b| {
            let c = if upper { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() };
            upper = b == b'-';
            char::from(c)
        })
        .collect()
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyImage {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default)]
    pub href: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyLink {
    #[serde(default)]
    pub href: String,
    #[serde(default)]
    pub text: String,
}

/// `pagerduty_configs:` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    #[serde(default)]
    pub service_key: Secret,
    #[serde(default)]
    pub service_key_file: String,
    #[serde(default)]
    pub routing_key: Secret,
    #[serde(default)]
    pub routing_key_file: String,
    pub url: Option<Url>,
    #[serde(default = "default_pd_client")]
    pub client: String,
    #[serde(default = "default_pd_client_url")]
    pub client_url: String,
    #[serde(default = "default_pd_description")]
    pub description: String,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<PagerdutyImage>,
    #[serde(default)]
    pub links: Vec<PagerdutyLink>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub group: String,
}

fn default_pd_client() -> String {
    template("pagerduty.default.client")
}
fn default_pd_client_url() -> String {
    template("pagerduty.default.clientURL")
}
fn default_pd_description() -> String {
    r#"{{ template "pagerduty.default.description" .}}"#.to_owned()
}

impl PagerdutyConfig {
    fn prepare(&mut self, at: &Location, g: &GlobalConfig) -> Result<(), Problem> {
        if self.routing_key.is_empty()
            && self.service_key.is_empty()
            && self.routing_key_file.is_empty()
            && self.service_key_file.is_empty()
        {
            return Err(err_at(at, "missing service or routing key in PagerDuty config"));
        }
        if !self.routing_key.is_empty() && !self.routing_key_file.is_empty() {
            return Err(err_at(at, "at most one of routing_key & routing_key_file must be configured"));
        }
        if !self.service_key.is_empty() && !self.service_key_file.is_empty() {
            return Err(err_at(at, "at most one of service_key & service_key_file must be configured"));
        }
        if self.source.is_empty() {
            self.source = self.client.clone();
        }
        let defaults = [
            ("firing", r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#),
            ("resolved", r#"{{ template "pagerduty.default.instances" .Alerts.Resolved }}"#),
            ("num_firing", "{{ .Alerts.Firing | len }}"),
            ("num_resolved", "{{ .Alerts.Resolved | len }}"),
        ];
        for (k, v) in defaults {
            self.details.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
        if self.url.is_none() {
            self.url = Some(Url(g.pagerduty_url().to_owned()));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    pub short: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirmationField {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub ok_text: String,
    #[serde(default)]
    pub dismiss_text: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub style: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    pub confirm: Option<SlackConfirmationField>,
}

/// `slack_configs:` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    pub api_url: Option<SecretUrl>,
    #[serde(default)]
    pub api_url_file: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default = "default_slack_username")]
    pub username: String,
    #[serde(default = "default_slack_color")]
    pub color: String,
    #[serde(default = "default_slack_title")]
    pub title: String,
    #[serde(default = "default_slack_title_link")]
    pub title_link: String,
    #[serde(default = "default_slack_pretext")]
    pub pretext: String,
    #[serde(default = "default_slack_text")]
    pub text: String,
    #[serde(default)]
    pub fields: Vec<SlackField>,
    #[serde(default)]
    pub short_fields: bool,
    #[serde(default = "default_slack_footer")]
    pub footer: String,
    #[serde(default = "default_slack_fallback")]
    pub fallback: String,
    #[serde(default = "default_slack_callback_id")]
    pub callback_id: String,
    #[serde(default = "default_slack_icon_emoji")]
    pub icon_emoji: String,
    #[serde(default = "default_slack_icon_url")]
    pub icon_url: String,
    #[serde(default)]
    pub image_url: String,
    #[serde(default)]
    pub thumb_url: String,
    #[serde(default)]
    pub link_names: bool,
    #[serde(default)]
    pub mrkdwn_in: Vec<String>,
    #[serde(default)]
    pub actions: Vec<SlackAction>,
    /// vigil's own: Slack Block Kit blocks sent as the message's top-level `blocks`, every string in them
    /// (not the keys) a template.
    pub blocks: Option<Located<Vec<Located<serde_json::Value>>>>,
}

/// Slack's limit on the blocks of one message.
pub const MAX_SLACK_BLOCKS: usize = 50;

fn default_slack_username() -> String {
    template("slack.default.username")
}
fn default_slack_color() -> String {
    r#"{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}"#.to_owned()
}
fn default_slack_title() -> String {
    template("slack.default.title")
}
fn default_slack_title_link() -> String {
    template("slack.default.titlelink")
}
fn default_slack_pretext() -> String {
    template("slack.default.pretext")
}
fn default_slack_text() -> String {
    template("slack.default.text")
}
fn default_slack_footer() -> String {
    template("slack.default.footer")
}
fn default_slack_fallback() -> String {
    template("slack.default.fallback")
}
fn default_slack_callback_id() -> String {
    template("slack.default.callbackid")
}
fn default_slack_icon_emoji() -> String {
    template("slack.default.iconemoji")
}
fn default_slack_icon_url() -> String {
    template("slack.default.iconurl")
}

impl SlackConfig {
    fn prepare(&mut self, at: &Location, g: &GlobalConfig) -> Result<(), Problem> {
        if self.api_url.is_some() && !self.api_url_file.is_empty() {
            return Err(err_at(at, "at most one of api_url & api_url_file must be configured"));
        }
        for f in &self.fields {
            if f.title.is_empty() {
                return Err(err_at(at, "missing title in Slack field configuration"));
            }
            if f.value.is_empty() {
                return Err(err_at(at, "missing value in Slack field configuration"));
            }
        }
        for a in &mut self.actions {
            if a.kind.is_empty() {
                return Err(err_at(at, "missing type in Slack action configuration"));
            }
            if a.text.is_empty() {
                return Err(err_at(at, "missing text in Slack action configuration"));
            }
            if !a.url.is_empty() {
                a.name.clear();
                a.value.clear();
                a.confirm = None;
            } else if a.name.is_empty() {
                return Err(err_at(at, "missing name or url in Slack action configuration"));
            }
            if a.confirm.as_ref().is_some_and(|c| c.text.is_empty()) {
                return Err(err_at(at, "missing text in Slack confirmation configuration"));
            }
        }
        if let Some(blocks) = &self.blocks {
            if blocks.value.len() > MAX_SLACK_BLOCKS {
                let n = blocks.value.len();
                return Err(err_at(
                    &blocks.referenced,
                    format!("{n} Slack blocks, at most {MAX_SLACK_BLOCKS} allowed"),
                ));
            }
            for b in &blocks.value {
                if !b.value.get("type").is_some_and(serde_json::Value::is_string) {
                    return Err(err_at(&b.referenced, "Slack block must be a map with a string type"));
                }
            }
        }
        if self.api_url.is_none() && self.api_url_file.is_empty() {
            if g.slack_api_url.is_none() && g.slack_api_url_file.is_empty() {
                return Err(err_at(at, "no global Slack API URL set either inline or in a file"));
            }
            self.api_url = g.slack_api_url.clone();
            self.api_url_file = g.slack_api_url_file.clone();
        }
        Ok(())
    }
}

/// `telegram_configs:` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    pub api_url: Option<Url>,
    #[serde(default)]
    pub bot_token: Secret,
    #[serde(default)]
    pub bot_token_file: String,
    #[serde(default)]
    pub chat_id: i64,
    #[serde(default)]
    pub message_thread_id: i64,
    #[serde(default = "default_telegram_message")]
    pub message: String,
    #[serde(default)]
    pub disable_notifications: bool,
    #[serde(default = "default_parse_mode")]
    pub parse_mode: String,
}

fn default_telegram_message() -> String {
    template("telegram.default.message")
}
fn default_parse_mode() -> String {
    "HTML".to_owned()
}

impl TelegramConfig {
    fn prepare(&mut self, at: &Location, g: &GlobalConfig) -> Result<(), Problem> {
        if self.bot_token.is_empty() && self.bot_token_file.is_empty() {
            return Err(err_at(at, "missing bot_token or bot_token_file on telegram_config"));
        }
        if !self.bot_token.is_empty() && !self.bot_token_file.is_empty() {
            return Err(err_at(at, "at most one of bot_token & bot_token_file must be configured"));
        }
        if self.chat_id == 0 {
            return Err(err_at(at, "missing chat_id on telegram_config"));
        }
        if !["", "Markdown", "MarkdownV2", "HTML"].contains(&self.parse_mode.as_str()) {
            return Err(err_at(
                at,
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
            ));
        }
        if self.api_url.is_none() {
            self.api_url = Some(Url(g.telegram_api_url().to_owned()));
        }
        Ok(())
    }
}

/// `discord_configs:` entry (vigil's; later Alertmanagers have the same fields).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    pub webhook_url: Option<SecretUrl>,
    #[serde(default)]
    pub webhook_url_file: String,
    #[serde(default = "default_discord_title")]
    pub title: String,
    #[serde(default = "default_discord_message")]
    pub message: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub avatar_url: String,
}

fn default_discord_title() -> String {
    template("discord.default.title")
}
fn default_discord_message() -> String {
    template("discord.default.message")
}

impl DiscordConfig {
    fn prepare(&mut self, at: &Location) -> Result<(), Problem> {
        match (&self.webhook_url, self.webhook_url_file.is_empty()) {
            (None, true) => Err(err_at(at, "one of webhook_url or webhook_url_file must be configured")),
            (Some(_), false) => Err(err_at(at, "at most one of webhook_url & webhook_url_file must be configured")),
            _ => Ok(()),
        }
    }
}

/// `jira_configs:` entry: opens an issue per alert group, resolves and reopens it through transitions. The
/// API credentials come from `http_config` (`basic_auth` with an API token, or `authorization`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub http_config: Option<Located<HttpConfig>>,
    pub api_url: Option<Url>,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub issue_type: String,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default = "default_jira_summary")]
    pub summary: String,
    #[serde(default = "default_jira_description")]
    pub description: String,
    #[serde(default = "default_jira_priority")]
    pub priority: String,
    #[serde(default)]
    pub resolve_transition: String,
    #[serde(default)]
    pub reopen_transition: String,
    #[serde(default)]
    pub wont_fix_resolution: String,
    pub reopen_duration: Option<PromDuration>,
    fields: Option<Located<IgnoredAny>>,
}

fn default_jira_summary() -> String {
    template("jira.default.summary")
}
fn default_jira_description() -> String {
    template("jira.default.description")
}
fn default_jira_priority() -> String {
    template("jira.default.priority")
}

impl JiraConfig {
    fn prepare(&mut self, at: &Location, g: &GlobalConfig) -> Result<(), Problem> {
        if let Some(f) = &self.fields {
            return Err(err_at(&f.referenced, "jira_configs: fields is not supported yet"));
        }
        if self.project.is_empty() {
            return Err(err_at(at, "missing project in jira_config"));
        }
        if self.issue_type.is_empty() {
            return Err(err_at(at, "missing issue_type in jira_config"));
        }
        if self.api_url.is_none() {
            match &g.jira_api_url {
                Some(u) => self.api_url = Some(u.clone()),
                None => return Err(err_at(at, "no global Jira Cloud URL set")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_header_keys_are_canonical() {
        assert_eq!(canonical_mime_header_key("content-type"), "Content-Type");
        assert_eq!(canonical_mime_header_key("SUBJECT"), "Subject");
        assert_eq!(canonical_mime_header_key("x-my header"), "x-my header");
    }

    #[test]
    fn host_ports() {
        assert!(check_host_port("smtp.example.com:587").is_ok());
        assert!(check_host_port("[::1]:25").is_ok());
        assert_eq!(check_host_port("smtp").unwrap_err(), "address smtp: missing port in address");
        assert_eq!(check_host_port("smtp:").unwrap_err(), "address \"smtp:\": port cannot be empty");
    }
}
