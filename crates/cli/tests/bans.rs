//! `vigil bans list|add|remove` against a running `vigil server` (with `server.bans` from its config file), and
//! `kill -9` right after the ban API acknowledged changes losing none of them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{free_addr, http_get, http_post_json, start_vigil_server, vigil, wait_for};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = vigil().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn add_list_and_remove_bans() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.yml");
    std::fs::write(&config, "server:\n  bans:\n    ignoreip: [198.51.100.0/24]\n").unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let args = ["--listen", &addr, "--config", config.to_str().unwrap(), "--data", data.to_str().unwrap()];
    let _server = start_vigil_server(&args, &addr);
    let url = format!("http://{addr}");

    let (ok, out, err) =
        run(&["bans", "add", "--url", &url, "192.0.2.7", "--duration", "2h", "--reason", "brute force"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("192.0.2.7 banned until ") && out.trim_end().ends_with("(count 1)"), "{out}");
    let (ok, out, err) = run(&["bans", "add", "--url", &url, "2001:db8::1", "--duration", "never", "--jail", "web"]);
    assert!(ok, "{err}");
    assert_eq!(out, "2001:db8::1 banned until never (count 1)\n");

    let (ok, table, err) = run(&["bans", "list", "--url", &url]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split("  ").filter(|c| !c.is_empty()).map(str::trim).collect();
    assert_eq!(header, ["IP", "Jail", "Origin", "Expires In", "Count", "Reason"]);
    let row: Vec<&str> = lines[1].split("  ").filter(|c| !c.is_empty()).map(str::trim).collect();
    assert_eq!(row[..3], ["192.0.2.7", "manual", "api"], "{table}");
    assert!(row[3] == "2h" || row[3].starts_with("1h59m"), "{table}");
    assert_eq!(row[4..], ["1", "brute force"], "{table}");
    let row: Vec<&str> = lines[2].split("  ").filter(|c| !c.is_empty()).map(str::trim).collect();
    assert_eq!(row, ["2001:db8::1", "web", "api", "never", "1"], "{table}");

    let (ok, _, err) = run(&["bans", "remove", "--url", &url, "192.0.2.7", "2001:db8::1"]);
    assert!(ok, "{err}");
    let (ok, table, _) = run(&["bans", "list", "--url", &url]);
    assert!(ok && table.lines().count() == 1, "{table}");

    let (ok, _, err) = run(&["bans", "remove", "--url", &url, "192.0.2.7"]);
    assert!(!ok && err.contains("404") && err.contains("no ban for 192.0.2.7"), "{err}");
    let (ok, _, err) = run(&["bans", "add", "--url", &url, "198.51.100.9"]);
    assert!(!ok && err.contains("400") && err.contains("198.51.100.0/24"), "{err}");
    let (ok, _, err) = run(&["bans", "add", "--url", &url, "192.0.2.1", "--duration", "soon"]);
    assert!(!ok && err.contains("duration: \"soon\" is not a duration"), "{err}");
    let (ok, _, err) = run(&["bans", "add", "--url", &url, "192.0.2.1", "--duration=-5"]);
    assert!(!ok && err.contains("duration"), "{err}");
}

#[test]
fn acknowledged_bans_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_string();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut n = 0u32;
    for round in 0..3 {
        let addr = free_addr();
        let mut server = start_vigil_server(&["--listen", &addr, "--data", &data_arg], &addr);
        let list = http_get(&format!("http://{addr}/api/v1/bans")).unwrap();
        assert_eq!(ips_of(&list), expected, "round {round}: after a kill -9");
        for _ in 0..20 {
            n += 1;
            let ip = format!("192.0.{}.{}", n / 250, n % 250 + 1);
            let body = format!(r#"{{"ip":"{ip}","duration":"1h","reason":"round {round}"}}"#);
            http_post_json(&format!("http://{addr}/api/v1/bans"), &body).unwrap();
            expected.insert(ip);
        }
        // Remove one acknowledged ban as the last change before the kill.
        let gone = expected.pop_first().unwrap();
        let status = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE"])
            .arg(format!("http://{addr}/api/v1/bans/{gone}"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&status.stdout), "200");
        // SIGKILL right after the last acknowledgement: no shutdown, no flush.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    let addr = free_addr();
    let _server = start_vigil_server(&["--listen", &addr, "--data", &data_arg], &addr);
    let list = wait_for("the ban list", Duration::from_secs(10), || http_get(&format!("http://{addr}/api/v1/bans")));
    assert_eq!(ips_of(&list), expected);
}

fn ips_of(list: &str) -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_str(list).unwrap();
    v["data"]["bans"].as_array().unwrap().iter().map(|b| b["ip"].as_str().unwrap().to_owned()).collect()
}
