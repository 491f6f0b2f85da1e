//! What the dispatcher hands to a receiver integration: one group's alerts at one flush, with everything a
//! notification payload is made of (Alertmanager's template data).

use serde::{Deserialize, Serialize};

use crate::alert::AlertStatus;
use crate::config::IntegrationRef;
use crate::labels::{Fingerprint, LabelSet};
use crate::time::Timestamp;

/// One alert in a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    pub status: AlertStatus,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    /// Unset (Go's zero time) while the alert fires; the resolution time once resolved.
    pub ends_at: Option<Timestamp>,
    pub generator_url: String,
    pub fingerprint: Fingerprint,
}

/// A notification due to one integration of one receiver. Report its outcome to the dispatcher with
/// [`crate::dispatch::Dispatcher::delivered`] or [`crate::dispatch::Dispatcher::failed`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: u64,
    pub receiver: String,
    pub integration: IntegrationRef,
    pub group_key: String,
    pub group_labels: LabelSet,
    /// In Alertmanager's order: by `job`, then `instance`, then labels.
    pub alerts: Vec<NotifiedAlert>,
    pub external_url: String,
    /// The flush this notification comes from.
    pub at: Timestamp,
}

impl Notification {
    /// Firing if any alert fires.
    pub fn status(&self) -> AlertStatus {
        status_of(&self.alerts)
    }

    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.annotations))
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Resolved)
    }
}

pub(crate) fn status_of(alerts: &[NotifiedAlert]) -> AlertStatus {
    if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    }
}

/// The pairs every set shares.
pub(crate) fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut out = first.clone();
    for s in sets {
        if out.is_empty() {
            break;
        }
        out.retain(|k, v| s.get(k) == Some(v));
    }
    out
}
