//! The webhook payload, byte for byte. `fixtures/am-0.25-webhook-*.json` are bodies a real Alertmanager
//! 0.25.0 (Debian build) posted for `fixtures/am-0.25-webhook.yml` and the alerts below; vigil must produce
//! the same bytes from the same input: field order, escaping, group keys (sorted as Go sorts them),
//! fingerprints, times, the receiver through `regexp.QuoteMeta`.

use std::collections::BTreeMap;

use vigil_alerting::webhook::render;
use vigil_alerting::{Dispatcher, DispatcherOptions, Notification, PostableAlert, Timestamp};

use crate::support::{at, config};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ts(s: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn post(
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
    start: &str,
    end: Option<&str>,
    url: &str,
) -> PostableAlert {
    let map = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    PostableAlert {
        labels: map(labels),
        annotations: map(annotations),
        starts_at: ts(start),
        ends_at: end.and_then(ts),
        generator_url: url.to_owned(),
    }
}

fn run(d: &mut Dispatcher, until: Timestamp, out: &mut BTreeMap<String, Vec<Notification>>) {
    while let Some(t) = d.next_deadline().filter(|&t| t <= until) {
        for n in d.run_due_delivered(t) {
            out.entry(n.group_key.clone()).or_default().push(n);
        }
    }
}

#[test]
fn payloads_match_alertmanager_byte_for_byte() {
    let cfg = config(&fixture("am-0.25-webhook.yml"));
    let opts =
        DispatcherOptions { external_url: "http://am.example:9093/prefix".into(), ..DispatcherOptions::default() };
    let mut d = Dispatcher::new(&cfg, opts, at(0.0));
    let test = |extra: &[(&'static str, &'static str)]| {
        let mut l =
            vec![("alertname", "Test"), ("a", "x"), ("a0", "y"), ("b", "é<&>"), ("env", "prod"), ("tab", "t\tq\"")];
        l.extend_from_slice(extra);
        l
    };
    d.ingest(
        vec![
            post(
                &test(&[("service", "api"), ("job", "node")]),
                &[("summary", "<b>bold</b> & more"), ("description", "line1\nline2\u{2028}end\u{1}")],
                "2024-01-01T00:00:00.123456789Z",
                None,
                "http://prom:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
            ),
            post(
                &test(&[("service", "web"), ("instance", "h:9100")]),
                &[("summary", "<b>bold</b> & more")],
                "2024-01-01T00:00:01Z",
                Some("2099-01-01T00:00:00Z"),
                "",
            ),
            post(&[("alertname", "Crit"), ("severity", "crit"), ("a", "1")], &[], "2024-01-01T00:00:02.5Z", None, ""),
        ],
        at(100.0),
    )
    .unwrap();
    let mut sent = BTreeMap::new();
    run(&mut d, at(100.0), &mut sent);
    d.ingest(
        vec![
            post(
                &[("alertname", "Crit"), ("severity", "crit"), ("a", "1")],
                &[],
                "2024-01-01T00:00:02.5Z",
                Some("2024-01-01T00:10:00.000000001Z"),
                "",
            ),
            post(&[("alertname", "Root"), ("a", "q"), ("zz", "1")], &[("x", "1")], "2024-01-01T00:00:03Z", None, ""),
            post(&[("alertname", "Root"), ("a", "q"), ("zz", "2")], &[("x", "2")], "2024-01-01T00:00:04Z", None, ""),
        ],
        at(700.0),
    )
    .unwrap();
    run(&mut d, at(701.0), &mut sent);

    let body = |key: &str, i: usize| String::from_utf8(render(&sent[key][i], 0)).unwrap();
    let crit = r#"{}/{severity="crit"}:{a="1", alertname="Crit", severity="crit"}"#;
    let test_key =
        r#"{}/{env=~"prod.*",service=~"^(?:api|web)$",team!="x\"y"}:{a0="y", a="x", b="é<&>", tab="t\tq\""}"#;
    assert_eq!(body(crit, 0), fixture("am-0.25-webhook-001.json"));
    assert_eq!(body(test_key, 0), fixture("am-0.25-webhook-002.json"));
    assert_eq!(body(r#"{}:{a="q"}"#, 0), fixture("am-0.25-webhook-003.json"));
    assert_eq!(body(crit, 1), fixture("am-0.25-webhook-004.json"));
    // Besides: the first Test alert had no end, so it resolved 5m (resolve_timeout) after it was posted, and
    // the flush at that very instant sent it (an alert ending at `now` is resolved). The real Alertmanager
    // was stopped before then.
    let resolved = &sent[test_key][1];
    assert_eq!(resolved.at, at(400.0));
    let statuses: Vec<&str> = resolved.alerts.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, ["resolved", "firing"]);
    assert_eq!(resolved.alerts[0].ends_at, Some(at(400.0)));
    assert_eq!(sent.values().map(Vec::len).sum::<usize>(), 5, "nothing else was sent");
}

#[test]
fn max_alerts_truncates_and_counts() {
    let cfg = config(
        "
route:
  receiver: r
  group_wait: 1s
receivers:
- name: r
  webhook_configs:
  - url: http://127.0.0.1:1/
    max_alerts: 1
",
    );
    let mut d = Dispatcher::new(&cfg, DispatcherOptions::default(), at(0.0));
    let a = |n: &str, sev: &str| post(&[("alertname", n), ("severity", sev)], &[], "2024-01-01T00:00:00Z", None, "");
    d.ingest(vec![a("A", "page"), a("B", "page")], at(0.0)).unwrap();
    let n = d.run_due_delivered(at(1.0)).pop().unwrap();
    let max = cfg.receiver("r").unwrap().webhook_configs[0].value.max_alerts;
    let body = String::from_utf8(render(&n, max)).unwrap();
    assert!(body.contains(r#""truncatedAlerts":1}"#), "{body}");
    assert!(body.contains(r#""alertname":"A""#) && !body.contains(r#""alertname":"B""#), "{body}");
    // Common labels describe the alerts sent, not the whole group.
    assert!(body.contains(r#""commonLabels":{"alertname":"A","severity":"page"}"#), "{body}");
    assert!(String::from_utf8(render(&n, 0)).unwrap().contains(r#""commonLabels":{"severity":"page"}"#));
}
