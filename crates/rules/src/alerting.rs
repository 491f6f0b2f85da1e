//! Alerting rules: alerts per result series, pending until `for` has passed, firing, kept firing for
//! `keep_firing_for`, resolved and kept 15 minutes for re-sending; the `ALERTS` and `ALERTS_FOR_STATE` series;
//! what is sent to Alertmanager and when; the restore of `for` state after a restart. Prometheus 2.42's
//! `rules/alerting.go`, times in milliseconds.

use std::collections::BTreeMap;

use vigil_model::{Labels, MatchOp, Matcher, METRIC_NAME};
use vigil_query::storage::STALE_NAN_BITS;
use vigil_query::{Sample, Storage};

use crate::group::{query_vector, EvalContext};
use crate::template::TemplateData;
use crate::{Health, RuleKind, RuleSpec};

/// The series holding one sample per active alert and evaluation.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The series holding each active alert's activation time (seconds), from which `for` state is restored.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
pub const ALERT_NAME_LABEL: &str = "alertname";
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// How long a resolved alert is kept, and re-sent, after it resolved.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// The state of one alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// Resolved: it was firing and its condition is gone.
    Inactive,
    /// Its condition holds, for less than the rule's `for` so far.
    Pending,
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`, as the `alertstate` label says.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule: one result series. Times are milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    /// The series' labels without `__name__`, the rule's labels (expanded) and `alertname`.
    pub labels: Labels,
    /// The rule's annotations, expanded, sorted by name.
    pub annotations: Vec<(String, String)>,
    /// The expression's value at the last evaluation that returned this series.
    pub value: f64,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    /// Until when Alertmanager should consider a firing alert firing without hearing of it again.
    pub valid_until: Option<i64>,
    /// When the condition went away while the alert fired with `keep_firing_for`.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether the alert must be sent at `t_ms`: never while pending; at once when resolved since it was last
    /// sent; otherwise once `resend_delay_ms` has passed since the last send.
    pub fn needs_sending(&self, t_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at {
            if self.last_sent_at.is_none_or(|sent| resolved > sent) {
                return true;
            }
        }
        self.last_sent_at.is_none_or(|sent| sent.saturating_add(resend_delay_ms) < t_ms)
    }
}

/// An alert as sent to Alertmanager (Prometheus' `sendAlerts`).
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    /// When the alert fired.
    pub starts_at_ms: i64,
    /// When it resolved, or until when it is valid if still firing.
    pub ends_at_ms: i64,
    /// `<external URL>/graph?g0.expr=<expr>&g0.tab=1`.
    pub generator_url: String,
}

/// Settings of [`crate::RuleGroup::restore_for_state`].
#[derive(Clone, Copy, Debug)]
pub struct RestoreOptions {
    /// How long vigil may have been down for `for` state to be restored (Prometheus'
    /// `--rules.alert.for-outage-tolerance`, 1h).
    pub outage_tolerance_ms: i64,
    /// The least time an alert whose `for` is at least this long waits after a restore before firing
    /// (`--rules.alert.for-grace-period`, 10m).
    pub for_grace_period_ms: i64,
}

impl Default for RestoreOptions {
    fn default() -> RestoreOptions {
        RestoreOptions { outage_tolerance_ms: 3_600_000, for_grace_period_ms: 600_000 }
    }
}

/// An alerting rule and its alerts.
#[derive(Clone, Debug)]
pub struct AlertingRule {
    name: String,
    expr: String,
    hold_ms: i64,
    keep_firing_for_ms: i64,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    /// False until `for` state has been restored; `ALERTS` and `ALERTS_FOR_STATE` are written only once true.
    restored: bool,
    /// Alerts by their labels: pending, firing, and resolved ones kept for re-sending.
    active: BTreeMap<Labels, Alert>,
    pub(crate) health: Health,
}

impl AlertingRule {
    pub(crate) fn new(spec: RuleSpec, restored: bool) -> AlertingRule {
        let (hold_ms, keep_firing_for_ms, annotations) = match spec.kind {
            RuleKind::Alerting { hold_ms, keep_firing_for_ms, annotations } => {
                (hold_ms, keep_firing_for_ms, annotations)
            }
            RuleKind::Recording => (0, 0, Vec::new()),
        };
        AlertingRule {
            name: spec.name,
            expr: spec.expr,
            hold_ms,
            keep_firing_for_ms,
            labels: spec.labels,
            annotations,
            restored,
            active: BTreeMap::new(),
            health: Health::Unknown,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// `for`, in milliseconds.
    pub fn hold_ms(&self) -> i64 {
        self.hold_ms
    }

    pub fn keep_firing_for_ms(&self) -> i64 {
        self.keep_firing_for_ms
    }

    /// The rule's labels (templates unexpanded), sorted by name.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    pub fn annotations(&self) -> &[(String, String)] {
        &self.annotations
    }

    pub fn restored(&self) -> bool {
        self.restored
    }

    pub fn set_restored(&mut self, restored: bool) {
        self.restored = restored;
    }

    /// Every alert held: pending, firing, and resolved ones still kept for re-sending; sorted by labels.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Pending and firing alerts (Prometheus' `ActiveAlerts`).
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.resolved_at.is_none())
    }

    /// The highest state among the rule's alerts.
    pub fn state(&self) -> AlertState {
        self.active.values().map(|a| a.state).max().unwrap_or(AlertState::Inactive)
    }

    /// Evaluates the rule at `t_ms`, updating its alerts; returns the `ALERTS` and `ALERTS_FOR_STATE` samples
    /// (none until restored).
    pub(crate) fn eval(
        &mut self,
        t_ms: i64,
        ctx: &EvalContext<'_>,
        storage: &dyn Storage,
        limit: usize,
    ) -> Result<Vec<Sample>, String> {
        let result = query_vector(ctx, storage, &self.expr, t_ms)?;
        let template_name = format!("__alert_{}", self.name);
        let query = |q: &str| query_vector(ctx, storage, q, t_ms);
        let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
        for sample in result {
            let data = TemplateData {
                labels: &sample.labels,
                external_labels: ctx.external_labels,
                external_url: ctx.external_url,
                value: sample.v,
                time_ms: t_ms,
                query: &query,
            };
            // As Prometheus does, a template that fails to expand yields its error as the value.
            let expand = |text: &str| {
                ctx.expander
                    .expand(&template_name, text, &data)
                    .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
            };
            let mut labels = sample.labels.clone();
            labels.remove(METRIC_NAME);
            for (name, value) in &self.labels {
                labels.set(name, &expand(value));
            }
            labels.set(ALERT_NAME_LABEL, &self.name);
            let annotations = self.annotations.iter().map(|(name, value)| (name.clone(), expand(value))).collect();
            if fresh.contains_key(&labels) {
                return Err("vector contains metrics with the same labelset after applying alert labels".into());
            }
            let alert = Alert {
                state: AlertState::Pending,
                labels: labels.clone(),
                annotations,
                value: sample.v,
                active_at: t_ms,
                fired_at: None,
                resolved_at: None,
                last_sent_at: None,
                valid_until: None,
                keep_firing_since: None,
            };
            fresh.insert(labels, alert);
        }

        let mut kept = BTreeMap::new();
        for (labels, alert) in &fresh {
            match self.active.get_mut(labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations.clone_from(&alert.annotations);
                }
                _ => {
                    kept.insert(labels.clone(), alert.clone());
                }
            }
        }
        self.active.extend(kept);

        let mut out = Vec::new();
        let base = Labels::from_pairs(self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap_or_default();
        let (hold, keep_for) = (self.hold_ms, self.keep_firing_for_ms);
        self.active.retain(|labels, a| {
            if !fresh.contains_key(labels) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(t_ms);
                    keep_firing = t_ms - since < keep_for;
                }
                let drop =
                    a.state == AlertState::Pending || a.resolved_at.is_some_and(|r| t_ms - r > RESOLVED_RETENTION_MS);
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(t_ms);
                }
                if !keep_firing {
                    return !drop;
                }
            } else {
                a.keep_firing_since = None;
            }
            if a.state == AlertState::Pending && t_ms - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(t_ms);
            }
            true
        });
        if self.restored {
            for a in self.active.values().filter(|a| a.state != AlertState::Inactive) {
                out.push(self.alerts_sample(&base, a, t_ms));
                out.push(self.for_state_sample(&base, Some(a), t_ms, a.active_at.div_euclid(1000) as f64));
            }
        }
        // Pending and firing alerts count, not the resolved ones kept for re-sending.
        let n = self.active.values().filter(|a| a.state != AlertState::Inactive).count();
        if limit > 0 && n > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {n} alerts"));
        }
        Ok(out)
    }

    fn alerts_sample(&self, base: &Labels, alert: &Alert, t_ms: i64) -> Sample {
        let mut labels = base.clone();
        for l in alert.labels.iter() {
            labels.set(&l.name, &l.value);
        }
        labels.set(METRIC_NAME, ALERTS_METRIC);
        labels.set(ALERT_NAME_LABEL, &self.name);
        labels.set(ALERT_STATE_LABEL, alert.state.as_str());
        Sample { labels, t: t_ms, v: 1.0 }
    }

    fn for_state_sample(&self, base: &Labels, alert: Option<&Alert>, t_ms: i64, v: f64) -> Sample {
        let mut labels = base.clone();
        for l in alert.into_iter().flat_map(|a| a.labels.iter()) {
            labels.set(&l.name, &l.value);
        }
        labels.set(METRIC_NAME, ALERTS_FOR_STATE_METRIC);
        labels.set(ALERT_NAME_LABEL, &self.name);
        Sample { labels, t: t_ms, v }
    }

    /// Marks the alerts due at `t_ms` as sent and returns them as Alertmanager gets them. A firing alert is
    /// valid for four times the larger of the group interval and the resend delay.
    pub(crate) fn send_alerts(
        &mut self,
        t_ms: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
        external_url: &str,
    ) -> Vec<Notification> {
        let delta = resend_delay_ms.max(interval_ms);
        let generator_url = format!("{external_url}/graph?g0.expr={}&g0.tab=1", query_escape(&self.expr));
        let mut out = Vec::new();
        for alert in self.active.values_mut() {
            if !alert.needs_sending(t_ms, resend_delay_ms) {
                continue;
            }
            alert.last_sent_at = Some(t_ms);
            let valid_until = t_ms.saturating_add(delta.saturating_mul(4));
            alert.valid_until = Some(valid_until);
            out.push(Notification {
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                starts_at_ms: alert.fired_at.unwrap_or(alert.active_at),
                ends_at_ms: alert.resolved_at.unwrap_or(valid_until),
                generator_url: generator_url.clone(),
            });
        }
        out
    }

    /// Prometheus' `RestoreForState` for this rule: moves each alert's activation time as the last
    /// `ALERTS_FOR_STATE` sample before `now_ms` says, then marks the rule restored.
    pub(crate) fn restore_for_state(
        &mut self,
        now_ms: i64,
        storage: &dyn Storage,
        opts: &RestoreOptions,
    ) -> Result<(), String> {
        if self.hold_ms < opts.for_grace_period_ms {
            // Restoring would only make the alert wait for the grace period, longer than its own `for`.
            self.restored = true;
            return Ok(());
        }
        let base = Labels::from_pairs(self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap_or_default();
        let mint = now_ms - opts.outage_tolerance_ms;
        let mut first_error = None;
        let mut restored_at = Vec::new();
        for (key, alert) in &self.active {
            let wanted = self.for_state_sample(&base, Some(alert), now_ms, 0.0).labels;
            let last = match last_sample_of(storage, &wanted, mint, now_ms) {
                Ok(last) => last,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let Some((t, v)) = last else { continue };
            if v.to_bits() == STALE_NAN_BITS {
                continue;
            }
            // Prometheus works in whole seconds here.
            let down_at = t.div_euclid(1000) * 1000;
            let mut active_at = (v as i64).saturating_mul(1000);
            let remaining = self.hold_ms - (down_at - active_at);
            if remaining <= 0 {
                // It was firing when vigil went down; the next evaluation decides.
            } else if remaining < opts.for_grace_period_ms {
                active_at = now_ms + opts.for_grace_period_ms - self.hold_ms;
            } else {
                active_at += now_ms - down_at;
            }
            restored_at.push((key.clone(), active_at));
        }
        for (key, active_at) in restored_at {
            if let Some(a) = self.active.get_mut(&key) {
                a.active_at = active_at;
            }
        }
        self.restored = true;
        first_error.map_or(Ok(()), Err)
    }

    /// Takes over the alerts of the same rule from before a reload (Prometheus' `CopyState`).
    pub(crate) fn take_alerts(&mut self, from: &mut AlertingRule) {
        self.active.append(&mut from.active);
    }
}

/// The latest sample in `[mint, maxt]` of the series with exactly `labels`.
fn last_sample_of(storage: &dyn Storage, labels: &Labels, mint: i64, maxt: i64) -> Result<Option<(i64, f64)>, String> {
    let matchers = labels
        .iter()
        .map(|l| Matcher::new(MatchOp::Equal, &l.name, &l.value).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let set = storage.select(mint, maxt, &matchers).map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    for i in 0..set.len() {
        if set.labels(i).len() == labels.len() {
            set.samples(i, &mut samples).map_err(|e| e.to_string())?;
            return Ok(samples.last().copied());
        }
    }
    Ok(None)
}

/// Go's `url.QueryEscape`: everything but `A-Za-z0-9-_.~` percent-encoded, spaces as `+`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::query_escape;

    #[test]
    fn expressions_are_escaped_as_go_query_escape_does() {
        assert_eq!(query_escape("x > 5"), "x+%3E+5");
        assert_eq!(query_escape(r#"up{job="a-b.c~d_e"} == 0"#), "up%7Bjob%3D%22a-b.c~d_e%22%7D+%3D%3D+0");
        assert_eq!(query_escape("é/?&"), "%C3%A9%2F%3F%26");
    }
}
