//! vigil's configuration file: one YAML document, strict about unknown keys, every error reported as
//! `file:line:col: what is wrong`.

mod agent;
mod agent_guard;
mod agent_guard_fleet;
mod agent_guard_signals;
mod agent_logs;
mod alerting;
pub mod dashboard;
pub mod http_client;
mod load;
pub mod scrape;
mod server;

pub use agent::{AgentConfig, CollectorsConfig, PathsConfig, DEFAULT_METRICS_LISTEN};
pub use agent_guard::{
    FirewallBackend, FirewallSection, GuardConfig, GuardJournald, GuardMode, GuardSource, IncrementSection,
    JailOverride, PathSource, SignalsSection, SourceFormat, ACCESS_JAIL, DEFAULT_AUDIT_LOG, DEFAULT_AUTH_LOG,
    DEFAULT_FIREWALL_TABLE, DEFAULT_JOURNAL_MATCHES, JAILS_ON_BY_DEFAULT,
};
pub use agent_guard_fleet::{
    FeedSection, FleetSection, IntelSection, DEFAULT_FLEET_POLL_INTERVAL, DEFAULT_INTEL_BANTIME, DEFAULT_INTEL_REFRESH,
};
pub use agent_logs::{parse_size, JournaldSource, LogSource, LogsConfig, MultilineSource, DEFAULT_AGENT_DATA_DIR};
pub use alerting::{AlertingSection, AlertingSource};
pub use load::{has_content, read_capped, yaml_message, ConfigError, Located};
pub use server::{
    default_ignoreip, parse_bytes, BansConfig, ServerConfig, DEFAULT_BANS_MAX_ACTIVE, DEFAULT_DATA_DIR,
    DEFAULT_SERVER_LISTEN,
};

use serde::Deserialize;

/// The whole configuration. Every section is optional; an empty file is a valid configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings of `vigil agent`.
    #[serde(default)]
    pub agent: AgentConfig,
    /// Settings of `vigil server` and `vigil up`.
    #[serde(default)]
    pub server: ServerConfig,
    /// Prometheus' `global:` section, in Prometheus' own syntax.
    #[serde(default)]
    pub global: scrape::GlobalConfig,
    /// Prometheus' `scrape_configs:`, in Prometheus' own syntax, so existing jobs paste in.
    #[serde(default)]
    pub scrape_configs: Vec<scrape::ScrapeConfig>,
    /// An Alertmanager configuration, inline or `{config_file: PATH}`; without it, alerts are only recorded.
    #[serde(default)]
    pub alerting: Option<Located<AlertingSection>>,
    /// Prometheus' `rule_files:`: rule file paths or patterns (`*` in the last component), relative ones
    /// resolved against the configuration file's directory when it is loaded.
    #[serde(default)]
    pub rule_files: Vec<Located<String>>,
    /// Rule files whose expressions are LogQL metric queries over the log store, as Loki's ruler reads them;
    /// paths and patterns as in `rule_files:`.
    #[serde(default)]
    pub log_rule_files: Vec<Located<String>>,
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        load::load_file(path)
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        load::parse_str(text, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, "vigil.yml").unwrap_err().to_string()
    }

    #[test]
    fn empty_and_comment_only_files_are_defaults() {
        for text in ["", "# nothing\n", "---\n"] {
            let c = Config::parse(text, "x").unwrap();
            assert_eq!(c.agent.metrics_listen().to_string(), DEFAULT_METRICS_LISTEN);
        }
    }

    #[test]
    fn reads_the_agent_section() {
        let c = Config::parse(
            "agent:\n  metrics_listen: 127.0.0.1:9999\n  paths:\n    procfs: /host/proc\n  collectors:\n    enabled: [cpu, meminfo]\n    vmstat_fields: '^pg'\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.agent.metrics_listen().port(), 9999);
        assert_eq!(c.agent.paths.procfs.as_deref(), Some("/host/proc"));
        let enabled: Vec<&str> =
            c.agent.collectors.enabled.as_ref().unwrap().iter().map(|s| s.value.as_str()).collect();
        assert_eq!(enabled, ["cpu", "meminfo"]);
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let e = err("agent:\n  metrics_listen: 127.0.0.1:1\n  colectors: {}\n");
        assert!(e.starts_with("vigil.yml:3:3: "), "{e}");
        assert!(e.contains("unknown field `colectors`"), "{e}");
        assert!(!e.contains("at line"), "position is given once: {e}");
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let e = err("agent:\n  metrics_listen: nowhere\n");
        assert!(e.starts_with("vigil.yml:2:19: metrics_listen: \"nowhere\" is not an address"), "{e}");
        let e = err("agent:\n  collectors:\n    netstat_fields: '(unclosed'\n");
        assert_eq!(e, "vigil.yml:3:21: netstat_fields: invalid regex \"(unclosed\": error: unclosed group");
    }

    #[test]
    fn reads_the_server_section() {
        let c = Config::parse("server:\n  listen: 127.0.0.1:19090\n  data_dir: /var/lib/vigil\n  retention: 30d\n  retention_size: 10GB\n", "x").unwrap();
        assert_eq!(c.server.listen().port(), 19090);
        assert_eq!(c.server.data_dir(), "/var/lib/vigil");
        assert_eq!(c.server.retention_ms(), Some(30 * 86_400_000));
        assert_eq!(c.server.retention_bytes(), Some(10 << 30));
        let d = Config::parse("", "x").unwrap();
        assert_eq!((d.server.listen().to_string().as_str(), d.server.data_dir()), ("127.0.0.1:9090", "./vigil-data"));
        assert_eq!(err("server:\n  retention: 30days\n"), "vigil.yml:2:14: retention: invalid duration \"30days\": unknown unit \"days\" (use y, w, d, h, m, s or ms)");
        assert!(err("server:\n  listen: here\n").starts_with("vigil.yml:2:11: listen:"));
        assert!(err("server:\n  retention_size: 10\n").starts_with("vigil.yml:2:19: retention_size:"));
        let c = Config::parse("server:\n  logs_retention: 7d\n  logs_retention_size: 2GB\n", "x").unwrap();
        assert_eq!(c.server.logs_retention_ms(), Some(7 * 86_400_000));
        assert_eq!(c.server.logs_retention_bytes(), Some(2 << 30));
        assert!(err("server:\n  logs_retention: 1x\n").starts_with("vigil.yml:2:19: logs_retention:"));
    }

    #[test]
    fn reads_rule_files_and_the_external_url() {
        let text = "rule_files: ['rules/*.yml', /etc/vigil/a.yml]\nserver:\n  external_url: https://vigil.example/\n";
        let c = Config::parse(text, "x").unwrap();
        let files: Vec<&str> = c.rule_files.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(files, ["rules/*.yml", "/etc/vigil/a.yml"]);
        assert_eq!(c.server.external_url(), "https://vigil.example");
        assert_eq!(Config::parse("", "x").unwrap().server.external_url(), "http://127.0.0.1:9090");
        assert_eq!(
            err("server:\n  external_url: vigil:9090\n"),
            "vigil.yml:2:17: external_url: \"vigil:9090\" is not an http or https URL"
        );
        assert_eq!(err("rule_files: ['']\n"), "vigil.yml:1:14: rule_files: empty path");
    }

    #[test]
    fn dashboards_dir_is_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.yml");
        std::fs::write(&path, "server:\n  dashboards_dir: dashboards\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.server.dashboards_dir.unwrap().value, dir.path().join("dashboards").to_string_lossy());
        assert_eq!(err("server:\n  dashboards_dir: ''\n"), "vigil.yml:2:19: dashboards_dir: empty path");
    }

    #[test]
    fn reads_prometheus_scrape_sections() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n";
        let c = Config::parse(text, "x").unwrap();
        assert_eq!(c.scrape_configs.len(), 1);
        assert_eq!(c.scrape_configs[0].job_name.value, "node");
        let e = err("scrape_configs:\n  - job_name: a\n  - job_name: a\n");
        assert!(e.starts_with("vigil.yml:3:15: found multiple scrape configs"), "{e}");
    }

    #[test]
    fn syntax_and_type_errors_have_positions() {
        let e = err("agent:\n  paths: [1, 2\n");
        assert!(e.starts_with("vigil.yml:"), "{e}");
        assert!(!e.starts_with("vigil.yml: "), "syntax errors carry a line: {e}");
        let e = err("agent:\n  paths:\n    procfs: {a: 1}\n");
        assert!(e.starts_with("vigil.yml:3:"), "{e}");
    }
}
