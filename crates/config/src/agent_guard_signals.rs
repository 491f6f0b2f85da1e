//! `agent.guard.signals:`: what the guard flags beyond the jails: logins from an address never seen for the
//! user (after a learning period), sudo by users outside the allowed groups, and changes to watched files.

use serde::Deserialize;

use crate::{ConfigError, Located};

/// How long new `(user, address)` pairs are only learned, from the first time this host's guard saw a login.
pub const DEFAULT_LEARN_FOR: &str = "24h";
/// Groups whose members may use sudo without being flagged.
pub const DEFAULT_SUDO_GROUPS: &[&str] = &["sudo", "wheel", "admin", "root"];
/// Files whose changes are reported (globs, host paths, under the agent's `paths.rootfs`).
pub const DEFAULT_WATCH_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/sudoers.d/*",
    "/root/.ssh/authorized_keys",
    "/home/*/.ssh/authorized_keys",
    "/etc/crontab",
    "/etc/cron.d/*",
    "/var/spool/cron/crontabs/*",
];
/// How often the watched files are checked.
pub const DEFAULT_CHECK_INTERVAL: &str = "30s";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalsSection {
    /// A Prometheus duration (default `24h`); `0s` flags from the first login.
    pub learn_for: Option<Located<String>>,
    /// Default `[sudo, wheel, admin, root]`.
    pub sudo_groups: Option<Located<Vec<Located<String>>>>,
    /// Globs of host paths; an empty list watches nothing.
    pub watch_files: Option<Located<Vec<Located<String>>>>,
    /// A Prometheus duration (default `30s`), at least 1s.
    pub check_interval: Option<Located<String>>,
}

impl SignalsSection {
    /// The learning period in seconds (only valid on a validated section).
    pub fn learn_for_s(&self) -> i64 {
        let text = self.learn_for.as_ref().map_or(DEFAULT_LEARN_FOR, |l| l.value.as_str());
        vigil_model::time::parse_duration(text).map_or(86_400, |ms| ms / 1000)
    }

    pub fn sudo_groups(&self) -> Vec<String> {
        match &self.sudo_groups {
            Some(l) => l.value.iter().map(|g| g.value.clone()).collect(),
            None => DEFAULT_SUDO_GROUPS.iter().map(|g| g.to_string()).collect(),
        }
    }

    pub fn watch_files(&self) -> Vec<String> {
        match &self.watch_files {
            Some(l) => l.value.iter().map(|g| g.value.clone()).collect(),
            None => DEFAULT_WATCH_FILES.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// The check interval in milliseconds (only valid on a validated section).
    pub fn check_interval_ms(&self) -> i64 {
        let text = self.check_interval.as_ref().map_or(DEFAULT_CHECK_INTERVAL, |l| l.value.as_str());
        vigil_model::time::parse_duration(text).unwrap_or(30_000)
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &serde_saphyr::Location, msg: String| ConfigError::at(origin, loc, msg);
        if let Some(l) = &self.learn_for {
            vigil_model::time::parse_duration(&l.value)
                .map_err(|e| at(&l.referenced, format!("signals.learn_for: {e}")))?;
        }
        if let Some(c) = &self.check_interval {
            let ms = vigil_model::time::parse_duration(&c.value)
                .map_err(|e| at(&c.referenced, format!("signals.check_interval: {e}")))?;
            if ms < 1000 {
                return Err(at(&c.referenced, format!("signals.check_interval: {:?} is shorter than 1s", c.value)));
            }
        }
        for g in self.sudo_groups.iter().flat_map(|l| &l.value) {
            let ok = !g.value.is_empty() && g.value.len() <= 64 && !g.value.contains([':', ',', '\n', ' ']);
            if !ok {
                return Err(at(&g.referenced, format!("signals.sudo_groups: {:?} is not a group name", g.value)));
            }
        }
        for p in self.watch_files.iter().flat_map(|l| &l.value) {
            if !p.value.starts_with('/') {
                let msg = format!("signals.watch_files: {:?} is not an absolute path", p.value);
                return Err(at(&p.referenced, msg));
            }
            glob::Pattern::new(&p.value).map_err(|e| {
                at(&p.referenced, format!("signals.watch_files: invalid glob {:?}: {}", p.value, e.msg))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn err(body: &str) -> String {
        Config::parse(&format!("agent:\n  guard:\n    signals:\n{body}"), "v.yml").unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_every_key() {
        let cfg = Config::parse("agent:\n  guard:\n    signals: {}\n", "v.yml").unwrap();
        let s = &cfg.agent.guard.unwrap().signals.unwrap().value;
        assert_eq!((s.learn_for_s(), s.check_interval_ms()), (86_400, 30_000));
        assert_eq!(s.sudo_groups(), ["sudo", "wheel", "admin", "root"]);
        assert_eq!(s.watch_files().len(), super::DEFAULT_WATCH_FILES.len());
        let text = "agent:\n  guard:\n    signals:\n      learn_for: 0s\n      sudo_groups: [ops]\n      watch_files: []\n      check_interval: 5s\n";
        let cfg = Config::parse(text, "v.yml").unwrap();
        let s = &cfg.agent.guard.unwrap().signals.unwrap().value;
        assert_eq!((s.learn_for_s(), s.check_interval_ms()), (0, 5000));
        assert_eq!(s.sudo_groups(), ["ops"]);
        assert!(s.watch_files().is_empty());
    }

    #[test]
    fn errors_point_at_the_value() {
        assert!(err("      learn_for: 1x\n").starts_with("v.yml:4:18: signals.learn_for: invalid duration"));
        assert_eq!(
            err("      check_interval: 10ms\n"),
            "v.yml:4:23: signals.check_interval: \"10ms\" is shorter than 1s"
        );
        assert_eq!(err("      sudo_groups: ['a:b']\n"), "v.yml:4:21: signals.sudo_groups: \"a:b\" is not a group name");
        assert_eq!(
            err("      watch_files: [etc/passwd]\n"),
            "v.yml:4:21: signals.watch_files: \"etc/passwd\" is not an absolute path"
        );
        assert!(err("      watch: []\n").starts_with("v.yml:4:7: unknown field `watch`"));
    }
}
