//! The `agent.guard:` section: fail2ban-style jails run by the agent. Whether bans reach the firewall (`mode`),
//! which firewall backend, the auth log sources, per-jail overrides of the default jails, a global allow-list
//! and where bans are persisted.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Location;
use vigil_guard::cidr::Cidr;
use vigil_guard::firewall::{CommandAction, CustomCommand};
use vigil_guard::jail::{JailConfig, Matcher};
use vigil_guard::sshd_filter::Mode;

pub use crate::agent_guard_signals::SignalsSection;
use crate::{ConfigError, Located};

/// The file the default sources read when it exists; journald otherwise.
pub const DEFAULT_AUTH_LOG: &str = "/var/log/auth.log";
/// auditd's log, a default source too when it can be read.
pub const DEFAULT_AUDIT_LOG: &str = "/var/log/audit/audit.log";
/// Journal matches of the default journald source: the programs the parsers know.
pub const DEFAULT_JOURNAL_MATCHES: &[&str] = &[
    "SYSLOG_IDENTIFIER=sshd",
    "SYSLOG_IDENTIFIER=sshd-session",
    "SYSLOG_IDENTIFIER=sshd-auth",
    "SYSLOG_IDENTIFIER=sudo",
    "SYSLOG_IDENTIFIER=su",
];
/// Default jails that run unless disabled; the others (`sshd-aggressive`) only when enabled, since they would
/// count the same lines as `sshd` a second time.
pub const JAILS_ON_BY_DEFAULT: &[&str] = &["sshd", "sudo"];
/// The default jail that runs when an `access:` source is configured.
pub const ACCESS_JAIL: &str = "nginx-scan";
/// The nftables table or ipset name when `firewall.table` is absent.
pub const DEFAULT_FIREWALL_TABLE: &str = "vigil";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// `detect` (default: record, count, alert, never touch the firewall) or `ban`.
    pub mode: Option<Located<GuardMode>>,
    pub firewall: Option<Located<FirewallSection>>,
    /// Where to read auth events; `/var/log/auth.log` if it exists, else journald, when absent.
    pub sources: Option<Located<Vec<Located<GuardSource>>>>,
    /// Overrides of the default jails, by name.
    #[serde(default)]
    pub jails: BTreeMap<String, Located<JailOverride>>,
    /// Networks never banned by any jail (CIDRs or bare addresses).
    #[serde(default)]
    pub ignoreip: Vec<Located<String>>,
    /// The ban database and positions (default: the agent's data directory's `guard` subdirectory).
    pub data_dir: Option<String>,
    /// The server's fleet-wide ban list: pulled and applied, and this host's bans reported to it.
    pub fleet: Option<Located<crate::FleetSection>>,
    /// Threat-intel feeds matched against every event.
    pub intel: Option<Located<crate::IntelSection>>,
    /// New-address logins, sudo outside the allowed groups, watched files.
    pub signals: Option<Located<SignalsSection>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    #[default]
    Detect,
    Ban,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirewallBackend {
    Nftables,
    Iptables,
    Command,
}

impl FirewallBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            FirewallBackend::Nftables => "nftables",
            FirewallBackend::Iptables => "iptables",
            FirewallBackend::Command => "command",
        }
    }
}

/// `firewall:`: the ban action of `mode: ban`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallSection {
    pub backend: Located<FirewallBackend>,
    /// The nftables table (and set) or the ipset vigil owns (default `vigil`).
    pub table: Option<Located<String>>,
    /// `backend: command`: the program and arguments that ban; `<ip>`, `<timeout>` (seconds) and `<family>`
    /// (`inet` or `inet6`) are replaced.
    pub ban_command: Option<Located<Vec<String>>>,
    /// `backend: command`: the program and arguments that lift a ban; `<ip>` and `<family>` are replaced.
    pub unban_command: Option<Located<Vec<String>>>,
}

/// One source: `{path: GLOB, format: syslog}`, `{journald: {matches: [...]}}`, `{audit: {path: FILE}}` or
/// `{access: {path: GLOB}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSource {
    pub path: Option<Located<String>>,
    /// Only `syslog` for now (the default).
    pub format: Option<Located<SourceFormat>>,
    pub journald: Option<Located<GuardJournald>>,
    /// auditd's log (`/var/log/audit/audit.log`).
    pub audit: Option<Located<PathSource>>,
    /// nginx or Apache access logs in the combined or common format.
    pub access: Option<Located<PathSource>>,
}

/// `{path: ...}` of an `audit` or `access` source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSource {
    pub path: Located<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    #[default]
    Syslog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardJournald {
    /// Journal matches (`SYSLOG_IDENTIFIER=sshd`); the default ones (sshd, sudo, su) when empty.
    #[serde(default)]
    pub matches: Vec<String>,
    /// The journalctl program (default `journalctl` on `PATH`).
    pub journalctl: Option<String>,
}

/// Overrides of one default jail.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailOverride {
    pub enabled: Option<bool>,
    pub maxretry: Option<Located<u32>>,
    /// A Prometheus duration (`10m`).
    pub findtime: Option<Located<String>>,
    pub bantime: Option<Located<String>>,
    pub bantime_increment: Option<Located<IncrementSection>>,
    /// Added to the global `ignoreip` for this jail.
    #[serde(default)]
    pub ignoreip: Vec<Located<String>>,
    /// sshd jails only: fail2ban's filter mode.
    pub mode: Option<Located<Mode>>,
}

/// `bantime_increment:`: repeated offenders get longer bans.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementSection {
    /// Default 1.
    pub factor: Option<Located<f64>>,
    /// Longest ban (a duration); unbounded when absent.
    pub maxtime: Option<Located<String>>,
    /// Used instead of the doubling formula when given.
    #[serde(default)]
    pub multipliers: Vec<Located<u64>>,
}

impl GuardConfig {
    pub fn mode(&self) -> GuardMode {
        self.mode.as_ref().map_or(GuardMode::Detect, |m| m.value)
    }

    /// The jails to run: the enabled default jails with this section's overrides and allow-lists applied.
    /// Only valid on a validated section (an invalid value keeps the default).
    pub fn jails(&self) -> Vec<JailConfig> {
        let global: Vec<Cidr> = self.ignoreip.iter().filter_map(|c| c.value.parse().ok()).collect();
        let mut out = Vec::new();
        for mut jail in JailConfig::defaults() {
            let over = self.jails.get(&jail.name).map(|o| &o.value);
            let on = JAILS_ON_BY_DEFAULT.contains(&jail.name.as_str())
                || (jail.name == ACCESS_JAIL && self.has_access_source());
            let enabled = over.and_then(|o| o.enabled).unwrap_or(on);
            if !enabled {
                continue;
            }
            jail.ignoreip.extend(global.iter().copied());
            if let Some(o) = over {
                apply_override(&mut jail, o);
            }
            out.push(jail);
        }
        out
    }

    /// Whether an `access:` source is configured (which turns the `nginx-scan` jail on by default).
    pub fn has_access_source(&self) -> bool {
        self.sources.iter().flat_map(|l| &l.value).any(|s| s.value.access.is_some())
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        if let Some(fw) = &self.firewall {
            fw.value.validate(origin)?;
        }
        if let (Some(mode), None) = (&self.mode, &self.firewall) {
            if mode.value == GuardMode::Ban {
                return Err(at(&mode.referenced, "mode: ban needs a firewall: section with a backend".into()));
            }
        }
        if let Some(list) = self.sources.as_ref().filter(|l| l.value.is_empty()) {
            let msg = "sources: empty list (leave sources out for the defaults)".to_string();
            return Err(at(&list.referenced, msg));
        }
        if let Some(s) = &self.signals {
            s.value.validate(origin)?;
        }
        let mut journald_seen = false;
        for source in self.sources.iter().flat_map(|l| &l.value) {
            source.value.validate(origin, &source.referenced)?;
            if let Some(j) = &source.value.journald {
                if journald_seen {
                    return Err(at(&j.referenced, "journald: only one journald source is supported".into()));
                }
                journald_seen = true;
            }
        }
        check_cidrs("ignoreip", &self.ignoreip, origin)?;
        if let Some(f) = &self.fleet {
            f.value.validate(origin)?;
        }
        if let Some(i) = &self.intel {
            i.value.validate(origin)?;
        }
        let defaults = JailConfig::defaults();
        for (name, over) in &self.jails {
            let Some(jail) = defaults.iter().find(|j| &j.name == name) else {
                let known: Vec<&str> = defaults.iter().map(|j| j.name.as_str()).collect();
                let msg = format!("jails: unknown jail {name:?} (known: {})", known.join(", "));
                return Err(at(&over.referenced, msg));
            };
            over.value.validate(jail, origin)?;
        }
        Ok(())
    }
}

impl FirewallSection {
    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        let backend = self.backend.value;
        if let Some(t) = &self.table {
            if backend == FirewallBackend::Command {
                return Err(at(&t.referenced, "firewall.table: not used by the command backend".into()));
            }
            let ok = !t.value.is_empty()
                && t.value.len() <= 32
                && t.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                let msg = format!("firewall.table: {:?} is not 1 to 32 letters, digits, '_' or '-'", t.value);
                return Err(at(&t.referenced, msg));
            }
        }
        for (key, cmd) in [("ban_command", &self.ban_command), ("unban_command", &self.unban_command)] {
            match (backend, cmd) {
                (FirewallBackend::Command, None) => {
                    let msg = format!("firewall: backend command needs {key}");
                    return Err(at(&self.backend.referenced, msg));
                }
                (FirewallBackend::Command, Some(c)) => check_argv(key, c, origin)?,
                (_, Some(c)) => {
                    let msg = format!("firewall.{key}: only used by backend command, not {}", backend.as_str());
                    return Err(at(&c.referenced, msg));
                }
                (_, None) => {}
            }
        }
        if let (Some(ban), Some(unban)) = (&self.ban_command, &self.unban_command) {
            // The placeholders, as the command backend reads them.
            let action = CommandAction { ban: ban.value.clone(), unban: unban.value.clone() };
            if let Err(e) = CustomCommand::new(action) {
                return Err(at(&self.backend.referenced, e.to_string()));
            }
        }
        Ok(())
    }

    pub fn table(&self) -> &str {
        self.table.as_ref().map_or(DEFAULT_FIREWALL_TABLE, |t| t.value.as_str())
    }
}

/// A command's argv: a program and arguments, one of which holds `<ip>`.
fn check_argv(key: &str, cmd: &Located<Vec<String>>, origin: &str) -> Result<(), ConfigError> {
    let at = |msg: String| ConfigError::at(origin, &cmd.referenced, format!("firewall.{key}: {msg}"));
    match cmd.value.first() {
        None => return Err(at("no program given".into())),
        Some(p) if p.trim().is_empty() => return Err(at("empty program name".into())),
        Some(_) => {}
    }
    if !cmd.value.iter().skip(1).any(|a| a.contains("<ip>")) {
        return Err(at("no argument holds <ip>, the address to act on".into()));
    }
    Ok(())
}

impl GuardSource {
    fn validate(&self, origin: &str, here: &Location) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        let kinds = [
            self.path.as_ref().map(|p| &p.referenced),
            self.journald.as_ref().map(|j| &j.referenced),
            self.audit.as_ref().map(|a| &a.referenced),
            self.access.as_ref().map(|a| &a.referenced),
        ];
        let mut given = kinds.iter().flatten();
        let Some(_) = given.next() else {
            return Err(at(here, "a source needs path, journald, audit or access".into()));
        };
        if let Some(second) = given.next() {
            return Err(at(second, "a source has one of path, journald, audit or access, not several".into()));
        }
        if let (Some(f), None) = (&self.format, &self.path) {
            return Err(at(&f.referenced, "format: only for path sources".into()));
        }
        if let Some(p) = &self.path {
            check_glob("path", p, origin)?;
        }
        if let Some(a) = &self.access {
            check_glob("access.path", &a.value.path, origin)?;
        }
        if let Some(a) = &self.audit {
            let p = &a.value.path;
            if p.value.is_empty() {
                return Err(at(&p.referenced, "audit.path: empty path".into()));
            }
            if p.value.contains(['*', '?', '[']) {
                let msg = "audit.path: one file, not a glob (auditd rotates to .1, .2, ...)";
                return Err(at(&p.referenced, msg.into()));
            }
        }
        Ok(())
    }
}

fn check_glob(key: &str, p: &Located<String>, origin: &str) -> Result<(), ConfigError> {
    let origin_free = |msg: String| ConfigError::at(origin, &p.referenced, msg);
    if p.value.is_empty() {
        return Err(origin_free(format!("{key}: empty glob")));
    }
    glob::Pattern::new(&p.value)
        .map(|_| ())
        .map_err(|e| origin_free(format!("{key}: invalid glob {:?}: {}", p.value, e.msg)))
}

impl JailOverride {
    fn validate(&self, jail: &JailConfig, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        let name = &jail.name;
        if let Some(n) = self.maxretry.as_ref().filter(|n| n.value == 0) {
            return Err(at(&n.referenced, format!("jails.{name}.maxretry: must be at least 1")));
        }
        for (key, v) in [("findtime", &self.findtime), ("bantime", &self.bantime)] {
            if let Some(v) = v {
                seconds(&v.value).map_err(|e| at(&v.referenced, format!("jails.{name}.{key}: {e}")))?;
            }
        }
        if let Some(inc) = &self.bantime_increment {
            let inc = &inc.value;
            if let Some(f) = &inc.factor {
                if !(f.value.is_finite() && f.value > 0.0) {
                    let msg = format!("jails.{name}.bantime_increment.factor: {} is not a positive number", f.value);
                    return Err(at(&f.referenced, msg));
                }
            }
            if let Some(m) = &inc.maxtime {
                seconds(&m.value)
                    .map_err(|e| at(&m.referenced, format!("jails.{name}.bantime_increment.maxtime: {e}")))?;
            }
            if let Some(m) = inc.multipliers.iter().find(|m| m.value == 0) {
                return Err(at(&m.referenced, format!("jails.{name}.bantime_increment.multipliers: 0 is not allowed")));
            }
        }
        check_cidrs(&format!("jails.{name}.ignoreip"), &self.ignoreip, origin)?;
        if let Some(m) = &self.mode {
            if !matches!(jail.matcher, Matcher::Sshd { .. }) {
                return Err(at(&m.referenced, format!("jails.{name}.mode: only sshd jails have a mode")));
            }
        }
        Ok(())
    }
}

fn apply_override(jail: &mut JailConfig, o: &JailOverride) {
    if let Some(n) = &o.maxretry {
        jail.maxretry = n.value;
    }
    if let Some(s) = o.findtime.as_ref().and_then(|v| seconds(&v.value).ok()) {
        jail.findtime_s = s;
    }
    if let Some(s) = o.bantime.as_ref().and_then(|v| seconds(&v.value).ok()) {
        jail.bantime_s = s;
    }
    if let Some(inc) = &o.bantime_increment {
        let inc = &inc.value;
        let mut out = vigil_guard::jail::Increment::default();
        if let Some(f) = &inc.factor {
            out.factor = f.value;
        }
        out.maxtime_s = inc.maxtime.as_ref().and_then(|m| seconds(&m.value).ok());
        out.multipliers = inc.multipliers.iter().map(|m| m.value).collect();
        jail.increment = Some(out);
    }
    jail.ignoreip.extend(o.ignoreip.iter().filter_map(|c| c.value.parse::<Cidr>().ok()));
    if let (Some(m), Matcher::Sshd { mode }) = (&o.mode, &mut jail.matcher) {
        *mode = m.value;
    }
}

fn check_cidrs(key: &str, list: &[Located<String>], origin: &str) -> Result<(), ConfigError> {
    for c in list {
        c.value.parse::<Cidr>().map_err(|e| ConfigError::at(origin, &c.referenced, format!("{key}: {e}")))?;
    }
    Ok(())
}

/// A Prometheus duration in whole seconds, at least one.
fn seconds(text: &str) -> Result<i64, String> {
    let ms = vigil_model::time::parse_duration(text)?;
    if ms < 1000 {
        return Err(format!("{text:?} is shorter than 1s"));
    }
    Ok(ms / 1000)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    use super::*;

    fn guard(body: &str) -> GuardConfig {
        let text = format!("agent:\n  guard:\n{body}");
        Config::parse(&text, "v.yml").unwrap_or_else(|e| panic!("{e}")).agent.guard.unwrap()
    }

    fn err(body: &str) -> String {
        Config::parse(&format!("agent:\n  guard:\n{body}"), "v.yml").unwrap_err().to_string()
    }

    #[test]
    fn reads_every_key() {
        let g = guard(
            "    mode: ban\n    data_dir: /var/lib/vigil/guard\n    firewall:\n      backend: nftables\n      table: vg\n    sources:\n      - {path: /var/log/auth.log*, format: syslog}\n      - journald: {matches: [SYSLOG_IDENTIFIER=sshd], journalctl: /bin/jc}\n    ignoreip: [10.0.0.0/8, '2001:db8::1']\n    jails:\n      sshd:\n        maxretry: 3\n        findtime: 5m\n        bantime: 1h\n        bantime_increment: {factor: 2, maxtime: 1w, multipliers: [1, 2, 4]}\n        ignoreip: [192.0.2.0/24]\n        mode: aggressive\n      sudo: {enabled: false}\n      sshd-aggressive: {enabled: true}\n",
        );
        assert_eq!(g.mode(), GuardMode::Ban);
        assert_eq!(g.data_dir.as_deref(), Some("/var/lib/vigil/guard"));
        let fw = &g.firewall.as_ref().unwrap().value;
        assert_eq!((fw.backend.value, fw.table()), (FirewallBackend::Nftables, "vg"));
        let sources = &g.sources.as_ref().unwrap().value;
        assert_eq!(sources[0].value.path.as_ref().unwrap().value, "/var/log/auth.log*");
        let j = &sources[1].value.journald.as_ref().unwrap().value;
        assert_eq!(
            (j.matches.as_slice(), j.journalctl.as_deref()),
            (&["SYSLOG_IDENTIFIER=sshd".to_string()][..], Some("/bin/jc"))
        );
        let jails = g.jails();
        let names: Vec<&str> = jails.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["sshd", "sshd-aggressive"]);
        let sshd = &jails[0];
        assert_eq!((sshd.maxretry, sshd.findtime_s, sshd.bantime_s), (3, 300, 3600));
        assert_eq!(sshd.matcher, Matcher::Sshd { mode: Mode::Aggressive });
        let inc = sshd.increment.as_ref().unwrap();
        assert_eq!((inc.factor, inc.maxtime_s, inc.multipliers.as_slice()), (2.0, Some(7 * 86_400), &[1, 2, 4][..]));
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        for (addr, ignored) in [
            ("10.1.2.3", true),
            ("2001:db8::1", true),
            ("192.0.2.9", true),
            ("127.0.0.1", true),
            ("198.51.100.1", false),
        ] {
            assert_eq!(sshd.ignoreip.iter().any(|c| c.contains(ip(addr))), ignored, "{addr}");
        }
        // The other jail gets the global allow-list, not sshd's own.
        assert!(jails[1].ignoreip.iter().any(|c| c.contains(ip("10.1.2.3"))));
        assert!(!jails[1].ignoreip.iter().any(|c| c.contains(ip("192.0.2.9"))));

        let g = guard("    firewall:\n      backend: command\n      ban_command: [/usr/local/bin/ban, '<ip>', '<timeout>']\n      unban_command: [/usr/local/bin/unban, '<ip>']\n");
        let fw = &g.firewall.as_ref().unwrap().value;
        assert_eq!(fw.ban_command.as_ref().unwrap().value.len(), 3);
        assert_eq!(g.mode(), GuardMode::Detect);
    }

    #[test]
    fn defaults() {
        let g = guard("    {}\n");
        assert_eq!(g.mode(), GuardMode::Detect);
        assert!(g.sources.is_none() && g.firewall.is_none() && g.data_dir.is_none());
        let names: Vec<String> = g.jails().into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["sshd", "sudo"]);
        assert_eq!(g.jails()[0], JailConfig::sshd(Mode::Normal));
    }

    #[test]
    fn audit_and_access_sources() {
        let g = guard("    sources:\n      - audit: {path: /var/log/audit/audit.log}\n      - access: {path: '/var/log/nginx/*access.log'}\n");
        let sources = &g.sources.as_ref().unwrap().value;
        assert_eq!(sources[0].value.audit.as_ref().unwrap().value.path.value, "/var/log/audit/audit.log");
        assert_eq!(sources[1].value.access.as_ref().unwrap().value.path.value, "/var/log/nginx/*access.log");
        // An access source turns the nginx-scan jail on, unless it is disabled.
        let names: Vec<String> = g.jails().into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["sshd", "sudo", "nginx-scan"]);
        let g = guard("    sources: [{access: {path: /a.log}}]\n    jails:\n      nginx-scan: {enabled: false}\n");
        assert_eq!(g.jails().len(), 2);
        assert_eq!(
            err("    sources: [{audit: {path: '/var/log/audit/*'}}]\n"),
            "v.yml:3:30: audit.path: one file, not a glob (auditd rotates to .1, .2, ...)"
        );
        assert_eq!(
            err("    sources: [{access: {path: '/a/['}}]\n"),
            "v.yml:3:31: access.path: invalid glob \"/a/[\": invalid range pattern"
        );
        assert_eq!(
            err("    sources: [{path: /a, access: {path: /b}}]\n"),
            "v.yml:3:34: a source has one of path, journald, audit or access, not several"
        );
        assert_eq!(
            err("    sources: [{audit: {path: /a}, format: syslog}]\n"),
            "v.yml:3:43: format: only for path sources"
        );
        assert!(err("    sources: [{access: {}}]\n").contains("missing field `path`"));
    }

    #[test]
    fn errors_point_at_the_value() {
        assert_eq!(err("    mode: ban\n"), "v.yml:3:11: mode: ban needs a firewall: section with a backend");
        assert!(
            err("    mode: block\n").starts_with("v.yml:3:11: unknown variant `block`"),
            "{}",
            err("    mode: block\n")
        );
        assert!(err("    firewall: {backend: pf}\n").starts_with("v.yml:3:25: unknown variant `pf`"));
        assert_eq!(
            err("    firewall: {backend: nftables, table: 'a b'}\n"),
            "v.yml:3:42: firewall.table: \"a b\" is not 1 to 32 letters, digits, '_' or '-'"
        );
        assert_eq!(
            err("    firewall: {backend: command}\n"),
            "v.yml:3:25: firewall: backend command needs ban_command"
        );
        assert_eq!(
            err("    firewall: {backend: command, ban_command: [x, y], unban_command: [x, '<ip>']}\n"),
            "v.yml:3:47: firewall.ban_command: no argument holds <ip>, the address to act on"
        );
        assert_eq!(
            err("    firewall: {backend: command, ban_command: [], unban_command: [x, '<ip>']}\n"),
            "v.yml:3:47: firewall.ban_command: no program given"
        );
        assert_eq!(
            err("    firewall: {backend: iptables, ban_command: [x, '<ip>']}\n"),
            "v.yml:3:48: firewall.ban_command: only used by backend command, not iptables"
        );
        assert_eq!(
            err("    firewall: {backend: command, table: t, ban_command: [x, '<ip>'], unban_command: [x, '<ip>']}\n"),
            "v.yml:3:41: firewall.table: not used by the command backend"
        );
        assert_eq!(err("    sources: []\n"), "v.yml:3:14: sources: empty list (leave sources out for the defaults)");
        assert_eq!(
            err("    sources: [{format: syslog}]\n"),
            "v.yml:3:15: a source needs path, journald, audit or access"
        );
        assert_eq!(
            err("    sources: [{path: '/a/['}]\n"),
            "v.yml:3:22: path: invalid glob \"/a/[\": invalid range pattern"
        );
        assert_eq!(
            err("    sources: [{path: /a, journald: {}}]\n"),
            "v.yml:3:36: a source has one of path, journald, audit or access, not several"
        );
        assert_eq!(err("    sources: [{journald: {}, format: syslog}]\n"), "v.yml:3:38: format: only for path sources");
        assert!(err("    sources: [{path: /a, format: json}]\n").starts_with("v.yml:3:34: unknown variant `json`"));
        assert_eq!(
            err("    sources: [{journald: {}}, {journald: {}}]\n"),
            "v.yml:3:42: journald: only one journald source is supported"
        );
        assert_eq!(
            err("    ignoreip: [10.0.0.0/33]\n"),
            "v.yml:3:16: ignoreip: invalid prefix length in network \"10.0.0.0/33\""
        );
        assert_eq!(
            err("    jails:\n      nginx: {maxretry: 3}\n"),
            "v.yml:4:14: jails: unknown jail \"nginx\" (known: sshd, sshd-aggressive, sudo, nginx-scan)"
        );
        assert_eq!(
            err("    jails:\n      sshd: {maxretry: 0}\n"),
            "v.yml:4:24: jails.sshd.maxretry: must be at least 1"
        );
        assert_eq!(
            err("    jails:\n      sshd: {findtime: 10x}\n"),
            "v.yml:4:24: jails.sshd.findtime: invalid duration \"10x\": unknown unit \"x\" (use y, w, d, h, m, s or ms)"
        );
        assert_eq!(
            err("    jails:\n      sshd: {bantime: 500ms}\n"),
            "v.yml:4:23: jails.sshd.bantime: \"500ms\" is shorter than 1s"
        );
        assert_eq!(
            err("    jails:\n      sshd: {bantime_increment: {factor: -1}}\n"),
            "v.yml:4:42: jails.sshd.bantime_increment.factor: -1 is not a positive number"
        );
        assert!(err("    jails:\n      sshd: {bantime_increment: {maxtime: x}}\n")
            .starts_with("v.yml:4:43: jails.sshd.bantime_increment.maxtime:"));
        assert_eq!(
            err("    jails:\n      sshd: {bantime_increment: {multipliers: [1, 0]}}\n"),
            "v.yml:4:51: jails.sshd.bantime_increment.multipliers: 0 is not allowed"
        );
        assert_eq!(
            err("    jails:\n      sudo: {ignoreip: [nope]}\n"),
            "v.yml:4:25: jails.sudo.ignoreip: invalid address in network \"nope\""
        );
        assert_eq!(
            err("    jails:\n      sudo: {mode: ddos}\n"),
            "v.yml:4:20: jails.sudo.mode: only sshd jails have a mode"
        );
        assert!(err("    jails:\n      sshd: {mode: loud}\n").starts_with("v.yml:4:20: unknown variant `loud`"));
        assert!(err("    colour: red\n").starts_with("v.yml:3:5: unknown field `colour`"));
        assert!(err("    jails:\n      sshd: {maxretries: 3}\n").starts_with("v.yml:4:14: unknown field `maxretries`"));
    }
}
