//! The `agent:` section: where `/metrics` listens, where /proc and /sys are, what the collectors skip, log
//! shipping (`agent_logs.rs`) and the security jails (`agent_guard.rs`).

use std::net::SocketAddr;

use serde::Deserialize;

use crate::agent_guard::GuardConfig;
use crate::agent_logs::LogsConfig;
use crate::{ConfigError, Located};

/// `/metrics` binds here unless told otherwise: loopback only, node_exporter's port.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9100";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Address of the `/metrics` endpoint (default `127.0.0.1:9100`).
    pub metrics_listen: Option<Located<String>>,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub collectors: CollectorsConfig,
    /// Log shipping; off when absent.
    pub logs: Option<LogsConfig>,
    /// Security jails; off in `vigil agent` when absent (`vigil up` runs them in detect mode).
    pub guard: Option<GuardConfig>,
}

/// Roots of the host's pseudo-filesystems, for running in a container or against fixtures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// Default `/proc`.
    pub procfs: Option<String>,
    /// Default `/sys`.
    pub sysfs: Option<String>,
    /// Default `/`.
    pub rootfs: Option<String>,
}

/// Which collectors run and what they skip. Every regex defaults to node_exporter 1.5's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorsConfig {
    /// Collectors to run; all of them when absent.
    pub enabled: Option<Vec<Located<String>>>,
    pub filesystem_mount_points_exclude: Option<Located<String>>,
    pub filesystem_fs_types_exclude: Option<Located<String>>,
    pub diskstats_device_exclude: Option<Located<String>>,
    pub netdev_device_exclude: Option<Located<String>>,
    pub netclass_ignored_devices: Option<Located<String>>,
    pub netstat_fields: Option<Located<String>>,
    pub vmstat_fields: Option<Located<String>>,
    pub systemd_unit_include: Option<Located<String>>,
    pub systemd_unit_exclude: Option<Located<String>>,
    /// D-Bus socket of systemd; default the system bus.
    pub systemd_bus: Option<String>,
}

impl CollectorsConfig {
    /// Every regex option with its key name, for validation and conversion.
    pub fn regexes(&self) -> [(&'static str, Option<&Located<String>>); 9] {
        [
            ("filesystem_mount_points_exclude", self.filesystem_mount_points_exclude.as_ref()),
            ("filesystem_fs_types_exclude", self.filesystem_fs_types_exclude.as_ref()),
            ("diskstats_device_exclude", self.diskstats_device_exclude.as_ref()),
            ("netdev_device_exclude", self.netdev_device_exclude.as_ref()),
            ("netclass_ignored_devices", self.netclass_ignored_devices.as_ref()),
            ("netstat_fields", self.netstat_fields.as_ref()),
            ("vmstat_fields", self.vmstat_fields.as_ref()),
            ("systemd_unit_include", self.systemd_unit_include.as_ref()),
            ("systemd_unit_exclude", self.systemd_unit_exclude.as_ref()),
        ]
    }
}

impl AgentConfig {
    /// The `/metrics` address, parsed.
    pub fn metrics_listen(&self) -> SocketAddr {
        self.metrics_listen
            .as_ref()
            .and_then(|l| l.value.parse().ok())
            .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.parse().expect("default address is valid"))
    }

    /// Checks `collectors.enabled` against the collectors the agent has, pointing at an unknown name.
    pub fn check_collector_names(&self, origin: &str, known: &[&str]) -> Result<(), ConfigError> {
        for name in self.collectors.enabled.iter().flatten() {
            if !known.contains(&name.value.as_str()) {
                let msg = format!("unknown collector {:?} (known: {})", name.value, known.join(", "));
                return Err(ConfigError::at(origin, &name.referenced, msg));
            }
        }
        Ok(())
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if let Some(l) = &self.metrics_listen {
            l.value.parse::<SocketAddr>().map_err(|e| {
                ConfigError::at(origin, &l.referenced, format!("metrics_listen: {:?} is not an address: {e}", l.value))
            })?;
        }
        for (key, value) in self.collectors.regexes() {
            if let Some(v) = value {
                regex::Regex::new(&v.value).map_err(|e| {
                    let first = e.to_string().lines().last().unwrap_or("invalid").trim().to_owned();
                    ConfigError::at(origin, &v.referenced, format!("{key}: invalid regex {:?}: {first}", v.value))
                })?;
            }
        }
        if let Some(logs) = &self.logs {
            logs.validate(origin)?;
        }
        if let Some(guard) = &self.guard {
            guard.validate(origin)?;
        }
        Ok(())
    }
}
