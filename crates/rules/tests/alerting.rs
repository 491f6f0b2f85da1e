//! Alerting rules at exact timestamps: pending, firing, `keep_firing_for`, resolution and re-sending, the
//! `ALERTS` and `ALERTS_FOR_STATE` series and their staleness markers, the limit, templates, what is sent when,
//! and the restore of `for` state after a restart. The timelines were checked against promtool 2.42.

use vigil_model::Labels;
use vigil_query::MemStorage;
use vigil_rules::{Alert, AlertState, Expander, Notification, RestoreOptions, RuleStore, TemplateData};

use crate::support::{group, labels, show, Harness, MIN};

/// The appended samples of the only rule at `t`: per alert `ALERTS` then `ALERTS_FOR_STATE`, then staleness
/// markers sorted by labels.
fn eval_samples(h: &mut Harness, t: i64) -> Vec<String> {
    h.eval_shown(t)
}

fn notifications(h: &mut Harness, t: i64) -> Vec<Notification> {
    let report = h.eval(t);
    assert_eq!(report.rules[0].error, None);
    report.rules[0].notifications.clone()
}

/// `ALERTS` and `ALERTS_FOR_STATE` as queries see them right after the evaluation at `t`.
fn alert_series(h: &mut Harness, t: i64) -> Vec<String> {
    h.eval(t);
    let mut v = h.query("ALERTS", t);
    v.extend(h.query("ALERTS_FOR_STATE", t));
    v
}

const HIGH: &str = r#"
groups:
  - name: g
    rules:
      - alert: High
        expr: x > 5
        for: 2m
        labels: {severity: page}
        annotations: {summary: high}
"#;

#[test]
fn pending_then_firing_then_resolved_with_their_series() {
    let mut h = Harness::new(HIGH);
    h.load(r#"x{i="1"} 10 10 10 10 1"#, MIN);
    let pending = r#"ALERTS{alertname="High", alertstate="pending", i="1", severity="page"}"#;
    let firing = r#"ALERTS{alertname="High", alertstate="firing", i="1", severity="page"}"#;
    let for_state = r#"ALERTS_FOR_STATE{alertname="High", i="1", severity="page"}"#;
    assert_eq!(eval_samples(&mut h, 0), [format!("{pending} 1"), format!("{for_state} 0")]);
    assert_eq!(eval_samples(&mut h, MIN), [format!("{pending} 1"), format!("{for_state} 0")]);
    // `for` has passed: firing, and the pending series ends.
    assert_eq!(
        eval_samples(&mut h, 2 * MIN),
        [format!("{firing} 1"), format!("{for_state} 0"), format!("{pending} stale")]
    );
    assert_eq!(eval_samples(&mut h, 3 * MIN), [format!("{firing} 1"), format!("{for_state} 0")]);
    // Resolved: both series end.
    assert_eq!(eval_samples(&mut h, 4 * MIN), [format!("{firing} stale"), format!("{for_state} stale")]);
    assert_eq!(eval_samples(&mut h, 5 * MIN), Vec::<String>::new());

    let rule = h.group.rules()[0].as_alerting().unwrap();
    assert_eq!(rule.state(), AlertState::Inactive);
    assert_eq!(rule.active_alerts().count(), 0);
    let alert = rule.alerts().next().unwrap();
    let want = Alert {
        state: AlertState::Inactive,
        labels: labels(&[("alertname", "High"), ("i", "1"), ("severity", "page")]),
        annotations: vec![("summary".into(), "high".into())],
        value: 10.0,
        active_at: 0,
        fired_at: Some(2 * MIN),
        resolved_at: Some(4 * MIN),
        last_sent_at: Some(4 * MIN),
        valid_until: Some(8 * MIN),
        keep_firing_since: None,
    };
    assert_eq!(alert, &want);
}

#[test]
fn alerts_are_sent_when_firing_resent_after_the_delay_and_kept_15_minutes_once_resolved() {
    let mut h = Harness::new(HIGH);
    h.load(r#"x{i="1"} 10 10 10 10 1"#, MIN);
    let mut sent = Vec::new();
    for minute in 0..=21 {
        for n in notifications(&mut h, minute * MIN) {
            sent.push((minute, n.starts_at_ms / MIN, n.ends_at_ms / MIN));
        }
    }
    // Firing at 2m: sent, valid for 4 × max(interval, resend delay) = 4m. Not again at 3m: the resend delay must
    // be exceeded, not just reached. Resolved at 4m: sent at once with EndsAt = 4m, then every other minute
    // while kept: through 19m, 15 minutes after resolution; gone at 20m.
    assert_eq!(
        sent,
        [(2, 2, 6), (4, 2, 4), (6, 2, 4), (8, 2, 4), (10, 2, 4), (12, 2, 4), (14, 2, 4), (16, 2, 4), (18, 2, 4)]
    );
    assert_eq!(h.group.rules()[0].as_alerting().unwrap().alerts().count(), 0);
}

#[test]
fn notifications_carry_labels_annotations_and_a_link_to_the_expression() {
    let mut h = Harness::with_group(group(&HIGH.replace("name: g", "name: g\n    interval: 5m"), false));
    h.load(r#"x{i="1"} 10"#, MIN);
    h.eval(0);
    let sent = notifications(&mut h, 2 * MIN);
    assert_eq!(
        sent,
        [Notification {
            labels: labels(&[("alertname", "High"), ("i", "1"), ("severity", "page")]),
            annotations: vec![("summary".into(), "high".into())],
            starts_at_ms: 2 * MIN,
            // The group interval (5m) exceeds the resend delay: valid for 4 × 5m.
            ends_at_ms: 22 * MIN,
            generator_url: "http://vigil.example:9090/graph?g0.expr=x+%3E+5&g0.tab=1".into(),
        }]
    );
}

#[test]
fn needs_sending_follows_prometheus() {
    let alert = |state, resolved_at: Option<i64>, last_sent_at: Option<i64>| Alert {
        state,
        labels: Labels::default(),
        annotations: vec![],
        value: 1.0,
        active_at: 0,
        fired_at: Some(0),
        resolved_at,
        last_sent_at,
        valid_until: None,
        keep_firing_since: None,
    };
    let cases = [
        (alert(AlertState::Pending, None, None), 10 * MIN, false),
        (alert(AlertState::Firing, None, None), 0, true),
        (alert(AlertState::Firing, None, Some(MIN)), 2 * MIN, false),
        (alert(AlertState::Firing, None, Some(MIN)), 2 * MIN + 1, true),
        (alert(AlertState::Inactive, Some(3 * MIN), Some(2 * MIN)), 3 * MIN, true),
        (alert(AlertState::Inactive, Some(3 * MIN), Some(3 * MIN)), 4 * MIN, false),
        (alert(AlertState::Inactive, Some(3 * MIN), Some(3 * MIN)), 4 * MIN + 1, true),
        (alert(AlertState::Inactive, Some(3 * MIN), None), 3 * MIN, true),
    ];
    for (i, (a, t, want)) in cases.iter().enumerate() {
        assert_eq!(a.needs_sending(*t, MIN), *want, "case {i}");
    }
}

#[test]
fn keep_firing_for_holds_a_firing_alert_after_its_condition_is_gone() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        for: 2m
        keep_firing_for: 3m
        labels: {sev: page}
"#;
    let mut h = Harness::new(yaml);
    h.load(r#"x{i="1"} 1 1 1 1 0 0 0 0 0 0 1 1 0 0"#, MIN);
    let state = |s: &str, v: i64| {
        vec![
            format!(r#"ALERTS{{alertname="A", alertstate="{s}", i="1", sev="page"}} 1"#),
            format!(r#"ALERTS_FOR_STATE{{alertname="A", i="1", sev="page"}} {v}"#),
        ]
    };
    let mut want: Vec<Vec<String>> = vec![state("pending", 0), state("pending", 0)];
    // Firing from 2m; the condition is gone from 4m, and the alert keeps firing for 3m more, until 7m.
    want.extend((2..=6).map(|_| state("firing", 0)));
    want.extend((7..=9).map(|_| vec![]));
    // Back at 10m: a new alert (the resolved one is replaced), pending from 10m.
    want.extend([state("pending", 600), state("pending", 600), vec![], vec![]]);
    let got: Vec<Vec<String>> = (0..14).map(|m| alert_series(&mut h, m * MIN)).collect();
    assert_eq!(got, want);
}

#[test]
fn keep_firing_for_restarts_when_the_condition_returns() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n        keep_firing_for: 2m\n";
    let mut h = Harness::new(yaml);
    h.load(r#"x{i="1"} 1 0 1 0 0 0 0"#, MIN);
    let firing = vec![
        r#"ALERTS{alertname="A", alertstate="firing", i="1"} 1"#.to_string(),
        r#"ALERTS_FOR_STATE{alertname="A", i="1"} 0"#.to_string(),
    ];
    let got: Vec<Vec<String>> = (0..7).map(|m| alert_series(&mut h, m * MIN)).collect();
    // Gone at 1m (kept), back at 2m (the keep_firing_for clock resets), gone from 3m: kept at 3m and 4m.
    let mut want = vec![firing.clone(); 5];
    want.extend([vec![], vec![]]);
    assert_eq!(got, want);
}

#[test]
fn the_limit_counts_pending_and_firing_alerts_and_drops_them_all() {
    let yaml =
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: a > 0\n        for: 1m\n";
    let mut h = Harness::new(yaml);
    h.load(r#"a{i="1"} 1 1 stale"#, MIN);
    h.load(r#"a{i="2"} _ _ 1 1 1 1"#, MIN);
    assert_eq!(eval_samples(&mut h, 0).len(), 2);
    assert_eq!(eval_samples(&mut h, MIN).len(), 3, "firing, and the pending series ends");
    // At 2m alert 1 is resolved (kept for re-sending) and alert 2 pending: one active alert, within the limit.
    assert_eq!(
        eval_samples(&mut h, 2 * MIN),
        [
            r#"ALERTS{alertname="A", alertstate="pending", i="2"} 1"#,
            r#"ALERTS_FOR_STATE{alertname="A", i="2"} 120"#,
            r#"ALERTS{alertname="A", alertstate="firing", i="1"} stale"#,
            r#"ALERTS_FOR_STATE{alertname="A", i="1"} stale"#,
        ]
    );
    h.load(r#"a{i="3"} _ _ _ 1 1 1"#, MIN);
    let report = h.eval(3 * MIN);
    assert_eq!(report.rules[0].error.as_deref(), Some("exceeded limit of 1 with 2 alerts"));
    assert!(report.rules[0].samples.is_empty());
    let rule = h.group.rules()[0].as_alerting().unwrap();
    assert_eq!(rule.alerts().count(), 0, "every alert is dropped, the resolved one too");
    // The limit still holds at 4m; the alerts start over as pending whenever it does not.
    assert_eq!(h.eval(4 * MIN).rules[0].error.as_deref(), Some("exceeded limit of 1 with 2 alerts"));
}

#[test]
fn alert_labels_must_stay_distinct() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x\n        labels: {i: same}\n";
    let mut h = Harness::new(yaml);
    h.load(r#"x{i="1"} 1"#, MIN);
    h.load(r#"x{i="2"} 1"#, MIN);
    let report = h.eval(0);
    assert_eq!(
        report.rules[0].error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
}

/// Expands `{{ describe }}` into what the template sees, fails on `{{ fail }}`, empties `{{ empty }}`.
struct TestExpander;

impl Expander for TestExpander {
    fn check(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn expand(&self, name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
        match text {
            "{{ fail }}" => Err(format!("template: {name}:1: boom")),
            "{{ empty }}" => Ok(String::new()),
            "{{ describe }}" => {
                let seen: Vec<String> = (data.query)("count(x)")?.iter().map(show).collect();
                Ok(format!(
                    "{name}|{}|{}|{}|{}|{}|{}",
                    data.labels,
                    data.external_labels,
                    data.external_url,
                    data.value,
                    data.time_ms,
                    seen.join(",")
                ))
            }
            _ => Ok(text.to_owned()),
        }
    }
}

#[test]
fn templates_are_expanded_and_errors_become_the_value() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        labels: {desc: "{{ describe }}", broken: "{{ fail }}", gone: "{{ empty }}"}
        annotations: {a: "{{ fail }}", b: plain}
"#;
    let mut h = Harness::new(yaml);
    h.expander = Box::new(TestExpander);
    h.external_labels = labels(&[("dc", "eu")]);
    h.load(r#"x{i="1"} 3"#, MIN);
    h.eval(MIN);
    let alert = h.group.rules()[0].as_alerting().unwrap().alerts().next().unwrap().clone();
    let desc = r#"__alert_A|x{i="1"}|{dc="eu"}|http://vigil.example:9090|3|60000|{} 1"#;
    let boom = "<error expanding template: template: __alert_A:1: boom>";
    assert_eq!(alert.labels, labels(&[("alertname", "A"), ("broken", boom), ("desc", desc), ("i", "1")]));
    assert_eq!(alert.annotations, [("a".to_string(), boom.to_string()), ("b".to_string(), "plain".to_string())]);
    // As in Prometheus, ALERTS starts from the rule's labels as written, so a label whose template expanded
    // to nothing appears there unexpanded.
    let series = h.query("ALERTS", MIN);
    assert_eq!(
        series,
        [format!(
            r#"ALERTS{{alertname="A", alertstate="firing", broken="{boom}", desc="{}", gone="{{{{ empty }}}}", i="1"}} 1"#,
            desc.replace('"', "\\\"")
        )]
    );
}

const SLOW: &str = r#"
groups:
  - name: g
    rules:
      - alert: Slow
        expr: x > 0
        for: 30m
"#;

/// A group that just started, its alert pending since `now` after two evaluations, with `ALERTS_FOR_STATE`
/// samples `(t, v)` from the previous run in storage; returns the alert's activation time after the restore.
fn restored_active_at(yaml: &str, previous: &[(i64, f64)], now: i64) -> i64 {
    let mut h = Harness::with_group(group(yaml, true));
    h.load(r#"x{i="1"} 1x100"#, MIN);
    let name = h.group.rules()[0].name().to_string();
    let for_state = labels(&[("__name__", "ALERTS_FOR_STATE"), ("alertname", &name), ("i", "1")]);
    h.store.add(for_state, previous.iter().copied());
    assert!(h.group.should_restore());
    // Not restored yet: no ALERTS series at all.
    assert_eq!(h.eval_shown(now - MIN), Vec::<String>::new());
    assert_eq!(h.eval_shown(now), Vec::<String>::new());
    h.group.restore_for_state(now, &h.store, &RestoreOptions::default()).unwrap();
    assert!(!h.group.should_restore());
    let rule = h.group.rules()[0].as_alerting().unwrap();
    assert!(rule.restored());
    let active_at = rule.alerts().next().unwrap().active_at;
    active_at
}

#[test]
fn for_state_is_restored_after_a_restart() {
    // Down at 10m after 10m pending, back at 26m: 20m of `for` remained, so it fires 20m after the restart.
    assert_eq!(restored_active_at(SLOW, &[(9 * MIN, 0.0), (10 * MIN, 0.0)], 26 * MIN), 16 * MIN);
    // Only 5m remained, less than the 10m grace period: it fires 10m after the restart.
    assert_eq!(restored_active_at(SLOW, &[(25 * MIN, 0.0)], 40 * MIN), 40 * MIN + 10 * MIN - 30 * MIN);
    // It was firing when vigil stopped: the old activation time stands and the next evaluation fires it.
    assert_eq!(restored_active_at(SLOW, &[(31 * MIN, 0.0)], 40 * MIN), 0);
    // Timestamps count in whole seconds, as in Prometheus.
    assert_eq!(restored_active_at(SLOW, &[(10 * MIN + 999, 1.9)], 26 * MIN), 16 * MIN + 1000);
    // Nothing to restore from: older than the outage tolerance, or ended by a staleness marker.
    assert_eq!(restored_active_at(SLOW, &[(10 * MIN, 0.0)], 80 * MIN), 79 * MIN);
    let stale = f64::from_bits(vigil_query::storage::STALE_NAN_BITS);
    assert_eq!(restored_active_at(SLOW, &[(10 * MIN, 0.0), (11 * MIN, stale)], 26 * MIN), 25 * MIN);
    // A `for` shorter than the grace period is not restored: the alert waits its own `for`.
    assert_eq!(restored_active_at(&SLOW.replace("30m", "5m"), &[(10 * MIN, 0.0)], 26 * MIN), 25 * MIN);
}

#[test]
fn a_restart_continues_where_the_previous_run_stopped() {
    // The previous run: pending from 0, writing ALERTS_FOR_STATE until it stopped at 10m.
    let mut before = Harness::with_group(group(SLOW, false));
    before.load(r#"x{i="1"} 1x100"#, MIN);
    for m in 0..=10 {
        before.eval(m * MIN);
    }
    let mut store = MemStorage::new();
    std::mem::swap(&mut store, &mut before.store);
    // The new run starts at 26m; Prometheus restores after its second evaluation.
    let mut after = Harness::with_group(group(SLOW, true));
    after.store = store;
    after.eval(25 * MIN);
    after.eval(26 * MIN);
    after.group.restore_for_state(26 * MIN, &after.store, &RestoreOptions::default()).unwrap();
    let pending = r#"ALERTS{alertname="Slow", alertstate="pending", i="1"}"#;
    let firing = r#"ALERTS{alertname="Slow", alertstate="firing", i="1"}"#;
    let for_state = r#"ALERTS_FOR_STATE{alertname="Slow", i="1"}"#;
    assert_eq!(eval_samples(&mut after, 27 * MIN), [format!("{pending} 1"), format!("{for_state} 960")]);
    for m in 28..46 {
        after.eval(m * MIN);
    }
    assert_eq!(
        eval_samples(&mut after, 46 * MIN),
        [format!("{firing} 1"), format!("{for_state} 960"), format!("{pending} stale")]
    );
}

#[test]
fn stores_refusing_samples_make_the_rule_unhealthy() {
    /// Refuses every other sample as a duplicate.
    struct Picky(MemStorage);
    impl RuleStore for Picky {
        fn storage(&self) -> &dyn vigil_query::Storage {
            &self.0
        }
        fn append(&mut self, samples: &[vigil_query::Sample]) -> Result<Vec<(usize, vigil_rules::Refusal)>, String> {
            Ok((0..samples.len()).filter(|i| i % 2 == 1).map(|i| (i, vigil_rules::Refusal::Duplicate)).collect())
        }
    }
    let mut g = group(HIGH, false);
    let mut store = Picky(MemStorage::new());
    store.0.add(labels(&[("__name__", "x"), ("i", "1")]), [(0, 10.0)]);
    let engine = vigil_query::Engine::new(vigil_query::EngineOptions::default());
    let ctx = vigil_rules::EvalContext::new(&engine, &vigil_rules::PlainExpander);
    let report = g.eval(0, &ctx, &mut store);
    assert_eq!(report.rules[0].error.as_deref(), Some("duplicate sample for timestamp"));
    assert_eq!(g.rules()[0].last_error(), Some("duplicate sample for timestamp"));
}
