//! Configuration reloads (SIGHUP and `POST /-/reload`), as Prometheus and Alertmanager do them: the whole
//! configuration is re-read from its [`ConfigSource`], checked (rule files, receivers, scrape jobs) and applied
//! only when every part of it is valid; `vigil_config_last_reload_*` say how the last one went.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use vigil_config::scrape::{GlobalConfig, ScrapeConfig};
use vigil_config::{Config, ConfigError};
use vigil_model::{Desc, Labels, MetricSink};
use vigil_scrape::Manager;

use crate::alertmanager::{AlertingConfig, Alertmanager};
use crate::api::now_ms;
use crate::rules::RuleManager;

/// What a reload changes: everything but the `server:` and `agent:` sections (listen address, data directory,
/// retention, external URL, the host collectors of `vigil up`), which need a restart.
#[derive(Clone, Debug)]
pub struct ServerReload {
    /// Scrape defaults, `evaluation_interval` and `external_labels`.
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
    pub alerting: AlertingConfig,
    /// `rule_files:` patterns, resolved as the configuration loader resolved them.
    pub rule_files: Vec<String>,
    /// `log_rule_files:` patterns, likewise.
    pub log_rule_files: Vec<String>,
}

impl ServerReload {
    /// The reloadable parts of a loaded configuration; errors are the `alerting:` section's.
    pub fn from_config(config: &Config) -> Result<ServerReload, ConfigError> {
        Ok(ServerReload {
            global: config.global.clone(),
            scrape_configs: config.scrape_configs.clone(),
            alerting: AlertingConfig::from_config(config)?,
            rule_files: config.rule_files.iter().map(|f| f.value.clone()).collect(),
            log_rule_files: config.log_rule_files.iter().map(|f| f.value.clone()).collect(),
        })
    }

    /// `global.external_labels` as a label set.
    pub fn external_labels(&self) -> Labels {
        // The configuration loader checked the names.
        Labels::from_pairs(self.global.external_labels.iter()).unwrap_or_default()
    }
}

/// Re-reads the configuration (blocking; called on a blocking thread). Errors are shown as they are, so they
/// should carry `file:line:col`.
#[derive(Clone)]
pub struct ConfigSource(Arc<dyn Fn() -> Result<ServerReload, String> + Send + Sync>);

impl ConfigSource {
    pub fn new(read: impl Fn() -> Result<ServerReload, String> + Send + Sync + 'static) -> ConfigSource {
        ConfigSource(Arc::new(read))
    }
}

impl std::fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSource")
    }
}

/// Runs reloads one at a time over the running parts of the server.
pub(crate) struct Reloader {
    pub source: Option<ConfigSource>,
    pub rules: Arc<RuleManager>,
    pub alertmanager: Arc<Alertmanager>,
    pub scrapes: Arc<Manager>,
    one_at_a_time: tokio::sync::Mutex<()>,
    last_successful: AtomicBool,
    last_success_ms: AtomicI64,
}

impl Reloader {
    /// A reloader for a server whose configuration was just loaded successfully.
    pub fn new(
        source: Option<ConfigSource>,
        rules: Arc<RuleManager>,
        alertmanager: Arc<Alertmanager>,
        scrapes: Arc<Manager>,
    ) -> Reloader {
        Reloader {
            source,
            rules,
            alertmanager,
            scrapes,
            one_at_a_time: tokio::sync::Mutex::new(()),
            last_successful: AtomicBool::new(true),
            last_success_ms: AtomicI64::new(now_ms()),
        }
    }

    /// Re-reads and applies the configuration, or, without a source, the rule files. On error nothing
    /// changes, the error is logged and returned.
    pub async fn reload(&self) -> Result<(), String> {
        let _one = self.one_at_a_time.lock().await;
        let result = match &self.source {
            Some(source) => self.reload_from(source.clone()).await,
            None => self.rules.reload().await,
        };
        match &result {
            Ok(()) => {
                self.last_successful.store(true, Ordering::Relaxed);
                self.last_success_ms.store(now_ms(), Ordering::Relaxed);
                tracing::info!("configuration reloaded");
            }
            Err(err) => {
                self.last_successful.store(false, Ordering::Relaxed);
                tracing::error!(%err, "reloading the configuration failed");
            }
        }
        result
    }

    /// Checks every part before applying any: rule files and receivers are prepared first, then the scrape
    /// manager switches (it checks the jobs before changing anything), then the Alertmanager and the rules.
    async fn reload_from(&self, source: ConfigSource) -> Result<(), String> {
        let next = tokio::task::spawn_blocking(move || (source.0)()).await.map_err(|e| e.to_string())??;
        let mut options = self.rules.options().as_ref().clone();
        options.rule_files = next.rule_files.clone();
        options.log_rule_files = next.log_rule_files.clone();
        options.evaluation_interval_ms = next.global.evaluation_interval().as_millis() as i64;
        options.external_labels = next.external_labels();
        let rules = self.rules.load(options).await?;
        let am = self.alertmanager.clone();
        let alerting = next.alerting;
        let prepared = tokio::task::spawn_blocking(move || am.prepare(alerting))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("setting up the receivers: {e}"))?;
        self.scrapes.apply_config(&next.global, &next.scrape_configs).await.map_err(|e| e.to_string())?;
        self.alertmanager.apply_prepared(prepared);
        self.rules.apply(rules).await;
        Ok(())
    }

    /// `vigil_config_last_reload_successful` and `vigil_config_last_reload_success_timestamp_seconds`.
    pub fn collect_metrics(&self, sink: &mut dyn MetricSink) {
        let ok = Desc::gauge("vigil_config_last_reload_successful", "Whether the last configuration reload succeeded.");
        let at = Desc::gauge(
            "vigil_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, seconds since the epoch.",
        );
        sink.sample(&ok, &[], f64::from(u8::from(self.last_successful.load(Ordering::Relaxed))));
        sink.sample(&at, &[], self.last_success_ms.load(Ordering::Relaxed) as f64 / 1000.0);
    }
}
