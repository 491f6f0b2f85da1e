//! Resolves the agent's settings from the config file and command-line overrides.

use std::net::SocketAddr;
use std::path::PathBuf;

use regex::Regex;
use vigil_collect::{Options, Paths};
use vigil_config::AgentConfig;

/// Everything the agent needs to run, with defaults applied and regexes compiled.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub metrics_listen: SocketAddr,
    pub options: Options,
    /// Collectors to run; `None` means all.
    pub enabled: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}: invalid regex: {source}")]
    Regex { key: &'static str, source: regex::Error },
}

impl AgentSettings {
    /// Builds settings from a validated config section.
    pub fn from_config(cfg: &AgentConfig) -> Result<Self, SettingsError> {
        let defaults = Paths::default();
        let paths = Paths {
            procfs: cfg.paths.procfs.as_ref().map_or(defaults.procfs, PathBuf::from),
            sysfs: cfg.paths.sysfs.as_ref().map_or(defaults.sysfs, PathBuf::from),
            rootfs: cfg.paths.rootfs.as_ref().map_or(defaults.rootfs, PathBuf::from),
        };
        let mut options = Options { paths, ..Options::default() };
        for (key, value) in cfg.collectors.regexes() {
            let Some(v) = value else { continue };
            let compile = |pattern: &str| Regex::new(pattern).map_err(|source| SettingsError::Regex { key, source });
            match key {
                "filesystem_mount_points_exclude" => options.fs_mount_points_exclude = compile(&v.value)?,
                "filesystem_fs_types_exclude" => options.fs_types_exclude = compile(&v.value)?,
                "diskstats_device_exclude" => options.diskstats_device_exclude = compile(&v.value)?,
                "netdev_device_exclude" => options.netdev_device_exclude = Some(compile(&v.value)?),
                "netclass_ignored_devices" => options.netclass_ignored_devices = compile(&v.value)?,
                "netstat_fields" => options.netstat_fields = compile(&v.value)?,
                "vmstat_fields" => options.vmstat_fields = compile(&v.value)?,
                // node_exporter anchors the systemd unit patterns; so do we.
                "systemd_unit_include" => options.systemd_unit_include = compile(&format!("^(?:{})$", v.value))?,
                "systemd_unit_exclude" => options.systemd_unit_exclude = compile(&format!("^(?:{})$", v.value))?,
                _ => unreachable!("every regex key is handled"),
            }
        }
        options.systemd_bus = cfg.collectors.systemd_bus.as_ref().map(PathBuf::from);
        let enabled = cfg.collectors.enabled.as_ref().map(|v| v.iter().map(|s| s.value.clone()).collect());
        Ok(AgentSettings { metrics_listen: cfg.metrics_listen(), options, enabled })
    }
}
