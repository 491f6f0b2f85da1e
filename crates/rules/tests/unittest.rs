//! The rule unit test runner on small files: rule file globs, evaluation order, test group settings, what is
//! skipped and why, and promtool's errors.

use std::path::Path;

use vigil_rules::unittest::{run_test_file, SkipReason, Skipped, TestFileReport, UnitTestOptions};
use vigil_rules::{Expander, PlainExpander, TemplateData};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn run_with(dir: &Path, test: &str, expander: &dyn Expander) -> TestFileReport {
    write(dir, "test.yml", test);
    run_test_file(&dir.join("test.yml"), &UnitTestOptions { expander })
}

fn run(dir: &Path, test: &str) -> TestFileReport {
    run_with(dir, test, &PlainExpander)
}

const ONE: &str = "groups:\n  - name: a\n    rules:\n      - record: a_out\n        expr: vector(1)\n";
const TWO: &str = "groups:\n  - name: b\n    rules:\n      - record: b_out\n        expr: a_out\n";

#[test]
fn rule_files_are_relative_to_the_test_file_and_globbed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules/one.yml", ONE);
    write(dir.path(), "rules/two.yml", TWO);
    let test =
        "rule_files: ['rules/*.yml', 'missing/*.yml']\ntests:\n  - promql_expr_test:\n      - expr: b_out\n        \
                eval_time: 1m\n        exp_samples: [{labels: 'b_out', value: 1}]\n";
    let report = run(dir.path(), test);
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.warnings, [format!("no file match pattern {}/missing/*.yml", dir.path().display())]);
}

#[test]
fn groups_run_in_group_eval_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.yml", ONE);
    write(dir.path(), "two.yml", TWO);
    let test = |order: &str, want: &str| {
        format!(
            "rule_files: [two.yml, one.yml]\ngroup_eval_order: {order}\ntests:\n  - promql_expr_test:\n      - expr: \
             b_out\n        eval_time: 0s\n        exp_samples: {want}\n"
        )
    };
    // b reads a's output of the same evaluation only when a runs first.
    assert!(run(dir.path(), &test("[a, b]", "[{labels: b_out, value: 1}]")).passed());
    assert!(run(dir.path(), &test("[b, a]", "[]")).passed());
    // Files in order, groups of the same rank as they come.
    assert!(run(dir.path(), &test("[]", "[]")).passed());
    let report = run(dir.path(), &test("[a, b, a]", "[]"));
    assert_eq!(
        report.errors,
        [format!("{}/test.yml:2:26: group name repeated in evaluation order: a", dir.path().display())]
    );
}

#[test]
fn a_test_group_without_interval_uses_the_evaluation_interval() {
    let dir = tempfile::tempdir().unwrap();
    let test = "evaluation_interval: 30s\ntests:\n  - input_series:\n      - series: x\n        values: 1 2 3\n    \
                promql_expr_test:\n      - expr: x\n        eval_time: 1m\n        exp_samples: [{labels: x, value: \
                3}]\n";
    assert_eq!(run(dir.path(), test).errors, Vec::<String>::new());
}

#[test]
fn promtool_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let cases = [
        ("tests:\n  - alert_rule_test:\n      - eval_time: 5m\n", "an item under alert_rule_test misses required attribute alertname at eval_time 5m".to_string()),
        ("tests:\n  - name: mine\n    alert_rule_test:\n      - eval_time: 1h\n", "an item under alert_rule_test misses required attribute alertname at eval_time 1h (in TestGroup mine)".to_string()),
        ("tests:\n  - promql_expr_test:\n      - expr: vector(1)\n        exp_samples: [{labels: 'a{', value: 1}]\n", "    expr: \"vector(1)\", time: 0s, err: labels \"a{\": 1:3: parse error: unexpected end of input inside braces".to_string()),
        ("tests:\n  - promql_expr_test:\n      - expr: 'vector(1) +'\n", "    expr: \"vector(1) +\", time: 0s, err: parse error: invalid promql query".to_string()),
        ("tests:\n  - promql_expr_test:\n      - expr: vector(1)\n        exp_samples: [{value: 2}]\n", "    expr: \"vector(1)\", time: 0s,\n        exp: {} 2E+00\n        got: {} 1E+00".to_string()),
        ("tests:\n  - input_series:\n      - series: x\n        values: 1 a 3\n", format!("{d}/test.yml:4:17: invalid values of \"x\": bad value \"a\"")),
        ("tests:\n  - intervall: 1m\n", format!("{d}/test.yml:2:5: unknown field `intervall`, expected one of interval, input_series, alert_rule_test, promql_expr_test, external_labels, external_url, name")),
        ("tests:\n  - interval: often\n", format!("{d}/test.yml:2:15: not a valid duration: invalid duration \"often\": expected a number at byte 0")),
        ("rule_files: ['[']\n", format!("{d}/test.yml:1:14: syntax error in pattern")),
    ];
    for (test, want) in cases {
        let report = run(dir.path(), test);
        assert_eq!(report.errors, [want], "{test}");
    }
}

#[test]
fn rule_evaluation_errors_stop_the_test_group() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n        labels: {i: \"\"}\n",
    );
    let test =
        "rule_files: [rules.yml]\ntests:\n  - input_series:\n      - series: 'x{i=\"1\"}'\n        values: 1 1\n      \
                - series: 'x{i=\"2\"}'\n        values: _ 1\n    alert_rule_test:\n      - eval_time: 5m\n        \
                alertname: Never\n        exp_alerts: [{}]\n  - promql_expr_test:\n      - expr: '1'\n        \
                exp_samples: [{value: 1}]\n";
    let report = run(dir.path(), test);
    // The first group stops at 1m; the second one runs.
    assert_eq!(
        report.errors,
        ["    rule: r, time: 1m0s, err: vector contains metrics with the same labelset after applying rule labels"]
    );
}

#[test]
fn native_histograms_are_skipped_never_passed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: g\n    rules:\n      - record: h:rate\n        expr: rate(h[5m])\n",
    );
    let test = r#"rule_files: [rules.yml]
tests:
  - input_series:
      - series: h
        values: '{{schema:0 sum:1 count:1}}x3'
    promql_expr_test:
      - expr: h:rate
        exp_samples: [{labels: 'h:rate', histogram: '{{}}'}]
  - input_series:
      - series: x
        values: 1
    promql_expr_test:
      - expr: x
        exp_samples: [{labels: x, value: 1}]
      - expr: x
        exp_samples: [{labels: x, histogram: '{{schema:0}}'}]
"#;
    let report = run(dir.path(), test);
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(
        report.skipped,
        [
            Skipped { reason: SkipReason::NativeHistograms, what: "test group 1: input series \"h\"".into() },
            Skipped {
                reason: SkipReason::NativeHistograms,
                what: "test group 1: every case: rule \"h:rate\" reads a native histogram series".into()
            },
            Skipped { reason: SkipReason::NativeHistograms, what: "test group 2: expr: \"x\", time: 0s".into() },
        ]
    );
}

/// Expands `{{ url }}` and `{{ dc }}` from what the template sees.
struct Urls;

impl Expander for Urls {
    fn check(&self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn expand(&self, _: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
        Ok(text
            .replace("{{ url }}", data.external_url)
            .replace("{{ dc }}", data.external_labels.get("dc").unwrap_or("")))
    }
}

#[test]
fn alert_tests_needing_templates_run_with_an_expander_and_are_skipped_without() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: up == 1\n        annotations: {link: \"{{ url }}/{{ dc }}\"}\n",
    );
    let test = r#"rule_files: [rules.yml]
tests:
  - external_labels: {dc: eu}
    external_url: http://example
    input_series:
      - series: 'up{job="a"}'
        values: 1
    alert_rule_test:
      - alertname: Up
        exp_alerts:
          - exp_labels: {job: a}
            exp_annotations: {link: http://example/eu}
      - alertname: Up
        eval_time: 10m
        exp_alerts: []
"#;
    let report = run_with(dir.path(), test, &Urls);
    assert_eq!((report.errors, report.skipped), (vec![], vec![]));
    let report = run(dir.path(), test);
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(
        report.skipped,
        [Skipped { reason: SkipReason::NeedsTemplateEngine, what: "test group 1: alertname: Up, time: 0s".into() }]
    );
}

#[test]
fn reports_print_as_promtool_does() {
    let report = TestFileReport {
        file: "t.yml".into(),
        errors: vec!["    first\n    error".into(), "second".into()],
        skipped: vec![Skipped {
            reason: SkipReason::NativeHistograms,
            what: "test group 1: expr: \"h\", time: 0s".into(),
        }],
        warnings: vec!["no file match pattern x".into()],
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    report.write(&mut out, &mut err).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Unit Testing:  t.yml\n  SKIPPED (native histograms are not supported): test group 1: expr: \"h\", time: 0s\n  1 \
         skipped\n\n\n\n"
    );
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "  WARNING: no file match pattern x\n  FAILED:\n    first\n    error\nsecond\n"
    );
    let passed = TestFileReport { file: "t.yml".into(), ..TestFileReport::default() };
    let mut out = Vec::new();
    passed.write(&mut out, &mut Vec::new()).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "Unit Testing:  t.yml\n  SUCCESS\n\n");
}
