//! The guard's settings, resolved from `agent.guard:`: the jails with their overrides, the sources (or the
//! defaults this host has), the firewall backend, and where the ban database lives; and `build_firewall`,
//! which turns the backend setting into a `Firewall`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_config::{
    FirewallBackend, GuardConfig, GuardMode, DEFAULT_AUDIT_LOG, DEFAULT_AUTH_LOG, DEFAULT_JOURNAL_MATCHES,
};
use vigil_guard::cidr::Cidr;
use vigil_guard::firewall::{Backend, BackendOptions, CommandAction, Firewall, IptOptions, NftOptions};
use vigil_guard::jail::JailConfig;

use super::fleet_sync::FleetSettings;
use super::intel::IntelSettings;
use super::signals::SignalSettings;

/// Everything the guard needs.
#[derive(Clone, Debug)]
pub struct GuardSettings {
    pub firewall: FirewallSettings,
    pub sources: Vec<GuardSource>,
    pub jails: Vec<JailConfig>,
    /// Holds `guard.db` and the positions file.
    pub data_dir: PathBuf,
    /// The `host` label of the security stream.
    pub host: String,
    /// How often the sources are read.
    pub poll_interval: Duration,
    /// `fleet:`: the server's ban list pulled and applied, local bans reported.
    pub fleet: Option<FleetSettings>,
    /// `intel:`: threat-intel feeds.
    pub intel: Option<IntelSettings>,
    /// New-address logins, sudo outside the groups, watched files.
    pub signals: SignalSettings,
    /// The host's root as the agent sees it (`agent.paths.rootfs`): account files and watched files are
    /// read under it.
    pub rootfs: PathBuf,
}

/// Where bans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirewallSettings {
    /// `mode: detect`: nothing touches the firewall.
    Detect,
    Nftables {
        table: String,
    },
    Iptables {
        table: String,
    },
    Command {
        ban: Vec<String>,
        unban: Vec<String>,
    },
}

impl FirewallSettings {
    pub fn backend_name(&self) -> &'static str {
        match self {
            FirewallSettings::Detect => "detect",
            FirewallSettings::Nftables { .. } => "nftables",
            FirewallSettings::Iptables { .. } => "iptables",
            FirewallSettings::Command { .. } => "command",
        }
    }
}

/// One place auth events are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardSource {
    /// Syslog-format files matching these globs.
    Files { include: Vec<String> },
    /// `journalctl` with these matches.
    Journald { matches: Vec<String>, program: PathBuf },
    /// auditd's log.
    Audit { path: PathBuf },
    /// nginx or Apache access logs matching these globs.
    Access { include: Vec<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum GuardSettingsError {
    #[error("agent.guard: no sources configured, and neither {DEFAULT_AUTH_LOG} nor journald is available")]
    NoSource,
}

/// A firewall backend whose settings cannot work.
#[derive(Debug, thiserror::Error)]
#[error("agent.guard: firewall backend {backend}: {reason}")]
pub struct FirewallUnavailable {
    pub backend: &'static str,
    pub reason: String,
}

/// Where the default sources look; a struct so that tests can point it at a temporary directory.
#[derive(Clone, Debug)]
pub struct SourceDefaults {
    pub auth_log: PathBuf,
    /// Read too when it can be opened (auditd's log is root's only).
    pub audit_log: PathBuf,
    /// journald is taken to be available when one of these exists and `journalctl` is on `PATH`.
    pub journal_dirs: Vec<PathBuf>,
}

impl Default for SourceDefaults {
    fn default() -> Self {
        SourceDefaults {
            auth_log: DEFAULT_AUTH_LOG.into(),
            audit_log: DEFAULT_AUDIT_LOG.into(),
            journal_dirs: vec!["/var/log/journal".into(), "/run/log/journal".into()],
        }
    }
}

impl SourceDefaults {
    /// `auth_log` if it can be opened, else journald (sshd, sudo, su) if available; and `audit_log` when it
    /// can be opened.
    pub fn sources(&self) -> Option<Vec<GuardSource>> {
        let mut out = self.auth_sources().unwrap_or_default();
        if std::fs::File::open(&self.audit_log).is_ok() {
            out.push(GuardSource::Audit { path: self.audit_log.clone() });
        }
        (!out.is_empty()).then_some(out)
    }

    fn auth_sources(&self) -> Option<Vec<GuardSource>> {
        if std::fs::File::open(&self.auth_log).is_ok() {
            return Some(vec![GuardSource::Files { include: vec![self.auth_log.to_string_lossy().into_owned()] }]);
        }
        let journal = self.journal_dirs.iter().any(|d| std::fs::read_dir(d).is_ok()) && on_path("journalctl");
        journal.then(|| {
            vec![GuardSource::Journald {
                matches: DEFAULT_JOURNAL_MATCHES.iter().map(|m| m.to_string()).collect(),
                program: "journalctl".into(),
            }]
        })
    }
}

impl GuardSettings {
    /// Settings from a validated section. `default_data_dir` is used without `data_dir`; `defaults` gives the
    /// sources when the section names none.
    pub fn from_config(
        cfg: &GuardConfig,
        default_data_dir: &Path,
        host: &str,
        defaults: &SourceDefaults,
    ) -> Result<GuardSettings, GuardSettingsError> {
        let firewall = match (cfg.mode(), &cfg.firewall) {
            (GuardMode::Detect, _) | (GuardMode::Ban, None) => FirewallSettings::Detect,
            (GuardMode::Ban, Some(fw)) => {
                let fw = &fw.value;
                match fw.backend.value {
                    FirewallBackend::Nftables => FirewallSettings::Nftables { table: fw.table().to_owned() },
                    FirewallBackend::Iptables => FirewallSettings::Iptables { table: fw.table().to_owned() },
                    FirewallBackend::Command => FirewallSettings::Command {
                        ban: fw.ban_command.as_ref().map(|c| c.value.clone()).unwrap_or_default(),
                        unban: fw.unban_command.as_ref().map(|c| c.value.clone()).unwrap_or_default(),
                    },
                }
            }
        };
        let sources = match &cfg.sources {
            Some(list) => list
                .value
                .iter()
                .map(|s| match (&s.value.path, &s.value.journald) {
                    _ if s.value.audit.is_some() || s.value.access.is_some() => path_source(&s.value),
                    (Some(p), _) => GuardSource::Files { include: vec![p.value.clone()] },
                    (None, j) => {
                        let j = j.as_ref().map(|j| &j.value);
                        let matches = j
                            .map(|j| j.matches.clone())
                            .filter(|m| !m.is_empty())
                            .unwrap_or_else(|| DEFAULT_JOURNAL_MATCHES.iter().map(|m| m.to_string()).collect());
                        let program = j.and_then(|j| j.journalctl.clone()).unwrap_or_else(|| "journalctl".into());
                        GuardSource::Journald { matches, program: program.into() }
                    }
                })
                .collect(),
            None => defaults.sources().ok_or(GuardSettingsError::NoSource)?,
        };
        let data_dir = cfg.data_dir.as_ref().map_or_else(|| default_data_dir.to_path_buf(), PathBuf::from);
        // The global allow-list, loopback included, wins over fleet bans and threat-intel matches too.
        let mut allow: Vec<Cidr> = vigil_config::default_ignoreip();
        allow.extend(cfg.ignoreip.iter().filter_map(|c| c.value.parse::<Cidr>().ok()));
        Ok(GuardSettings {
            firewall,
            sources,
            jails: cfg.jails(),
            data_dir,
            host: host.to_owned(),
            poll_interval: Duration::from_millis(250),
            fleet: cfg.fleet.as_ref().map(|f| FleetSettings::from_config(&f.value, allow.clone())),
            intel: cfg.intel.as_ref().map(|i| IntelSettings::from_config(&i.value, allow.clone())),
            signals: SignalSettings::from_config(cfg.signals.as_ref().map(|s| &s.value)),
            rootfs: "/".into(),
        })
    }
}

/// An `audit:` or `access:` source (the caller checked that it is one).
fn path_source(s: &vigil_config::GuardSource) -> GuardSource {
    match (&s.audit, &s.access) {
        (Some(a), _) => GuardSource::Audit { path: a.value.path.value.clone().into() },
        (None, a) => GuardSource::Access { include: a.iter().map(|a| a.value.path.value.clone()).collect() },
    }
}

/// The ban action `settings` name, checked (names, programs, placeholders) but not yet run: `prepare` is the
/// first thing that touches the firewall.
pub fn build_firewall(settings: &FirewallSettings) -> Result<Box<dyn Firewall>, FirewallUnavailable> {
    let options = match settings {
        FirewallSettings::Detect => BackendOptions::Detect,
        FirewallSettings::Nftables { table } => {
            BackendOptions::Nftables(NftOptions { table: table.clone(), ..NftOptions::default() })
        }
        FirewallSettings::Iptables { table } => BackendOptions::Iptables(IptOptions {
            set_v4: format!("{table}-v4"),
            set_v6: format!("{table}-v6"),
            ..IptOptions::default()
        }),
        FirewallSettings::Command { ban, unban } => {
            BackendOptions::Command(CommandAction { ban: ban.clone(), unban: unban.clone() })
        }
    };
    match Backend::from_options(options) {
        Ok(backend) => Ok(Box::new(backend)),
        Err(e) => Err(FirewallUnavailable { backend: settings.backend_name(), reason: e.to_string() }),
    }
}

fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(body: &str) -> GuardConfig {
        let text = format!("agent:\n  guard:\n{body}");
        vigil_config::Config::parse(&text, "v.yml").unwrap().agent.guard.unwrap()
    }

    #[test]
    fn default_sources_prefer_the_auth_log() {
        let dir = tempfile::tempdir().unwrap();
        let defaults = SourceDefaults {
            auth_log: dir.path().join("auth.log"),
            audit_log: dir.path().join("audit.log"),
            journal_dirs: vec![dir.path().join("journal")],
        };
        let cfg = guard("    {}\n");
        let err = GuardSettings::from_config(&cfg, dir.path(), "h", &defaults).unwrap_err();
        assert!(err.to_string().contains("no sources configured"), "{err}");
        std::fs::write(dir.path().join("auth.log"), "").unwrap();
        let s = GuardSettings::from_config(&cfg, dir.path(), "h", &defaults).unwrap();
        let want = dir.path().join("auth.log").to_string_lossy().into_owned();
        assert_eq!(s.sources, [GuardSource::Files { include: vec![want] }]);
        assert_eq!((s.firewall.clone(), s.data_dir.as_path()), (FirewallSettings::Detect, dir.path()));
        assert_eq!(s.jails.len(), 2);
        std::fs::write(dir.path().join("audit.log"), "").unwrap();
        let s = GuardSettings::from_config(&cfg, dir.path(), "h", &defaults).unwrap();
        assert_eq!(s.sources[1], GuardSource::Audit { path: dir.path().join("audit.log") });
        std::fs::remove_file(dir.path().join("auth.log")).unwrap();
        let s = GuardSettings::from_config(&cfg, dir.path(), "h", &defaults).unwrap();
        assert_eq!(s.sources, [GuardSource::Audit { path: dir.path().join("audit.log") }]);
    }

    #[test]
    fn audit_and_access_sources_and_signals() {
        let cfg = guard("    sources: [{audit: {path: /a/audit.log}}, {access: {path: '/n/*.log'}}]\n    signals: {learn_for: 1h, watch_files: []}\n");
        let s = GuardSettings::from_config(&cfg, Path::new("/d"), "h", &SourceDefaults::default()).unwrap();
        assert_eq!(
            s.sources,
            [
                GuardSource::Audit { path: "/a/audit.log".into() },
                GuardSource::Access { include: vec!["/n/*.log".into()] }
            ]
        );
        assert_eq!(s.jails.last().map(|j| j.name.as_str()), Some("nginx-scan"));
        assert_eq!((s.signals.learn_for_s, s.signals.watch_files.len()), (3600, 0));
        assert_eq!(s.signals.sudo_groups, ["sudo", "wheel", "admin", "root"]);
    }

    #[test]
    fn ban_mode_picks_the_backend_and_detect_mode_ignores_it() {
        let defaults = SourceDefaults::default();
        let src = "    sources: [{journald: {}}]\n    data_dir: /x\n";
        let s = guard(&format!("{src}    mode: ban\n    firewall: {{backend: nftables}}\n"));
        let s = GuardSettings::from_config(&s, Path::new("/d"), "h", &defaults).unwrap();
        assert_eq!(s.firewall, FirewallSettings::Nftables { table: "vigil".into() });
        assert_eq!(s.data_dir, Path::new("/x"));
        let GuardSource::Journald { matches, program } = &s.sources[0] else { panic!("{:?}", s.sources) };
        assert_eq!((matches.len(), program.as_path()), (DEFAULT_JOURNAL_MATCHES.len(), Path::new("journalctl")));
        assert_eq!(build_firewall(&s.firewall).unwrap().name(), "nftables");
        let bad = FirewallSettings::Nftables { table: "vigil; flush ruleset".into() };
        let err = build_firewall(&bad).err().unwrap().to_string();
        assert!(err.starts_with("agent.guard: firewall backend nftables: firewall nftables table"), "{err}");
        let cmd = |ban: &[&str]| FirewallSettings::Command {
            ban: ban.iter().map(|a| a.to_string()).collect(),
            unban: vec!["/bin/unban".into(), "<ip>".into()],
        };
        assert_eq!(build_firewall(&cmd(&["/bin/ban", "<ip>", "<timeout>"])).unwrap().name(), "command");
        assert!(build_firewall(&cmd(&["/bin/ban", "<address>"])).is_err());
        let ipt = FirewallSettings::Iptables { table: "vigil".into() };
        assert_eq!(build_firewall(&ipt).unwrap().name(), "iptables");
        let s = guard(&format!("{src}    firewall: {{backend: iptables}}\n"));
        let s = GuardSettings::from_config(&s, Path::new("/d"), "h", &defaults).unwrap();
        assert_eq!(s.firewall, FirewallSettings::Detect);
        assert_eq!(build_firewall(&s.firewall).unwrap().name(), "detect");
    }
}
