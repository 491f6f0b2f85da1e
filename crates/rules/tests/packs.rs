//! The rule files vigil ships: valid as `promtool check rules` sees them, every alert with a severity and a
//! summary and description, and their promtool unit tests (each alert firing and not firing) passing.

use std::path::Path;

use vigil_rules::packs::SECURITY_RULES;
use vigil_rules::unittest::{run_test_file, UnitTestOptions};
use vigil_rules::{duplicate_rules, parse_rule_file, GoExpander, RuleKind};

const ALERTS: [&str; 5] =
    ["SSHLoginFromNewAddress", "RootLogin", "SudoOutsideAllowedGroup", "SecurityFileChanged", "BanRateSpike"];

#[test]
fn the_security_pack_is_valid_and_complete() {
    let expander = GoExpander::new("");
    let file = parse_rule_file(SECURITY_RULES, "security.yml", &expander).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(duplicate_rules(&file).is_empty());
    let mut names = Vec::new();
    for rule in file.groups.iter().flat_map(|g| &g.rules) {
        let RuleKind::Alerting { annotations, .. } = &rule.kind else { panic!("only alerts: {rule:?}") };
        let name = rule.name.as_str();
        names.push(name);
        let severity = rule.labels.iter().find(|(k, _)| k == "severity").map(|(_, v)| v.as_str());
        assert!(matches!(severity, Some("critical" | "warning" | "info")), "{name}: {severity:?}");
        for key in ["summary", "description"] {
            let text = annotations.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            assert!(text.is_some_and(|t| t.contains("$labels.instance")), "{name}: {key}: {text:?}");
        }
    }
    assert_eq!(names, ALERTS);
}

#[test]
fn the_security_pack_passes_its_unit_tests() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packs/security_test.yml");
    let expander = GoExpander::new("");
    let report = run_test_file(&path, &UnitTestOptions { expander: &expander });
    assert!(report.passed(), "{}", report.errors.join("\n"));
    assert_eq!((report.skipped.len(), report.warnings.len()), (0, 0), "{report:?}");
    // Every alert is tested both ways.
    let text = std::fs::read_to_string(&path).unwrap();
    for name in ALERTS {
        assert!(text.matches(&format!("alertname: {name}\n")).count() >= 2, "{name}");
    }
    assert!(std::fs::read_to_string(path.with_file_name("security.yml")).unwrap() == SECURITY_RULES);
}
