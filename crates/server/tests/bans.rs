//! The fleet ban API against a real server on 127.0.0.1: adding, extending, listing and removing bans,
//! generations and the `unchanged` answer, expiry on the timer, validation, the allow-list, the cap, the
//! metrics, and bans surviving a restart.

use std::time::Duration;

use serde_json::Value;

use crate::support::{request, wait_for, Response, TestServer};

fn post(s: &TestServer, body: &str) -> Response {
    request(s.addr, "POST", "/api/v1/bans", &[("Content-Type", "application/json")], body.as_bytes())
}

fn delete(s: &TestServer, ip: &str) -> Response {
    request(s.addr, "DELETE", &format!("/api/v1/bans/{ip}"), &[], &[])
}

/// `data` of a successful list.
fn list(s: &TestServer) -> Value {
    let r = s.get("/api/v1/bans");
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v = r.json();
    assert_eq!(v["status"], "success");
    v["data"].take()
}

fn ips(data: &Value) -> Vec<String> {
    data["bans"].as_array().unwrap().iter().map(|b| b["ip"].as_str().unwrap().to_owned()).collect()
}

/// The value of one sample line of `/metrics`, e.g. `vigil_fleet_bans_active`.
fn metric(s: &TestServer, series: &str) -> Option<f64> {
    let text = s.get("/metrics").body;
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn add_extend_list_and_remove() {
    let s = TestServer::start();
    assert_eq!(ips(&list(&s)), Vec::<String>::new());
    let r = post(&s, r#"{"ip":"192.0.2.7","duration":"1h","reason":"5 failures","jail":"sshd","origin":"web1"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let added = r.json()["data"].clone();
    assert_eq!(added["ban"]["count"], 1);
    let r = post(&s, r#"{"ip":"2001:db8::1","duration":"never"}"#);
    assert_eq!(r.status, 200, "{}", r.body);

    let data = list(&s);
    assert_eq!(ips(&data), ["192.0.2.7", "2001:db8::1"]);
    assert!(data["generation"].as_i64().unwrap() >= added["generation"].as_i64().unwrap());
    let ban = &data["bans"][0];
    assert_eq!(
        (&ban["jail"], &ban["origin"], &ban["reason"], &ban["count"]),
        (&Value::from("sshd"), &Value::from("web1"), &Value::from("5 failures"), &Value::from(1))
    );
    let created = vigil_model::time::parse_rfc3339(ban["created_at"].as_str().unwrap()).unwrap();
    let expires = vigil_model::time::parse_rfc3339(ban["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, 3_600_000);
    let manual = &data["bans"][1];
    assert_eq!(
        (&manual["jail"], &manual["origin"], &manual["expires_at"]),
        (&Value::from("manual"), &Value::from("api"), &Value::Null)
    );

    // Another host reports the same address for longer: one ban, later expiry, counted twice.
    let r = post(&s, r#"{"ip":"192.0.2.7","duration":"2h","reason":"again","jail":"sshd","origin":"web2"}"#);
    let ban = &r.json()["data"]["ban"];
    assert_eq!(
        (&ban["count"], &ban["origin"], &ban["reason"]),
        (&Value::from(2), &Value::from("web1"), &Value::from("again"))
    );
    let expires2 = vigil_model::time::parse_rfc3339(ban["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires2 >= expires + 3_600_000 - 5_000, "{expires2} vs {expires}");

    assert_eq!(delete(&s, "192.0.2.7").status, 200);
    assert_eq!(ips(&list(&s)), ["2001:db8::1"]);
    let r = delete(&s, "192.0.2.7");
    assert_eq!((r.status, error_of(&r)), (404, "no ban for 192.0.2.7".to_owned()));
    let r = delete(&s, "not-an-ip");
    assert_eq!(r.status, 400);
    assert!(error_of(&r).starts_with("ip: "), "{}", r.body);

    assert_eq!(metric(&s, "vigil_fleet_bans_active"), Some(1.0));
    assert_eq!(metric(&s, r#"vigil_fleet_bans_added_total{origin_kind="agent"}"#), Some(2.0));
    assert_eq!(metric(&s, r#"vigil_fleet_bans_added_total{origin_kind="api"}"#), Some(1.0));
    assert_eq!(metric(&s, r#"vigil_fleet_bans_removed_total{reason="api"}"#), Some(1.0));
    assert_eq!(metric(&s, r#"vigil_fleet_bans_removed_total{reason="expired"}"#), Some(0.0));
}

#[test]
fn generations_and_the_unchanged_answer() {
    let s = TestServer::start();
    let g0 = list(&s)["generation"].as_i64().unwrap();
    let r = s.get(&format!("/api/v1/bans?generation={g0}"));
    assert_eq!(r.json()["data"], serde_json::json!({"generation": g0, "unchanged": true}));

    post(&s, r#"{"ip":"192.0.2.1","duration":"1h"}"#);
    let data = s.get(&format!("/api/v1/bans?generation={g0}")).json()["data"].clone();
    let g1 = data["generation"].as_i64().unwrap();
    assert!(g1 > g0);
    assert_eq!(ips(&data), ["192.0.2.1"]);
    assert_eq!(s.get(&format!("/api/v1/bans?generation={g1}")).json()["data"]["unchanged"], true);

    // Extending changes the generation too (agents re-apply the new expiry).
    post(&s, r#"{"ip":"192.0.2.1","duration":"2h"}"#);
    let g2 = list(&s)["generation"].as_i64().unwrap();
    assert!(g2 > g1);
    delete(&s, "192.0.2.1");
    let data = s.get(&format!("/api/v1/bans?generation={g2}")).json()["data"].clone();
    assert!(data["generation"].as_i64().unwrap() > g2);
    assert_eq!(ips(&data), Vec::<String>::new());

    let r = s.get("/api/v1/bans?generation=soon");
    assert_eq!((r.status, error_of(&r)), (400, "generation: must be an integer".to_owned()));
}

#[test]
fn expired_bans_leave_the_list_on_the_timer() {
    let s = TestServer::start_with(|o| o.bans.expire_every = Duration::from_millis(20));
    let r = post(&s, r#"{"ip":"192.0.2.1","duration":"300ms","origin":"web1"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    post(&s, r#"{"ip":"192.0.2.2","duration":"1h"}"#);
    let g = list(&s)["generation"].as_i64().unwrap();
    // `/metrics` does not expire anything itself: only the timer can bring these to their values.
    wait_for("the short ban to expire", Duration::from_secs(10), || {
        (metric(&s, r#"vigil_fleet_bans_removed_total{reason="expired"}"#) == Some(1.0)).then_some(())
    });
    assert_eq!(metric(&s, "vigil_fleet_bans_active"), Some(1.0));
    let data = s.get(&format!("/api/v1/bans?generation={g}")).json()["data"].clone();
    assert_eq!(ips(&data), ["192.0.2.2"]);
    assert!(data["generation"].as_i64().unwrap() > g);
}

#[test]
fn lists_never_show_expired_bans() {
    // The timer runs rarely here, so the list itself must expire the ban.
    let s = TestServer::start_with(|o| o.bans.expire_every = Duration::from_secs(3600));
    post(&s, r#"{"ip":"192.0.2.1","duration":"100ms"}"#);
    let g = list(&s)["generation"].as_i64().unwrap();
    let data = wait_for("the list to drop the expired ban", Duration::from_secs(10), || {
        let data = s.get(&format!("/api/v1/bans?generation={g}")).json()["data"].clone();
        (data["unchanged"] != true).then_some(data)
    });
    assert_eq!(ips(&data), Vec::<String>::new());
    assert_eq!(metric(&s, r#"vigil_fleet_bans_removed_total{reason="expired"}"#), Some(1.0));
}

#[test]
fn invalid_requests_are_refused_naming_the_field() {
    let s = TestServer::start_with(|o| {
        o.bans.ignoreip = vec!["10.0.0.0/8".parse().unwrap(), "2001:db8:1::/48".parse().unwrap()];
        o.bans.max_active = 2;
    });
    let cases = [
        (r#"{"ip":"192.0.2.256","duration":"1h"}"#, "ip: \"192.0.2.256\" is not an IP address"),
        (r#"{"ip":"192.0.2.0/24","duration":"1h"}"#, "ip: \"192.0.2.0/24\" is not an IP address"),
        (r#"{"ip":"192.0.2.1","duration":-60}"#, "duration: -60 is negative"),
        (r#"{"ip":"192.0.2.1","duration":"-1h"}"#, "duration: \"-1h\" is negative"),
        (
            r#"{"ip":"192.0.2.1","duration":"5y"}"#,
            "duration: \"5y\" is longer than a year; use \"never\" for a permanent ban",
        ),
        (
            r#"{"ip":"192.0.2.1","duration":"1h","jail":"a;b"}"#,
            "jail: \"a;b\" must be non-empty letters, digits, '-', '_' or '.'",
        ),
        (
            r#"{"ip":"10.2.3.4","duration":"1h"}"#,
            "ip: 10.2.3.4 is in the allow-list (10.0.0.0/8 in server.bans.ignoreip)",
        ),
        (
            r#"{"ip":"2001:db8:1::9","duration":"1h"}"#,
            "ip: 2001:db8:1::9 is in the allow-list (2001:db8:1::/48 in server.bans.ignoreip)",
        ),
        (
            r#"{"ip":"::ffff:10.0.0.1","duration":"1h"}"#,
            "ip: 10.0.0.1 is in the allow-list (10.0.0.0/8 in server.bans.ignoreip)",
        ),
    ];
    for (body, message) in cases {
        let r = post(&s, body);
        assert_eq!((r.status, error_of(&r).as_str()), (400, message), "{body}");
        assert_eq!(r.json()["errorType"], "bad_data");
    }
    let reason = "x".repeat(300);
    let r = post(&s, &format!(r#"{{"ip":"192.0.2.1","duration":"1h","reason":"{reason}"}}"#));
    assert_eq!((r.status, error_of(&r)), (400, "reason: is longer than 256 bytes".to_owned()));

    let huge = format!(r#"{{"ip":"192.0.2.1","duration":"1h","reason":"{}"}}"#, "x".repeat(1 << 20));
    let r = post(&s, &huge);
    assert_eq!((r.status, error_of(&r)), (413, "body: larger than 65536 bytes".to_owned()));

    assert_eq!(post(&s, r#"{"ip":"192.0.2.1","duration":"1h"}"#).status, 200);
    assert_eq!(post(&s, r#"{"ip":"192.0.2.2","duration":"1h"}"#).status, 200);
    let r = post(&s, r#"{"ip":"192.0.2.3","duration":"1h"}"#);
    assert_eq!(
        (r.status, error_of(&r)),
        (503, "the fleet ban list is full: 2 active bans (server.bans.max_active)".to_owned())
    );
    assert_eq!(post(&s, r#"{"ip":"192.0.2.2","duration":"2h"}"#).status, 200, "a full list still extends");
    assert_eq!(ips(&list(&s)), ["192.0.2.1", "192.0.2.2"]);
}

#[test]
fn bans_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), |_| {});
    post(&s, r#"{"ip":"192.0.2.1","duration":"1h","reason":"r1","jail":"sshd","origin":"web1"}"#);
    post(&s, r#"{"ip":"2001:db8::7","duration":"never"}"#);
    post(&s, r#"{"ip":"192.0.2.9","duration":"1h"}"#);
    delete(&s, "192.0.2.9");
    let before = list(&s);
    drop(s);
    let s = TestServer::start_in(dir.path(), |_| {});
    assert_eq!(list(&s), before);
    let g = before["generation"].as_i64().unwrap();
    assert_eq!(s.get(&format!("/api/v1/bans?generation={g}")).json()["data"]["unchanged"], true);
    post(&s, r#"{"ip":"192.0.2.1","duration":"1h"}"#);
    let after = list(&s);
    assert!(after["generation"].as_i64().unwrap() > g);
    assert_eq!(after["bans"][0]["count"], 2);
    assert_eq!(metric(&s, "vigil_fleet_bans_active"), Some(2.0));
}
