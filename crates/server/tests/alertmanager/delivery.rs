//! Alerts posted to `/api/v2/alerts` reach the webhook with Alertmanager's v4 body; silences suppress and
//! release; a restart neither re-sends nor forgets.

use std::time::Duration;

use vigil_alerting::{labels::labels, Fingerprint, Timestamp};

use super::harness::{alert, webhook_config, AmServer, Sink, LIMIT};
use crate::support::wait_for;

/// Firing alerts carry Go's zero time as `endsAt`, as Alertmanager's webhook writes them.
#[test]
fn posted_alerts_arrive_with_the_exact_v4_body() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start(dir.path(), &webhook_config(&sink.url));
    let r = server.post_json("/api/v2/alerts", &format!("[{}]", alert("HighLoad", "a")));
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let bodies = sink.wait_for(1);
    let fp = Fingerprint::of(&labels([("alertname", "HighLoad"), ("instance", "a")]));
    let expected = format!(
        concat!(
            r#"{{"receiver":"hook","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"HighLoad","instance":"a"}},"#,
            r#""annotations":{{"summary":"load"}},"startsAt":"2024-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","#,
            r#""generatorURL":"http://prom/graph","fingerprint":"{fp}"}}],"groupLabels":{{"alertname":"HighLoad"}},"#,
            r#""commonLabels":{{"alertname":"HighLoad","instance":"a"}},"commonAnnotations":{{"summary":"load"}},"externalURL":"","#,
            r#""version":"4","groupKey":"{{}}:{{alertname=\"HighLoad\"}}","truncatedAlerts":0}}"#,
            "\n"
        ),
        fp = fp
    );
    assert_eq!(bodies[0], expected);
}

#[test]
fn a_silence_suppresses_and_expiring_it_releases() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let server = AmServer::start(dir.path(), &webhook_config(&sink.url));
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Load", "a")));
    sink.wait_for(1);
    let id = server.silence(r#"[{"name":"instance","value":"b","isRegex":false,"isEqual":true}]"#);
    // b is silenced, c is not: the flush that brings c would carry b too if the silence did not hold.
    let r = server.post_json("/api/v2/alerts", &format!("[{},{}]", alert("Load", "b"), alert("Load", "c")));
    assert_eq!(r.status, 200, "{}", r.body);
    let bodies = sink.wait_for(2);
    assert!(bodies[1].contains(r#""instance":"c""#), "{}", bodies[1]);
    assert!(!bodies[1].contains(r#""instance":"b""#), "silenced alert was sent: {}", bodies[1]);
    let alerts = server.get("/api/v2/alerts?filter=instance%3D%22b%22").json();
    assert_eq!(alerts[0]["status"]["state"], "suppressed");
    assert_eq!(alerts[0]["status"]["silencedBy"][0], id.as_str());

    assert_eq!(server.delete(&format!("/api/v2/silence/{id}")).status, 200);
    let bodies = sink.wait_for(3);
    assert!(bodies[2].contains(r#""instance":"b""#), "{}", bodies[2]);
    assert_eq!(server.get(&format!("/api/v2/silence/{id}")).json()["status"]["state"], "expired");
}

#[test]
fn a_restart_neither_resends_nor_forgets() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let config = webhook_config(&sink.url);
    let server = AmServer::start(dir.path(), &config);
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Disk", "a")));
    sink.wait_for(1);
    let id = server.silence(r#"[{"name":"instance","value":"z","isRegex":false,"isEqual":true}]"#);
    // The notification log is written once the delivery is reported, just after the sink saw it.
    wait_for("the delivery to be logged", LIMIT, || {
        server.am.read(|d, _| d.nflog().entries().next().is_some()).then_some(())
    });
    drop(server);

    let restarted = Timestamp::now();
    let server = AmServer::start(dir.path(), &config);
    let silence = server.get(&format!("/api/v2/silence/{id}"));
    assert_eq!(silence.status, 200, "silence forgotten: {}", silence.body);
    assert_eq!(silence.json()["status"]["state"], "active");
    let alerts = server.get("/api/v2/alerts").json();
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["labels"]["instance"], "a");
    // The rebuilt group flushes at once (its alert started long ago), then waits group_interval: once the
    // next deadline has moved past the start, the flush has happened, and it must not have sent anything.
    wait_for("the first flush after the restart", LIMIT, || {
        server
            .am
            .read(|d, _| d.next_deadline().is_some_and(|t| t > restarted + Duration::from_millis(500)))
            .then_some(())
    });
    server.post_json("/api/v2/alerts", &format!("[{}]", alert("Disk", "b")));
    let bodies = sink.wait_for(2);
    assert!(bodies[1].contains(r#""instance":"a""#) && bodies[1].contains(r#""instance":"b""#), "{}", bodies[1]);
    assert_eq!(sink.bodies().len(), 2, "{:?}", sink.bodies());
}
