//! The log shipper's settings, resolved from the `agent.logs:` section: sources as the ship crate's configs,
//! the push target with its auth and TLS settings, batching and the data directory.

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use vigil_config::{LogSource, LogsConfig};
use vigil_model::Labels;
use vigil_ship::{JournalConfig, MultilineConfig, OutboxConfig, TailConfig};
use vigil_tls::{Pem, TlsSettings};

/// The label holding this machine's name, added to every stream unless a source sets it.
pub const HOST_LABEL: &str = "host";

/// Everything the log shipper needs.
#[derive(Clone, Debug)]
pub struct LogsSettings {
    pub data_dir: PathBuf,
    pub outbox: OutboxConfig,
    pub batch_max_lines: usize,
    pub batch_max_wait: Duration,
    /// A batch is also pushed once its lines take about this many bytes.
    pub batch_max_bytes: usize,
    /// How often the sources are read.
    pub poll_interval: Duration,
    pub push: PushSettings,
    pub sources: Vec<SourceSettings>,
    /// How long a clean shutdown may spend sending what the outbox holds.
    pub drain_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// Where and how batches are pushed.
#[derive(Clone, Debug)]
pub struct PushSettings {
    pub url: String,
    pub timeout: Duration,
    pub auth: Option<PushAuth>,
    pub tls: TlsSettings,
}

/// The `Authorization` header of a push; secret files are read at each push.
#[derive(Clone, Debug, PartialEq)]
pub enum PushAuth {
    BearerFile(PathBuf),
    Basic { username: String, password: String, password_file: String },
}

#[derive(Clone, Debug)]
pub enum SourceKind {
    Files(TailConfig),
    Journald(JournalConfig),
}

/// One source and what is done to its lines.
#[derive(Clone, Debug)]
pub struct SourceSettings {
    pub kind: SourceKind,
    pub multiline: Option<MultilineConfig>,
    /// LogQL pipeline text (`| logfmt | ...`), compiled when the shipper starts.
    pub pipeline: Option<String>,
    /// Extracted labels that become stream labels instead of fields.
    pub labels_from_fields: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogsSettingsError {
    #[error("agent.logs: source {index}: invalid multiline.firstline: {source}")]
    Regex { index: usize, source: regex::Error },
    #[error("agent.logs: source {index}: invalid label set")]
    Labels { index: usize },
}

impl LogsSettings {
    /// Settings from a validated section; `host` becomes every stream's `host` label.
    pub fn from_config(cfg: &LogsConfig, host: &str) -> Result<LogsSettings, LogsSettingsError> {
        let data_dir = PathBuf::from(cfg.data_dir());
        let mut outbox = OutboxConfig::new(data_dir.join("outbox"));
        outbox.max_bytes = cfg.outbox_max_bytes();
        outbox.segment_bytes = outbox.segment_bytes.min(outbox.max_bytes / 4).max(64 << 10);
        let mut sources = Vec::new();
        for (index, s) in cfg.sources.iter().enumerate() {
            sources.push(source(index, &s.value, host, cfg.poll_interval())?);
        }
        Ok(LogsSettings {
            data_dir,
            outbox,
            batch_max_lines: cfg.batch_max_lines(),
            batch_max_wait: cfg.batch_max_wait(),
            batch_max_bytes: 4 << 20,
            poll_interval: cfg.poll_interval(),
            push: PushSettings {
                url: cfg.push_url.value.clone(),
                timeout: cfg.timeout(),
                auth: auth(cfg),
                tls: tls(cfg),
            },
            sources,
            drain_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
        })
    }
}

fn source(index: usize, s: &LogSource, host: &str, poll: Duration) -> Result<SourceSettings, LogsSettingsError> {
    let mut labels = Labels::from_pairs(s.labels()).map_err(|_| LogsSettingsError::Labels { index })?;
    if labels.get(HOST_LABEL).is_none() && !host.is_empty() {
        labels.set(HOST_LABEL, host);
    }
    let kind = match (&s.files, &s.journald) {
        (Some(globs), _) => SourceKind::Files(TailConfig {
            include: globs.iter().map(|g| g.value.clone()).collect(),
            labels,
            poll_interval: poll,
            ..TailConfig::default()
        }),
        (None, j) => {
            let j = j.as_ref().map(|j| &j.value);
            let mut cfg = JournalConfig { labels, ..JournalConfig::default() };
            if let Some(j) = j {
                cfg.matches = j.matches.clone();
                if let Some(since) = &j.since {
                    cfg.since = since.clone();
                }
                if let Some(program) = &j.journalctl {
                    cfg.program = program.into();
                }
            }
            SourceKind::Journald(cfg)
        }
    };
    let multiline = match s.multiline() {
        Some((firstline, max_lines, max_wait)) => {
            let re = Regex::new(firstline).map_err(|source| LogsSettingsError::Regex { index, source })?;
            Some(MultilineConfig { max_lines, max_wait, ..MultilineConfig::new(re) })
        }
        None => None,
    };
    Ok(SourceSettings {
        kind,
        multiline,
        pipeline: s.pipeline.as_ref().map(|p| p.value.clone()),
        labels_from_fields: s.labels_from_fields.iter().map(|l| l.value.clone()).collect(),
    })
}

fn auth(cfg: &LogsConfig) -> Option<PushAuth> {
    if let Some(f) = cfg.bearer_token_file.as_ref().filter(|f| !f.value.is_empty()) {
        return Some(PushAuth::BearerFile(PathBuf::from(&f.value)));
    }
    let b = &cfg.basic_auth.as_ref()?.value;
    Some(PushAuth::Basic {
        username: b.username.clone(),
        password: b.password.expose().to_owned(),
        password_file: b.password_file.clone(),
    })
}

fn tls(cfg: &LogsConfig) -> TlsSettings {
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
