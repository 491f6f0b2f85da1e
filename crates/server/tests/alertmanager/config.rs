//! The `alerting:` section: inline or in a file, errors at `file:line:col` of the file that has the mistake.

use vigil_config::Config;
use vigil_server::alertmanager::{AlertingConfig, DEFAULT_RECEIVER};

fn load(path: &std::path::Path) -> Result<AlertingConfig, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    AlertingConfig::from_config(&config).map_err(|e| e.to_string())
}

#[test]
fn inline_errors_point_into_the_vigil_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.yml");
    std::fs::write(
        &path,
        "server:\n  listen: 127.0.0.1:9090\nalerting:\n  route:\n    receiver: nowhere\n  receivers:\n    - name: hook\nglobal: {}\n",
    )
    .unwrap();
    assert_eq!(
        load(&path).unwrap_err(),
        format!("{}:5:15: undefined receiver \"nowhere\" used in route", path.display())
    );
    std::fs::write(&path, "alerting:\n  route:\n    receiver: hook\n    group_wat: 1s\n  receivers: [{name: hook}]\n")
        .unwrap();
    let e = load(&path).unwrap_err();
    assert!(e.starts_with(&format!("{}:4:5: ", path.display())), "{e}");
    std::fs::write(&path, "alerting:\n  route:\n    receiver: hook\n  receivers: [{name: hook}]\n").unwrap();
    let ok = load(&path).unwrap();
    assert_eq!(ok.config.route().receiver_name(), Some("hook"));
    assert!(ok.original.starts_with("  route:"), "{}", ok.original);
}

#[test]
fn file_errors_point_into_the_alertmanager_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.yml");
    std::fs::write(&path, "alerting:\n  config_file: am.yml\n").unwrap();
    let am = dir.path().join("am.yml");
    std::fs::write(&am, "route:\n  receiver: x\nreceivers:\n  - name: x\n    webhook_configs:\n      - {}\n").unwrap();
    assert_eq!(load(&path).unwrap_err(), format!("{}:6:9: missing URL in webhook config", am.display()));
    std::fs::write(&am, "route:\n  receiver: x\nreceivers:\n  - name: x\n").unwrap();
    assert_eq!(load(&path).unwrap().original, "route:\n  receiver: x\nreceivers:\n  - name: x\n");
}

#[test]
fn without_a_section_alerts_are_only_recorded() {
    let c = AlertingConfig::from_config(&Config::default()).unwrap();
    assert_eq!(c.config.route().receiver_name(), Some(DEFAULT_RECEIVER));
    assert!(c.config.receiver(DEFAULT_RECEIVER).unwrap().integrations().is_empty());
}
