//! `vigil check rules` and `vigil test rules` on Prometheus' own promtool fixtures and on broken files.

use crate::support::{shared_dir, vigil};

fn fixture(name: &str) -> std::path::PathBuf {
    shared_dir().join("conformance/promtool").join(name)
}

fn run(args: &[&str], files: &[std::path::PathBuf]) -> (Option<i32>, String, String) {
    let out = vigil().args(args).args(files).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_rules_counts_the_rules_of_valid_files() {
    let (code, stdout, stderr) = run(&["check", "rules"], &[fixture("rules.yml"), fixture("at-modifier.yml")]);
    assert_eq!(code, Some(0), "{stderr}");
    let want = format!(
        "{}: 5 rules found\n{}: 1 rules found\n",
        fixture("rules.yml").display(),
        fixture("at-modifier.yml").display()
    );
    assert_eq!(stdout, want);
    assert_eq!(stderr, "");
}

#[test]
fn check_rules_reports_errors_with_positions_and_fails() {
    let (code, stdout, stderr) = run(&["check", "rules"], &[fixture("rules.yml"), fixture("bad-rules-syntax.yml")]);
    assert_eq!(code, Some(1));
    assert_eq!(stdout, format!("{}: 5 rules found\n", fixture("rules.yml").display()));
    let want = format!(
        "{}:7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: parse error: invalid promql query\n",
        fixture("bad-rules-syntax.yml").display()
    );
    assert_eq!(stderr, want);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    rules:\n      - record: 'a b'\n        expr: up\n        colour: red\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["check", "rules"], std::slice::from_ref(&file));
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with(&format!("{}:6:9: unknown field `colour`", file.display())), "{stderr}");
}

#[test]
fn check_rules_warns_about_duplicates_without_failing() {
    let (code, stdout, stderr) = run(&["check", "rules"], &[fixture("rules_duplicates.yml")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, format!("{}: 5 rules found\n", fixture("rules_duplicates.yml").display()));
    let want = format!(
        "{}: warning: 1 duplicate rule(s) found.\n  Metric: job:test:count_over_time1m\n  Label(s):\n  Might cause \
         inconsistency while recording expressions\n",
        fixture("rules_duplicates.yml").display()
    );
    assert_eq!(stderr, want);
}

#[test]
fn check_rules_rejects_a_template_error_at_its_position() {
    let (code, stdout, stderr) = run(&["check", "rules"], &[fixture("rules-bad.yml")]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""));
    let want = format!(
        "{}:12:20: group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": template: \
         __alert_InstanceDown:1: undefined variable \"$label\"\n",
        fixture("rules-bad.yml").display()
    );
    assert_eq!(stderr, want);
}

#[test]
fn missing_rule_file_is_an_error() {
    let (code, _, stderr) = run(&["check", "rules", "/nonexistent/rules.yml"], &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("/nonexistent/rules.yml: cannot open"), "{stderr}");
}

#[test]
fn test_rules_passes_promtools_own_tests_and_lists_what_it_skipped() {
    let files = [fixture("unittest.yml"), fixture("long-period.yml")];
    let (code, stdout, stderr) = run(&["test", "rules"], &files);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&format!("Unit Testing:  {}\n", files[0].display())), "{stdout}");
    assert!(stdout.contains(
        "  SKIPPED (native histograms are not supported): test group 1: expr: \"test_histogram\", time: 1m\n"
    ));
    assert!(!stdout.contains("needs the template engine"), "{stdout}");
    assert!(stdout.contains("  6 skipped\n  SUCCESS\n"), "{stdout}");
    assert_eq!(stdout.matches("  SUCCESS\n").count(), 2, "{stdout}");
    assert_eq!(stderr, "");
}

#[test]
fn test_rules_prints_failures_as_promtool_and_fails() {
    let (code, stdout, stderr) = run(&["test", "rules"], &[fixture("at-modifier-test.yml"), fixture("failing.yml")]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("  SUCCESS\n"), "{stdout}");
    let want = "  FAILED:\n    name: Failing test,\n    alertname: Test, time: 0s, \n        exp:[\n            0:\n              \
                Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ], \n        got:[]\n    expr: \
                \"test\", time: 0s,\n        exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00\n";
    assert!(stderr.starts_with(want), "{stderr}");
    assert!(stderr.contains("    name: Failing alert test,\n    alertname: AlwaysFiring, time: 5m, \n"), "{stderr}");
}
