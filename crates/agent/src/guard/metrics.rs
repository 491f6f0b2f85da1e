//! The guard's metrics: auth failures counted by each jail, security events by action and outcome, bans and
//! unbans, the bans in force, firewall errors and lines read. Plain atomics, written by the guard thread and
//! read at each scrape.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use vigil_guard::{Action, Outcome};
use vigil_model::{Desc, MetricSink};

use super::fleet_metrics::FleetMetrics;
use super::intel_metrics::IntelMetrics;
use super::signal_metrics::SignalMetrics;

const FAILURES: Desc<'static> = Desc::counter(
    "vigil_auth_failures_total",
    "Authentication failures each jail matched, allow-listed addresses included.",
);
const EVENTS: Desc<'static> =
    Desc::counter("vigil_security_events_total", "Security events parsed from the auth logs, by action and outcome.");
const BANS: Desc<'static> = Desc::counter("vigil_jail_bans_total", "Bans decided by each jail.");
const UNBANS: Desc<'static> = Desc::counter("vigil_jail_unbans_total", "Bans lifted by each jail.");
const BANNED: Desc<'static> = Desc::gauge("vigil_jail_banned", "Offenders banned by each jail now.");
const FIREWALL_ERRORS: Desc<'static> =
    Desc::counter("vigil_guard_firewall_errors_total", "Ban actions the firewall backend failed.");
const LINES: Desc<'static> = Desc::counter("vigil_guard_lines_total", "Lines the guard read, by source kind.");
const STORE_ERRORS: Desc<'static> =
    Desc::counter("vigil_guard_store_errors_total", "Failed writes of the ban database.");

const OUTCOMES: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Unknown];

/// Where lines came from, as the `source` label says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSource {
    Auth,
    Journal,
    Audit,
    Access,
}

impl LineSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LineSource::Auth => "auth",
            LineSource::Journal => "journal",
            LineSource::Audit => "audit",
            LineSource::Access => "access",
        }
    }
}

struct JailCounters {
    name: String,
    failures: AtomicU64,
    bans: AtomicU64,
    unbans: AtomicU64,
    banned: AtomicU64,
}

/// Counters of the guard; jails are addressed by their index in the guard's jail list.
pub struct GuardMetrics {
    backend: &'static str,
    jails: Vec<JailCounters>,
    events: Vec<AtomicU64>,
    firewall_errors: AtomicU64,
    store_errors: AtomicU64,

    /// Set when `fleet:` is configured.
    pub(crate) fleet: OnceLock<FleetMetrics>,
    /// Set when `intel:` is configured.
    pub(crate) intel: OnceLock<IntelMetrics>,
    lines: [AtomicU64; 4],
    /// Logins, sudo and watched files (`signal_metrics.rs`).
    pub(crate) signals: SignalMetrics,
}

impl GuardMetrics {
    pub fn new(jails: &[String], backend: &'static str) -> GuardMetrics {
        let jails = jails
            .iter()
            .map(|name| JailCounters {
                name: name.clone(),
                failures: AtomicU64::new(0),
                bans: AtomicU64::new(0),
                unbans: AtomicU64::new(0),
                banned: AtomicU64::new(0),
            })
            .collect();
        GuardMetrics {
            backend,
            jails,
            events: (0..Action::ALL.len() * OUTCOMES.len()).map(|_| AtomicU64::new(0)).collect(),
            firewall_errors: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            lines: Default::default(),
            fleet: OnceLock::new(),
            intel: OnceLock::new(),
            signals: SignalMetrics::default(),
        }
    }

    pub(crate) fn failure(&self, jail: usize) {
        if let Some(j) = self.jails.get(jail) {
            j.failures.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn ban(&self, jail: usize) {
        if let Some(j) = self.jails.get(jail) {
            j.bans.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn unban(&self, jail: usize) {
        if let Some(j) = self.jails.get(jail) {
            j.unbans.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn set_banned(&self, jail: usize, n: usize) {
        if let Some(j) = self.jails.get(jail) {
            j.banned.store(n as u64, Relaxed);
        }
    }

    pub(crate) fn event(&self, action: Action, outcome: Outcome) {
        let a = Action::ALL.iter().position(|x| *x == action).unwrap_or(0);
        let o = OUTCOMES.iter().position(|x| *x == outcome).unwrap_or(0);
        self.events[a * OUTCOMES.len() + o].fetch_add(1, Relaxed);
    }

    pub(crate) fn firewall_error(&self) {
        self.firewall_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn store_error(&self) {
        self.store_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn lines(&self, source: LineSource, n: u64) {
        self.lines[source as usize].fetch_add(n, Relaxed);
    }

    /// The number of bans in force in `jail`, for tests.
    pub fn banned(&self, jail: &str) -> Option<u64> {
        self.jails.iter().find(|j| j.name == jail).map(|j| j.banned.load(Relaxed))
    }

    /// Writes every metric. Security events appear once seen; every jail's series are always there.
    pub fn collect(&self, out: &mut dyn MetricSink) {
        for j in &self.jails {
            let l = [("jail", j.name.as_str())];
            out.sample(&FAILURES, &l, j.failures.load(Relaxed) as f64);
            out.sample(&BANS, &l, j.bans.load(Relaxed) as f64);
            out.sample(&UNBANS, &l, j.unbans.load(Relaxed) as f64);
            out.sample(&BANNED, &l, j.banned.load(Relaxed) as f64);
        }
        for (i, n) in self.events.iter().enumerate() {
            let n = n.load(Relaxed);
            if n == 0 {
                continue;
            }
            let (action, outcome) = (Action::ALL[i / OUTCOMES.len()], OUTCOMES[i % OUTCOMES.len()]);
            out.sample(&EVENTS, &[("action", action.as_str()), ("outcome", outcome.as_str())], n as f64);
        }
        out.sample(&FIREWALL_ERRORS, &[("backend", self.backend)], self.firewall_errors.load(Relaxed) as f64);
        out.sample(&STORE_ERRORS, &[], self.store_errors.load(Relaxed) as f64);
        for s in [LineSource::Auth, LineSource::Journal, LineSource::Audit, LineSource::Access] {
            out.sample(&LINES, &[("source", s.as_str())], self.lines[s as usize].load(Relaxed) as f64);
        }
        if let Some(f) = self.fleet.get() {
            f.collect(out);
        }
        if let Some(i) = self.intel.get() {
            i.collect(out);
        }
        self.signals.collect(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_what_was_counted() {
        let m = GuardMetrics::new(&["sshd".into(), "sudo".into()], "detect");
        m.failure(0);
        m.failure(0);
        m.ban(0);
        m.set_banned(0, 1);
        m.event(Action::SshLogin, Outcome::Failure);
        m.lines(LineSource::Journal, 3);
        m.failure(9);
        let mut sink = vigil_model::metric::VecSink::default();
        m.collect(&mut sink);
        assert_eq!(sink.value("vigil_auth_failures_total", &[("jail", "sshd")]), Some(2.0));
        assert_eq!(sink.value("vigil_auth_failures_total", &[("jail", "sudo")]), Some(0.0));
        assert_eq!(sink.value("vigil_jail_banned", &[("jail", "sshd")]), Some(1.0));
        let ev = [("action", "ssh-login"), ("outcome", "failure")];
        assert_eq!(sink.value("vigil_security_events_total", &ev), Some(1.0));
        assert_eq!(sink.value("vigil_security_events_total", &[("action", "su"), ("outcome", "success")]), None);
        assert_eq!(sink.value("vigil_guard_lines_total", &[("source", "journal")]), Some(3.0));
        assert_eq!(sink.value("vigil_guard_firewall_errors_total", &[("backend", "detect")]), Some(0.0));
    }
}
