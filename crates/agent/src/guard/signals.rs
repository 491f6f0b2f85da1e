//! Signals read from the events, beyond the jails: successful logins (by method), root logins, logins from an
//! address never seen for that user (after a learning period; pairs kept in `guard.db`), and sudo by users in
//! none of the allowed groups. Each adds fields to the event's security record and counts in
//! `signal_metrics.rs`. A login or sudo that two sources report (sshd's line and auditd's `USER_LOGIN`) is
//! counted once.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_config::SignalsSection;
use vigil_guard::{Action, Event, Outcome};

use super::groups::Membership;
use super::metrics::{GuardMetrics, LineSource};
use super::signal_store::SignalStore;
use super::store::StoreError;

/// Not ECS: a successful login from an address never seen for the user.
pub const NEW_ADDRESS_FIELD: &str = "vigil.login.new_address";
/// Not ECS: a successful login as root.
pub const ROOT_LOGIN_FIELD: &str = "vigil.login.root";
/// Not ECS: sudo by a user in none of the allowed groups.
pub const SUDO_OUTSIDE_FIELD: &str = "vigil.sudo.outside_group";

/// Two reports of one login or sudo by different sources are at most this far apart.
const SAME_WITHIN_S: i64 = 5;
/// Reports remembered for that.
const RECENT_MAX: usize = 64;

/// `agent.guard.signals:`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalSettings {
    /// New pairs are only learned until this long after the first login recorded on the host.
    pub learn_for_s: i64,
    pub sudo_groups: Vec<String>,
    /// Globs of host paths (under the guard's `rootfs`).
    pub watch_files: Vec<String>,
    pub check_interval: Duration,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings::from_config(None)
    }
}

impl SignalSettings {
    /// From a validated section, or the defaults.
    pub fn from_config(s: Option<&SignalsSection>) -> SignalSettings {
        let defaults = SignalsSection::default();
        let s = s.unwrap_or(&defaults);
        SignalSettings {
            learn_for_s: s.learn_for_s(),
            sudo_groups: s.sudo_groups(),
            watch_files: s.watch_files(),
            check_interval: Duration::from_millis(s.check_interval_ms().max(1) as u64),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Login,
    Sudo,
}

/// A login or sudo already handled, with the fields its record got.
struct Seen {
    kind: Kind,
    source: LineSource,
    user: String,
    ip: Option<IpAddr>,
    at: i64,
    fields: Vec<(String, String)>,
}

pub(crate) struct Signals {
    store: SignalStore,
    learn_until: i64,
    sudo_groups: Vec<String>,
    membership: Membership,
    recent: VecDeque<Seen>,
    metrics: Arc<GuardMetrics>,
}

impl Signals {
    /// Opens the signals' tables in `dir/guard.db` (already migrated) and starts the learning period if this
    /// is the first time.
    pub fn start(
        dir: &Path,
        settings: &SignalSettings,
        rootfs: &Path,
        metrics: Arc<GuardMetrics>,
        now: i64,
    ) -> Result<Signals, StoreError> {
        let mut store = SignalStore::open(dir)?;
        let since = store.logins_since(now)?;
        Ok(Signals {
            store,
            learn_until: since.saturating_add(settings.learn_for_s),
            sudo_groups: settings.sudo_groups.clone(),
            membership: Membership::new(rootfs),
            recent: VecDeque::new(),
            metrics,
        })
    }

    /// Reads `ev` (from `source`, written at `at`) for signals; the fields its record gets.
    pub fn observe(&mut self, ev: &Event<'_>, source: LineSource, at: i64, now: i64) -> Vec<(String, String)> {
        let Some(user) = ev.user_name else { return Vec::new() };
        let kind = match (ev.action, ev.outcome) {
            (Action::SshLogin | Action::UserLogin, Outcome::Success) => Kind::Login,
            (Action::SudoCommand, Outcome::Success) => Kind::Sudo,
            (Action::UserCommand, Outcome::Success) if ev.process_name == Some("sudo") => Kind::Sudo,
            _ => return Vec::new(),
        };
        if let Some(seen) = self.duplicate(kind, source, user, ev.source_ip, at) {
            return seen.fields.clone();
        }
        let fields = match kind {
            Kind::Login => self.login(ev, user, source, at, now),
            Kind::Sudo => self.sudo(user),
        };
        if self.recent.len() >= RECENT_MAX {
            self.recent.pop_front();
        }
        let seen = Seen { kind, source, user: user.to_string(), ip: ev.source_ip, at, fields: fields.clone() };
        self.recent.push_back(seen);
        fields
    }

    /// The same login or sudo as reported by another source a moment before. Audit records may name the
    /// user by uid.
    fn duplicate(&self, kind: Kind, source: LineSource, user: &str, ip: Option<IpAddr>, at: i64) -> Option<&Seen> {
        self.recent.iter().rev().find(|s| {
            s.kind == kind
                && s.source != source
                && s.ip == ip
                && (s.at - at).abs() <= SAME_WITHIN_S
                && (s.user == user || is_uid(&s.user) || is_uid(user))
        })
    }

    fn login(&mut self, ev: &Event<'_>, user: &str, source: LineSource, at: i64, now: i64) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let signals = &self.metrics.signals;
        if user == "root" || (source == LineSource::Audit && user == "0") {
            signals.root_login();
            fields.push((ROOT_LOGIN_FIELD.to_string(), "true".to_string()));
        }
        if let Some(ip) = ev.source_ip {
            match self.store.touch_login(user, &ip.to_string(), at.min(now)) {
                Ok(true) => {}
                Ok(false) if now >= self.learn_until => {
                    signals.new_address();
                    tracing::warn!(user, %ip, "login from an address never seen for this user");
                    fields.push((NEW_ADDRESS_FIELD.to_string(), "true".to_string()));
                }
                Ok(false) => tracing::debug!(user, %ip, "learning a login address"),
                Err(err) => {
                    self.metrics.store_error();
                    tracing::error!(%err, "cannot record a login address");
                }
            }
        }
        // Last, so that a reader who sees the login counted sees its other counts too.
        signals.login(login_method(ev, source));
        fields
    }

    fn sudo(&mut self, user: &str) -> Vec<(String, String)> {
        if self.membership.in_any(user, &self.sudo_groups, Instant::now()) {
            return Vec::new();
        }
        self.metrics.signals.sudo_outside();
        tracing::warn!(user, groups = ?self.sudo_groups, "sudo by a user outside the allowed groups");
        vec![(SUDO_OUTSIDE_FIELD.to_string(), "true".to_string())]
    }
}

fn is_uid(user: &str) -> bool {
    !user.is_empty() && user.len() <= 10 && user.bytes().all(|b| b.is_ascii_digit())
}

/// The `method` label of a successful login.
fn login_method(ev: &Event<'_>, source: LineSource) -> &'static str {
    if source == LineSource::Audit {
        return "audit";
    }
    match ev.ssh_method.map(|m| m.split('/').next().unwrap_or(m)) {
        Some("password") => "password",
        Some("publickey") => "publickey",
        Some("keyboard-interactive") => "keyboard-interactive",
        Some("hostbased") => "hostbased",
        Some("gssapi-with-mic") => "gssapi-with-mic",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use vigil_guard::parse::parse_line;
    use vigil_model::metric::VecSink;

    use super::super::store::BanStore;
    use super::*;

    fn value(m: &GuardMetrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut sink = VecSink::default();
        m.collect(&mut sink);
        sink.value(name, labels)
    }

    #[test]
    fn learning_then_new_addresses_root_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        drop(BanStore::open(dir.path()).unwrap());
        let metrics = Arc::new(GuardMetrics::new(&[], "detect"));
        let settings = SignalSettings { learn_for_s: 100, ..SignalSettings::default() };
        let mut s = Signals::start(dir.path(), &settings, dir.path(), metrics.clone(), 1000).unwrap();
        let line = "2024-03-05T10:00:00Z h sshd[1]: Accepted publickey for ann from 192.0.2.1 port 5 ssh2";
        let ev = parse_line(line).unwrap();
        // Learning: recorded, not flagged.
        assert_eq!(s.observe(&ev, LineSource::Auth, 1000, 1000), []);
        let line2 = line.replace("192.0.2.1", "192.0.2.2");
        let ev2 = parse_line(&line2).unwrap();
        let flagged = vec![(NEW_ADDRESS_FIELD.to_string(), "true".to_string())];
        assert_eq!(s.observe(&ev2, LineSource::Auth, 1100, 1100), flagged);
        assert_eq!(s.observe(&ev2, LineSource::Auth, 1200, 1200), []);
        assert_eq!(s.observe(&ev, LineSource::Auth, 1300, 1300), []);
        assert_eq!(value(&metrics, "vigil_auth_new_address_logins_total", &[]), Some(1.0));
        assert_eq!(value(&metrics, "vigil_auth_logins_total", &[("method", "publickey")]), Some(4.0));

        // The learning period started at the first start: a restart does not start another.
        drop(s);
        let mut s = Signals::start(dir.path(), &settings, dir.path(), metrics.clone(), 5000).unwrap();
        let root_line = line.replace("ann", "root").replace("192.0.2.1", "2001:db8::9");
        let root = parse_line(&root_line).unwrap();
        let fields = s.observe(&root, LineSource::Auth, 5000, 5000);
        assert_eq!(fields.len(), 2, "{fields:?}");
        assert_eq!(fields[0], (ROOT_LOGIN_FIELD.to_string(), "true".to_string()));
        // auditd's report of the same login, by uid: not counted again, same fields.
        let audit = "type=USER_LOGIN msg=audit(5001.000:7): pid=9 uid=0 auid=0 ses=1 msg='op=login id=0 exe=\"/usr/sbin/sshd\" hostname=2001:db8::9 addr=2001:db8::9 terminal=ssh res=success'";
        let ev = vigil_guard::parse::audit::AuditEvent::from_records(&[audit]).unwrap();
        assert_eq!(s.observe(&ev.event().unwrap(), LineSource::Audit, 5001, 5001), fields);
        assert_eq!(value(&metrics, "vigil_auth_root_logins_total", &[]), Some(1.0));
        assert_eq!(value(&metrics, "vigil_auth_logins_total", &[("method", "audit")]), Some(0.0));
        // Later, audit alone: uid 0 is root.
        let later = audit.replace("5001.000:7", "6000.000:8").replace("2001:db8::9", "192.0.2.50");
        let ev = vigil_guard::parse::audit::AuditEvent::from_records(&[later]).unwrap();
        let fields = s.observe(&ev.event().unwrap(), LineSource::Audit, 6000, 6000);
        assert!(fields.contains(&(ROOT_LOGIN_FIELD.to_string(), "true".to_string())), "{fields:?}");
        assert_eq!(value(&metrics, "vigil_auth_root_logins_total", &[]), Some(2.0));
        assert_eq!(value(&metrics, "vigil_auth_logins_total", &[("method", "audit")]), Some(1.0));
        // Failures are not logins.
        let failed_line = line.replace("Accepted", "Failed");
        let failed = parse_line(&failed_line).unwrap();
        assert_eq!(s.observe(&failed, LineSource::Auth, 6000, 6000), []);
    }
}
