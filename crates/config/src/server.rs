//! The `server:` section: where the API listens, where data lives, how long it is kept, and the fleet ban
//! list's allow-list and cap (`server.bans`).

use std::net::SocketAddr;

use serde::Deserialize;
use vigil_guard::cidr::Cidr;

use crate::{ConfigError, Located};

/// The API binds here unless told otherwise: loopback only, Prometheus' port.
pub const DEFAULT_SERVER_LISTEN: &str = "127.0.0.1:9090";
/// Data lives here unless told otherwise, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./vigil-data";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP API and UI (default `127.0.0.1:9090`).
    pub listen: Option<Located<String>>,
    /// Where the metric store and other state live (default `./vigil-data`).
    pub data_dir: Option<String>,
    /// How long raw samples are kept, as a Prometheus duration (default `15d`); `0s` keeps them forever.
    pub retention: Option<Located<String>>,
    /// The most disk the metric store may take (`512MB`, `20GB`; base 2, as Prometheus); oldest blocks go first.
    pub retention_size: Option<Located<String>>,
    /// How long log lines are kept (default `30d`); `0s` keeps them forever.
    pub logs_retention: Option<Located<String>>,
    /// The most disk the log store may take (`512MB`, `20GB`); oldest data goes first.
    pub logs_retention_size: Option<Located<String>>,
    /// The URL users reach vigil at, for links in alerts and the `externalURL` template function (default
    /// `http://<listen>`).
    pub external_url: Option<Located<String>>,
    /// The fleet-wide ban list the server keeps for every agent.
    pub bans: Option<BansConfig>,
    /// A directory of dashboard files (`*.yml`, `*.yaml`) shown beside the built-in ones; relative to the
    /// configuration file's directory.
    pub dashboards_dir: Option<Located<String>>,
}

/// `server.bans:`: which addresses are never banned fleet-wide, and how many bans may be active.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BansConfig {
    /// Networks (CIDRs or bare addresses) never banned; without the key, the loopback networks.
    pub ignoreip: Option<Vec<Located<String>>>,
    /// The most bans active at once (default 100000).
    pub max_active: Option<Located<usize>>,
}

/// The fleet ban list's size unless configured.
pub const DEFAULT_BANS_MAX_ACTIVE: usize = 100_000;
/// The most `server.bans.max_active` may be: the list is held in memory and sent whole to every agent.
pub const MAX_BANS_MAX_ACTIVE: usize = 10_000_000;

impl BansConfig {
    /// The allow-list: the configured networks, or the loopback networks.
    pub fn ignoreip(&self) -> Vec<Cidr> {
        match &self.ignoreip {
            Some(list) => list.iter().filter_map(|c| c.value.parse().ok()).collect(),
            None => default_ignoreip(),
        }
    }

    pub fn max_active(&self) -> usize {
        self.max_active.as_ref().map_or(DEFAULT_BANS_MAX_ACTIVE, |m| m.value)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for c in self.ignoreip.iter().flatten() {
            c.value
                .parse::<Cidr>()
                .map_err(|e| ConfigError::at(origin, &c.referenced, format!("bans.ignoreip: {e}")))?;
        }
        if let Some(m) = &self.max_active {
            if m.value == 0 || m.value > MAX_BANS_MAX_ACTIVE {
                let message = format!("bans.max_active: {} is not between 1 and {MAX_BANS_MAX_ACTIVE}", m.value);
                return Err(ConfigError::at(origin, &m.referenced, message));
            }
        }
        Ok(())
    }
}

/// `127.0.0.0/8` and `::1`: a fleet-wide ban of loopback is always a mistake.
pub fn default_ignoreip() -> Vec<Cidr> {
    ["127.0.0.0/8", "::1/128"].iter().filter_map(|c| c.parse().ok()).collect()
}

impl ServerConfig {
    pub fn listen(&self) -> SocketAddr {
        self.listen
            .as_ref()
            .and_then(|l| l.value.parse().ok())
            .unwrap_or_else(|| DEFAULT_SERVER_LISTEN.parse().expect("default address is valid"))
    }

    /// The external URL without a trailing `/`.
    pub fn external_url(&self) -> String {
        match &self.external_url {
            Some(u) => u.value.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen()),
        }
    }

    pub fn data_dir(&self) -> &str {
        self.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR)
    }

    /// The retention in milliseconds: `None` when not configured, `Some(0)` for "forever".
    pub fn retention_ms(&self) -> Option<i64> {
        self.retention.as_ref().and_then(|r| vigil_model::time::parse_duration(&r.value).ok())
    }

    pub fn retention_bytes(&self) -> Option<u64> {
        self.retention_size.as_ref().and_then(|r| parse_bytes(&r.value).ok())
    }

    /// The log retention in milliseconds: `None` when not configured, `Some(0)` for "forever".
    pub fn logs_retention_ms(&self) -> Option<i64> {
        self.logs_retention.as_ref().and_then(|r| vigil_model::time::parse_duration(&r.value).ok())
    }

    pub fn logs_retention_bytes(&self) -> Option<u64> {
        self.logs_retention_size.as_ref().and_then(|r| parse_bytes(&r.value).ok())
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if let Some(l) = &self.listen {
            l.value.parse::<SocketAddr>().map_err(|e| {
                ConfigError::at(origin, &l.referenced, format!("listen: {:?} is not an address: {e}", l.value))
            })?;
        }
        if let Some(d) = &self.dashboards_dir {
            if d.value.is_empty() {
                return Err(ConfigError::at(origin, &d.referenced, "dashboards_dir: empty path"));
            }
        }
        if let Some(u) = &self.external_url {
            let rest = u.value.strip_prefix("http://").or_else(|| u.value.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                let message = format!("external_url: {:?} is not an http or https URL", u.value);
                return Err(ConfigError::at(origin, &u.referenced, message));
            }
        }
        if let Some(r) = &self.retention {
            vigil_model::time::parse_duration(&r.value)
                .map_err(|e| ConfigError::at(origin, &r.referenced, format!("retention: {e}")))?;
        }
        if let Some(r) = &self.retention_size {
            parse_bytes(&r.value)
                .map_err(|e| ConfigError::at(origin, &r.referenced, format!("retention_size: {e}")))?;
        }
        if let Some(r) = &self.logs_retention {
            vigil_model::time::parse_duration(&r.value)
                .map_err(|e| ConfigError::at(origin, &r.referenced, format!("logs_retention: {e}")))?;
        }
        if let Some(r) = &self.logs_retention_size {
            parse_bytes(&r.value)
                .map_err(|e| ConfigError::at(origin, &r.referenced, format!("logs_retention_size: {e}")))?;
        }
        if let Some(bans) = &self.bans {
            bans.validate(origin)?;
        }
        Ok(())
    }
}

/// Parses a byte size with a base-2 unit (`B`, `KB`, `MB`, `GB`, `TB`, `PB`), as Prometheus' retention size.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size like 512MB or 20GB"))?;
    let shift = match unit {
        "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        "PB" => 50,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use B, KB, MB, GB, TB or PB)")),
    };
    number.checked_mul(1u64 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("20GB"), Ok(20 << 30));
        assert_eq!(parse_bytes("7B"), Ok(7));
        assert!(parse_bytes("20").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("GB").is_err());
        assert!(parse_bytes("99999999PB").unwrap_err().contains("too large"));
    }

    #[test]
    fn bans_section() {
        let c = crate::Config::parse(
            "server:\n  bans:\n    ignoreip: [10.0.0.0/8, '2001:db8::1']\n    max_active: 50\n",
            "x",
        )
        .unwrap();
        let bans = c.server.bans.unwrap();
        let nets: Vec<String> = bans.ignoreip().iter().map(|c| c.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "2001:db8::1/128"]);
        assert_eq!(bans.max_active(), 50);
        assert_eq!(BansConfig::default().ignoreip(), default_ignoreip());
        assert_eq!(BansConfig::default().max_active(), DEFAULT_BANS_MAX_ACTIVE);
        let err = crate::Config::parse("server:\n  bans:\n    ignoreip: [10.0.0.0/33]\n", "v.yml").unwrap_err();
        assert_eq!(err.to_string(), "v.yml:3:16: bans.ignoreip: invalid prefix length in network \"10.0.0.0/33\"");
        let err = crate::Config::parse("server:\n  bans:\n    max_active: 0\n", "v.yml").unwrap_err();
        assert!(err.to_string().contains("bans.max_active: 0 is not between"), "{err}");
    }
}
