//! Rule files: what is accepted, and every mistake reported as `file:line:col: message` at the node at fault.

use vigil_rules::{
    duplicate_rules, duplicates_message, parse_rule_file, Expander, GroupSpec, PlainExpander, QueryLanguage, RuleKind,
    RuleSpec, TemplateData, MAX_RULE_FILE_BYTES,
};

fn errors(yaml: &str) -> Vec<String> {
    errors_with(yaml, &PlainExpander)
}

fn errors_with(yaml: &str, expander: &dyn Expander) -> Vec<String> {
    match parse_rule_file(yaml, "rules.yml", expander) {
        Ok(f) => panic!("accepted: {f:?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// Rejects templates containing `$label.` (a variable the real engine would not know); accepts the rest.
struct StrictExpander;

impl Expander for StrictExpander {
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        match text.contains("$label.") {
            true => Err(format!("template: {name}:1: undefined variable \"$label\"")),
            false => Ok(()),
        }
    }

    fn expand(&self, _: &str, text: &str, _: &TemplateData<'_>) -> Result<String, String> {
        Ok(text.to_owned())
    }
}

#[test]
fn a_valid_file_becomes_groups_of_rules() {
    let yaml = r#"
groups:
  - name: first
    interval: 30s
    limit: 10
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {team: b, env: ""}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is down"
          a: 1
  - name: second
    rules:
"#;
    let file = parse_rule_file(yaml, "rules.yml", &PlainExpander).unwrap();
    assert_eq!(file.rule_count(), 2);
    assert_eq!(
        file.groups,
        vec![
            GroupSpec {
                name: "first".into(),
                file: "rules.yml".into(),
                interval_ms: Some(30_000),
                limit: 10,
                language: QueryLanguage::PromQL,
                rules: vec![
                    RuleSpec {
                        name: "job:up:sum".into(),
                        expr: "sum by (job) (up)".into(),
                        labels: vec![("env".into(), "".into()), ("team".into(), "b".into())],
                        kind: RuleKind::Recording,
                    },
                    RuleSpec {
                        name: "Down".into(),
                        expr: "up == 0".into(),
                        labels: vec![("severity".into(), "page".into())],
                        kind: RuleKind::Alerting {
                            hold_ms: 300_000,
                            keep_firing_for_ms: 60_000,
                            annotations: vec![
                                ("a".into(), "1".into()),
                                ("summary".into(), "{{ $labels.instance }} is down".into())
                            ],
                        },
                    },
                ],
            },
            GroupSpec {
                name: "second".into(),
                file: "rules.yml".into(),
                interval_ms: None,
                limit: 0,
                rules: vec![],
                language: QueryLanguage::PromQL,
            },
        ]
    );
}

#[test]
fn empty_files_have_no_groups() {
    for text in ["", "# nothing\n", "---\n", "groups:\n", "groups: []\n"] {
        assert_eq!(parse_rule_file(text, "x.yml", &PlainExpander).unwrap().groups, vec![], "{text:?}");
    }
}

#[test]
fn yaml_mistakes_have_positions() {
    let cases = [
        ("groups:\n  - name: g\n    rulez: []\n", "rules.yml:3:5: unknown field `rulez`"),
        (
            "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: up\n        colour: red\n",
            "rules.yml:6:9: unknown field `colour`",
        ),
        ("grups: []\n", "rules.yml:1:1: unknown field `grups`"),
        (
            "groups:\n  - name: g\n    rules:\n      - record: x\n        labels: {a: 1, a: 2}\n",
            "rules.yml:5:24: duplicate mapping key: a",
        ),
        ("groups:\n  - name: g\n    rules: [\n", "rules.yml:3:12: unclosed bracket '['"),
        ("groups:\n  - name: g\n    limit: many\n", "rules.yml:3:12: "),
        ("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: [up]\n", "rules.yml:5:15: "),
    ];
    for (yaml, want) in cases {
        let got = errors(yaml);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with(want), "{yaml:?}\n got: {}\nwant: {want}", got[0]);
    }
}

#[test]
fn group_mistakes_point_at_the_group() {
    let yaml =
        "groups:\n  - interval: 1m\n  - name: a\n  - name: a\n    interval: 5 minutes\n  - name: b\n    limit: -1\n";
    assert_eq!(
        errors(yaml),
        [
            "rules.yml:2:5: group name must not be empty",
            "rules.yml:4:11: groupname: \"a\" is repeated in the same file",
            "rules.yml:5:15: interval: invalid duration \"5 minutes\": expected a unit (y, w, d, h, m, s or ms) at byte 1",
            "rules.yml:7:12: limit must not be negative",
        ]
    );
}

#[test]
fn rule_mistakes_point_at_the_node_at_fault() {
    let yaml = r#"groups:
  - name: g
    rules:
      - record: a
        alert: A
        expr: up
      - labels: {x: y}
        expr: up
      - record: b
      - record: c
        expr: ""
      - record: d
        expr: 'sum(up'
      - record: e
        expr: up
        for: 5m
        keep_firing_for: 1m
        annotations: {summary: x}
      - record: "not a name"
        expr: up
      - alert: F
        expr: up
        labels: {"bad-name": x, __name__: y, ok: z}
        annotations: {"1x": y}
      - alert: G
        expr: up
        for: soon
"#;
    let prefix = |rule: usize, name: &str| format!("group \"g\", rule {rule}, \"{name}\": ");
    let want = [
        format!("rules.yml:4:17: {}only one of 'record' and 'alert' must be set", prefix(1, "A")),
        format!("rules.yml:7:9: {}one of 'record' or 'alert' must be set", prefix(2, "")),
        format!("rules.yml:9:9: {}field 'expr' must be set in rule", prefix(3, "b")),
        format!("rules.yml:11:15: {}field 'expr' must be set in rule", prefix(4, "c")),
        format!(
            "rules.yml:13:15: {}could not parse expression: parse error: unclosed left parenthesis",
            prefix(5, "d")
        ),
        format!("rules.yml:18:22: {}invalid field 'annotations' in recording rule", prefix(6, "e")),
        format!("rules.yml:16:14: {}invalid field 'for' in recording rule", prefix(6, "e")),
        format!("rules.yml:17:26: {}invalid field 'keep_firing_for' in recording rule", prefix(6, "e")),
        format!("rules.yml:19:17: {}invalid recording rule name: not a name", prefix(7, "not a name")),
        format!("rules.yml:23:18: {}invalid label name: bad-name", prefix(8, "F")),
        format!("rules.yml:23:33: {}invalid label name: __name__", prefix(8, "F")),
        format!("rules.yml:24:23: {}invalid annotation name: 1x", prefix(8, "F")),
        format!("rules.yml:27:14: {}for: invalid duration \"soon\": expected a number at byte 0", prefix(9, "G")),
    ];
    assert_eq!(errors(yaml), want);
}

#[test]
fn zero_durations_are_allowed_in_recording_rules() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 0s\n        keep_firing_for: 0\n";
    assert!(parse_rule_file(yaml, "rules.yml", &PlainExpander).is_ok());
}

#[test]
fn templates_of_alerting_rules_are_checked_by_the_expander() {
    let yaml = r#"groups:
  - name: g
    rules:
      - record: r
        expr: up
        labels: {a: "{{ $label.x }}"}
      - alert: A
        expr: up
        labels: {a: "{{ $labels.x }}", b: "{{ $label.y }}"}
        annotations:
          summary: "Instance {{ $label.foo }} down"
"#;
    assert_eq!(
        errors_with(yaml, &StrictExpander),
        [
            "rules.yml:9:43: group \"g\", rule 2, \"A\": label \"b\": template: __alert_A:1: undefined variable \"$label\"",
            "rules.yml:11:20: group \"g\", rule 2, \"A\": annotation \"summary\": template: __alert_A:1: undefined \
             variable \"$label\"",
        ]
    );
    assert!(parse_rule_file(yaml, "rules.yml", &PlainExpander).is_ok());
}

#[test]
fn oversized_files_are_refused() {
    let big = format!("# {}\n", "x".repeat(MAX_RULE_FILE_BYTES as usize));
    assert_eq!(errors(&big), [format!("rules.yml: file is larger than {MAX_RULE_FILE_BYTES} bytes")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yml");
    std::fs::write(&path, &big).unwrap();
    let err = vigil_rules::load_rule_file(&path, &PlainExpander).unwrap_err();
    assert_eq!(err[0].to_string(), format!("{}: file is larger than {MAX_RULE_FILE_BYTES} bytes", path.display()));
    let missing = vigil_rules::load_rule_file(&dir.path().join("none.yml"), &PlainExpander).unwrap_err();
    assert!(missing[0].to_string().contains("none.yml: cannot open: "), "{}", missing[0]);
}

#[test]
fn duplicate_rules_are_found_across_groups_once_each() {
    let yaml = r#"groups:
  - name: a
    rules:
      - record: x
        expr: up
      - record: x
        expr: up
        labels: {l: "1"}
      - alert: Y
        expr: up
      - record: x
        expr: down
  - name: b
    rules:
      - record: x
        expr: up
      - alert: Y
        expr: up
        for: 1m
      - record: x
        expr: up
        labels: {l: "2"}
"#;
    let file = parse_rule_file(yaml, "rules.yml", &PlainExpander).unwrap();
    let dups = duplicate_rules(&file);
    assert_eq!(dups.iter().map(|d| d.metric.as_str()).collect::<Vec<_>>(), ["Y", "x"]);
    assert_eq!(
        duplicates_message(&dups),
        "2 duplicate rule(s) found.\nMetric: Y\nLabel(s):\nMetric: x\nLabel(s):\nMight cause inconsistency while recording \
         expressions"
    );
}
