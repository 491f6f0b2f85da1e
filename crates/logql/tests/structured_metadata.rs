//! Structured metadata: the store's per-entry fields are labels for the pipeline and in results, as in Loki 3.

use vigil_logql::{query, Limits, MemLogStorage, Params, QueryResult};
use vigil_model::log::LogEntry;

use crate::fixture::{labels, S};

/// A security stream with ECS-named fields (dots in names) and a plain stream without fields.
fn store() -> MemLogStorage {
    let mut s = MemLogStorage::new().with_batch_size(2);
    let security = labels(&[("host", "web1"), ("job", "security")]);
    let events: [(i64, &[(&str, &str)]); 5] = [
        (10, &[("event.action", "ssh-login"), ("event.outcome", "failure"), ("source.ip", "192.0.2.7")]),
        (20, &[("event.action", "ssh-login"), ("event.outcome", "failure"), ("source.ip", "192.0.2.7")]),
        (30, &[("event.action", "ssh-login"), ("event.outcome", "success"), ("source.ip", "198.51.100.1")]),
        (40, &[("event.action", "ban"), ("source.ip", "192.0.2.7"), ("host", "clash"), ("1st", "x")]),
        (50, &[("event.action", "ssh-login"), ("event.outcome", "failure"), ("source.ip", "203.0.113.9")]),
    ];
    for (t, fields) in events {
        let fields = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        s.push_entry(&security, LogEntry { ts_ns: t * S, line: format!("event at {t}"), fields });
    }
    s.push(&labels(&[("job", "plain")]), 15 * S, "no fields here");
    s
}

fn streams(q: &str) -> Vec<(String, Vec<i64>)> {
    let params = Params::range(0, 60 * S, S);
    match query(&store(), q, &params, &Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}")) {
        QueryResult::Streams(streams) => streams
            .into_iter()
            .map(|s| (s.labels.to_string(), s.entries.iter().map(|(t, _)| t / S).collect()))
            .collect(),
        other => panic!("{q}: not streams: {other:?}"),
    }
}

fn instant(q: &str, t: i64) -> Vec<(String, f64)> {
    match query(&store(), q, &Params::instant(t * S), &Limits::default()).unwrap_or_else(|e| panic!("{q}: {e}")) {
        QueryResult::Vector(v) => v.into_iter().map(|(l, _, v)| (l.to_string(), v)).collect(),
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn label_filters_see_fields_under_label_safe_names() {
    let got = streams(r#"{job="security"} | event_action="ban""#);
    assert_eq!(
        got,
        [(
            r#"{_1st="x", event_action="ban", host="web1", host_extracted="clash", job="security", source_ip="192.0.2.7"}"#
                .to_string(),
            vec![40]
        )]
    );
    // Entries with different fields are different streams, as in Loki.
    let mut failures: Vec<i64> =
        streams(r#"{job="security"} | event_outcome="failure""#).into_iter().flat_map(|s| s.1).collect();
    failures.sort_unstable();
    assert_eq!(failures, [10, 20, 50]);
    assert!(streams(r#"{job="plain"} | event_action="ban""#).is_empty());
    // A stream without fields keeps its labels.
    assert_eq!(streams(r#"{job="plain"}"#), [(r#"{job="plain"}"#.to_string(), vec![15])]);
}

#[test]
fn metric_queries_group_by_fields() {
    let q = r#"sum by (source_ip) (count_over_time({job="security"} | event_outcome="failure" [1m]))"#;
    assert_eq!(
        instant(q, 60),
        [(r#"{source_ip="192.0.2.7"}"#.to_string(), 2.0), (r#"{source_ip="203.0.113.9"}"#.to_string(), 1.0)]
    );
    let q = r#"count_over_time({job="security"} | event_action="ban" | drop source_ip, _1st, host_extracted [1m])"#;
    assert_eq!(instant(q, 60), [(r#"{event_action="ban", host="web1", job="security"}"#.to_string(), 1.0)]);
}

#[test]
fn templates_read_fields() {
    let params = Params::range(0, 60 * S, S);
    let q = r#"{job="security"} | event_outcome="success" | line_format "{{.user_name}}login from {{.source_ip}}""#;
    match query(&store(), q, &params, &Limits::default()).unwrap() {
        QueryResult::Streams(s) => assert_eq!(s[0].entries, [(30 * S, "login from 198.51.100.1".to_string())]),
        other => panic!("{other:?}"),
    }
}
