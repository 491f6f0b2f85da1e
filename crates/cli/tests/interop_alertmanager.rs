//! The same Alertmanager configuration runs in a real Alertmanager 0.25 and in `vigil server`; the same alert
//! stream is POSTed to both `/api/v2/alerts` and each group's sequence of webhook notifications must be equal, body
//! for body, apart from `externalURL`, the host of `generatorURL` and the moment of delivery.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::{
    free_addr, http_get, http_post_json, log_to, peer_bin, shared_dir, start_vigil_server, wait_for, Proc, WebhookSink,
};

/// Both get this configuration, `{URL}` replaced by their own path on the one webhook sink. Critical alerts go to a
/// receiver keeping one alert per notification, so `truncatedAlerts` and nested group keys are compared too.
const CONFIG: &str = r#"route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: capped
receivers:
  - name: hook
    webhook_configs:
      - url: "{URL}"
        send_resolved: true
  - name: capped
    webhook_configs:
      - url: "{URL}"
        send_resolved: true
        max_alerts: 1
"#;

const LIMIT: Duration = Duration::from_secs(15);

/// Go's RFC 3339 form of a whole second since the epoch.
fn rfc3339(secs: i64) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The civil date of a day number (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// One postable alert; `ends` in the past resolves it. Its start has a nanosecond fraction, which both must keep.
fn alert(name: &str, instance: &str, severity: &str, starts: i64, ends: i64) -> Value {
    json!({
        "labels": {"alertname": name, "instance": instance, "severity": severity},
        "annotations": {"summary": format!("{name} on {instance}"), "runbook": "https://runbooks/x"},
        "startsAt": rfc3339(starts).replace('Z', ".123456789Z"),
        "endsAt": rfc3339(ends),
        "generatorURL": format!("http://prometheus:9090/graph?g0.expr={name}"),
    })
}

/// A body with what may differ removed: `externalURL`, and the host of every `generatorURL`.
fn normalized(body: &Value) -> Value {
    let mut body = body.clone();
    // Alertmanager's is `http://<hostname>:<port>`; vigil's is empty (see `interop_prometheus_alerts.rs`).
    body["externalURL"] = json!("");
    for alert in body["alerts"].as_array_mut().into_iter().flatten() {
        if let Some(url) = alert["generatorURL"].as_str() {
            let path = url.split_once("://").and_then(|(_, rest)| rest.split_once('/')).map_or("", |(_, p)| p);
            alert["generatorURL"] = json!(format!("http://HOST/{path}"));
        }
    }
    body
}

/// Notifications grouped by `groupKey`, each group's in arrival order.
fn by_group(bodies: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut groups = BTreeMap::<String, Vec<Value>>::new();
    for b in bodies {
        groups.entry(b["groupKey"].as_str().unwrap_or_default().to_owned()).or_default().push(normalized(b));
    }
    groups
}

#[test]
fn vigil_notifies_as_alertmanager_does() {
    let am_bin = peer_bin("prometheus-alertmanager");
    let dir = tempfile::tempdir().unwrap();
    let mut sink = WebhookSink::start(dir.path());
    let config_for = |path: &str| CONFIG.replace("{URL}", &format!("http://{}{path}", sink.addr));

    let am_addr = free_addr();
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(&am_config, config_for("/alertmanager")).unwrap();
    // Debian's Alertmanager reads its templates from /usr/share: the peers' wrapper overlays the unpacked tree
    // there in a private mount namespace (root only), then execs Alertmanager under this PID.
    let mut cmd = Command::new(shared_dir().join("peers/with-unpacked-share"));
    cmd.arg(am_bin)
        .arg(format!("--config.file={}", am_config.display()))
        .arg(format!("--storage.path={}", dir.path().join("alertmanager").display()))
        .arg(format!("--web.listen-address={am_addr}"))
        .arg("--cluster.listen-address=");
    log_to(dir.path(), "alertmanager", &mut cmd);
    let mut am = Proc::spawn("alertmanager", &mut cmd);

    let vigil_addr = free_addr();
    let am_file = dir.path().join("am-vigil.yml");
    std::fs::write(&am_file, config_for("/vigil")).unwrap();
    let vigil_config = dir.path().join("vigil.yml");
    std::fs::write(&vigil_config, "alerting:\n  config_file: am-vigil.yml\n").unwrap();
    let data = dir.path().join("vigil-data");
    let _vigil = start_vigil_server(
        &["--config", vigil_config.to_str().unwrap(), "--listen", &vigil_addr, "--data", data.to_str().unwrap()],
        &vigil_addr,
    );
    wait_for("Alertmanager ready", Duration::from_secs(30), || {
        if let Ok(Some(status)) = am.child.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("alertmanager.log")).unwrap_or_default();
            panic!("Alertmanager exited ({status}); it needs root for its mount namespace. Its log:\n{log}");
        }
        http_get(&format!("http://{am_addr}/-/ready"))
    });

    let post = |alerts: Vec<Value>| {
        let body = Value::Array(alerts).to_string();
        for addr in [&am_addr, &vigil_addr] {
            http_post_json(&format!("http://{addr}/api/v2/alerts"), &body).unwrap();
        }
    };
    let mut wait_both = |n: usize| {
        let am_bodies = sink.wait_bodies("/alertmanager", n, LIMIT);
        let vigil_bodies = sink.wait_bodies("/vigil", n, LIMIT);
        (am_bodies, vigil_bodies)
    };

    // Times are whole seconds well in the past, so both keep exactly what was posted.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (t0, later) = (now - 600, now + 3600);
    // Two groups: Disk (warning, to `hook`) and Load (critical, to `capped`).
    post(vec![
        alert("Disk", "a", "warning", t0, later),
        alert("Disk", "b", "warning", t0 + 1, later),
        alert("Load", "a", "critical", t0 + 2, later),
    ]);
    wait_both(2);
    // Disk a resolves and Load gains b: each group's next flush carries the change.
    post(vec![alert("Disk", "a", "warning", t0, t0 + 300), alert("Load", "b", "critical", t0 + 3, later)]);
    wait_both(4);
    // Everything resolves.
    post(vec![
        alert("Disk", "b", "warning", t0 + 1, t0 + 301),
        alert("Load", "a", "critical", t0 + 2, t0 + 302),
        alert("Load", "b", "critical", t0 + 3, t0 + 302),
    ]);
    let (am_bodies, vigil_bodies) = wait_both(6);

    let (theirs, ours) = (by_group(&am_bodies), by_group(&vigil_bodies));
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ["{}/{severity=\"critical\"}:{alertname=\"Load\"}", "{}:{alertname=\"Disk\"}"],
        "Alertmanager's groups"
    );
    for (key, want) in &theirs {
        let got = ours.get(key).unwrap_or_else(|| panic!("vigil sent nothing for group {key}: {ours:#?}"));
        assert_eq!(got.len(), want.len(), "group {key}: vigil {got:#?}\nAlertmanager {want:#?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "group {key}, notification {i}:\nvigil {g:#}\nAlertmanager {w:#}");
        }
    }
    assert_eq!(ours.len(), theirs.len(), "vigil's groups: {:?}", ours.keys());
    // Nothing else arrives: both are done once every alert is resolved and notified.
    assert_eq!(sink.bodies("/vigil").len(), 6);
}
