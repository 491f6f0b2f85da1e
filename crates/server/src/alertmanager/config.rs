//! Which Alertmanager configuration the server runs: the vigil config's `alerting:` section (inline or
//! `config_file:`), or, without one, a default that keeps alerts but sends nothing.

use vigil_alerting::AlertmanagerConfig;
use vigil_config::{AlertingSource, ConfigError};

/// The receiver of the default configuration: it has no integrations, so alerts are stored, grouped and shown
/// by the API, and nothing is sent.
pub const DEFAULT_RECEIVER: &str = "vigil-record";

/// A parsed configuration with the text it came from (shown by `GET /api/v2/status`).
#[derive(Clone, Debug)]
pub struct AlertingConfig {
    pub config: AlertmanagerConfig,
    pub original: String,
}

impl Default for AlertingConfig {
    fn default() -> AlertingConfig {
        let original = format!("route:\n  receiver: {DEFAULT_RECEIVER}\nreceivers:\n  - name: {DEFAULT_RECEIVER}\n");
        let config = AlertmanagerConfig::parse(&original, "<default>").expect("the default configuration is valid");
        AlertingConfig { config, original }
    }
}

impl AlertingConfig {
    /// Reads the configuration `source` points at; `None` is the default. Errors carry `file:line:col`; for
    /// the inline form, the vigil file's own lines and columns.
    pub fn load(source: Option<&AlertingSource>) -> Result<AlertingConfig, ConfigError> {
        match source {
            None => Ok(AlertingConfig::default()),
            Some(AlertingSource::Inline { text, origin }) => {
                let config = AlertmanagerConfig::parse(text, origin)?;
                let original = text.trim_start_matches('\n').to_owned();
                Ok(AlertingConfig { config, original })
            }
            Some(AlertingSource::File(path)) => {
                let config = AlertmanagerConfig::load(path)?;
                // Load succeeded, so the file is readable and within the size limit.
                let original = std::fs::read_to_string(path).unwrap_or_default();
                Ok(AlertingConfig { config, original })
            }
        }
    }

    /// Reads the `alerting:` section of a whole vigil configuration.
    pub fn from_config(config: &vigil_config::Config) -> Result<AlertingConfig, ConfigError> {
        AlertingConfig::load(config.alerting.as_ref().and_then(|a| a.value.source()))
    }
}
