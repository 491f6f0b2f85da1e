//! Inhibition rules and silence matching on their own, through the public API (the dispatcher's use of
//! them is in `timeline` and `acceptance`).

use vigil_alerting::inhibit::{InhibitRule, Inhibitor};
use vigil_alerting::labels::labels;
use vigil_alerting::{
    Alert, Fingerprint, LabelSet, Matchers, PostableAlert, PostableSilence, SilenceState, Silences, Timestamp,
};

const T: fn(i64) -> Timestamp = Timestamp::from_secs;

fn alert(l: LabelSet, end: i64) -> Alert {
    let p = PostableAlert { labels: l, starts_at: Some(T(0)), ends_at: Some(T(end)), ..PostableAlert::default() };
    Alert::from_postable(p, T(0), std::time::Duration::ZERO).unwrap()
}

fn rule(source: &str, target: &str, equal: &[&str]) -> InhibitRule {
    InhibitRule::new(
        Matchers::parse(source).unwrap(),
        Matchers::parse(target).unwrap(),
        equal.iter().map(|s| (*s).to_owned()),
    )
}

#[test]
fn a_firing_source_mutes_targets_with_equal_labels() {
    let mut ih = Inhibitor::new(vec![rule("severity=critical", "severity=warning", &["cluster", "region"])]);
    let src = alert(labels([("alertname", "Down"), ("severity", "critical"), ("cluster", "a")]), 100);
    ih.observe(&src);
    let target = |cluster: &str| labels([("alertname", "Slow"), ("severity", "warning"), ("cluster", cluster)]);
    // `region` is missing on both sides: equal.
    assert_eq!(ih.mutes(&target("a"), T(50)), [src.fingerprint()]);
    assert!(ih.mutes(&target("b"), T(50)).is_empty(), "different cluster");
    assert!(ih.mutes(&labels([("severity", "critical"), ("cluster", "a")]), T(50)).is_empty(), "not a target");
    // A label present on one side only is not equal.
    let with_region = labels([("severity", "warning"), ("cluster", "a"), ("region", "eu")]);
    assert!(ih.mutes(&with_region, T(50)).is_empty());
    // Resolved sources do not inhibit.
    assert!(ih.mutes(&target("a"), T(100)).is_empty());
    // Alerts that never matched the source side are not sources.
    ih.observe(&alert(labels([("severity", "info"), ("cluster", "b")]), 100));
    assert!(ih.mutes(&target("b"), T(50)).is_empty());
    ih.gc(T(100));
    assert!(ih.mutes(&target("a"), T(50)).is_empty(), "collected");
}

#[test]
fn an_alert_matching_both_sides_never_mutes_itself() {
    // Every alert is both source and target: none may be muted by one that is also both.
    let mut ih = Inhibitor::new(vec![rule("team=db", "team=db", &["cluster"])]);
    let a = alert(labels([("alertname", "A"), ("team", "db"), ("cluster", "x")]), 100);
    let b = alert(labels([("alertname", "B"), ("team", "db"), ("cluster", "x")]), 100);
    ih.observe(&a);
    ih.observe(&b);
    assert!(ih.mutes(&a.labels, T(1)).is_empty());
    assert!(ih.mutes(&b.labels, T(1)).is_empty());
    // A rule whose sources are only partly targets: the source that is not a target still mutes.
    let mut ih = Inhibitor::new(vec![rule("severity=~critical|warning", "severity=warning", &[])]);
    let crit = alert(labels([("alertname", "A"), ("severity", "critical")]), 100);
    let warn = alert(labels([("alertname", "B"), ("severity", "warning")]), 100);
    ih.observe(&crit);
    ih.observe(&warn);
    assert_eq!(ih.mutes(&warn.labels, T(1)), [crit.fingerprint()]);
    assert!(ih.mutes(&crit.labels, T(1)).is_empty());
}

#[test]
fn several_rules_report_every_inhibitor() {
    let mut ih = Inhibitor::new(vec![
        rule("alertname=NodeDown", "alertname=DiskFull", &["node"]),
        rule("alertname=Maintenance", "node=n1", &[]),
    ]);
    let down = alert(labels([("alertname", "NodeDown"), ("node", "n1")]), 100);
    let maint = alert(labels([("alertname", "Maintenance")]), 100);
    ih.observe(&down);
    ih.observe(&maint);
    let mut want = vec![down.fingerprint(), maint.fingerprint()];
    want.sort();
    assert_eq!(ih.mutes(&labels([("alertname", "DiskFull"), ("node", "n1")]), T(1)), want);
    let none: Vec<Fingerprint> = vec![];
    assert_eq!(ih.mutes(&labels([("alertname", "DiskFull"), ("node", "n2")]), T(1)), none);
}

#[test]
fn silences_match_with_all_their_matchers() {
    let mut s = Silences::default();
    let post = |m: &str| PostableSilence {
        matchers: Matchers::parse(m).unwrap().0,
        starts_at: T(10),
        ends_at: T(20),
        created_by: "ops".into(),
        comment: "maintenance".into(),
        ..PostableSilence::default()
    };
    let id = s.post(post(r#"{job="node", instance=~"db-.*", env!="dev"}"#), T(0)).unwrap();
    let l = |inst: &str, env: &str| labels([("job", "node"), ("instance", inst), ("env", env)]);
    assert_eq!(s.mutes(&l("db-1", "prod"), T(15)), vec![id.clone()]);
    assert!(s.mutes(&l("web-1", "prod"), T(15)).is_empty());
    assert!(s.mutes(&l("db-1", "dev"), T(15)).is_empty());
    // A missing label is the empty string: `env!="dev"` accepts it.
    assert_eq!(s.mutes(&labels([("job", "node"), ("instance", "db-2")]), T(15)), vec![id.clone()]);
    // Only while active.
    assert!(s.mutes(&l("db-1", "prod"), T(9)).is_empty());
    assert_eq!(s.mutes(&l("db-1", "prod"), T(20)), vec![id.clone()]);
    assert!(s.mutes(&l("db-1", "prod"), T(21)).is_empty());
    let sil = s.get(&id).unwrap();
    assert_eq!((sil.state(T(9)), sil.state(T(21))), (SilenceState::Pending, SilenceState::Expired));
    assert_eq!((sil.created_by.as_str(), sil.comment.as_str(), sil.updated_at), ("ops", "maintenance", T(0)));
    let json = serde_json::to_value(sil).unwrap();
    assert_eq!(
        json["matchers"][1],
        serde_json::json!({"name":"instance","value":"db-.*","isRegex":true,"isEqual":true})
    );
}
