//! The `global:` section: the resolve timeout, and defaults the receivers inherit (SMTP, Slack, PagerDuty,
//! Telegram and Jira endpoints, the HTTP client). Keys for receivers vigil does not have yet are accepted and
//! kept, so an existing file loads as long as it does not use such a receiver.

use std::time::Duration;

use serde::Deserialize;

use super::http::{HttpConfig, TlsConfig};
use super::types::{PromDuration, Secret, SecretUrl, Url};
use super::Located;

pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_SMTP_HELLO: &str = "localhost";
pub const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long an alert without `endsAt` stays firing after its last update (default 5m).
    pub resolve_timeout: Option<PromDuration>,
    pub http_config: Option<Located<HttpConfig>>,

    #[serde(default)]
    pub smtp_from: String,
    #[serde(default = "default_hello")]
    pub smtp_hello: String,
    /// `host:port`.
    #[serde(default)]
    pub smtp_smarthost: String,
    #[serde(default)]
    pub smtp_auth_username: String,
    #[serde(default)]
    pub smtp_auth_password: Secret,
    #[serde(default)]
    pub smtp_auth_password_file: String,
    #[serde(default)]
    pub smtp_auth_secret: Secret,
    #[serde(default)]
    pub smtp_auth_secret_file: String,
    #[serde(default)]
    pub smtp_auth_identity: String,
    #[serde(default = "yes")]
    pub smtp_require_tls: bool,
    #[serde(default)]
    pub smtp_tls_config: TlsConfig,

    pub slack_api_url: Option<SecretUrl>,
    #[serde(default)]
    pub slack_api_url_file: String,
    pub pagerduty_url: Option<Url>,
    pub telegram_api_url: Option<Url>,
    pub jira_api_url: Option<Url>,

    // Defaults for receivers vigil does not implement yet; kept so existing files load.
    pub opsgenie_api_url: Option<Url>,
    #[serde(default)]
    pub opsgenie_api_key: Secret,
    #[serde(default)]
    pub opsgenie_api_key_file: String,
    pub wechat_api_url: Option<Url>,
    #[serde(default)]
    pub wechat_api_secret: Secret,
    #[serde(default)]
    pub wechat_api_corp_id: String,
    pub victorops_api_url: Option<Url>,
    #[serde(default)]
    pub victorops_api_key: Secret,
    #[serde(default)]
    pub victorops_api_key_file: String,
    pub webex_api_url: Option<Url>,
    pub rocketchat_api_url: Option<Url>,
    pub rocketchat_token: Option<Secret>,
    #[serde(default)]
    pub rocketchat_token_file: String,
    pub rocketchat_token_id: Option<Secret>,
    #[serde(default)]
    pub rocketchat_token_id_file: String,
}

fn default_hello() -> String {
    DEFAULT_SMTP_HELLO.to_owned()
}

fn yes() -> bool {
    true
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        // An empty mapping takes every default.
        serde_saphyr::from_str("{}").expect("the empty global section parses")
    }
}

impl GlobalConfig {
    pub fn resolve_timeout(&self) -> Duration {
        self.resolve_timeout.map_or(DEFAULT_RESOLVE_TIMEOUT, |d| d.0)
    }

    pub fn pagerduty_url(&self) -> &str {
        self.pagerduty_url.as_ref().map_or(DEFAULT_PAGERDUTY_URL, Url::as_str)
    }

    pub fn telegram_api_url(&self) -> &str {
        self.telegram_api_url.as_ref().map_or(DEFAULT_TELEGRAM_API_URL, Url::as_str)
    }

    /// The HTTP client settings receivers without their own `http_config` use.
    pub fn http_config(&self) -> HttpConfig {
        self.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default()
    }
}
