//! A real Prometheus 2.42 evaluates an alerting rule and sends its alerts to `vigil server`'s API v2 as to an
//! Alertmanager; vigil's `alerting:` routes them to a webhook, which receives Prometheus' labels (external labels
//! included) and expanded annotations in Alertmanager's v4 body.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{free_addr, http_get, log_to, peer_bin, start_vigil_server, wait_for, Proc, WebhookSink};

const RULES: &str = r#"groups:
  - name: interop
    rules:
      - alert: AlwaysFiring
        expr: label_replace(vector(1), "instance", "demo:9100", "", "")
        for: 5s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is firing"
          description: "value {{ $value }}"
"#;

/// Nanoseconds since the epoch of an RFC 3339 UTC time as Go writes it (`2024-01-02T03:04:05.123456789Z`).
fn unix_nanos(t: &str) -> i128 {
    let bad = || -> ! { panic!("not an RFC 3339 UTC time: {t:?}") };
    let (date, time) = t.strip_suffix('Z').and_then(|t| t.split_once('T')).unwrap_or_else(|| bad());
    let num = |s: &str| s.parse::<i64>().unwrap_or_else(|_| bad());
    let d: Vec<i64> = date.split('-').map(num).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let h: Vec<i64> = hms.split(':').map(num).collect();
    assert!(d.len() == 3 && h.len() == 3 && frac.len() <= 9, "not an RFC 3339 UTC time: {t:?}");
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + h[0] * 3600 + h[1] * 60 + h[2];
    let nanos = if frac.is_empty() { 0 } else { num(&format!("{frac:0<9}")) };
    i128::from(secs) * 1_000_000_000 + i128::from(nanos)
}

#[test]
fn prometheus_alerts_reach_the_webhook_through_vigil() {
    peer_bin("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let mut sink = WebhookSink::start(dir.path());

    let vigil_addr = free_addr();
    let vigil_config = dir.path().join("vigil.yml");
    std::fs::write(
        &vigil_config,
        format!(
            "alerting:\n  route:\n    receiver: hook\n    group_by: [alertname]\n    group_wait: 1s\n    \
             group_interval: 5s\n    repeat_interval: 1h\n  receivers:\n    - name: hook\n      webhook_configs:\n        \
             - url: http://{}/vigil\n          send_resolved: true\n",
            sink.addr
        ),
    )
    .unwrap();
    let data = dir.path().join("vigil-data");
    let _vigil = start_vigil_server(
        &["--config", vigil_config.to_str().unwrap(), "--listen", &vigil_addr, "--data", data.to_str().unwrap()],
        &vigil_addr,
    );

    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let prom_addr = free_addr();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels: {{cluster: interop}}\n\
             rule_files: ['{}']\n\
             alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{vigil_addr}']}}]\n",
            rules.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(peer_bin("prometheus"));
    cmd.arg(format!("--config.file={}", prom_config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("prometheus").display()))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg(format!("--web.external-url=http://{prom_addr}"))
        // Prometheus learns its Alertmanagers from service discovery, whose first update comes up to 5 s after
        // the start; an alert that fires before is dropped and sent again only after the resend delay.
        .arg("--rules.alert.resend-delay=1s");
    log_to(dir.path(), "prometheus", &mut cmd);
    let mut prom = Proc::spawn("prometheus", &mut cmd);

    let bodies = wait_for("the webhook to receive Prometheus' alert", Duration::from_secs(30), || {
        prom.assert_alive();
        let bodies = sink.bodies("/vigil");
        (!bodies.is_empty()).then_some(bodies)
    });
    let body = &bodies[0];

    // Prometheus' own view: the alert fired `for` after it became active (evaluations are exactly 1 s apart); the
    // API v2 client Prometheus sends with writes times to the millisecond (go-openapi's `strfmt.DateTime`).
    let active_at = wait_for("the alert in Prometheus' /api/v1/alerts", Duration::from_secs(10), || {
        let answer: Value = serde_json::from_str(&http_get(&format!("http://{prom_addr}/api/v1/alerts"))?).ok()?;
        answer["data"]["alerts"][0]["activeAt"].as_str().map(str::to_owned)
    });
    let alert = &body["alerts"][0];
    let starts_at = alert["startsAt"].as_str().expect("startsAt is a string");
    let fired_ms = (unix_nanos(&active_at) + 5_000_000_000).div_euclid(1_000_000);
    assert_eq!(unix_nanos(starts_at), fired_ms * 1_000_000, "startsAt {starts_at}, active {active_at}");
    let generator = alert["generatorURL"].as_str().expect("generatorURL is a string");
    let want_generator = format!("http://{prom_addr}/graph?g0.expr=");
    assert!(generator.starts_with(&want_generator), "{generator}");
    let fingerprint = alert["fingerprint"].as_str().expect("fingerprint is a string");
    assert!(fingerprint.len() == 16 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()), "{fingerprint}");
    // vigil's API v2 shows the same alert under the same fingerprint.
    let listed: Value =
        serde_json::from_str(&http_get(&format!("http://{vigil_addr}/api/v2/alerts")).unwrap()).unwrap();
    assert_eq!(listed[0]["fingerprint"], fingerprint, "{listed}");

    let labels =
        json!({"alertname": "AlwaysFiring", "cluster": "interop", "instance": "demo:9100", "severity": "page"});
    let annotations = json!({"description": "value 1", "summary": "demo:9100 is firing"});
    let expected = json!({
        "receiver": "hook",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": generator,
            "fingerprint": fingerprint,
        }],
        "groupLabels": {"alertname": "AlwaysFiring"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        // As Alertmanager's `--web.external-url`: `server.external_url`, by default `http://<listen address>`.
        "externalURL": format!("http://{vigil_addr}"),
        "version": "4",
        "groupKey": "{}:{alertname=\"AlwaysFiring\"}",
        "truncatedAlerts": 0,
    });
    assert_eq!(body, &expected);
}
