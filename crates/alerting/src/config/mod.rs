//! `alertmanager.yml`, in Alertmanager's own format so existing files paste in: strict about unknown keys,
//! with Alertmanager's defaults and validation, every error reported as `file:line:col: message`.

mod global;
mod http;
mod inhibit;
mod receivers;
mod route;
mod time_intervals;
pub mod types;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_saphyr::{Location, Spanned};
pub use vigil_config::ConfigError;

pub use global::{GlobalConfig, DEFAULT_PAGERDUTY_URL, DEFAULT_RESOLVE_TIMEOUT, DEFAULT_TELEGRAM_API_URL};
pub use http::{Authorization, BasicAuth, HttpConfig, TlsConfig};
pub use inhibit::InhibitRuleConfig;
pub use receivers::{
    DiscordConfig, EmailConfig, IntegrationKind, IntegrationRef, JiraConfig, PagerdutyConfig, PagerdutyImage,
    PagerdutyLink, ReceiverConfig, SlackAction, SlackConfig, SlackConfirmationField, SlackField, TelegramConfig,
    WebhookConfig, DEFAULT_EMAIL_SUBJECT, MAX_SLACK_BLOCKS,
};
pub use route::RouteConfig;
pub use time_intervals::{NamedTimeIntervals, TimeIntervalConfig, TimeRangeConfig};

use crate::matchers::Matchers;
use crate::timeinterval::TimeInterval;

/// A value with the place it was written.
pub type Located<T> = Spanned<T>;

/// The largest configuration file accepted.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A whole `alertmanager.yml`, validated, with defaults applied.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    #[serde(default)]
    global: Option<Located<GlobalConfig>>,
    route: Option<Located<RouteConfig>>,
    #[serde(default, deserialize_with = "nullable")]
    pub inhibit_rules: Vec<Located<InhibitRuleConfig>>,
    #[serde(default, deserialize_with = "nullable")]
    pub receivers: Vec<Located<ReceiverConfig>>,
    /// Template file globs, relative ones made relative to the configuration file by [`Self::load`].
    #[serde(default, deserialize_with = "nullable")]
    pub templates: Vec<Located<String>>,
    /// Deprecated spelling of `time_intervals`; both are merged.
    #[serde(default, deserialize_with = "nullable")]
    pub mute_time_intervals: Vec<Located<NamedTimeIntervals>>,
    #[serde(default, deserialize_with = "nullable")]
    pub time_intervals: Vec<Located<NamedTimeIntervals>>,
}

/// A validation failure inside the file, before it is given the file's name.
#[derive(Debug)]
pub(crate) struct Problem {
    line: u64,
    column: u64,
    message: String,
}

pub(crate) fn err_at(loc: &Location, message: impl Into<String>) -> Problem {
    Problem { line: loc.line(), column: loc.column(), message: message.into() }
}

fn whole_file(message: impl Into<String>) -> Problem {
    Problem { line: 0, column: 0, message: message.into() }
}

impl Problem {
    fn in_file(self, origin: &str) -> ConfigError {
        ConfigError { origin: origin.to_owned(), line: self.line, column: self.column, message: self.message }
    }
}

pub(crate) fn located<T>(value: T) -> Located<T> {
    Located { value, referenced: Location::UNKNOWN, defined: Location::UNKNOWN }
}

/// A `null` (`key:` with nothing after it) reads as the default, as Go's YAML decoder treats it.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses `matchers:` strings, each holding one or more matchers, pointing at the one that fails.
pub(crate) fn parse_matcher_lines(lines: &[Located<String>]) -> Result<Matchers, Problem> {
    let mut all = Vec::new();
    for l in lines {
        all.extend(Matchers::parse(&l.value).map_err(|e| err_at(&l.referenced, e.0))?.0);
    }
    Ok(Matchers(all))
}

impl AlertmanagerConfig {
    /// Reads and validates a file; relative template and credential file paths are made relative to its
    /// directory.
    pub fn load(path: &Path) -> Result<AlertmanagerConfig, ConfigError> {
        use std::io::Read;
        let origin = path.display().to_string();
        let whole = |message: String| whole_file(message).in_file(&origin);
        let file = std::fs::File::open(path).map_err(|e| whole(format!("cannot open: {e}")))?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(|e| whole(format!("cannot read: {e}")))?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(whole(format!("file is larger than {MAX_CONFIG_BYTES} bytes")));
        }
        let mut config = AlertmanagerConfig::parse(&text, &origin)?;
        if let Some(dir) = path.parent() {
            config.set_directory(dir);
        }
        Ok(config)
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<AlertmanagerConfig, ConfigError> {
        if !vigil_config::has_content(text) {
            return Err(whole_file("no route provided in config").in_file(origin));
        }
        let mut config: AlertmanagerConfig = serde_saphyr::from_str(text).map_err(|e| ConfigError::yaml(origin, &e))?;
        config.validate().map_err(|p| p.in_file(origin))?;
        Ok(config)
    }

    /// The `global:` section, with defaults for everything not written.
    pub fn global(&self) -> &GlobalConfig {
        &self.global.as_ref().expect("validation fills in the global section").value
    }

    /// The root of the routing tree.
    pub fn route(&self) -> &RouteConfig {
        &self.route.as_ref().expect("validation checks the route exists").value
    }

    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().map(|r| &r.value).find(|r| r.name() == name)
    }

    /// Every named time interval, from both `time_intervals:` and `mute_time_intervals:`.
    pub fn named_time_intervals(&self) -> BTreeMap<String, Vec<TimeInterval>> {
        self.mute_time_intervals
            .iter()
            .chain(&self.time_intervals)
            .map(|t| (t.value.name().to_owned(), t.value.parsed.clone()))
            .collect()
    }

    pub fn inhibit_rules(&self) -> impl Iterator<Item = &InhibitRuleConfig> {
        self.inhibit_rules.iter().map(|r| &r.value)
    }

    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(|t| t.value.as_str())
    }

    fn set_directory(&mut self, dir: &Path) {
        for t in &mut self.templates {
            if !t.value.is_empty() && Path::new(&t.value).is_relative() {
                t.value = dir.join(&t.value).display().to_string();
            }
        }
        if let Some(g) = &mut self.global {
            if let Some(h) = &mut g.value.http_config {
                h.value.set_directory(dir);
            }
        }
        for r in &mut self.receivers {
            r.value.set_directory(dir);
        }
    }

    fn validate(&mut self) -> Result<(), Problem> {
        let global = self.global.get_or_insert_with(|| located(GlobalConfig::default()));
        validate_global(global)?;
        let global = global.value.clone();

        let mut names = HashSet::new();
        for r in &mut self.receivers {
            r.value.prepare(&r.referenced, &global)?;
            let name = r.value.name.as_ref().expect("prepare checks the name");
            if !names.insert(name.value.clone()) {
                return Err(err_at(
                    &name.referenced,
                    format!("notification config name {:?} is not unique", name.value),
                ));
            }
        }

        let Some(route) = &mut self.route else {
            return Err(whole_file("no routes provided"));
        };
        if let Some(c) = route.value.continue_matching.as_ref().filter(|c| c.value) {
            return Err(err_at(&c.referenced, "cannot have continue in root route"));
        }
        route.value.prepare()?;
        let root = &route.value;
        if root.receiver_name().is_none() {
            return Err(err_at(&route.referenced, "root route must specify a default receiver"));
        }
        if !root.parsed_matchers.is_empty() {
            return Err(err_at(&route.referenced, "root route must not have any matchers"));
        }
        if let Some(m) = root.mute_time_intervals.first() {
            return Err(err_at(&m.referenced, "root route must not have any mute time intervals"));
        }
        if let Some(m) = root.active_time_intervals.first() {
            return Err(err_at(&m.referenced, "root route must not have any active time intervals"));
        }
        let mut undefined = None;
        root.visit(&mut |r| {
            if let Some(rcv) = r.receiver.as_ref().filter(|n| !n.value.is_empty() && !names.contains(&n.value)) {
                undefined.get_or_insert_with(|| {
                    err_at(&rcv.referenced, format!("undefined receiver {:?} used in route", rcv.value))
                });
            }
        });
        if let Some(p) = undefined {
            return Err(p);
        }

        let mut interval_names = HashSet::new();
        for (list, deprecated) in [(&mut self.mute_time_intervals, true), (&mut self.time_intervals, false)] {
            for t in list.iter_mut() {
                t.value.prepare(&t.referenced, deprecated)?;
                let name = t.value.name.as_ref().expect("prepare checks the name");
                if !interval_names.insert(name.value.clone()) {
                    let what = if deprecated { "mute time interval" } else { "time interval" };
                    return Err(err_at(&name.referenced, format!("{what} {:?} is not unique", name.value)));
                }
            }
        }
        let mut undefined = None;
        root.visit(&mut |r| {
            for ti in r.active_time_intervals.iter().chain(&r.mute_time_intervals) {
                if !interval_names.contains(&ti.value) {
                    undefined.get_or_insert_with(|| {
                        err_at(&ti.referenced, format!("undefined time interval {:?} used in route", ti.value))
                    });
                }
            }
        });
        if let Some(p) = undefined {
            return Err(p);
        }

        for rule in &mut self.inhibit_rules {
            rule.value.prepare()?;
        }
        Ok(())
    }
}

fn validate_global(g: &mut Located<GlobalConfig>) -> Result<(), Problem> {
    let at = &g.referenced;
    let v = &g.value;
    for (a, b, msg) in [
        (v.slack_api_url.is_some(), !v.slack_api_url_file.is_empty(), "slack_api_url & slack_api_url_file"),
        (
            !v.opsgenie_api_key.is_empty(),
            !v.opsgenie_api_key_file.is_empty(),
            "opsgenie_api_key & opsgenie_api_key_file",
        ),
        (
            !v.victorops_api_key.is_empty(),
            !v.victorops_api_key_file.is_empty(),
            "victorops_api_key & victorops_api_key_file",
        ),
        (
            !v.smtp_auth_password.is_empty(),
            !v.smtp_auth_password_file.is_empty(),
            "smtp_auth_password & smtp_auth_password_file",
        ),
        (
            !v.smtp_auth_secret.is_empty(),
            !v.smtp_auth_secret_file.is_empty(),
            "smtp_auth_secret & smtp_auth_secret_file",
        ),
        (v.rocketchat_token.is_some(), !v.rocketchat_token_file.is_empty(), "rocketchat_token & rocketchat_token_file"),
        (
            v.rocketchat_token_id.is_some(),
            !v.rocketchat_token_id_file.is_empty(),
            "rocketchat_token_id & rocketchat_token_id_file",
        ),
    ] {
        if a && b {
            return Err(err_at(at, format!("at most one of {msg} must be configured")));
        }
    }
    if !v.smtp_smarthost.is_empty() {
        receivers::check_host_port(&v.smtp_smarthost).map_err(|e| err_at(at, e))?;
    }
    if let Some(h) = &mut g.value.http_config {
        h.value.validate(&h.referenced)?;
    }
    Ok(())
}
