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
