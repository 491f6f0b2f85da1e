//! `vigil check config`: every example config is valid; a broken one is reported as `file:line:col: message`.

use crate::support::vigil;

#[test]
fn every_example_config_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let out = vigil().args(["check", "config"]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected example configs in {}", dir.display());
}

#[test]
fn invalid_config_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, "agent:\n  collectors:\n    diskstats_device_exclude: '['\n").unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:3:31: diskstats_device_exclude: invalid regex", file.display());
    assert!(stderr.starts_with(&want), "{stderr}");
}

#[test]
fn unknown_collector_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, "agent:\n  collectors:\n    enabled: [cpu, cpuu]\n").unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:3:20: unknown collector \"cpuu\"", file.display());
    assert!(stderr.starts_with(&want), "{stderr}");
}

#[test]
fn missing_file_is_an_error() {
    let out = vigil().args(["check", "config", "/nonexistent/vigil.yml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/vigil.yml: cannot open"));
}

#[test]
fn rule_files_are_checked_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/good.yml"),
        "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: up\n",
    )
    .unwrap();
    let file = dir.path().join("vigil.yml");
    std::fs::write(&file, "rule_files: ['rules/*.yml']\n").unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let bad = dir.path().join("rules/bad.yml");
    std::fs::write(&bad, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          s: '{{ $label.x }}'\n").unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}:7:14: group \"g\", rule 1, \"A\": annotation \"s\": template: __alert_A:1: undefined variable \"$label\"\n",
        bad.display()
    );
    assert_eq!(stderr, want);
}

#[test]
fn a_broken_dashboard_in_dashboards_dir_fails_the_check_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let dashboards = dir.path().join("dashboards");
    std::fs::create_dir(&dashboards).unwrap();
    std::fs::write(
        dashboards.join("ok.yml"),
        "title: Fine\nrows:\n  - title: Main\n    panels:\n      - title: Up\n        type: stat\n        query: up\n",
    )
    .unwrap();
    let file = dir.path().join("vigil.yml");
    std::fs::write(&file, format!("server:\n  dashboards_dir: {:?}\n", dashboards.to_str().unwrap())).unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let broken = dashboards.join("broken.yml");
    std::fs::write(
        &broken,
        "title: Broken\nrows:\n  - title: Main\n    panels:\n      - title: Up\n        type: stat\n        query: up\n        unit: furlongs\n",
    )
    .unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("{}:8:", broken.display())), "{stderr}");
}
