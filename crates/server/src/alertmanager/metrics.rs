//! The Alertmanager's self-metrics, Alertmanager's `alertmanager_*` under vigil's names: notifications by
//! integration and outcome, requests to the services, alerts and silences by state.

use std::collections::BTreeSet;

use vigil_alerting::Timestamp;
use vigil_model::{Desc, MetricSink};

use super::runtime::Alertmanager;

/// The outcomes every configured integration kind is shown with, at zero until one happens.
const OUTCOMES: [&str; 3] = ["delivered", "skipped", "failed"];

impl Alertmanager {
    /// Writes the alerting metrics into `sink`.
    pub fn collect_metrics(&self, sink: &mut dyn MetricSink) {
        let now = Timestamp::now();
        let (kinds, active, suppressed, silences) = self.read(|d, config| {
            let kinds: BTreeSet<&'static str> =
                config.config.receivers.iter().flat_map(|r| r.value.integrations()).map(|i| i.kind.as_str()).collect();
            let (mut active, mut suppressed) = (0u64, 0u64);
            for a in d.alerts().iter().filter(|a| !a.resolved_at(now)) {
                let s = d.suppression(&a.labels, now);
                if s.silenced_by.is_empty() && s.inhibited_by.is_empty() {
                    active += 1;
                } else {
                    suppressed += 1;
                }
            }
            let mut silences = [("active", 0u64), ("pending", 0), ("expired", 0)];
            for s in d.silences().iter() {
                let state = s.state(now).as_str();
                if let Some(slot) = silences.iter_mut().find(|(name, _)| *name == state) {
                    slot.1 += 1;
                }
            }
            (kinds, active, suppressed, silences)
        });
        let notifier = self.notifier();

        let notifications =
            Desc::counter("vigil_notifications_total", "Notifications handed to an integration, by how they ended.");
        let mut outcomes = notifier.outcome_counts();
        for kind in &kinds {
            for outcome in OUTCOMES {
                if !outcomes.iter().any(|c| c.integration == *kind && c.outcome == outcome) {
                    outcomes.push(vigil_notify::OutcomeCount { integration: kind, outcome, value: 0 });
                }
            }
        }
        outcomes.sort_by_key(|c| (c.integration, c.outcome));
        for c in &outcomes {
            sink.sample(&notifications, &[("integration", c.integration), ("outcome", c.outcome)], c.value as f64);
        }

        let requests =
            Desc::counter("vigil_notification_requests_total", "Requests sent to a service, retries included.");
        let failed = Desc::counter("vigil_notification_requests_failed_total", "Requests to a service that failed.");
        let mut counts = notifier.request_counts();
        for kind in &kinds {
            if !counts.iter().any(|c| c.integration == *kind) {
                counts.push(vigil_notify::RequestCount { integration: kind, total: 0, failed: 0 });
            }
        }
        counts.sort_by_key(|c| c.integration);
        for c in &counts {
            sink.sample(&requests, &[("integration", c.integration)], c.total as f64);
        }
        for c in &counts {
            sink.sample(&failed, &[("integration", c.integration)], c.failed as f64);
        }

        let alerts = Desc::gauge("vigil_alerts", "Alerts that have not resolved, by state.");
        sink.sample(&alerts, &[("state", "active")], active as f64);
        sink.sample(&alerts, &[("state", "suppressed")], suppressed as f64);
        let silence_gauge = Desc::gauge("vigil_silences", "Silences by state.");
        for (state, n) in silences {
            sink.sample(&silence_gauge, &[("state", state)], n as f64);
        }
    }
}
