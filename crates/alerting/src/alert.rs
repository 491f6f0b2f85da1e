//! Alerts: what a client posts, how Alertmanager's API completes and checks it (start time, `resolve_timeout`
//! for alerts without an end), and the store that merges repeated posts of the same alert.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::labels::{is_valid_label_name, Fingerprint, LabelSet};
use crate::time::Timestamp;

/// An alert as a client posts it to `/api/v2/alerts`; unset times are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostableAlert {
    pub labels: LabelSet,
    #[serde(default)]
    pub annotations: LabelSet,
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    #[serde(default)]
    pub generator_url: String,
}

/// An alert as Alertmanager keeps it. The end time is always known: alerts posted without one get
/// `resolve_timeout` after their last update, marked by `timeout`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub generator_url: String,
    /// When the latest version of this alert arrived.
    pub updated_at: Timestamp,
    /// Whether `ends_at` is the resolve timeout rather than a time the client gave.
    pub timeout: bool,
}

/// Firing or resolved, as printed in notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// Why a posted alert was refused; the messages are Alertmanager's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAlert(pub String);

impl Alert {
    /// What Alertmanager's API does with a posted alert at `now`: the update time is now; a missing start is
    /// the end, or now; a missing end is `now + resolve_timeout`, marked as a timeout; empty labels are
    /// dropped; then the alert is validated.
    pub fn from_postable(p: PostableAlert, now: Timestamp, resolve_timeout: Duration) -> Result<Alert, InvalidAlert> {
        let starts_at = p.starts_at.or(p.ends_at).unwrap_or(now);
        let (ends_at, timeout) = match p.ends_at {
            Some(e) => (e, false),
            None => (now + resolve_timeout, true),
        };
        let mut labels = p.labels;
        labels.retain(|_, v| !v.is_empty());
        let alert = Alert {
            labels,
            annotations: p.annotations,
            starts_at,
            ends_at,
            generator_url: p.generator_url,
            updated_at: now,
            timeout,
        };
        alert.validate()?;
        Ok(alert)
    }

    /// `model.Alert.Validate`.
    fn validate(&self) -> Result<(), InvalidAlert> {
        if self.ends_at < self.starts_at {
            return Err(InvalidAlert("start time must be before end time".into()));
        }
        if let Some(n) = self.labels.keys().find(|n| !is_valid_label_name(n)) {
            return Err(InvalidAlert(format!("invalid label set: invalid name {n:?}")));
        }
        if self.labels.is_empty() {
            return Err(InvalidAlert("at least one label pair required".into()));
        }
        if let Some(n) = self.annotations.keys().find(|n| !is_valid_label_name(n)) {
            return Err(InvalidAlert(format!("invalid annotations: invalid name {n:?}")));
        }
        Ok(())
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// Resolved once the end time is not after `t`.
    pub fn resolved_at(&self, t: Timestamp) -> bool {
        self.ends_at <= t
    }

    pub fn status_at(&self, t: Timestamp) -> AlertStatus {
        if self.resolved_at(t) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// `types.Alert.Merge`: the newer alert's labels and annotations, the earlier start, and the later end
    /// unless that end is only a timeout (or would undo the newer alert's resolution).
    pub fn merge(&self, other: &Alert, now: Timestamp) -> Alert {
        let (older, newer) = if other.updated_at < self.updated_at { (other, self) } else { (self, other) };
        let mut res = newer.clone();
        if older.starts_at < newer.starts_at {
            res.starts_at = older.starts_at;
        }
        if newer.resolved_at(now) {
            if older.resolved_at(now) && older.ends_at > newer.ends_at {
                res.ends_at = older.ends_at;
            }
        } else if older.ends_at > newer.ends_at && !older.timeout {
            res.ends_at = older.ends_at;
        }
        res
    }
}

/// All alerts Alertmanager knows, by fingerprint (its in-memory provider). Serialized as the list of alerts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(into = "Vec<Alert>", from = "Vec<Alert>")]
pub struct AlertStore {
    alerts: BTreeMap<Fingerprint, Alert>,
}

impl From<AlertStore> for Vec<Alert> {
    fn from(s: AlertStore) -> Vec<Alert> {
        s.alerts.into_values().collect()
    }
}

impl From<Vec<Alert>> for AlertStore {
    fn from(alerts: Vec<Alert>) -> AlertStore {
        AlertStore { alerts: alerts.into_iter().map(|a| (a.fingerprint(), a)).collect() }
    }
}

impl AlertStore {
    /// Stores an alert, merged with the one it repeats when their activity overlaps, and returns what is
    /// stored: the version the dispatcher and the inhibitor see.
    pub fn put(&mut self, alert: Alert, now: Timestamp) -> Alert {
        let fp = alert.fingerprint();
        let alert = match self.alerts.get(&fp) {
            Some(old)
                if (alert.ends_at > old.starts_at && alert.ends_at < old.ends_at)
                    || (alert.starts_at > old.starts_at && alert.starts_at < old.ends_at) =>
            {
                old.merge(&alert, now)
            }
            _ => alert,
        };
        self.alerts.insert(fp, alert.clone());
        alert
    }

    pub fn get(&self, fp: Fingerprint) -> Option<&Alert> {
        self.alerts.get(&fp)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Drops resolved alerts, as the provider's periodic garbage collection does.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.alerts.len();
        self.alerts.retain(|_, a| !a.resolved_at(now));
        before - self.alerts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::labels;

    const T: fn(i64) -> Timestamp = Timestamp::from_secs;

    fn alert(start: i64, end: i64, updated: i64, timeout: bool) -> Alert {
        Alert {
            labels: labels([("alertname", "x")]),
            annotations: LabelSet::new(),
            starts_at: T(start),
            ends_at: T(end),
            generator_url: String::new(),
            updated_at: T(updated),
            timeout,
        }
    }

    #[test]
    fn api_defaults() {
        let now = T(100);
        let p = PostableAlert { labels: labels([("a", "1"), ("empty", "")]), ..Default::default() };
        let a = Alert::from_postable(p.clone(), now, Duration::from_secs(300)).unwrap();
        assert_eq!((a.starts_at, a.ends_at, a.timeout, a.updated_at), (now, T(400), true, now));
        assert!(!a.labels.contains_key("empty"));
        let resolved = PostableAlert { ends_at: Some(T(50)), ..p.clone() };
        let a = Alert::from_postable(resolved, now, Duration::from_secs(300)).unwrap();
        assert_eq!((a.starts_at, a.ends_at, a.timeout), (T(50), T(50), false));
        let bad = PostableAlert { starts_at: Some(T(60)), ends_at: Some(T(50)), ..p };
        assert_eq!(Alert::from_postable(bad, now, Duration::ZERO).unwrap_err().0, "start time must be before end time");
        let none = PostableAlert::default();
        assert_eq!(Alert::from_postable(none, now, Duration::ZERO).unwrap_err().0, "at least one label pair required");
        let bad_name = PostableAlert { labels: labels([("a-b", "1")]), ..Default::default() };
        assert!(Alert::from_postable(bad_name, now, Duration::ZERO).unwrap_err().0.contains("invalid name"));
    }

    #[test]
    fn merge_keeps_earliest_start_and_explicit_ends() {
        let now = T(10);
        // The newer timeout end does not shorten an explicit one.
        let m = alert(5, 100, 1, false).merge(&alert(3, 50, 2, true), now);
        assert_eq!((m.starts_at, m.ends_at), (T(3), T(100)));
        // An older timeout end never wins.
        let m = alert(5, 100, 1, true).merge(&alert(6, 50, 2, true), now);
        assert_eq!((m.starts_at, m.ends_at), (T(5), T(50)));
        // A newer resolution is not undone by an older, later, firing end.
        let m = alert(5, 100, 1, false).merge(&alert(5, 8, 2, false), now);
        assert_eq!(m.ends_at, T(8));
        // Both resolved: the later resolution wins.
        let m = alert(5, 9, 1, false).merge(&alert(5, 8, 2, false), now);
        assert_eq!(m.ends_at, T(9));
    }

    #[test]
    fn store_merges_only_overlapping_activity() {
        let mut s = AlertStore::default();
        s.put(alert(10, 20, 1, false), T(1));
        // Starts inside the old one: merged, earliest start kept.
        assert_eq!(s.put(alert(15, 30, 2, false), T(2)).starts_at, T(10));
        // Starts after the old one ended: replaced.
        assert_eq!(s.put(alert(40, 50, 3, false), T(3)).starts_at, T(40));
        assert_eq!(s.len(), 1);
        assert_eq!(s.gc(T(49)), 0);
        assert_eq!(s.gc(T(50)), 1);
    }
}
