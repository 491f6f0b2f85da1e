//! promtool's own test files (`../shared/conformance/promtool`): the passing ones pass, the failing ones fail with
//! the messages promtool prints (positions and vigil's PromQL parser messages aside), the lint warns.
//!
//! Templates are expanded by `GoExpander`, as in `vigil test rules`. Cases that need native histograms are
//! skipped and counted.

use std::path::{Path, PathBuf};

use vigil_rules::unittest::{run_test_file, SkipReason, Skipped, TestFileReport, UnitTestOptions};
use vigil_rules::{duplicate_rules, duplicates_message, load_rule_file, Expander, GoExpander, PlainExpander};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promtool")
}

fn path(name: &str) -> String {
    dir().join(name).display().to_string()
}

fn run(name: &str) -> TestFileReport {
    let report = run_test_file(&dir().join(name), &UnitTestOptions { expander: &GoExpander::new("") });
    assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
    report
}

fn skipped(reason: SkipReason, what: &str) -> Skipped {
    Skipped { reason, what: what.to_owned() }
}

#[test]
fn unittest_yml_passes_but_for_native_histograms() {
    let report = run("unittest.yml");
    assert_eq!(report.errors, Vec::<String>::new());
    let histograms = SkipReason::NativeHistograms;
    let want = vec![
        skipped(histograms, "test group 1: input series \"test_histogram\""),
        skipped(histograms, "test group 1: input series \"test_histogram_repeat\""),
        skipped(histograms, "test group 1: input series \"test_histogram_increase\""),
        skipped(histograms, "test group 1: expr: \"test_histogram\", time: 1m"),
        skipped(histograms, "test group 1: expr: \"test_histogram_repeat\", time: 2m"),
        skipped(histograms, "test group 1: expr: \"test_histogram_increase\", time: 2m"),
    ];
    assert_eq!(report.skipped, want);
}

#[test]
fn the_other_passing_files_pass_without_skipping_anything() {
    for name in ["at-modifier-test.yml", "negative-offset-test.yml", "long-period.yml", "no-test-group-interval.yml"] {
        let report = run(name);
        assert_eq!((name, report.errors, report.skipped), (name, vec![], vec![]));
    }
}

#[test]
fn failing_yml_fails_as_in_promtool() {
    let report = run("failing.yml");
    assert!(!report.passed());
    let want = [
        "    name: Failing test,\n    alertname: Test, time: 0s, \n        exp:[\n            0:\n              \
         Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ], \n        got:[]",
        "    expr: \"test\", time: 0s,\n        exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00",
        "    name: Failing alert test,\n    alertname: InstanceDown, time: 5m, \n        exp:[], \n        got:[\n            \
         0:\n              Labels:{alertname=\"InstanceDown\", job=\"test\", severity=\"page\"}\n              \
         Annotations:{description=\" of job test has been down for more than 5 minutes.\", summary=\"Instance  \
         down\"}\n            ]",
        "    name: Failing alert test,\n    alertname: AlwaysFiring, time: 5m, \n        exp:[], \n        got:[\n            \
         0:\n              Labels:{alertname=\"AlwaysFiring\"}\n              Annotations:{}\n            ]",
    ];
    assert_eq!(report.errors, want);
}

#[test]
fn bad_test_files_fail_with_a_clear_message() {
    let many_to_many = "found duplicate series for the match group {a=\"1\"} on the right hand-side of the operation: \
                        [join_2{a=\"1\", b=\"4\"}, join_2{a=\"1\", b=\"3\"}];many-to-many matching not allowed: \
                        matching labels must be unique on one side";
    let cases = [
        (
            "bad-input-series.yml",
            format!(
                "{}:3:17: invalid input series \"up{{job=\\\"prometheus\\\", instance=\\\"localhost:9090\\\"\": 1:47: \
                 parse error: unexpected end of input inside braces",
                path("bad-input-series.yml")
            ),
        ),
        ("bad-promql.yml", format!("    expr: \"join_1 + on(a) join_2\", time: 0s, err: {many_to_many}")),
        ("bad-rules-error-test.yml", format!("    rule: joined, time: 0s, err: {many_to_many}")),
        (
            "bad-rules-syntax-test.yml",
            format!(
                "{}:7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: parse error: invalid promql \
                 query",
                path("bad-rules-syntax.yml")
            ),
        ),
        // Not a test file at all; promtool says as much (`field groups not found`).
        (
            "rules-bad.yml",
            format!(
                "{}:3:1: unknown field `groups`, expected one of rule_files, evaluation_interval, group_eval_order, \
                 tests",
                path("rules-bad.yml")
            ),
        ),
    ];
    for (name, want) in cases {
        let report = run(name);
        assert_eq!(report.errors, [want], "{name}");
    }
}

#[test]
fn rule_files_check_as_in_promtool() {
    let check = |name: &str, expander: &dyn Expander| {
        load_rule_file(Path::new(&path(name)), expander)
            .map_err(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    for (name, rules) in
        [("rules.yml", 5), ("at-modifier.yml", 1), ("negative-offset.yml", 1), ("bad-rules-error.yml", 1)]
    {
        assert_eq!(check(name, &GoExpander::new("")).map(|f| f.rule_count()), Ok(rules), "{name}");
    }
    let syntax = format!(
        "{}:7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: parse error: invalid promql query",
        path("bad-rules-syntax.yml")
    );
    assert_eq!(check("bad-rules-syntax.yml", &GoExpander::new("")).unwrap_err(), [syntax]);
    // rules-bad.yml's mistake is in a template: only a template engine sees it.
    assert_eq!(check("rules-bad.yml", &PlainExpander).map(|f| f.rule_count()), Ok(5));
    let template = format!(
        "{}:12:20: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: \
         __alert_InstanceDown:1: undefined variable \"$label\"",
        path("rules-bad.yml")
    );
    assert_eq!(check("rules-bad.yml", &GoExpander::new("")).unwrap_err(), [template]);
}

#[test]
fn rules_duplicates_yml_gives_the_duplicate_warning() {
    let file = load_rule_file(&dir().join("rules_duplicates.yml"), &GoExpander::new("")).unwrap();
    assert_eq!(file.rule_count(), 5);
    assert_eq!(
        duplicates_message(&duplicate_rules(&file)),
        "1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while \
         recording expressions"
    );
    let clean = load_rule_file(&dir().join("rules.yml"), &PlainExpander).unwrap();
    assert_eq!(duplicate_rules(&clean), []);
}
