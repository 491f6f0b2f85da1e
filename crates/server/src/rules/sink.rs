//! Where alerts go: the [`AlertSink`] the Alertmanager runtime implements, a logging default, and the
//! conversion of a rule's notification into the alert Alertmanager's API takes.

use vigil_alerting::{LabelSet, PostableAlert, Timestamp};
use vigil_model::Labels;
use vigil_rules::Notification;

/// Receives the alerts due after each evaluation of a group (firing ones again every resend delay, resolved
/// ones until they are dropped). Called from a blocking thread; must not block for long.
pub trait AlertSink: Send + Sync {
    fn post(&self, alerts: Vec<PostableAlert>);
}

/// Logs alerts at debug level and drops them: the sink when no Alertmanager is configured.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn post(&self, alerts: Vec<PostableAlert>) {
        tracing::debug!(alerts = alerts.len(), "alerts due, no alertmanager configured");
    }
}

/// A notification as Alertmanager takes it. External labels are added where the alert has no label of that
/// name, as Prometheus' notifier does.
pub fn to_postable(n: &Notification, external_labels: &Labels) -> PostableAlert {
    let mut labels: LabelSet = n.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    for l in external_labels.iter() {
        labels.entry(l.name.clone()).or_insert_with(|| l.value.clone());
    }
    PostableAlert {
        labels,
        annotations: n.annotations.iter().cloned().collect(),
        starts_at: Some(Timestamp::from_millis(n.starts_at_ms)),
        ends_at: Some(Timestamp::from_millis(n.ends_at_ms)),
        generator_url: n.generator_url.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_labels_fill_in_but_do_not_override() {
        let n = Notification {
            labels: Labels::from_pairs([("alertname", "X"), ("region", "us")]).unwrap(),
            annotations: vec![("summary".into(), "s".into())],
            starts_at_ms: 1_000,
            ends_at_ms: 61_000,
            generator_url: "http://v/graph?g0.expr=x&g0.tab=1".into(),
        };
        let external = Labels::from_pairs([("region", "eu"), ("dc", "a")]).unwrap();
        let a = to_postable(&n, &external);
        let labels: Vec<(&str, &str)> = a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(labels, [("alertname", "X"), ("dc", "a"), ("region", "us")]);
        assert_eq!(a.annotations["summary"], "s");
        assert_eq!((a.starts_at.unwrap().as_millis(), a.ends_at.unwrap().as_millis()), (1_000, 61_000));
        assert_eq!(a.generator_url, n.generator_url);
    }
}
