//! `vigil silence add|query|expire` against a running `vigil server`, and `vigil check config` on the
//! `alerting:` section.

use std::time::Duration;

use crate::support::{free_addr, http_get, vigil, wait_for, Proc};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = vigil().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn add_query_and_expire_silences() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let _server = Proc::spawn(
        "vigil server",
        vigil().args(["server", "--listen", &addr]).arg("--data").arg(&data).env("VIGIL_LOG", "warn"),
    );
    let url = format!("http://{addr}");
    wait_for("vigil server ready", Duration::from_secs(60), || http_get(&format!("{url}/-/ready")));

    let (ok, id, err) = run(&[
        "silence",
        "add",
        "--url",
        &url,
        "alertname=Disk",
        r#"instance=~"a.*""#,
        "--duration",
        "2h",
        "--comment",
        "maint",
        "--author",
        "ops",
    ]);
    assert!(ok, "{err}");
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");

    let (ok, table, err) = run(&["silence", "query", "--url", &url]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("Matchers") && lines[0].contains("Comment"), "{table}");
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].starts_with(&id), "{table}");
    assert!(
        lines[1].contains(r#"alertname="Disk" instance=~"a.*""#)
            && lines[1].contains(" ops ")
            && lines[1].ends_with("maint"),
        "{table}"
    );

    let silence = http_get(&format!("{url}/api/v2/silence/{id}")).unwrap();
    assert!(silence.contains(r#""createdBy":"ops""#), "{silence}");

    let (ok, _, err) = run(&["silence", "expire", "--url", &url, &id]);
    assert!(ok, "{err}");
    let (ok, table, _) = run(&["silence", "query", "--url", &url]);
    assert!(ok && table.lines().count() == 1, "{table}");

    let (ok, _, err) = run(&["silence", "expire", "--url", &url, "no-such-id"]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = run(&["silence", "add", "--url", &url, "alertname=~\"(\""]);
    assert!(!ok && err.contains("matcher"), "{err}");
}

#[test]
fn check_config_validates_the_alerting_section() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vigil.yml");
    std::fs::write(
        &file,
        "alerting:\n  route:\n    receiver: hook\n    group_wait: soon\n  receivers: [{name: hook}]\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["check", "config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with(&format!("{}:4:17: ", file.display())), "{err}");
    std::fs::write(&file, "alerting:\n  config_file: am.yml\n").unwrap();
    std::fs::write(dir.path().join("am.yml"), "route:\n  receiver: nobody\n").unwrap();
    let (ok, _, err) = run(&["check", "config", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with(&format!("{}:2:13: undefined receiver", dir.path().join("am.yml").display())), "{err}");
    std::fs::write(dir.path().join("am.yml"), "route:\n  receiver: x\nreceivers: [{name: x}]\n").unwrap();
    let (ok, out, err) = run(&["check", "config", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.ends_with("ok\n"), "{out}");
}
