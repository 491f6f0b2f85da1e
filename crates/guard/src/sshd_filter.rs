//! fail2ban's sshd filter on parsed events: which lines are failures in each mode, and the per-connection
//! memory (fail2ban's "mlfid") that gives address-less lines their connection's address.
//!
//! fail2ban keys a connection by the syslog prefix (`host sshd[pid]`) and keeps, per connection, the last
//! address seen, the users tried and whether a failure is waiting for an address. A "no-fail" line
//! (`Connection from ADDR`, a failed public key of a valid user, PAM's own report) only teaches the address;
//! it turns into a failure when the connection already had a failure pending or tried a second user name.
//! `Accepted ...` forgives the connection unless it tried several users. Lines that end a connection
//! (`Connection closed`, `Received disconnect`) make fail2ban forget it. [`SshdFilter::observe`] follows
//! `fail2ban/server/filter.py` (`_mergeFailure`, `findFailure`) of fail2ban 1.0.2.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;

use crate::event::{Action, Event, Outcome};

/// fail2ban's `mode` parameter of the sshd filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Authentication failures.
    #[default]
    Normal,
    /// Normal plus connections that never got past the banner or closed before authenticating.
    Ddos,
    /// Normal plus negotiation failures and disconnects of authenticating users.
    Extra,
    /// All of the above.
    Aggressive,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Ddos => "ddos",
            Mode::Extra => "extra",
            Mode::Aggressive => "aggressive",
        }
    }
}

/// How fail2ban's filter treats one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub kind: Kind,
    /// The line ends the connection: its memory is dropped after this line.
    pub forget: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A failure (once the connection's address is known).
    Fail,
    /// Not a failure by itself; teaches the connection's address and users.
    NoFail,
    /// A successful login.
    Gained,
}

/// The class of `ev` in `mode`; `None` when the sshd filter does not match the line at all.
pub fn classify(ev: &Event<'_>, mode: Mode) -> Option<Class> {
    use Action::*;
    let c = |kind, forget| Some(Class { kind, forget });
    let ddos = matches!(mode, Mode::Ddos | Mode::Aggressive);
    let extra = matches!(mode, Mode::Extra | Mode::Aggressive);
    match ev.action {
        SshLogin if ev.outcome == Outcome::Success => c(Kind::Gained, true),
        // fail2ban's default `publickey = nofail`: a valid user trying several keys is not an attack.
        SshLogin if ev.ssh_method == Some("publickey") && !ev.user_invalid => c(Kind::NoFail, false),
        SshLogin | SshInvalidUser | SshUserNotAllowed | SshRootLoginRefused | SshRefusedConnect | SshPamFailure
        | SshTooManyFailures => c(Kind::Fail, false),
        SshAuthFailDisconnect | SshChangeOfUser => c(Kind::Fail, true),
        SshDisconnectReceived => c(Kind::NoFail, true),
        SshNoAuthMethods if extra => c(Kind::Fail, true),
        SshConnectionClosed | SshDisconnected if ddos => c(if ev.preauth { Kind::Fail } else { Kind::NoFail }, true),
        SshDisconnected if mode == Mode::Extra => {
            (ev.preauth && ev.user_name.is_some()).then_some(Class { kind: Kind::Fail, forget: true })
        }
        SshConnectionClosed | SshDisconnected if mode == Mode::Normal => c(Kind::NoFail, true),
        SshConnection => c(Kind::NoFail, false),
        SshNoIdentification if ddos => c(Kind::Fail, false),
        SshSocketReset if ddos => c(Kind::Fail, true),
        SshNegotiationFailed if extra => c(Kind::Fail, false),
        PamAuthFailure if ev.process_name.is_some_and(crate::parse::is_sshd) && ev.source_address.is_some() => {
            c(Kind::NoFail, false)
        }
        _ => None,
    }
}

/// Where a failure came from: an IP address, or a host name when sshd logged one (`UseDNS yes`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Ip(IpAddr),
    Name(Box<str>),
}

impl Source {
    fn of(ev: &Event<'_>) -> Option<Source> {
        match (ev.source_ip, ev.source_address) {
            (Some(ip), _) => Some(Source::Ip(ip)),
            (None, Some(name)) => Some(Source::Name(name.into())),
            (None, None) => None,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Source::Ip(ip) => Some(*ip),
            Source::Name(_) => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ip(ip) => ip.fmt(f),
            Source::Name(n) => f.write_str(n),
        }
    }
}

/// Limits of the per-connection memory.
#[derive(Clone, Copy, Debug)]
pub struct FilterLimits {
    /// Connections remembered at most; beyond, the oldest are dropped.
    pub max_connections: usize,
    /// A connection silent for longer is forgotten (seconds).
    pub max_age_s: i64,
}

impl Default for FilterLimits {
    fn default() -> Self {
        // fail2ban keeps 100 connections for 5 minutes; a busy server has more in flight.
        FilterLimits { max_connections: 10_000, max_age_s: 300 }
    }
}

#[derive(Clone, Debug)]
struct Conn {
    source: Option<Source>,
    first_user: Option<u64>,
    several_users: bool,
    nofail: bool,
    pending: bool,
    last_seen: i64,
}

/// fail2ban's sshd filter with its connection memory, for one mode.
#[derive(Debug)]
pub struct SshdFilter {
    mode: Mode,
    limits: FilterLimits,
    conns: HashMap<u64, Conn, BuildHasherDefault<KeyHasher>>,
    hasher: RandomState,
}

/// The connection map's keys are already keyed SipHash values: hashing them again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl SshdFilter {
    pub fn new(mode: Mode) -> SshdFilter {
        SshdFilter::with_limits(mode, FilterLimits::default())
    }

    pub fn with_limits(mode: Mode, limits: FilterLimits) -> SshdFilter {
        SshdFilter { mode, limits, conns: HashMap::default(), hasher: RandomState::new() }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Connections currently remembered.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Feeds one event seen at `now` (Unix seconds); returns the failure's source when the line is one.
    pub fn observe(&mut self, ev: &Event<'_>, now: i64) -> Option<Source> {
        let class = classify(ev, self.mode)?;
        let key = self.conn_key(ev);
        let user = ev.user_name.filter(|u| !u.is_empty()).map(|u| self.hasher.hash_one(u));
        let mut nofail = class.kind != Kind::Fail;
        let source = Source::of(ev);
        if let Some(st) = self.conns.get_mut(&key) {
            match (st.first_user, user) {
                (None, Some(u)) => st.first_user = Some(u),
                (Some(f), Some(u)) if f != u => st.several_users = true,
                _ => {}
            }
            if class.kind == Kind::Gained {
                st.pending = false;
            }
            if source.is_some() {
                st.source = source;
            }
            st.nofail = nofail;
            st.last_seen = now;
            if std::mem::take(&mut st.pending) || st.several_users {
                nofail = false;
                st.nofail = false;
            }
            let found = st.source.clone();
            if !nofail && found.is_none() && !class.forget {
                st.pending = true;
            }
            if class.forget {
                self.conns.remove(&key);
            }
            return if nofail { None } else { found };
        }
        if class.forget {
            return if nofail { None } else { source };
        }
        self.make_room(now);
        let pending = !nofail && source.is_none();
        let found = if nofail { None } else { source.clone() };
        self.conns
            .insert(key, Conn { source, first_user: user, several_users: false, nofail, pending, last_seen: now });
        found
    }

    fn conn_key(&self, ev: &Event<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        ev.host_name.hash(&mut h);
        ev.process_name.hash(&mut h);
        ev.process_pid.hash(&mut h);
        h.finish()
    }

    fn make_room(&mut self, now: i64) {
        if self.conns.len() < self.limits.max_connections {
            return;
        }
        let max_age = self.limits.max_age_s;
        self.conns.retain(|_, c| now.saturating_sub(c.last_seen) <= max_age);
        if self.conns.len() >= self.limits.max_connections {
            let mut seen: Vec<i64> = self.conns.values().map(|c| c.last_seen).collect();
            let mid = seen.len() / 2;
            let (_, cut, _) = seen.select_nth_unstable(mid);
            let cut = *cut;
            self.conns.retain(|_, c| c.last_seen > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;

    fn run(mode: Mode, lines: &[&str]) -> Vec<Option<String>> {
        let mut f = SshdFilter::new(mode);
        lines.iter().map(|l| parse_line(l).and_then(|e| f.observe(&e, 0)).map(|s| s.to_string())).collect()
    }

    #[test]
    fn address_comes_from_the_connection() {
        let out = run(
            Mode::Normal,
            &[
                "Feb 12 04:09:18 h sshd[7]: Connection from 2001:db8::9 port 51353 on 2001:db8::1 port 22",
                "Feb 12 04:09:21 h sshd[7]: Disconnecting: Too many authentication failures for root [preauth]",
            ],
        );
        assert_eq!(out, [None, Some("2001:db8::9".to_string())]);
    }

    #[test]
    fn pending_failure_gets_the_closing_address() {
        let lines = [
            "Nov 23 21:50:19 h sshd[8]: Disconnecting: Too many authentication failures for root [preauth]",
            "Nov 23 21:50:37 h sshd[8]: Connection closed by 192.0.2.61 [preauth]",
        ];
        assert_eq!(run(Mode::Normal, &lines), [None, Some("192.0.2.61".to_string())]);
        // Another connection's close does not complete it.
        let other = [lines[0], "Nov 23 21:50:37 h sshd[9]: Connection closed by 192.0.2.61"];
        assert_eq!(run(Mode::Normal, &other), [None, None]);
    }

    #[test]
    fn valid_user_keys_are_not_failures_until_disconnect() {
        let lines = [
            "Nov 28 09:16:05 srv sshd[3]: Failed publickey for git from 192.0.2.111 port 57910 ssh2: ECDSA 1e:fe:xx",
            "Nov 28 09:16:05 srv sshd[3]: Failed publickey for git from 192.0.2.111 port 57910 ssh2: RSA 14:ba:xx",
            "Nov 28 09:16:05 srv sshd[3]: Disconnecting: Too many authentication failures for git [preauth]",
            "Nov 28 09:16:05 srv sshd[3]: Connection closed by 192.0.2.111 [preauth]",
        ];
        let ip = Some("192.0.2.111".to_string());
        assert_eq!(run(Mode::Normal, &lines), [None, None, ip.clone(), None]);
        assert_eq!(run(Mode::Aggressive, &lines), [None, None, ip.clone(), ip]);
    }

    #[test]
    fn success_after_trying_other_users_is_a_failure() {
        let lines = [
            "Mar  7 18:53:32 bar sshd[5]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=root rhost=192.0.2.116",
            "Mar  7 18:53:34 bar sshd[5]: Accepted password for known from 192.0.2.116 port 52100 ssh2",
            "Mar  7 18:53:38 bar sshd[5]: Connection closed by 192.0.2.116",
        ];
        assert_eq!(run(Mode::Normal, &lines), [None, Some("192.0.2.116".to_string()), None]);
        let honest = [lines[0].replace("ruser=root", "ruser=known"), lines[1].to_string()];
        let honest: Vec<&str> = honest.iter().map(String::as_str).collect();
        assert_eq!(run(Mode::Normal, &honest), [None, None]);
    }

    #[test]
    fn modes_differ_on_preauth_closes() {
        let line = ["Mar 15 09:21:01 host sshd[2717]: Connection closed by 192.0.2.212 port 4 [preauth]"];
        assert_eq!(run(Mode::Normal, &line), [None]);
        assert_eq!(run(Mode::Extra, &line), [None]);
        assert_eq!(run(Mode::Ddos, &line), [Some("192.0.2.212".to_string())]);
    }

    #[test]
    fn memory_is_bounded() {
        let mut f = SshdFilter::with_limits(Mode::Normal, FilterLimits { max_connections: 100, max_age_s: 60 });
        for pid in 0..1000 {
            let line = format!("Jan  1 00:00:00 h sshd[{pid}]: Connection from 192.0.2.1 port 5");
            let ev = parse_line(&line).unwrap();
            f.observe(&ev, pid as i64);
            assert!(f.connections() <= 100);
        }
    }
}
