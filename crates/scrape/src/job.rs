//! A job's settings resolved from its `ScrapeConfig` and the global section, with relabel rules compiled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use vigil_config::scrape::{GlobalConfig, ScrapeConfig};
use vigil_tls::{Connector, Pem, TlsError, TlsSettings};

use crate::discovery::{self, FileSdSpec, TargetGroup};
use crate::http::Auth;
use crate::relabel::{RelabelError, Rule};

/// Bodies larger than this are refused when the job sets no `body_size_limit`.
pub const DEFAULT_BODY_SIZE_LIMIT: u64 = 64 << 20;

/// A job that cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("job {job:?}: {key}: {source}")]
    Relabel { job: String, key: &'static str, source: RelabelError },
    #[error("job {job:?}: scheme {scheme:?} is not http or https")]
    Scheme { job: String, scheme: String },
    #[error("job {job:?}: error creating HTTP client: {source}")]
    Tls { job: String, source: TlsError },
    #[error("job {job:?}: scrape timeout {timeout} is longer than the interval {interval}")]
    Timeout { job: String, timeout: String, interval: String },
    #[error("job {job:?}: scrape interval cannot be 0")]
    ZeroInterval { job: String },
}

/// How samples are scraped and turned into series: everything but target discovery.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScrapeSettings {
    pub job: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub body_size_limit: u64,
    /// The `Authorization` header, if any.
    pub auth: Option<Auth>,
    /// For `https` targets (any target may be one: relabeling sets `__scheme__`).
    pub tls: Arc<Connector>,
    pub relabel: Vec<Rule>,
    pub metric_relabel: Vec<Rule>,
}

/// Where a job's targets come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DiscoverySpec {
    pub statics: Vec<TargetGroup>,
    pub files: Vec<FileSdSpec>,
}

impl DiscoverySpec {
    /// Providers in order: the static groups (when any) first, then one per file_sd config.
    pub fn provider_count(&self) -> usize {
        usize::from(!self.statics.is_empty()) + self.files.len()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JobSettings {
    pub scrape: ScrapeSettings,
    pub discovery: DiscoverySpec,
}

impl JobSettings {
    /// Resolves `cfg` against `global` (the job's values win) and compiles its rules.
    pub fn new(cfg: &ScrapeConfig, global: &GlobalConfig) -> Result<JobSettings, JobError> {
        let job = cfg.job_name().to_owned();
        if !matches!(cfg.scheme(), "http" | "https") {
            return Err(JobError::Scheme { job, scheme: cfg.scheme().to_owned() });
        }
        let tls = Connector::new(tls_settings(cfg)).map_err(|source| JobError::Tls { job: job.clone(), source })?;
        let interval = cfg.scrape_interval.as_ref().map_or(global.scrape_interval(), |d| d.value);
        let timeout = cfg.scrape_timeout.as_ref().map_or(global.scrape_timeout().min(interval), |d| d.value);
        if interval.as_millis() == 0 {
            return Err(JobError::ZeroInterval { job });
        }
        if timeout > interval || timeout.as_millis() == 0 {
            return Err(JobError::Timeout { job, timeout: timeout.to_string(), interval: interval.to_string() });
        }
        let compile = |key: &'static str, rules: &[vigil_config::Located<vigil_config::scrape::RelabelConfig>]| {
            rules
                .iter()
                .map(|r| Rule::new(&r.value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| JobError::Relabel { job: job.clone(), key, source })
        };
        let scrape = ScrapeSettings {
            job: job.clone(),
            interval: interval.as_std(),
            timeout: timeout.as_std(),
            metrics_path: cfg.metrics_path.clone(),
            scheme: cfg.scheme().to_owned(),
            params: cfg.params.clone(),
            honor_labels: cfg.honor_labels,
            honor_timestamps: cfg.honor_timestamps,
            sample_limit: cfg.sample_limit,
            label_limit: cfg.label_limit,
            label_name_length_limit: cfg.label_name_length_limit,
            label_value_length_limit: cfg.label_value_length_limit,
            body_size_limit: match cfg.body_size_limit() {
                0 => DEFAULT_BODY_SIZE_LIMIT,
                n => n,
            },
            auth: auth(cfg),
            tls: Arc::new(tls),
            relabel: compile("relabel_configs", &cfg.relabel_configs)?,
            metric_relabel: compile("metric_relabel_configs", &cfg.metric_relabel_configs)?,
        };
        let discovery = DiscoverySpec {
            statics: discovery::static_groups(&cfg.static_configs),
            files: cfg.file_sd_configs.iter().map(FileSdSpec::from_config).collect(),
        };
        Ok(JobSettings { scrape, discovery })
    }
}

fn tls_settings(cfg: &ScrapeConfig) -> TlsSettings {
    let Some(t) = &cfg.tls_config else { return TlsSettings::default() };
    let t = &t.value;
    TlsSettings {
        ca: Pem::from_parts("", &t.ca_file),
        cert: Pem::from_parts("", &t.cert_file),
        key: Pem::from_parts("", &t.key_file),
        server_name: t.server_name.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
    }
}

fn auth(cfg: &ScrapeConfig) -> Option<Auth> {
    if let Some(b) = &cfg.basic_auth {
        let b = &b.value;
        return Some(Auth::Basic {
            username: b.username.clone(),
            password: b.password.clone(),
            password_file: b.password_file.clone(),
        });
    }
    let a = cfg.authorization()?;
    Some(Auth::Credentials {
        kind: a.kind().to_owned(),
        credentials: a.credentials,
        credentials_file: a.credentials_file,
    })
}
