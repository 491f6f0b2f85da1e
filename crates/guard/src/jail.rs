//! fail2ban's jail semantics as pure logic: failures counted per offender within `findtime`, a ban at
//! `maxretry` for `bantime` (growing with `bantime.increment`), `ignoreip` networks that always win, and
//! unbans when bans expire. Time is passed in (Unix seconds); nothing here reads a clock.
//!
//! Ban time growth is fail2ban 1.0's default formula: the n-th ban after n-1 remembered earlier ones lasts
//! `max(bantime, bantime * 2^min(n-1, 20) * factor)`, or `bantime * factor * multipliers[min(n-1, len-1)]`
//! with `multipliers`, capped at `maxtime`. fail2ban remembers earlier bans in its database for `dbpurgeage`
//! (1 day by default); here [`Increment::forget_after_s`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::event::{Action, Event, Outcome};
use crate::sshd_filter::{Mode, Source, SshdFilter};

/// Who a jail counts failures for and bans: an address, or (for local programs such as sudo) a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Offender {
    Ip(IpAddr),
    User(String),
}

impl fmt::Display for Offender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offender::Ip(ip) => ip.fmt(f),
            Offender::User(u) => write!(f, "user {u}"),
        }
    }
}

/// Which events a jail counts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    /// fail2ban's sshd filter in a mode, with its per-connection memory; counts per source address.
    Sshd { mode: Mode },
    /// Events with one of `actions` (and `outcome`, when given), counted per source address, or per
    /// user when `by_user` is set.
    Events { actions: Vec<Action>, outcome: Option<Outcome>, by_user: bool },
    /// Access-log requests, counted per source address, that got one of `statuses` (404 floods, 401
    /// guessing), or asked for a path containing one of `paths` (probes such as `/.env`, whatever the
    /// answer: catch-all routes answer 200), or came with a user agent containing one of `agents`
    /// (scanners that say who they are). `paths` and `agents` compare ASCII case-insensitively.
    HttpScan {
        #[serde(default)]
        statuses: Vec<u16>,
        #[serde(default)]
        paths: Vec<String>,
        #[serde(default)]
        agents: Vec<String>,
    },
}

/// `HttpScan`'s paths or agents, lowercased and indexed by first byte, so that a search tests only the
/// needles that could start where it is.
#[derive(Debug)]
struct Needles {
    list: Vec<Vec<u8>>,
    /// Indexes into `list` per first byte.
    by_first: Vec<Vec<usize>>,
}

impl Needles {
    fn new(strings: &[String]) -> Needles {
        let mut n = Needles { list: Vec::new(), by_first: vec![Vec::new(); 256] };
        for s in strings.iter().filter(|s| !s.is_empty()) {
            let lower = s.to_ascii_lowercase().into_bytes();
            n.by_first[usize::from(lower[0])].push(n.list.len());
            n.list.push(lower);
        }
        n
    }

    /// Whether `hay` contains one of the needles, ASCII case-insensitively.
    fn found_in(&self, hay: &str) -> bool {
        let hay = hay.as_bytes();
        hay.iter().enumerate().any(|(i, b)| {
            self.by_first[usize::from(b.to_ascii_lowercase())].iter().any(|&j| {
                let n = &self.list[j];
                hay.len() - i >= n.len() && hay[i..i + n.len()].eq_ignore_ascii_case(n)
            })
        })
    }
}

/// A compiled `HttpScan` matcher.
#[derive(Debug)]
struct HttpScan {
    statuses: Vec<u16>,
    paths: Needles,
    agents: Needles,
}

impl HttpScan {
    fn hit(&self, ev: &Event<'_>) -> bool {
        let Some(http) = ev.http.as_ref().filter(|_| ev.action == Action::HttpRequest) else { return false };
        self.statuses.contains(&http.status)
            || http.path.is_some_and(|p| self.paths.found_in(p))
            || http.user_agent.is_some_and(|a| self.agents.found_in(a))
    }
}

/// `bantime.increment`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Increment {
    pub factor: f64,
    /// Used instead of the formula when not empty.
    pub multipliers: Vec<u64>,
    pub maxtime_s: Option<i64>,
    /// Earlier bans older than this no longer make a ban longer.
    pub forget_after_s: i64,
}

impl Default for Increment {
    fn default() -> Self {
        Increment { factor: 1.0, multipliers: Vec::new(), maxtime_s: None, forget_after_s: 86_400 }
    }
}

/// One jail's settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JailConfig {
    pub name: String,
    pub matcher: Matcher,
    pub maxretry: u32,
    pub findtime_s: i64,
    pub bantime_s: i64,
    pub increment: Option<Increment>,
    /// Never banned, whatever they do.
    pub ignoreip: Vec<Cidr>,
    /// Offenders with failures remembered at most; beyond, those with the oldest failures are forgotten.
    pub max_offenders: usize,
}

impl JailConfig {
    /// fail2ban's `[sshd]` jail with its defaults (5 failures in 10 minutes, 10 minutes' ban); the
    /// loopback networks are ignored, as fail2ban's `ignoreself` does.
    pub fn sshd(mode: Mode) -> JailConfig {
        JailConfig {
            name: if mode == Mode::Normal { "sshd".into() } else { format!("sshd-{}", mode.as_str()) },
            matcher: Matcher::Sshd { mode },
            maxretry: 5,
            findtime_s: 600,
            bantime_s: 600,
            increment: None,
            ignoreip: loopback(),
            max_offenders: 100_000,
        }
    }

    /// sudo password failures and refusals, counted per user (3 in 10 minutes).
    pub fn sudo() -> JailConfig {
        JailConfig {
            name: "sudo".into(),
            matcher: Matcher::Events {
                actions: vec![Action::SudoAuthFailure, Action::SudoNotAllowed],
                outcome: Some(Outcome::Failure),
                by_user: true,
            },
            maxretry: 3,
            findtime_s: 600,
            bantime_s: 600,
            increment: None,
            ignoreip: Vec::new(),
            max_offenders: 10_000,
        }
    }

    /// Web scanners in nginx or Apache access logs, in the spirit of fail2ban's nginx-botsearch,
    /// nginx-http-auth and apache-badbots: 10 requests in 10 minutes that got 400 (TLS or junk sent to a
    /// plain HTTP port), 401, 404 or nginx's 444, or probed well-known paths of leaked secrets and admin
    /// tools, or announced a scanner's user agent. Loopback is ignored. On a WordPress site, drop
    /// `/wp-login.php` and `/xmlrpc.php` from `paths` or raise `maxretry`.
    pub fn nginx_scan() -> JailConfig {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        JailConfig {
            name: "nginx-scan".into(),
            matcher: Matcher::HttpScan {
                statuses: vec![400, 401, 404, 444],
                paths: strings(&[
                    "/.env",
                    "/.git/",
                    "/.aws/",
                    "/.ssh/",
                    "/.ds_store",
                    "/wp-login.php",
                    "/xmlrpc.php",
                    "/wp-config",
                    "/phpmyadmin",
                    "/pma/",
                    "/myadmin",
                    "/cgi-bin/",
                    "/vendor/phpunit",
                    "/boaform",
                    "/hnap1",
                    "/etc/passwd",
                    "/shell?",
                    "/actuator/",
                ]),
                agents: strings(&[
                    "sqlmap",
                    "nikto",
                    "masscan",
                    "zgrab",
                    "nmap scripting engine",
                    "nuclei",
                    "wpscan",
                    "dirbuster",
                    "gobuster",
                    "fuzz faster u fool",
                    "l9explore",
                    "censysinspect",
                ]),
            },
            maxretry: 10,
            findtime_s: 600,
            bantime_s: 600,
            increment: None,
            ignoreip: loopback(),
            max_offenders: 100_000,
        }
    }

    /// The default jails: sshd (normal), sshd (aggressive), sudo, nginx-scan.
    pub fn defaults() -> Vec<JailConfig> {
        vec![
            JailConfig::sshd(Mode::Normal),
            JailConfig::sshd(Mode::Aggressive),
            JailConfig::sudo(),
            JailConfig::nginx_scan(),
        ]
    }

    fn validate(&self) -> Result<(), JailError> {
        let bad = |what: &'static str| Err(JailError::Invalid { jail: self.name.clone(), what });
        if self.maxretry == 0 {
            return bad("maxretry must be at least 1");
        }
        if self.findtime_s <= 0 {
            return bad("findtime must be positive");
        }
        if self.bantime_s <= 0 {
            return bad("bantime must be positive");
        }
        if self.max_offenders == 0 {
            return bad("max_offenders must be at least 1");
        }
        if let Some(inc) = &self.increment {
            if !(inc.factor.is_finite() && inc.factor > 0.0) {
                return bad("bantime.factor must be a positive number");
            }
            if inc.maxtime_s.is_some_and(|m| m <= 0) {
                return bad("bantime.maxtime must be positive");
            }
        }
        Ok(())
    }
}

fn loopback() -> Vec<Cidr> {
    let v4 = Cidr::new(IpAddr::V4([127, 0, 0, 0].into()), 8);
    let v6 = Cidr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 128);
    v4.into_iter().chain(v6).collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JailError {
    #[error("jail {jail:?}: {what}")]
    Invalid { jail: String, what: &'static str },
}

/// A ban in force.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ban {
    pub offender: Offender,
    pub since: i64,
    pub until: i64,
    /// 1 for a first ban, 2 for the next one within `forget_after_s`, ...
    pub count: u32,
}

/// What a jail decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Ban(Ban),
    Unban { offender: Offender, at: i64 },
}

/// A jail's state as plain data, to persist and restore.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JailState {
    /// Recent failure times per offender.
    pub failures: Vec<(Offender, Vec<i64>)>,
    pub bans: Vec<Ban>,
    /// Earlier bans per offender: how many, and when the last began.
    pub history: Vec<(Offender, u32, i64)>,
}

/// One jail at run time.
#[derive(Debug)]
pub struct Jail {
    config: JailConfig,
    filter: Option<SshdFilter>,
    http: Option<HttpScan>,
    failures: HashMap<Offender, VecDeque<i64>>,
    bans: HashMap<Offender, Ban>,
    expiries: BTreeSet<(i64, Offender)>,
    history: HashMap<Offender, (u32, i64)>,
    last_sweep: i64,
    failures_total: u64,
}

impl Jail {
    pub fn new(config: JailConfig) -> Result<Jail, JailError> {
        config.validate()?;
        let filter = match config.matcher {
            Matcher::Sshd { mode } => Some(SshdFilter::new(mode)),
            Matcher::Events { .. } | Matcher::HttpScan { .. } => None,
        };
        let http = match &config.matcher {
            Matcher::HttpScan { statuses, paths, agents } => {
                Some(HttpScan { statuses: statuses.clone(), paths: Needles::new(paths), agents: Needles::new(agents) })
            }
            _ => None,
        };
        Ok(Jail {
            config,
            filter,
            http,
            failures: HashMap::new(),
            bans: HashMap::new(),
            expiries: BTreeSet::new(),
            history: HashMap::new(),
            last_sweep: i64::MIN,
            failures_total: 0,
        })
    }

    /// A jail resuming from saved state. Bans of offenders the configuration now ignores end at the next
    /// [`Jail::run_due`].
    pub fn restore(config: JailConfig, state: JailState) -> Result<Jail, JailError> {
        let mut jail = Jail::new(config)?;
        for (offender, times) in state.failures {
            let keep = jail.config.maxretry as usize;
            let times: VecDeque<i64> = times.iter().rev().take(keep).rev().copied().collect();
            jail.failures.insert(offender, times);
        }
        for (offender, count, since) in state.history {
            jail.history.insert(offender, (count, since));
        }
        for mut ban in state.bans {
            if jail.ignored(&ban.offender) {
                ban.until = ban.since.min(ban.until);
            }
            jail.expiries.insert((ban.until, ban.offender.clone()));
            jail.bans.insert(ban.offender.clone(), ban);
        }
        Ok(jail)
    }

    pub fn config(&self) -> &JailConfig {
        &self.config
    }

    /// The state to persist.
    pub fn state(&self) -> JailState {
        let mut failures: Vec<_> =
            self.failures.iter().map(|(o, t)| (o.clone(), t.iter().copied().collect())).collect();
        failures.sort();
        let mut bans: Vec<_> = self.bans.values().cloned().collect();
        bans.sort_by(|a, b| (a.until, &a.offender).cmp(&(b.until, &b.offender)));
        let mut history: Vec<_> = self.history.iter().map(|(o, &(c, s))| (o.clone(), c, s)).collect();
        history.sort();
        JailState { failures, bans, history }
    }

    /// Feeds one event seen at `now`; returns a ban when this event completes one.
    pub fn observe(&mut self, ev: &Event<'_>, now: i64) -> Option<Ban> {
        let offender = self.offender(ev, now)?;
        self.fail(offender, now)
    }

    /// Who `ev` is a failure of for this jail's matcher, if it is one; counts nothing (the sshd filter's
    /// per-connection memory does learn from it).
    pub fn offender(&mut self, ev: &Event<'_>, now: i64) -> Option<Offender> {
        let offender = match &self.config.matcher {
            Matcher::Sshd { .. } => match self.filter.as_mut()?.observe(ev, now)? {
                Source::Ip(ip) => Offender::Ip(ip),
                // Host names are not resolved here: a name is only what the client's DNS says.
                Source::Name(_) => return None,
            },
            Matcher::Events { actions, outcome, by_user } => {
                if !actions.contains(&ev.action) || outcome.is_some_and(|o| o != ev.outcome) {
                    return None;
                }
                match (ev.source_ip, by_user) {
                    (_, true) => Offender::User(ev.user_name?.to_string()),
                    (Some(ip), false) => Offender::Ip(ip),
                    (None, false) => return None,
                }
            }
            Matcher::HttpScan { .. } => {
                if !self.http.as_ref()?.hit(ev) {
                    return None;
                }
                Offender::Ip(ev.source_ip?)
            }
        };
        Some(offender)
    }

    /// Counts one failure of `offender` at `now`; returns the ban it completes, if any.
    pub fn fail(&mut self, offender: Offender, now: i64) -> Option<Ban> {
        self.failures_total += 1;
        if self.ignored(&offender) || self.bans.contains_key(&offender) {
            return None;
        }
        let maxretry = self.config.maxretry as usize;
        let findtime = self.config.findtime_s;
        if !self.failures.contains_key(&offender) && self.failures.len() >= self.config.max_offenders {
            self.forget_failures(now);
        }
        let times = self.failures.entry(offender.clone()).or_default();
        while times.front().is_some_and(|&t| now.saturating_sub(t) >= findtime) {
            times.pop_front();
        }
        times.push_back(now);
        if times.len() > maxretry {
            times.pop_front();
        }
        if times.len() < maxretry {
            return None;
        }
        self.failures.remove(&offender);
        let count = match self.history.get(&offender) {
            Some(&(n, since))
                if self.config.increment.as_ref().is_some_and(|i| now.saturating_sub(since) <= i.forget_after_s) =>
            {
                n + 1
            }
            _ => 1,
        };
        let duration = self.ban_duration(count);
        let ban = Ban { offender: offender.clone(), since: now, until: now.saturating_add(duration), count };
        self.history.insert(offender.clone(), (count, now));
        self.expiries.insert((ban.until, offender.clone()));
        self.bans.insert(offender, ban.clone());
        Some(ban)
    }

    /// How long the `count`-th ban lasts, in seconds.
    pub fn ban_duration(&self, count: u32) -> i64 {
        let base = self.config.bantime_s;
        let Some(inc) = &self.config.increment else { return base };
        if count <= 1 {
            return base;
        }
        let n = (count - 1) as usize;
        let secs = if inc.multipliers.is_empty() {
            (base as f64 * (1u64 << n.min(20)) as f64 * inc.factor).max(base as f64)
        } else {
            base as f64 * inc.factor * inc.multipliers[n.min(inc.multipliers.len() - 1)] as f64
        };
        let secs = match inc.maxtime_s {
            Some(max) => secs.min(max as f64),
            None => secs,
        };
        if secs >= i64::MAX as f64 {
            i64::MAX
        } else {
            (secs as i64).max(1)
        }
    }

    /// Whether `offender` is in an `ignoreip` network.
    pub fn ignored(&self, offender: &Offender) -> bool {
        match offender {
            Offender::Ip(ip) => self.config.ignoreip.iter().any(|c| c.contains(*ip)),
            Offender::User(_) => false,
        }
    }

    pub fn is_banned(&self, offender: &Offender) -> bool {
        self.bans.contains_key(offender)
    }

    /// The bans in force, soonest to end first.
    pub fn bans(&self) -> impl Iterator<Item = &Ban> {
        self.expiries.iter().filter_map(|(_, o)| self.bans.get(o))
    }

    /// When the next ban ends.
    pub fn next_deadline(&self) -> Option<i64> {
        self.expiries.first().map(|(t, _)| *t)
    }

    /// Failures counted since the jail started (ignored and already banned offenders included).
    pub fn failures_total(&self) -> u64 {
        self.failures_total
    }

    /// Ends the bans due at `now`, and forgets stale failures and history (at most once per `findtime`).
    pub fn run_due(&mut self, now: i64) -> Vec<Decision> {
        let mut out = Vec::new();
        while let Some((until, offender)) = self.expiries.first().cloned() {
            if until > now {
                break;
            }
            self.expiries.pop_first();
            self.bans.remove(&offender);
            out.push(Decision::Unban { offender, at: now });
        }
        if now.saturating_sub(self.last_sweep) < self.config.findtime_s {
            return out;
        }
        self.last_sweep = now;
        let findtime = self.config.findtime_s;
        self.failures.retain(|_, t| t.back().is_some_and(|&last| now.saturating_sub(last) < findtime));
        if let Some(inc) = &self.config.increment {
            let keep = inc.forget_after_s;
            self.history.retain(|_, &mut (_, since)| now.saturating_sub(since) <= keep);
        } else {
            self.history.clear();
        }
        out
    }

    /// Lifts a ban by hand.
    pub fn unban(&mut self, offender: &Offender) -> Option<Ban> {
        let ban = self.bans.remove(offender)?;
        self.expiries.remove(&(ban.until, offender.clone()));
        Some(ban)
    }

    fn forget_failures(&mut self, now: i64) {
        let findtime = self.config.findtime_s;
        self.failures.retain(|_, t| t.back().is_some_and(|&last| now.saturating_sub(last) < findtime));
        if self.failures.len() >= self.config.max_offenders {
            let mut last: Vec<i64> = self.failures.values().filter_map(|t| t.back().copied()).collect();
            let mid = last.len() / 2;
            let cut = *last.select_nth_unstable(mid).1;
            self.failures.retain(|_, t| t.back().is_some_and(|&l| l > cut));
        }
    }
}
