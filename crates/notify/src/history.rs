//! What happened to recent notifications, newest last, kept in a bounded ring for an API to list.

use std::collections::{BTreeSet, VecDeque};

use serde::Serialize;
use vigil_alerting::{AlertStatus, NotifiedAlert, Timestamp};

/// How many distinct alert names an entry keeps: enough to say what a notification was about, bounded
/// whatever the size of the group.
pub const ALERTNAMES_KEPT: usize = 10;

/// One notification's fate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// When the outcome was known.
    pub at: Timestamp,
    pub notification_id: u64,
    pub receiver: String,
    pub integration: &'static str,
    pub index: usize,
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// `delivered`, `skipped` or `failed`.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub attempts: u32,
    /// What the notification carried (before an integration without `send_resolved` drops resolved alerts).
    pub alerts: AlertsSummary,
}

/// The alerts of one notification, counted, and their distinct `alertname`s, sorted, at most
/// [`ALERTNAMES_KEPT`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AlertsSummary {
    pub firing: usize,
    pub resolved: usize,
    pub alertnames: Vec<String>,
}

impl AlertsSummary {
    pub fn of(alerts: &[NotifiedAlert]) -> AlertsSummary {
        let firing = alerts.iter().filter(|a| a.status == AlertStatus::Firing).count();
        let names: BTreeSet<&str> =
            alerts.iter().filter_map(|a| a.labels.get("alertname")).map(String::as_str).collect();
        AlertsSummary {
            firing,
            resolved: alerts.len() - firing,
            alertnames: names.into_iter().take(ALERTNAMES_KEPT).map(str::to_owned).collect(),
        }
    }
}

/// The last `capacity` entries.
#[derive(Debug)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History { entries: VecDeque::with_capacity(capacity.min(1024)), capacity }
    }

    pub fn push(&mut self, e: HistoryEntry) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }

    pub fn list(&self) -> Vec<HistoryEntry> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use vigil_alerting::{Fingerprint, LabelSet};

    use super::*;

    fn alert(status: AlertStatus, name: &str) -> NotifiedAlert {
        let labels: LabelSet = [("alertname".to_owned(), name.to_owned())].into();
        NotifiedAlert {
            status,
            fingerprint: Fingerprint::of(&labels),
            labels,
            annotations: LabelSet::new(),
            starts_at: Timestamp::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
        }
    }

    #[test]
    fn a_summary_counts_alerts_and_keeps_a_bounded_sorted_set_of_names() {
        let mut alerts =
            vec![alert(AlertStatus::Firing, "B"), alert(AlertStatus::Resolved, "A"), alert(AlertStatus::Firing, "B")];
        let s = AlertsSummary::of(&alerts);
        assert_eq!((s.firing, s.resolved, s.alertnames), (2, 1, vec!["A".to_owned(), "B".to_owned()]));

        alerts.extend((0..20).map(|i| alert(AlertStatus::Firing, &format!("N{i:02}"))));
        let s = AlertsSummary::of(&alerts);
        assert_eq!((s.firing, s.resolved), (22, 1));
        assert_eq!(s.alertnames.len(), ALERTNAMES_KEPT);
        assert_eq!(s.alertnames[..3], ["A", "B", "N00"]);
    }
}
