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
