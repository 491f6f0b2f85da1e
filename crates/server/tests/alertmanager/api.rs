//! API v2 shapes and errors, as Alertmanager 0.25 answers them.

use super::harness::{alert, webhook_config, AmServer};

fn server(dir: &std::path::Path) -> AmServer {
    // Nothing listens on port 9: deliveries fail, which these tests do not look at.
    AmServer::start(dir, &webhook_config("http://127.0.0.1:9/none"))
}

#[test]
fn alerts_groups_silences_status_and_receivers_have_alertmanagers_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path());
    assert_eq!(s.post_json("/api/v2/alerts", &format!("[{},{}]", alert("A", "x"), alert("B", "y"))).status, 200);
    let id = s.silence(r#"[{"name":"alertname","value":"B","isRegex":false,"isEqual":true}]"#);

    let alerts = s.get("/api/v2/alerts").json();
    let a = &alerts[0];
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "annotations",
            "endsAt",
            "fingerprint",
            "generatorURL",
            "labels",
            "receivers",
            "startsAt",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(a["receivers"], serde_json::json!([{"name": "hook"}]));
    assert_eq!(a["startsAt"], "2024-01-01T00:00:00.000Z");
    assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
    let states: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["status"]["state"].as_str().unwrap()).collect();
    assert!(states.contains(&"active") && states.contains(&"suppressed"), "{alerts}");
    let silenced = s.get("/api/v2/alerts?silenced=false").json();
    assert_eq!(silenced.as_array().unwrap().len(), 1);
    assert_eq!(silenced[0]["labels"]["alertname"], "A");
    assert_eq!(s.get("/api/v2/alerts?receiver=nobody").json(), serde_json::json!([]));
    assert_eq!(s.get("/api/v2/alerts?filter=alertname%3D%22B%22").json()[0]["status"]["silencedBy"][0], id.as_str());

    let groups = s.get("/api/v2/alerts/groups").json();
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");
    assert_eq!(groups[0]["labels"], serde_json::json!({"alertname": "A"}));
    assert_eq!(groups[0]["receiver"], serde_json::json!({"name": "hook"}));
    assert_eq!(groups[0]["alerts"][0]["labels"]["instance"], "x");

    let silences = s.get("/api/v2/silences").json();
    let keys: Vec<&str> = silences[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["comment", "createdBy", "endsAt", "id", "matchers", "startsAt", "status", "updatedAt"]);
    assert_eq!(
        silences[0]["matchers"],
        serde_json::json!([{"isEqual": true, "isRegex": false, "name": "alertname", "value": "B"}])
    );
    assert_eq!(silences[0]["status"], serde_json::json!({"state": "active"}));
    assert_eq!(s.get(&format!("/api/v2/silence/{id}")).json()["id"], id.as_str());
    assert_eq!(s.get("/api/v2/silence/nope").status, 404);

    let status = s.get("/api/v2/status").json();
    assert_eq!(status["cluster"]["status"], "disabled");
    assert!(status["config"]["original"].as_str().unwrap().contains("receiver: hook"));
    assert!(status["uptime"].as_str().unwrap().ends_with('Z'));
    assert!(status["versionInfo"]["version"].is_string());
    assert_eq!(s.get("/api/v2/receivers").json(), serde_json::json!([{"name": "hook"}]));
}

#[test]
fn bad_input_is_a_400_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path());
    for (path, body, needle) in [
        ("/api/v2/alerts", "{", "parsing alerts body"),
        ("/api/v2/alerts", r#"[{"labels":{}}]"#, "at least one label pair required"),
        ("/api/v2/alerts", r#"[{"labels":{"a":"b"},"startsAt":"yesterday"}]"#, "startsAt"),
        ("/api/v2/silences", r#"{"matchers":[]}"#, "parsing silence body"),
        (
            "/api/v2/silences",
            r#"{"matchers":[],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2100-01-01T00:00:00Z","createdBy":"a","comment":"c"}"#,
            "at least one matcher",
        ),
    ] {
        let r = s.post_json(path, body);
        assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
        let message: String = serde_json::from_str(&r.body).unwrap();
        assert!(message.contains(needle), "{path} {body}: {message}");
    }
    assert_eq!(s.get("/api/v2/alerts?active=maybe").status, 400);
    assert_eq!(s.get("/api/v2/alerts?filter=a%3D~%22(%22").status, 400);
    let huge = format!("[{}]", vec![alert("A", "x"); 50_000].join(","));
    assert_eq!(s.post_json("/api/v2/alerts", &huge).status, 413);
}
