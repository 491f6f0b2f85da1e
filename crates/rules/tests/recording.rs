//! Recording rules at exact timestamps: names and labels of their series, rules seeing earlier rules' output,
//! staleness markers, the duplicate-series error, the limit, scalar and non-vector results.

use crate::support::{Harness, MIN};

/// Each rule's appended samples (sorted), `!error` for a failed rule.
fn by_rule(h: &mut Harness, t: i64) -> Vec<Vec<String>> {
    h.eval(t)
        .rules
        .iter()
        .map(|r| match &r.error {
            Some(e) => vec![format!("!{e}")],
            None => {
                let mut v: Vec<String> = r.samples.iter().map(crate::support::show).collect();
                v.sort();
                v
            }
        })
        .collect()
}

const RULES: &str = r#"
groups:
  - name: g
    rules:
      - record: job:x:sum
        expr: sum by (job) (x)
        labels: {env: prod}
      - record: x:renamed
        expr: x
        labels: {instance: ""}
      - record: uses_earlier
        expr: job:x:sum * 10
      - record: answer
        expr: "42"
"#;

#[test]
fn results_are_renamed_relabelled_and_seen_by_later_rules() {
    let mut h = Harness::new(RULES);
    h.load(r#"x{job="a", instance="1"} 1 2 stale"#, MIN);
    h.load(r#"x{job="b", instance="2"} 10 20 30"#, MIN);
    assert_eq!(
        by_rule(&mut h, 0),
        [
            vec![r#"job:x:sum{env="prod", job="a"} 1"#, r#"job:x:sum{env="prod", job="b"} 10"#],
            vec![r#"x:renamed{job="a"} 1"#, r#"x:renamed{job="b"} 10"#],
            vec![r#"uses_earlier{env="prod", job="a"} 10"#, r#"uses_earlier{env="prod", job="b"} 100"#],
            vec!["answer{} 42"],
        ]
    );
    assert_eq!(
        by_rule(&mut h, MIN),
        [
            vec![r#"job:x:sum{env="prod", job="a"} 2"#, r#"job:x:sum{env="prod", job="b"} 20"#],
            vec![r#"x:renamed{job="a"} 2"#, r#"x:renamed{job="b"} 20"#],
            vec![r#"uses_earlier{env="prod", job="a"} 20"#, r#"uses_earlier{env="prod", job="b"} 200"#],
            vec!["answer{} 42"],
        ]
    );
    // x{job="a"} ends at 2m: the series the rules derived from it are marked stale at that very evaluation.
    assert_eq!(
        by_rule(&mut h, 2 * MIN),
        [
            vec![r#"job:x:sum{env="prod", job="a"} stale"#, r#"job:x:sum{env="prod", job="b"} 30"#],
            vec![r#"x:renamed{job="a"} stale"#, r#"x:renamed{job="b"} 30"#],
            vec![r#"uses_earlier{env="prod", job="a"} stale"#, r#"uses_earlier{env="prod", job="b"} 300"#],
            vec!["answer{} 42"],
        ]
    );
    assert_eq!(h.query("job:x:sum", 2 * MIN + 30_000), [r#"job:x:sum{env="prod", job="b"} 30"#]);
    assert_eq!(h.query("answer", 2 * MIN + 30_000), ["answer{} 42"]);
    // Nothing new is stale once marked.
    assert_eq!(by_rule(&mut h, 3 * MIN)[0], [r#"job:x:sum{env="prod", job="b"} 30"#]);
    assert!(h.group.rules().iter().all(|r| r.last_error().is_none()));
}

#[test]
fn a_failing_rule_writes_nothing_and_keeps_its_series_for_staleness() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: z\n        labels: {i: \"\"}\n";
    let mut h = Harness::new(yaml);
    h.load(r#"z{i="1"} 1 1 stale"#, MIN);
    h.load(r#"z{i="2"} _ 1 stale"#, MIN);
    assert_eq!(by_rule(&mut h, 0), [["r{} 1"]]);
    let dup = "!vector contains metrics with the same labelset after applying rule labels";
    assert_eq!(by_rule(&mut h, MIN), [[dup]]);
    assert_eq!(h.group.rules()[0].last_error(), Some(&dup[1..]));
    // The series of the last successful evaluation is what goes stale.
    assert_eq!(by_rule(&mut h, 2 * MIN), [["r{} stale"]]);
    assert_eq!(h.group.rules()[0].last_error(), None);
}

#[test]
fn the_group_limit_caps_the_series_of_each_rule() {
    let yaml = "groups:\n  - name: g\n    limit: 1\n    rules:\n      - record: r\n        expr: x\n      - record: s\n        expr: sum(x)\n";
    let mut h = Harness::new(yaml);
    h.load(r#"x{i="1"} 1"#, MIN);
    assert_eq!(by_rule(&mut h, 0), [vec![r#"r{i="1"} 1"#], vec!["s{} 1"]]);
    h.load(r#"x{i="2"} _ 1"#, MIN);
    assert_eq!(by_rule(&mut h, MIN), [vec!["!exceeded limit of 1 with 2 series"], vec!["s{} 2"]]);
}

#[test]
fn only_vectors_and_scalars_can_be_recorded() {
    let yaml = r#"groups:
  - name: g
    rules:
      - record: s
        expr: '"text"'
      - record: m
        expr: x[5m]
      - record: e
        expr: x + on(j) y
"#;
    let mut h = Harness::new(yaml);
    h.load(r#"x{j="1", k="a"} 1"#, MIN);
    h.load(r#"y{j="1", k="b"} 1"#, MIN);
    h.load(r#"y{j="1", k="c"} 1"#, MIN);
    let got = by_rule(&mut h, 0);
    assert_eq!(got[0], ["!rule result is not a vector or scalar"]);
    assert_eq!(got[1], ["!rule result is not a vector or scalar"]);
    assert!(got[2][0].starts_with("!found duplicate series for the match group {j=\"1\"}"), "{:?}", got[2]);
}
