//! `vigil up`, as the README's quick start runs it: the host's metrics and the server's own are queryable, and
//! the default security alerts are loaded.

use std::time::Duration;

use crate::support::{free_addr, http_get, vigil, wait_for, Proc};

/// The instant query's result, when it has at least one series.
fn query(addr: &str, q: &str) -> Option<serde_json::Value> {
    let url = format!("http://{addr}/api/v1/query?query={q}");
    let answer: serde_json::Value = serde_json::from_str(&http_get(&url)?).ok()?;
    let result = answer["data"]["result"].clone();
    (!result.as_array()?.is_empty()).then_some(result)
}

#[test]
fn up_answers_node_load1_and_collects_its_own_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut up = Proc::spawn(
        "vigil up",
        vigil().args(["up", "--listen", &addr, "--data", data.to_str().unwrap()]).env("VIGIL_LOG", "warn"),
    );
    let load = wait_for("node_load1 from the host collectors", Duration::from_secs(30), || {
        up.assert_alive();
        query(&addr, "node_load1")
    });
    assert_eq!(load[0]["metric"]["job"], "node", "{load}");
    // The server's own metrics, beyond the tsdb's: reloads, rules and alerting are collected as job "vigil".
    let own = wait_for("the server's own metrics as job vigil", Duration::from_secs(30), || {
        query(&addr, "vigil_config_last_reload_successful%7Bjob%3D%22vigil%22%7D")
    });
    assert_eq!(own[0]["value"][1], "1", "{own}");
    assert!(query(&addr, "vigil_silences%7Bjob%3D%22vigil%22%7D").is_some());
    assert!(query(&addr, "vigil_tsdb_head_series%7Bjob%3D%22vigil%22%7D").is_some());
    // The default security alerts are loaded, from the file `vigil up` writes.
    let group = wait_for("the security rules", Duration::from_secs(30), || {
        let body: serde_json::Value = serde_json::from_str(&http_get(&format!("http://{addr}/api/v1/rules"))?).ok()?;
        body["data"]["groups"].as_array()?.iter().find(|g| g["name"] == "vigil-security").cloned()
    });
    let names: Vec<&str> = group["rules"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        ["SSHLoginFromNewAddress", "RootLogin", "SudoOutsideAllowedGroup", "SecurityFileChanged", "BanRateSpike"]
    );
    assert!(data.join("rules/security.yml").is_file());
}

/// The query's log lines through the server's Loki API, when there are any.
fn log_lines(addr: &str, logql: &str) -> Option<Vec<(serde_json::Value, String)>> {
    let q: String = logql.bytes().map(|b| format!("%{b:02X}")).collect();
    let body: serde_json::Value =
        serde_json::from_str(&http_get(&format!("http://{addr}/loki/api/v1/query_range?query={q}&limit=100"))?).ok()?;
    let mut lines = Vec::new();
    for stream in body["data"]["result"].as_array()? {
        for value in stream["values"].as_array()? {
            lines.push((stream["stream"].clone(), value[1].as_str()?.to_string()));
        }
    }
    (!lines.is_empty()).then_some(lines)
}

#[test]
fn up_without_agent_logs_ships_the_hosts_syslog_and_security_events_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::write(root.join("var/log/syslog"), "Nov 22 10:00:00 web1 backup[42]: up-default-needle done\n").unwrap();
    let auth = dir.path().join("events.log");
    std::fs::write(&auth, "").unwrap();
    let config = dir.path().join("vigil.yml");
    let yaml = format!(
        "agent:\n  paths: {{rootfs: {:?}}}\n  guard:\n    sources: [{{path: {:?}}}]\n",
        root.to_str().unwrap(),
        auth.to_str().unwrap()
    );
    std::fs::write(&config, yaml).unwrap();
    let addr = free_addr();
    let mut up = Proc::spawn(
        "vigil up",
        vigil()
            .args(["up", "--config", config.to_str().unwrap(), "--listen", &addr])
            .args(["--data", dir.path().join("data").to_str().unwrap()])
            .env("VIGIL_LOG", "warn"),
    );
    let lines = wait_for("the syslog line in the server", Duration::from_secs(30), || {
        up.assert_alive();
        log_lines(&addr, r#"{job="syslog"} |= "up-default-needle""#)
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].1.ends_with("backup[42]: up-default-needle done"), "{lines:?}");
    assert_eq!(lines[0].0["filename"], root.join("var/log/syslog").to_str().unwrap());
    // The guard's events take the same way.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let t = vigil_model::time::format_rfc3339(now_ms as i64);
    std::fs::write(&auth, format!("{t} web1 sshd[7]: Failed password for root from 203.0.113.8 port 4022 ssh2\n"))
        .unwrap();
    let events = wait_for("the sshd failure as a security record", Duration::from_secs(30), || {
        up.assert_alive();
        log_lines(&addr, r#"{job="security"} | event_action="ssh-login" | source_ip="203.0.113.8""#)
    });
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0["event_outcome"], "failure", "{events:?}");
}
