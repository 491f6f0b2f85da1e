//! Prometheus' own scrape configuration syntax (`global:` and `scrape_configs:`), so sections of a
//! `prometheus.yml` paste in unchanged; keys Prometheus has and vigil does not yet are refused by name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_saphyr::Location;

use crate::http_client::{self, Authorization, BasicAuth, ClientKeys, Secret, TlsConfig};
use crate::{ConfigError, Located};

pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration::from_millis(60_000);
pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration::from_millis(10_000);
pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration::from_millis(60_000);
pub const DEFAULT_FILE_SD_REFRESH: PromDuration = PromDuration::from_millis(5 * 60_000);
pub const DEFAULT_METRICS_PATH: &str = "/metrics";
pub const DEFAULT_RELABEL_REGEX: &str = "(.*)";
pub const DEFAULT_RELABEL_REPLACEMENT: &str = "$1";
pub const DEFAULT_RELABEL_SEPARATOR: &str = ";";

/// Declares a config struct plus keys Prometheus knows but vigil does not implement: those parse as anything
/// and validation refuses them by name, instead of the generic "unknown field".
macro_rules! with_unsupported_keys {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* } unsupported { $($key:ident),* $(,)? }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            $(#[serde(default)] $key: Option<Located<IgnoredAny>>,)*
        }

        impl $name {
            fn unsupported_keys(&self) -> Vec<(&'static str, &Location)> {
                let mut found = Vec::new();
                $(if let Some(v) = &self.$key { found.push((stringify!($key), &v.referenced)); })*
                found
            }
        }
    };
}

with_unsupported_keys! {
    /// A whole `prometheus.yml`, as far as scraping goes.
    #[derive(Clone, Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PrometheusConfig {
        #[serde(default)]
        pub global: GlobalConfig,
        #[serde(default)]
        pub scrape_configs: Vec<ScrapeConfig>,
    }
    unsupported { rule_files, alerting, remote_write, remote_read, storage, tracing, scrape_config_files }
}

with_unsupported_keys! {
    /// `global:` defaults for every job.
    #[derive(Clone, Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GlobalConfig {
        /// Default 1m.
        pub scrape_interval: Option<Located<PromDuration>>,
        /// Default 10s, or the interval when that is shorter.
        pub scrape_timeout: Option<Located<PromDuration>>,
        /// Default 1m.
        pub evaluation_interval: Option<Located<PromDuration>>,
        #[serde(default)]
        pub external_labels: BTreeMap<String, String>,
    }
    unsupported { query_log_file, body_size_limit, sample_limit, label_limit, label_name_length_limit,
        label_value_length_limit, target_limit, keep_dropped_targets }
}

with_unsupported_keys! {
    /// One `scrape_configs:` entry: a job.
    #[derive(Clone, Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ScrapeConfig {
        pub job_name: Located<String>,
        /// Defaults to the global one (see [`ScrapeConfig::apply_defaults`]).
        pub scrape_interval: Option<Located<PromDuration>>,
        pub scrape_timeout: Option<Located<PromDuration>>,
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        /// `http` (the default) or `https`.
        pub scheme: Option<Located<String>>,
        #[serde(default)]
        pub params: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        pub honor_labels: bool,
        #[serde(default = "yes")]
        pub honor_timestamps: bool,
        /// 0: no limit.
        #[serde(default)]
        pub sample_limit: u64,
        #[serde(default)]
        pub label_limit: u64,
        #[serde(default)]
        pub label_name_length_limit: u64,
        #[serde(default)]
        pub label_value_length_limit: u64,
        /// 0 or absent: the scraper's own cap.
        pub body_size_limit: Option<Located<ByteSize>>,
        #[serde(default)]
        pub static_configs: Vec<StaticConfig>,
        #[serde(default)]
        pub file_sd_configs: Vec<FileSdConfig>,
        #[serde(default)]
        pub relabel_configs: Vec<Located<RelabelConfig>>,
        #[serde(default)]
        pub metric_relabel_configs: Vec<Located<RelabelConfig>>,
        // The HTTP client (prometheus/common's `HTTPClientConfig`, inline as in Prometheus).
        pub basic_auth: Option<Located<BasicAuth>>,
        pub authorization: Option<Located<Authorization>>,
        /// Deprecated form of `authorization: {credentials: ...}`; see [`ScrapeConfig::authorization`].
        pub bearer_token: Option<Located<Secret>>,
        /// Deprecated form of `authorization: {credentials_file: ...}`.
        pub bearer_token_file: Option<Located<String>>,
        pub tls_config: Option<Located<TlsConfig>>,
        /// Only `false` is accepted: redirects are not followed.
        pub follow_redirects: Option<Located<bool>>,
        /// Accepted and ignored: scrapes use HTTP/1.1.
        pub enable_http2: Option<bool>,
    }
    unsupported {
        oauth2, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header, http_headers, target_limit,
        keep_dropped_targets, scrape_classic_histograms, native_histogram_bucket_limit, scrape_protocols,
        track_timestamps_staleness, enable_compression,
        azure_sd_configs, consul_sd_configs, digitalocean_sd_configs, docker_sd_configs, dockerswarm_sd_configs,
        dns_sd_configs, ec2_sd_configs, eureka_sd_configs, gce_sd_configs, hetzner_sd_configs, http_sd_configs,
        ionos_sd_configs, kubernetes_sd_configs, kuma_sd_configs, lightsail_sd_configs, linode_sd_configs,
        marathon_sd_configs, nerve_sd_configs, nomad_sd_configs, openstack_sd_configs, ovhcloud_sd_configs,
        puppetdb_sd_configs, scaleway_sd_configs, serverset_sd_configs, triton_sd_configs, uyuni_sd_configs,
        vultr_sd_configs,
    }
}

/// `static_configs:` entry: fixed targets sharing labels.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<Located<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs:` entry: JSON or YAML files listing target groups.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths; the last component may hold a `*` pattern (`targets/*.json`).
    pub files: Vec<Located<String>>,
    /// Default 5m.
    pub refresh_interval: Option<PromDuration>,
}

impl FileSdConfig {
    pub fn refresh_interval(&self) -> PromDuration {
        self.refresh_interval.unwrap_or(DEFAULT_FILE_SD_REFRESH)
    }
}

/// What a relabel rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RelabelAction {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl RelabelAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
        }
    }

    /// Case-insensitive, as Prometheus reads it.
    pub fn parse(s: &str) -> Option<RelabelAction> {
        let lower = s.to_ascii_lowercase();
        ALL_ACTIONS.iter().copied().find(|a| a.as_str() == lower)
    }
}

const ALL_ACTIONS: [RelabelAction; 11] = [
    RelabelAction::Replace,
    RelabelAction::Keep,
    RelabelAction::Drop,
    RelabelAction::KeepEqual,
    RelabelAction::DropEqual,
    RelabelAction::HashMod,
    RelabelAction::LabelMap,
    RelabelAction::LabelDrop,
    RelabelAction::LabelKeep,
    RelabelAction::Lowercase,
    RelabelAction::Uppercase,
];

impl fmt::Display for RelabelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RelabelAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelabelAction::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

/// One `relabel_configs:` / `metric_relabel_configs:` rule. Absent fields take Prometheus' defaults through
/// the accessors; whether a field was written matters for validation, as in Prometheus.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    pub source_labels: Option<Vec<String>>,
    pub separator: Option<String>,
    pub target_label: Option<String>,
    /// Anchored at both ends when compiled.
    pub regex: Option<Located<String>>,
    pub modulus: Option<u64>,
    pub replacement: Option<String>,
    pub action: Option<RelabelAction>,
}

impl RelabelConfig {
    pub fn source_labels(&self) -> &[String] {
        self.source_labels.as_deref().unwrap_or_default()
    }
    pub fn separator(&self) -> &str {
        self.separator.as_deref().unwrap_or(DEFAULT_RELABEL_SEPARATOR)
    }
    pub fn target_label(&self) -> &str {
        self.target_label.as_deref().unwrap_or_default()
    }
    /// The regex as written (not anchored).
    pub fn regex(&self) -> &str {
        self.regex.as_ref().map_or(DEFAULT_RELABEL_REGEX, |r| r.value.as_str())
    }
    pub fn modulus(&self) -> u64 {
        self.modulus.unwrap_or(0)
    }
    pub fn replacement(&self) -> &str {
        self.replacement.as_deref().unwrap_or(DEFAULT_RELABEL_REPLACEMENT)
    }
    pub fn action(&self) -> RelabelAction {
        self.action.unwrap_or_default()
    }

    /// Compiles the regex as Prometheus does: anchored at both ends.
    pub fn compile_regex(&self) -> Result<regex::Regex, regex::Error> {
        anchored_regex(self.regex())
    }

    /// Prometheus' rules for which fields each action needs and allows.
    pub fn check(&self) -> Result<(), String> {
        use RelabelAction::*;
        let action = self.action();
        let target = self.target_label();
        if let Some(bad) = self.source_labels().iter().find(|n| !is_label_name(n)) {
            return Err(format!("{bad:?} is not a valid label name"));
        }
        if let Err(e) = self.compile_regex() {
            return Err(format!("invalid regex {:?}: {}", self.regex(), regex_error_text(&e)));
        }
        if action == HashMod && self.modulus() == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(action, Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual);
        if needs_target && target.is_empty() {
            return Err(format!("relabel configuration for {action} action requires 'target_label' value"));
        }
        let target_ok = match action {
            Replace if target.contains('$') => is_relabel_target(target),
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual => is_label_name(target),
            _ => true,
        };
        if !target_ok {
            return Err(format!("{target:?} is invalid 'target_label' for {action} action"));
        }
        let replacement_set = self.replacement() != DEFAULT_RELABEL_REPLACEMENT;
        if matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual) && replacement_set {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == LabelMap && !is_relabel_target(self.replacement()) {
            return Err(format!("{:?} is invalid 'replacement' for {action} action", self.replacement()));
        }
        let separator_set = self.separator() != DEFAULT_RELABEL_SEPARATOR;
        if matches!(action, KeepEqual | DropEqual)
            && (self.regex.is_some() || self.modulus() != 0 || separator_set || replacement_set)
        {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (self.source_labels.is_some()
                || !target.is_empty()
                || self.modulus() != 0
                || separator_set
                || replacement_set)
        {
            return Err(format!("{action} action requires only 'regex', and no other fields"));
        }
        Ok(())
    }
}

/// `^(?:re)$`, the way Prometheus anchors every relabel regex.
pub fn anchored_regex(re: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{re})$"))
}

fn regex_error_text(e: &regex::Error) -> String {
    e.to_string().lines().last().unwrap_or("invalid").trim().to_owned()
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus' label name syntax.
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Label names that may contain `$1` / `${name}` references (Prometheus' `relabelTarget`).
fn is_relabel_target(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    let mut first = true;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let close = b[i + 2..].iter().position(|&c| c == b'}').map(|p| i + 2 + p);
                match close {
                    Some(end) if end > i + 2 && b[i + 2..end].iter().all(|&c| word(c)) => i = end + 1,
                    _ => return false,
                }
            }
            b'$' => {
                let n = b[i + 1..].iter().take_while(|&&c| word(c)).count();
                if n == 0 {
                    return false;
                }
                i += 1 + n;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => i += 1,
            c if c.is_ascii_digit() && !first => i += 1,
            _ => return false,
        }
        first = false;
    }
    !b.is_empty()
}

/// A Prometheus duration (`15s`, `1m30s`, `1h`, `2d`, `1w`, `1y`, `500ms`), millisecond precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(u64);

impl PromDuration {
    pub const fn from_millis(ms: u64) -> Self {
        PromDuration(ms)
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    /// Units in decreasing order, each at most once; `0` alone is allowed.
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        vigil_model::time::parse_duration(s).map(|ms| PromDuration(ms.unsigned_abs()))
    }
}

impl fmt::Display for PromDuration {
    /// As Prometheus prints it: largest units first, years and weeks only when exact (`90d`, not `12w6d`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&vigil_model::time::format_duration(self.0.min(i64::MAX as u64) as i64))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A byte count written as Prometheus does (`512`, `10MB`, `1GiB`; units are powers of 1024).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let bad = || format!("invalid size {s:?} (expected a number of bytes like 512, 10MB or 1GiB)");
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let (num, unit) = (&s[..split], s[split..].trim());
        let shift = match unit {
            "" | "B" => 0,
            "KB" | "KiB" | "K" => 10,
            "MB" | "MiB" | "M" => 20,
            "GB" | "GiB" | "G" => 30,
            "TB" | "TiB" | "T" => 40,
            "PB" | "PiB" | "P" => 50,
            "EB" | "EiB" | "E" => 60,
            _ => return Err(bad()),
        };
        let value: f64 = num.parse().map_err(|_| bad())?;
        let bytes = value * (1u64 << shift) as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn default_metrics_path() -> String {
    DEFAULT_METRICS_PATH.to_owned()
}

fn yes() -> bool {
    true
}

fn unknown() -> Location {
    Location::UNKNOWN
}

fn located<T>(value: T) -> Located<T> {
    Located { value, referenced: unknown(), defined: unknown() }
}

fn refuse_unsupported(origin: &str, keys: Vec<(&'static str, &Location)>) -> Result<(), ConfigError> {
    match keys.first() {
        Some((key, loc)) => Err(ConfigError::at(origin, loc, format!("{key} is not supported yet"))),
        None => Ok(()),
    }
}

impl GlobalConfig {
    pub fn scrape_interval(&self) -> PromDuration {
        self.scrape_interval.as_ref().map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.value)
    }

    /// The configured timeout, else 10s capped at the interval.
    pub fn scrape_timeout(&self) -> PromDuration {
        match &self.scrape_timeout {
            Some(t) => t.value,
            None => DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval()),
        }
    }

    pub fn evaluation_interval(&self) -> PromDuration {
        self.evaluation_interval.as_ref().map_or(DEFAULT_EVALUATION_INTERVAL, |d| d.value)
    }

    /// Checks the section and fills in Prometheus' defaults.
    pub fn apply_defaults(&mut self, origin: &str) -> Result<(), ConfigError> {
        refuse_unsupported(origin, self.unsupported_keys())?;
        for (key, d) in [("scrape_interval", &self.scrape_interval), ("evaluation_interval", &self.evaluation_interval)]
        {
            if let Some(d) = d.as_ref().filter(|d| d.value.as_millis() == 0) {
                return Err(ConfigError::at(origin, &d.referenced, format!("{key} cannot be 0")));
            }
        }
        if let Some(t) = &self.scrape_timeout {
            if t.value > self.scrape_interval() {
                return Err(ConfigError::at(
                    origin,
                    &t.referenced,
                    "global scrape timeout greater than scrape interval",
                ));
            }
        }
        if let Some(bad) = self.external_labels.keys().find(|n| !is_label_name(n)) {
            return Err(ConfigError::at(
                origin,
                &unknown(),
                format!("external_labels: {bad:?} is not a valid label name"),
            ));
        }
        self.scrape_timeout = Some(located(self.scrape_timeout()));
        self.scrape_interval = Some(located(self.scrape_interval()));
        self.evaluation_interval = Some(located(self.evaluation_interval()));
        Ok(())
    }
}

impl ScrapeConfig {
    pub fn job_name(&self) -> &str {
        &self.job_name.value
    }

    /// The interval, after [`ScrapeConfig::apply_defaults`] the job's own or the global one.
    pub fn scrape_interval(&self) -> PromDuration {
        self.scrape_interval.as_ref().map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.value)
    }

    pub fn scrape_timeout(&self) -> PromDuration {
        self.scrape_timeout.as_ref().map_or(DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval()), |d| d.value)
    }

    pub fn scheme(&self) -> &str {
        self.scheme.as_ref().map_or("http", |s| s.value.as_str())
    }

    /// The `Authorization` header to send, if any: `authorization`, or the deprecated `bearer_token` or
    /// `bearer_token_file` as prometheus/common turns them into one (type `Bearer`).
    pub fn authorization(&self) -> Option<Authorization> {
        if let Some(a) = &self.authorization {
            return Some(a.value.clone());
        }
        let token = self.bearer_token.as_ref().map(|t| t.value.clone()).unwrap_or_default();
        let file = self.bearer_token_file.as_ref().map(|f| f.value.clone()).unwrap_or_default();
        if token.is_empty() && file.is_empty() {
            return None;
        }
        Some(Authorization { kind: "Bearer".into(), credentials: token, credentials_file: file })
    }

    /// The configured body limit in bytes; 0 when unset.
    pub fn body_size_limit(&self) -> u64 {
        self.body_size_limit.as_ref().map_or(0, |b| b.value.0)
    }

    /// Prometheus' defaulting: the global interval when unset, and a timeout of the global one capped at the
    /// interval. Validates the job too.
    pub fn apply_defaults(&mut self, global: &GlobalConfig, origin: &str) -> Result<(), ConfigError> {
        self.validate(origin)?;
        if self.scrape_interval.is_none() {
            self.scrape_interval = Some(located(global.scrape_interval()));
        }
        if let Some(t) = &self.scrape_timeout {
            if t.value > self.scrape_interval() {
                let msg = format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    self.job_name.value
                );
                return Err(ConfigError::at(origin, &t.referenced, msg));
            }
        }
        if self.scrape_timeout.is_none() {
            self.scrape_timeout = Some(located(global.scrape_timeout().min(self.scrape_interval())));
        }
        Ok(())
    }

    /// Everything checkable without the global section.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| Err(ConfigError::at(origin, loc, msg));
        refuse_unsupported(origin, self.unsupported_keys())?;
        if self.job_name.value.is_empty() {
            return at(&self.job_name.referenced, "job_name is empty".into());
        }
        if let Some(s) = &self.scheme {
            if !matches!(s.value.as_str(), "http" | "https") {
                return at(&s.referenced, format!("scheme: {:?} is not http or https", s.value));
            }
        }
        let keys = ClientKeys {
            basic_auth: &self.basic_auth,
            authorization: &self.authorization,
            bearer_token: &self.bearer_token,
            bearer_token_file: &self.bearer_token_file,
            tls_config: &self.tls_config,
        };
        if let Err((loc, msg)) = http_client::check(&keys) {
            return at(&loc, msg);
        }
        if let Some(f) = self.follow_redirects.as_ref().filter(|f| f.value) {
            return at(
                &f.referenced,
                "follow_redirects: true is not supported yet (redirects are not followed)".into(),
            );
        }
        for (key, d) in [("scrape_interval", &self.scrape_interval), ("scrape_timeout", &self.scrape_timeout)] {
            if let Some(d) = d.as_ref().filter(|d| d.value.as_millis() == 0) {
                return at(&d.referenced, format!("{key} cannot be 0"));
            }
        }
        if !self.metrics_path.starts_with('/') {
            return at(&self.job_name.referenced, format!("metrics_path {:?} must start with /", self.metrics_path));
        }
        for sc in &self.static_configs {
            for t in &sc.targets {
                if t.value.is_empty() || t.value.contains('/') {
                    return at(&t.referenced, format!("{:?} is not a valid hostname", t.value));
                }
            }
            if let Some(bad) = sc.labels.keys().find(|n| !is_label_name(n)) {
                return at(&self.job_name.referenced, format!("static_configs: {bad:?} is not a valid label name"));
            }
        }
        for fc in &self.file_sd_configs {
            for f in &fc.files {
                if !is_file_sd_pattern(&f.value) {
                    return at(&f.referenced, format!("path name {:?} is not valid for file discovery", f.value));
                }
            }
            if fc.refresh_interval.is_some_and(|d| d.as_millis() == 0) {
                return at(&self.job_name.referenced, "file_sd_configs: refresh_interval cannot be 0".into());
            }
        }
        for (key, rules) in
            [("relabel_configs", &self.relabel_configs), ("metric_relabel_configs", &self.metric_relabel_configs)]
        {
            for rule in rules {
                if let Err(msg) = rule.value.check() {
                    let loc = match &rule.value.regex {
                        Some(r) if msg.starts_with("invalid regex") => r.referenced,
                        _ => rule.referenced,
                    };
                    return at(&loc, format!("{key}: {msg}"));
                }
            }
        }
        Ok(())
    }

    /// Makes relative file_sd, secret and TLS file paths relative to `dir` (the configuration file's
    /// directory), as Prometheus does.
    pub fn set_directory(&mut self, dir: &Path) {
        if let Some(b) = &mut self.basic_auth {
            http_client::join(dir, &mut b.value.password_file);
        }
        if let Some(a) = &mut self.authorization {
            http_client::join(dir, &mut a.value.credentials_file);
        }
        if let Some(f) = &mut self.bearer_token_file {
            http_client::join(dir, &mut f.value);
        }
        if let Some(t) = &mut self.tls_config {
            for p in [&mut t.value.ca_file, &mut t.value.cert_file, &mut t.value.key_file] {
                http_client::join(dir, p);
            }
        }
        for fc in &mut self.file_sd_configs {
            for f in &mut fc.files {
                if !Path::new(&f.value).is_absolute() {
                    f.value = dir.join(&f.value).to_string_lossy().into_owned();
                }
            }
        }
    }
}

/// `dir/name.json`, `dir/*.yml`: a `*` only in the last component, and a JSON or YAML extension.
fn is_file_sd_pattern(p: &str) -> bool {
    let (dir, last) = p.rsplit_once('/').unwrap_or(("", p));
    if dir.contains('*') || last.matches('*').count() > 1 {
        return false;
    }
    let ext = last.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML")
}

/// Applies the global defaults to every job and validates the lot, including unique job names.
pub fn prepare(
    global: &mut GlobalConfig,
    scrape_configs: &mut [ScrapeConfig],
    origin: &str,
) -> Result<(), ConfigError> {
    global.apply_defaults(origin)?;
    let mut seen = std::collections::HashSet::new();
    for sc in scrape_configs.iter_mut() {
        if !seen.insert(sc.job_name.value.clone()) {
            let msg = format!("found multiple scrape configs with job name {:?}", sc.job_name.value);
            return Err(ConfigError::at(origin, &sc.job_name.referenced, msg));
        }
        sc.apply_defaults(global, origin)?;
    }
    Ok(())
}

impl PrometheusConfig {
    /// Reads a `prometheus.yml`; relative file_sd paths are taken relative to its directory, as Prometheus does.
    pub fn load(path: &Path) -> Result<PrometheusConfig, ConfigError> {
        use std::io::Read;
        const MAX_BYTES: u64 = 4 * 1024 * 1024;
        let origin = path.display().to_string();
        let whole = |message: String| ConfigError { origin: origin.clone(), line: 0, column: 0, message };
        let file = std::fs::File::open(path).map_err(|e| whole(format!("cannot open: {e}")))?;
        let mut text = String::new();
        file.take(MAX_BYTES + 1).read_to_string(&mut text).map_err(|e| whole(format!("cannot read: {e}")))?;
        if text.len() as u64 > MAX_BYTES {
            return Err(whole(format!("file is larger than {MAX_BYTES} bytes")));
        }
        let mut config = PrometheusConfig::parse(&text, &origin)?;
        if let Some(dir) = path.parent() {
            for sc in &mut config.scrape_configs {
                sc.set_directory(dir);
            }
        }
        Ok(config)
    }

    /// Parses a `prometheus.yml` (as far as scraping goes), applies defaults and validates.
    pub fn parse(text: &str, origin: &str) -> Result<PrometheusConfig, ConfigError> {
        let has_content = text.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "---"
        });
        let mut config: PrometheusConfig = if has_content {
            serde_saphyr::from_str(text).map_err(|e| parse_error(origin, &e))?
        } else {
            PrometheusConfig::default()
        };
        refuse_unsupported(origin, config.unsupported_keys())?;
        prepare(&mut config.global, &mut config.scrape_configs, origin)?;
        Ok(config)
    }
}

/// The parser's error as `file:line:col: message`, rewritten as for vigil's own file.
fn parse_error(origin: &str, e: &serde_saphyr::Error) -> ConfigError {
    let loc = e.location().unwrap_or(Location::UNKNOWN);
    ConfigError::at(origin, &loc, crate::load::yaml_message(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PrometheusConfig {
        PrometheusConfig::parse(text, "prom.yml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        PrometheusConfig::parse(text, "prom.yml").unwrap_err().to_string()
    }

    fn ms(s: &str) -> u64 {
        PromDuration::parse(s).unwrap().as_millis()
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("15s"), 15_000);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("2w"), 14 * 86_400_000);
        assert_eq!(ms("1y"), 365 * 86_400_000);
        assert_eq!(ms("1h5m10s20ms"), 3_910_020);
        assert_eq!(ms("500ms"), 500);
        for bad in ["", "15", "s", "1s1m", "1m1m", "1.5s", "-1s", "1 s", "1x", "99999999999999999999y"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_like_prometheus() {
        for (ms, s) in [
            (0, "0s"),
            (15_000, "15s"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
            (90 * 86_400_000, "90d"),
            (14 * 86_400_000, "2w"),
            (365 * 86_400_000, "1y"),
            (1_500, "1s500ms"),
        ] {
            assert_eq!(PromDuration::from_millis(ms).to_string(), s);
        }
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("512").unwrap().0, 512);
        assert_eq!(ByteSize::parse("10MB").unwrap().0, 10 << 20);
        assert_eq!(ByteSize::parse("1GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("1.5KB").unwrap().0, 1536);
        assert!(ByteSize::parse("10 apples").is_err());
        assert!(ByteSize::parse("MB").is_err());
    }

    #[test]
    fn a_prometheus_yml_pastes_in_with_defaults() {
        let c = parse(
            "global:\n  scrape_interval: 15s\n  external_labels:\n    dc: eu1\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100', 'other:9100']\n        labels: {env: prod}\n  - job_name: app\n    scrape_interval: 5s\n    metrics_path: /m\n    honor_labels: true\n    params: {module: [http_2xx]}\n    file_sd_configs:\n      - files: ['targets/*.json']\n        refresh_interval: 1m\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: '(.*):.*'\n        target_label: host\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'go_.*'\n        action: DROP\n",
        );
        assert_eq!(c.global.scrape_interval().as_millis(), 15_000);
        assert_eq!(c.global.scrape_timeout().as_millis(), 10_000);
        assert_eq!(c.global.external_labels["dc"], "eu1");
        let node = &c.scrape_configs[0];
        assert_eq!(node.job_name(), "node");
        assert_eq!(node.scrape_interval().as_millis(), 15_000);
        assert_eq!(node.scrape_timeout().as_millis(), 10_000);
        assert_eq!(node.metrics_path, "/metrics");
        assert!(node.honor_timestamps && !node.honor_labels);
        assert_eq!(node.static_configs[0].targets[1].value, "other:9100");
        let app = &c.scrape_configs[1];
        // The job's interval is shorter than the global timeout: the timeout shrinks to it.
        assert_eq!(app.scrape_interval().as_millis(), 5_000);
        assert_eq!(app.scrape_timeout().as_millis(), 5_000);
        assert_eq!(app.params["module"], ["http_2xx"]);
        assert_eq!(app.file_sd_configs[0].refresh_interval().as_millis(), 60_000);
        let r = &app.relabel_configs[0].value;
        assert_eq!((r.action(), r.separator(), r.replacement()), (RelabelAction::Replace, ";", "$1"));
        assert_eq!(app.metric_relabel_configs[0].value.action(), RelabelAction::Drop);
    }

    #[test]
    fn defaults_without_global() {
        let c = parse("scrape_configs:\n  - job_name: a\n");
        assert_eq!(c.scrape_configs[0].scrape_interval().as_millis(), 60_000);
        assert_eq!(c.scrape_configs[0].scrape_timeout().as_millis(), 10_000);
        assert_eq!(c.global.evaluation_interval().as_millis(), 60_000);
        assert!(parse("# nothing\n").scrape_configs.is_empty());
    }

    #[test]
    fn timeout_longer_than_interval_is_refused() {
        let e = err("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n");
        assert_eq!(
            e,
            "prom.yml:4:21: scrape timeout greater than scrape interval for scrape config with job name \"a\""
        );
        let e = err("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n");
        assert!(e.starts_with("prom.yml:3:19: global scrape timeout greater"), "{e}");
    }

    #[test]
    fn duplicate_job_names_are_refused() {
        let e = err("scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n");
        assert_eq!(e, "prom.yml:4:15: found multiple scrape configs with job name \"a\"");
    }

    #[test]
    fn unsupported_prometheus_keys_are_named() {
        let e = err("scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - role: pod\n");
        assert!(e.starts_with("prom.yml:4:"), "{e}");
        assert!(e.ends_with("kubernetes_sd_configs is not supported yet"), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    oauth2: {client_id: x}\n");
        assert!(e.ends_with("oauth2 is not supported yet"), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    proxy_url: http://proxy:3128\n");
        assert_eq!(e, "prom.yml:3:16: proxy_url is not supported yet");
        let e = err("remote_write:\n  - url: http://x\n");
        assert!(e.ends_with("remote_write is not supported yet"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_positions() {
        let e = err("scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n");
        assert!(e.starts_with("prom.yml:3:5: unknown field `scrape_intervall`"), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - actionn: keep\n");
        assert!(e.starts_with("prom.yml:4:9: unknown field `actionn`"), "{e}");
    }

    #[test]
    fn schemes_are_http_or_https() {
        assert_eq!(parse("scrape_configs:\n  - job_name: a\n    scheme: https\n").scrape_configs[0].scheme(), "https");
        assert_eq!(parse("scrape_configs:\n  - job_name: a\n").scrape_configs[0].scheme(), "http");
        let e = err("scrape_configs:\n  - job_name: a\n    scheme: ftp\n");
        assert_eq!(e, "prom.yml:3:13: scheme: \"ftp\" is not http or https");
    }

    #[test]
    fn http_client_settings_are_read() {
        let c = parse(
            "scrape_configs:\n  - job_name: a\n    scheme: https\n    basic_auth: {username: u, password_file: pw}\n    tls_config:\n      ca_file: ca.pem\n      cert_file: c.pem\n      key_file: k.pem\n      server_name: exporter.internal\n      insecure_skip_verify: true\n    follow_redirects: false\n    enable_http2: true\n  - job_name: b\n    authorization: {credentials: tok}\n  - job_name: c\n    bearer_token_file: /run/token\n  - job_name: d\n    bearer_token: inline\n  - job_name: e\n    authorization: {type: ' Token ', credentials_file: f}\n",
        );
        let [a, b, c, d, e] = &c.scrape_configs[..] else { panic!("five jobs") };
        let auth = &a.basic_auth.as_ref().unwrap().value;
        assert_eq!((auth.username.as_str(), auth.password_file.as_str()), ("u", "pw"));
        let tls = &a.tls_config.as_ref().unwrap().value;
        assert_eq!((tls.ca_file.as_str(), tls.cert_file.as_str(), tls.key_file.as_str()), ("ca.pem", "c.pem", "k.pem"));
        assert_eq!((tls.server_name.as_str(), tls.insecure_skip_verify), ("exporter.internal", true));
        assert!(a.authorization().is_none());
        let b = b.authorization().unwrap();
        assert_eq!((b.kind(), b.credentials.expose()), ("Bearer", "tok"));
        // The deprecated forms become `authorization` as prometheus/common makes them.
        let c = c.authorization().unwrap();
        assert_eq!((c.kind(), c.credentials_file.as_str()), ("Bearer", "/run/token"));
        assert_eq!(d.authorization().unwrap().credentials.expose(), "inline");
        assert_eq!(e.authorization().unwrap().kind(), "Token");
        // Secrets stay out of debug output.
        assert!(!format!("{d:?}").contains("inline"), "{d:?}");
    }

    #[test]
    fn http_client_settings_are_validated_as_prometheus_does() {
        let job = |extra: &str| err(&format!("scrape_configs:\n  - job_name: a\n{extra}"));
        for (extra, want) in [
            (
                "    bearer_token: t\n    bearer_token_file: f\n",
                "prom.yml:4:24: at most one of bearer_token & bearer_token_file must be configured",
            ),
            (
                "    basic_auth: {username: u}\n    bearer_token: t\n",
                "prom.yml:4:19: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ),
            (
                "    basic_auth:\n      password: p\n      password_file: f\n",
                "prom.yml:4:7: at most one of basic_auth password & password_file must be configured",
            ),
            (
                "    authorization: {credentials: c}\n    bearer_token_file: f\n",
                "prom.yml:3:20: authorization is not compatible with bearer_token & bearer_token_file",
            ),
            (
                "    authorization: {credentials: c, credentials_file: f}\n",
                "prom.yml:3:20: at most one of authorization credentials & credentials_file must be configured",
            ),
            (
                "    authorization: {type: Basic, credentials: c}\n",
                "prom.yml:3:20: authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            ),
            (
                "    basic_auth: {username: u}\n    authorization: {credentials: c}\n",
                "prom.yml:4:20: at most one of basic_auth, oauth2 & authorization must be configured",
            ),
            (
                "    tls_config: {cert_file: c.pem}\n",
                "prom.yml:3:17: client cert file \"c.pem\" specified without client key file",
            ),
            (
                "    tls_config: {key_file: k.pem}\n",
                "prom.yml:3:17: client key file \"k.pem\" specified without client cert file",
            ),
            ("    tls_config: {min_version: TLS13}\n", "prom.yml:3:31: tls_config: min_version is not supported yet"),
            (
                "    follow_redirects: true\n",
                "prom.yml:3:23: follow_redirects: true is not supported yet (redirects are not followed)",
            ),
        ] {
            assert_eq!(job(extra), want, "{extra}");
        }
        let e = job("    tls_config: {ca: inline}\n");
        assert!(e.starts_with("prom.yml:3:18: unknown field `ca`"), "{e}");
        let e = job("    basic_auth: {username_file: f}\n");
        assert!(e.starts_with("prom.yml:3:18: unknown field `username_file`"), "{e}");
    }

    #[test]
    fn bad_values_point_at_them() {
        let e = err("scrape_configs:\n  - job_name: a\n    scrape_interval: 5 minutes\n");
        assert!(e.starts_with("prom.yml:3:22: "), "{e}");
        assert!(e.contains("invalid duration \"5 minutes\""), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1/x']\n");
        assert_eq!(e, "prom.yml:4:19: \"h:1/x\" is not a valid hostname");
        let e = err("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['a/*/b.json']\n");
        assert_eq!(e, "prom.yml:4:17: path name \"a/*/b.json\" is not valid for file discovery");
        let e = err("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['a/b.txt']\n");
        assert!(e.contains("is not valid for file discovery"), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    body_size_limit: lots\n");
        assert!(e.starts_with("prom.yml:3:22: invalid size"), "{e}");
        let e = err("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n");
        assert!(e.contains("unknown relabel action \"explode\""), "{e}");
    }

    fn relabel_err(rule: &str) -> String {
        err(&format!("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {rule}\n"))
    }

    #[test]
    fn relabel_rules_are_checked_as_prometheus_does() {
        let e = relabel_err("{regex: '(unclosed', target_label: x}");
        assert!(e.starts_with("prom.yml:4:17: relabel_configs: invalid regex \"(unclosed\""), "{e}");
        for (rule, want) in [
            ("{action: hashmod, target_label: x}", "hashmod requires non-zero modulus"),
            ("{action: replace}", "relabel configuration for replace action requires 'target_label' value"),
            ("{action: lowercase}", "lowercase action requires 'target_label' value"),
            ("{action: replace, target_label: '1x'}", "\"1x\" is invalid 'target_label' for replace action"),
            ("{action: hashmod, target_label: 'a$1', modulus: 2}", "is invalid 'target_label' for hashmod"),
            ("{action: uppercase, target_label: y, replacement: z}", "'replacement' can not be set for uppercase"),
            ("{action: labelmap, replacement: '-'}", "\"-\" is invalid 'replacement' for labelmap action"),
            ("{action: keepequal, target_label: y, regex: a}", "keepequal action requires only 'source_labels'"),
            ("{action: labeldrop, regex: a, source_labels: [x]}", "labeldrop action requires only 'regex'"),
            ("{action: labelkeep, regex: a, target_label: x}", "labelkeep action requires only 'regex'"),
            ("{source_labels: ['a-b'], target_label: x}", "\"a-b\" is not a valid label name"),
        ] {
            let e = relabel_err(rule);
            assert!(e.starts_with("prom.yml:4:"), "{rule}: {e}");
            assert!(e.contains(want), "{rule}: {e}");
        }
        for ok in [
            "{target_label: '${1}_x', regex: '(a)'}",
            "{target_label: 'x_$1'}",
            "{action: labelmap, regex: '__meta_(.+)'}",
            "{action: labelmap, regex: '(.+)', replacement: 'p_${1}'}",
            "{action: keepequal, target_label: y, source_labels: [x]}",
            "{action: labeldrop, regex: 'tmp_.*'}",
            "{action: hashmod, source_labels: [x], modulus: 8, target_label: shard}",
            "{action: Keep, source_labels: [x], regex: 'a|b'}",
        ] {
            PrometheusConfig::parse(
                &format!("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {ok}\n"),
                "prom.yml",
            )
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn relabel_targets_follow_prometheus_syntax() {
        for ok in ["a", "_a1", "$1", "${1}", "a_${name}_b", "${1}${2}", "x$1y"] {
            assert!(is_relabel_target(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "$", "${}", "${1", "a b"] {
            assert!(!is_relabel_target(bad), "{bad}");
        }
    }

    #[test]
    fn load_reads_a_file_and_resolves_file_sd_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prometheus.yml");
        std::fs::write(&path, "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [t/*.json]\n")
            .unwrap();
        let c = PrometheusConfig::load(&path).unwrap();
        let want = dir.path().join("t/*.json").display().to_string();
        assert_eq!(c.scrape_configs[0].file_sd_configs[0].files[0].value, want);
        std::fs::write(&path, "scrape_configs:\n  - job_name: a\n    scheme: ftp\n").unwrap();
        let e = PrometheusConfig::load(&path).unwrap_err().to_string();
        assert_eq!(e, format!("{}:3:13: scheme: \"ftp\" is not http or https", path.display()));
        assert!(PrometheusConfig::load(&dir.path().join("missing.yml"))
            .unwrap_err()
            .to_string()
            .contains("cannot open"));
    }

    #[test]
    fn relative_file_sd_paths_follow_the_config_file() {
        let mut c =
            parse("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [t/*.json, /abs/x.yml]\n");
        c.scrape_configs[0].set_directory(Path::new("/etc/vigil"));
        let files: Vec<&str> = c.scrape_configs[0].file_sd_configs[0].files.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(files, ["/etc/vigil/t/*.json", "/abs/x.yml"]);
    }

    #[test]
    fn relative_secret_and_tls_files_follow_the_config_file() {
        let mut c = parse(
            "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: pw}\n    tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem}\n  - job_name: b\n    bearer_token_file: token\n  - job_name: c\n    authorization: {credentials_file: creds}\n",
        );
        for sc in &mut c.scrape_configs {
            sc.set_directory(Path::new("/etc/vigil"));
        }
        let [a, b, cc] = &c.scrape_configs[..] else { panic!("three jobs") };
        assert_eq!(a.basic_auth.as_ref().unwrap().value.password_file, "/etc/vigil/pw");
        let tls = &a.tls_config.as_ref().unwrap().value;
        assert_eq!(
            (tls.ca_file.as_str(), tls.cert_file.as_str(), tls.key_file.as_str()),
            ("/etc/vigil/ca.pem", "/abs/c.pem", "/etc/vigil/k.pem")
        );
        assert_eq!(b.authorization().unwrap().credentials_file, "/etc/vigil/token");
        assert_eq!(cc.authorization().unwrap().credentials_file, "/etc/vigil/creds");
    }
}
