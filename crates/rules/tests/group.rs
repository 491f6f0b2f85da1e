//! Groups: evaluation timestamps aligned as Prometheus aligns them, state carried over a reload, the series to
//! mark stale when a group goes away.

use vigil_rules::{parse_rule_file, GroupSpec, PlainExpander, RuleGroup};

use crate::support::{group, Harness, MIN};

fn spec(name: &str, file: &str, interval: &str) -> GroupSpec {
    let yaml = format!(
        "groups:\n  - name: {name}\n    interval: {interval}\n    rules:\n      - record: r\n        expr: '1'\n"
    );
    parse_rule_file(&yaml, file, &PlainExpander).unwrap().groups.remove(0)
}

#[test]
fn evaluation_timestamps_match_prometheus() {
    // Observed with Prometheus 2.42: groups of /tmp/promrt/rules.yml wrote samples at these times.
    let now_ns = 1_795_284_640_000_000_000;
    let g = RuleGroup::new(spec("offset-check", "/tmp/promrt/rules.yml", "10s"), MIN, false);
    assert_eq!(g.eval_timestamp_ms(now_ns), 1_795_284_637_115);
    let g = RuleGroup::new(spec("another group", "/tmp/promrt/rules.yml", "7s"), MIN, false);
    assert_eq!(g.eval_timestamp_ms(now_ns), 1_795_284_636_856);
    assert_eq!(g.eval_timestamp_ms(now_ns + 7_000_000_000), 1_795_284_643_856);
    assert_eq!(g.eval_timestamp_ms(1_795_284_636_856_000_000 - 1), 1_795_284_629_856);
}

#[test]
fn a_reload_keeps_alerts_and_series_of_matching_rules_and_marks_the_rest_stale() {
    let before = r#"
groups:
  - name: g
    rules:
      - record: kept
        expr: x
      - record: dropped
        expr: x
      - alert: A
        expr: x > 0
        for: 5m
"#;
    let mut h = Harness::new(before);
    h.load(r#"x{i="1"} 1x20"#, MIN);
    for m in 0..=3 {
        h.eval(m * MIN);
    }
    let after = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        for: 5m
      - record: kept
        expr: x
"#;
    let mut reloaded = group(after, false);
    let old = std::mem::replace(&mut h.group, group(before, false));
    reloaded.copy_state_from(old);
    h.group = reloaded;
    let report = h.eval(4 * MIN);
    // The alert kept its activation time (pending since 0, fires at 5m), `kept` its series; `dropped` is gone
    // and its series is marked stale.
    let shown: Vec<Vec<String>> =
        report.rules.iter().map(|r| r.samples.iter().map(crate::support::show).collect()).collect();
    assert_eq!(
        shown,
        [
            vec![
                r#"ALERTS{alertname="A", alertstate="pending", i="1"} 1"#.to_string(),
                r#"ALERTS_FOR_STATE{alertname="A", i="1"} 0"#.to_string()
            ],
            vec![r#"kept{i="1"} 1"#.to_string()],
        ]
    );
    let markers: Vec<String> = report.removed_series_markers.iter().map(crate::support::show).collect();
    assert_eq!(markers, [r#"dropped{i="1"} stale"#]);
    assert_eq!(h.query("dropped", 4 * MIN), Vec::<String>::new());
    assert!(h.eval(5 * MIN).removed_series_markers.is_empty(), "marked once");
    assert_eq!(h.query("ALERTS", 5 * MIN), [r#"ALERTS{alertname="A", alertstate="firing", i="1"} 1"#]);
    let written = h.group.into_written_series();
    let written: Vec<String> = written.iter().map(ToString::to_string).collect();
    assert_eq!(
        written,
        [
            r#"ALERTS{alertname="A", alertstate="firing", i="1"}"#,
            r#"ALERTS_FOR_STATE{alertname="A", i="1"}"#,
            r#"kept{i="1"}"#
        ]
    );
}

#[test]
fn alerting_rules_evaluated_between_regular_evaluations_fire_when_their_for_ends() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - record: doubled
        expr: x * 2
      - alert: High
        expr: x > 0.5
        for: 10s
"#;
    let mut h = Harness::new(yaml);
    assert_eq!(h.group.alerting_metric_names().unwrap().into_iter().collect::<Vec<_>>(), ["x"]);
    // x crosses at 63 s, between the regular evaluations at 60 s and 120 s.
    h.load(r#"x 0 0"#, 60_000);
    h.store.add(crate::support::labels(&[("__name__", "x")]), [(63_000, 1.0)]);
    h.eval(60_000);
    assert_eq!(h.group.next_hold_deadline_ms(), None);
    let ctx_eval = |h: &mut Harness, t: i64| {
        let ctx = vigil_rules::EvalContext::new(&h.engine, h.expander.as_ref());
        h.group.eval_alerting(t, &ctx, &mut h.store)
    };
    let early = ctx_eval(&mut h, 63_100);
    assert_eq!(early.len(), 1, "only the alerting rule");
    assert!(early[0].notifications.is_empty(), "pending alerts are not sent");
    let shown: Vec<String> = early[0].samples.iter().map(crate::support::show).collect();
    assert_eq!(shown[0], r#"ALERTS{alertname="High", alertstate="pending"} 1"#);
    // The alert became pending at 63.1 s; its `for` ends at 73.1 s, where the next evaluation fires it.
    assert_eq!(h.group.next_hold_deadline_ms(), Some(73_100));
    let fired = ctx_eval(&mut h, 73_100);
    assert_eq!(fired[0].notifications.len(), 1, "sent as soon as it fires");
    assert_eq!(h.group.next_hold_deadline_ms(), None);
    // The recording rule kept its aligned time: nothing was recorded at the early evaluations.
    assert_eq!(h.query("doubled", 73_100), ["doubled{} 0"]);
    assert_eq!(h.group.last_eval_ms(), Some(60_000));
    assert_eq!(h.group.last_any_eval_ms(), Some(73_100));
}

#[test]
fn log_rule_groups_evaluate_logql_over_the_log_storage() {
    use vigil_logql::MemLogStorage;
    use vigil_rules::{parse_rule_file_in, EvalContext, QueryLanguage};

    let yaml = r#"
groups:
  - name: logs
    rules:
      - record: job:errors:count1m
        expr: sum by (job) (count_over_time({job="app"} |= "error" [1m]))
      - alert: ManyErrors
        expr: sum by (job) (count_over_time({job="app"} |= "error" [1m])) > 2
"#;
    let file = parse_rule_file_in(yaml, "logs.yml", &PlainExpander, QueryLanguage::LogQL).unwrap();
    let mut logs = MemLogStorage::new();
    let app = crate::support::labels(&[("job", "app")]);
    for (i, line) in ["error a", "ok", "error b", "error c"].iter().enumerate() {
        logs.push(&app, (50 + i as i64) * 1_000_000_000, line);
    }
    let mut h = Harness::with_group(RuleGroup::new(file.groups.into_iter().next().unwrap(), MIN, false));
    assert!(h.group.alerting_metric_names().unwrap().is_empty(), "log rules are not woken by metrics");
    let ctx = EvalContext { logs: Some(&logs), ..EvalContext::new(&h.engine, h.expander.as_ref()) };
    let report = h.group.eval(60_000, &ctx, &mut h.store);
    let shown: Vec<Vec<String>> =
        report.rules.iter().map(|r| r.samples.iter().map(crate::support::show).collect()).collect();
    assert_eq!(
        shown,
        [
            vec![r#"job:errors:count1m{job="app"} 3"#.to_string()],
            vec![
                r#"ALERTS{alertname="ManyErrors", alertstate="firing", job="app"} 1"#.to_string(),
                r#"ALERTS_FOR_STATE{alertname="ManyErrors", job="app"} 60"#.to_string()
            ],
        ]
    );

    let errors = parse_rule_file_in(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{job=\"app\"} |= \"x\"'\n",
        "logs.yml",
        &PlainExpander,
        QueryLanguage::LogQL,
    )
    .unwrap_err();
    assert!(errors[0].to_string().contains("a log query is not a metric query"), "{}", errors[0]);
}
