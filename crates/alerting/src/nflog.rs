//! The notification log: for each group and receiver integration, which alerts were firing and which
//! resolved in the last notification that went out, and when. Deduplication reads it; entries expire after
//! the retention period.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::IntegrationKind;
use crate::time::Timestamp;

/// How long entries are kept (Alertmanager's `--data.retention`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(120 * 3600);

/// One integration of one receiver, as the log identifies it: receiver name, integration kind and index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReceiverKey {
    pub receiver: String,
    pub integration: IntegrationKind,
    pub index: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub group_key: String,
    pub receiver: ReceiverKey,
    pub timestamp: Timestamp,
    pub firing_alerts: BTreeSet<u64>,
    pub resolved_alerts: BTreeSet<u64>,
    pub expires_at: Timestamp,
}

impl Entry {
    /// Whether every alert in `firing` was firing in this notification.
    pub fn is_firing_subset(&self, firing: &BTreeSet<u64>) -> bool {
        firing.is_subset(&self.firing_alerts)
    }

    /// Whether every alert in `resolved` was resolved in this notification.
    pub fn is_resolved_subset(&self, resolved: &BTreeSet<u64>) -> bool {
        resolved.is_subset(&self.resolved_alerts)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "Vec<Entry>", from = "Vec<Entry>")]
pub struct NotificationLog {
    entries: BTreeMap<(String, ReceiverKey), Entry>,
    retention: Duration,
}

/// Serialized as the list of entries; the retention is a setting, not state.
impl From<NotificationLog> for Vec<Entry> {
    fn from(log: NotificationLog) -> Vec<Entry> {
        log.entries.into_values().collect()
    }
}

impl From<Vec<Entry>> for NotificationLog {
    fn from(entries: Vec<Entry>) -> NotificationLog {
        let entries = entries.into_iter().map(|e| ((e.group_key.clone(), e.receiver.clone()), e)).collect();
        NotificationLog { entries, ..NotificationLog::default() }
    }
}

impl Default for NotificationLog {
    fn default() -> NotificationLog {
        NotificationLog::new(DEFAULT_RETENTION)
    }
}

impl NotificationLog {
    pub fn new(retention: Duration) -> NotificationLog {
        NotificationLog { entries: BTreeMap::new(), retention }
    }

    /// Sets how long entries logged from now on are kept.
    pub fn with_retention(mut self, retention: Duration) -> NotificationLog {
        self.retention = retention;
        self
    }

    /// Records a notification; an entry newer than `now` is kept instead, as Alertmanager does.
    pub fn log(
        &mut self,
        receiver: &ReceiverKey,
        group_key: &str,
        firing: BTreeSet<u64>,
        resolved: BTreeSet<u64>,
        now: Timestamp,
    ) {
        let key = (group_key.to_owned(), receiver.clone());
        if self.entries.get(&key).is_some_and(|e| e.timestamp > now) {
            return;
        }
        let entry = Entry {
            group_key: group_key.to_owned(),
            receiver: receiver.clone(),
            timestamp: now,
            firing_alerts: firing,
            resolved_alerts: resolved,
            expires_at: now + self.retention,
        };
        self.entries.insert(key, entry);
    }

    pub fn query(&self, group_key: &str, receiver: &ReceiverKey) -> Option<&Entry> {
        self.entries.get(&(group_key.to_owned(), receiver.clone()))
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Drops entries past their expiry.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires_at >= now);
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_entry_per_group_and_integration() {
        let mut log = NotificationLog::new(Duration::from_secs(10));
        let r = ReceiverKey { receiver: "team".into(), integration: IntegrationKind::Webhook, index: 0 };
        log.log(&r, "{}:{}", BTreeSet::from([1, 2]), BTreeSet::new(), Timestamp::from_secs(5));
        log.log(&r, "{}:{}", BTreeSet::from([9]), BTreeSet::new(), Timestamp::from_secs(4));
        let e = log.query("{}:{}", &r).unwrap();
        assert_eq!(e.firing_alerts, BTreeSet::from([1, 2]));
        assert!(e.is_firing_subset(&BTreeSet::from([2])));
        assert!(!e.is_firing_subset(&BTreeSet::from([3])));
        assert!(e.is_resolved_subset(&BTreeSet::new()));
        assert_eq!(log.gc(Timestamp::from_secs(15)), 0);
        assert_eq!(log.gc(Timestamp::from_secs(16)), 1);
    }
}
