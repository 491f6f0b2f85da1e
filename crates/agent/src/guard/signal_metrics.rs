//! The signals' counters: successful logins by method, root logins, logins from new addresses, sudo outside
//! the allowed groups, watched-file changes by class (and the watcher's checks), audit watch events by rule key. Every series but the
//! audit keys' is written from the start (at 0), so that `increase()` in alert rules sees the first change.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use vigil_model::{Desc, MetricSink};

const LOGINS: Desc<'static> = Desc::counter("vigil_auth_logins_total", "Successful logins, by method.");
const ROOT_LOGINS: Desc<'static> = Desc::counter("vigil_auth_root_logins_total", "Successful logins as root.");
const NEW_ADDRESS: Desc<'static> = Desc::counter(
    "vigil_auth_new_address_logins_total",
    "Successful logins from an address never seen for the user, after the learning period.",
);
const SUDO_OUTSIDE: Desc<'static> =
    Desc::counter("vigil_sudo_outside_group_total", "Commands run with sudo by users in none of the allowed groups.");
const FILE_CHANGES: Desc<'static> =
    Desc::counter("vigil_watched_file_changes_total", "Watched files created, modified or deleted, by class.");
const AUDIT_WATCH: Desc<'static> =
    Desc::counter("vigil_audit_watch_events_total", "Audit file-watch events, by the audit rule's key.");

const WATCH_CHECKS: Desc<'static> =
    Desc::counter("vigil_guard_watch_checks_total", "Checks of the watched files completed.");
const WATCHED: Desc<'static> =
    Desc::gauge("vigil_guard_watched_files", "Files the last check of the watched files found.");

/// `method` label values: sshd's methods, `audit` for an audit `USER_LOGIN`, `other` for the rest.
pub const LOGIN_METHODS: [&str; 7] =
    ["password", "publickey", "keyboard-interactive", "hostbased", "gssapi-with-mic", "audit", "other"];
/// `class` label values of watched files.
pub const FILE_CLASSES: [&str; 7] = ["passwd", "shadow", "group", "sudoers", "authorized_keys", "cron", "other"];
/// Audit keys counted apart at most; later ones count as `other`.
const MAX_AUDIT_KEYS: usize = 64;

#[derive(Default)]
pub struct SignalMetrics {
    logins: [AtomicU64; LOGIN_METHODS.len()],
    root_logins: AtomicU64,
    new_address: AtomicU64,
    sudo_outside: AtomicU64,
    file_changes: [AtomicU64; FILE_CLASSES.len()],
    audit_keys: Mutex<BTreeMap<String, u64>>,
    watch_checks: AtomicU64,
    watched: AtomicU64,
}

impl SignalMetrics {
    /// `method` is one of [`LOGIN_METHODS`] (else counted as `other`).
    pub(crate) fn login(&self, method: &str) {
        let i = LOGIN_METHODS.iter().position(|m| *m == method).unwrap_or(LOGIN_METHODS.len() - 1);
        self.logins[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn root_login(&self) {
        self.root_logins.fetch_add(1, Relaxed);
    }

    pub(crate) fn new_address(&self) {
        self.new_address.fetch_add(1, Relaxed);
    }

    pub(crate) fn sudo_outside(&self) {
        self.sudo_outside.fetch_add(1, Relaxed);
    }

    /// `class` is one of [`FILE_CLASSES`] (else counted as `other`).
    pub(crate) fn file_change(&self, class: &str) {
        let i = FILE_CLASSES.iter().position(|c| *c == class).unwrap_or(FILE_CLASSES.len() - 1);
        self.file_changes[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn watch_checked(&self, files: usize) {
        self.watched.store(files as u64, Relaxed);
        self.watch_checks.fetch_add(1, Relaxed);
    }

    pub(crate) fn audit_watch(&self, key: &str) {
        let Ok(mut keys) = self.audit_keys.lock() else { return };
        let key = if keys.contains_key(key) || keys.len() < MAX_AUDIT_KEYS { key } else { "other" };
        *keys.entry(key.to_string()).or_default() += 1;
    }

    pub fn collect(&self, out: &mut dyn MetricSink) {
        for (m, n) in LOGIN_METHODS.iter().zip(&self.logins) {
            out.sample(&LOGINS, &[("method", m)], n.load(Relaxed) as f64);
        }
        out.sample(&ROOT_LOGINS, &[], self.root_logins.load(Relaxed) as f64);
        out.sample(&NEW_ADDRESS, &[], self.new_address.load(Relaxed) as f64);
        out.sample(&SUDO_OUTSIDE, &[], self.sudo_outside.load(Relaxed) as f64);
        for (c, n) in FILE_CLASSES.iter().zip(&self.file_changes) {
            out.sample(&FILE_CHANGES, &[("class", c)], n.load(Relaxed) as f64);
        }
        out.sample(&WATCH_CHECKS, &[], self.watch_checks.load(Relaxed) as f64);
        out.sample(&WATCHED, &[], self.watched.load(Relaxed) as f64);
        if let Ok(keys) = self.audit_keys.lock() {
            for (k, n) in keys.iter() {
                out.sample(&AUDIT_WATCH, &[("key", k)], *n as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_bounded_labels() {
        let m = SignalMetrics::default();
        m.login("publickey");
        m.login("keyboard-interactive");
        m.login("weird");
        m.root_login();
        m.file_change("cron");
        m.file_change("nope");
        for i in 0..MAX_AUDIT_KEYS + 3 {
            m.audit_watch(&format!("k{i}"));
        }
        m.audit_watch("k0");
        let mut sink = vigil_model::metric::VecSink::default();
        m.collect(&mut sink);
        assert_eq!(sink.value("vigil_auth_logins_total", &[("method", "publickey")]), Some(1.0));
        assert_eq!(sink.value("vigil_auth_logins_total", &[("method", "other")]), Some(1.0));
        assert_eq!(sink.value("vigil_auth_logins_total", &[("method", "password")]), Some(0.0));
        assert_eq!(sink.value("vigil_auth_root_logins_total", &[]), Some(1.0));
        assert_eq!(sink.value("vigil_auth_new_address_logins_total", &[]), Some(0.0));
        assert_eq!(sink.value("vigil_watched_file_changes_total", &[("class", "cron")]), Some(1.0));
        assert_eq!(sink.value("vigil_watched_file_changes_total", &[("class", "other")]), Some(1.0));
        assert_eq!(sink.value("vigil_audit_watch_events_total", &[("key", "k0")]), Some(2.0));
        assert_eq!(sink.value("vigil_audit_watch_events_total", &[("key", "other")]), Some(3.0));
    }
}
