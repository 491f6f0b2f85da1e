//! Timelines on the simulated clock with Alertmanager's default timers (30s group wait, 5m group interval,
//! 4h repeat unless said otherwise): the exact sequence and times of notifications for each rule of the
//! dispatcher. Times are seconds after Monday 2024-01-01 00:00 UTC.

use crate::support::{alert, at, Sim};

const RECEIVERS: &str = "
receivers:
- name: team
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
- name: quiet
  webhook_configs:
  - url: 'http://127.0.0.1:2/'
    send_resolved: false
- name: both
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
  - url: 'http://127.0.0.1:2/'
    send_resolved: false
";

fn sim(route: &str) -> Sim {
    Sim::new(&format!("{route}{RECEIVERS}"))
}

fn a(name: &str) -> crate::support::A {
    alert(&[("alertname", name)])
}

#[test]
fn group_wait_collects_the_first_batch() {
    let mut s = sim("route:\n  receiver: team\n  group_by: [cluster]\n");
    let c = |name: &str, cluster| alert(&[("alertname", name), ("cluster", cluster)]);
    s.push(0.0, &[c("A", "eu").firing(0.0)]);
    s.push(10.0, &[c("B", "eu").firing(10.0)]);
    // Another cluster is another group, with its own wait.
    s.push(20.0, &[c("C", "us").firing(20.0)]);
    // An alert that started long ago need not wait: its new group flushes at once.
    s.push(40.0, &[c("D", "ap").firing(-3600.0)]);
    s.advance_to(100.0);
    assert_eq!(
        s.log(),
        ["30 team/webhook0: A,eu@0 B,eu@10", "40 team/webhook0: D,ap@-3600", "50 team/webhook0: C,us@20",]
    );
}

#[test]
fn new_alerts_wait_for_the_group_interval() {
    let mut s = sim("route:\n  receiver: team\n");
    s.push(0.0, &[a("A").firing(0.0)]);
    s.push(40.0, &[a("B").firing(40.0)]);
    s.push(200.0, &[a("C").firing(200.0)]);
    // Updates of known alerts that change nothing do not cause notifications.
    s.push(400.0, &[a("A").firing(0.0), a("B").firing(40.0), a("C").firing(200.0)]);
    s.advance_to(1000.0);
    assert_eq!(s.log(), ["30 team/webhook0: A@0", "330 team/webhook0: A@0 B@40 C@200"]);
}

#[test]
fn repeat_interval_resends_unchanged_groups() {
    let mut s = sim("route:\n  receiver: team\n  repeat_interval: 1h\n");
    s.push(0.0, &[a("A").firing(0.0)]);
    s.advance_to(12_000.0);
    // Flushes happen every 5m from 30s; the first more than 1h after the last notification repeats it.
    // 3630s is exactly 1h after 30s, which is not more: Alertmanager repeats at the following flush.
    assert_eq!(
        s.log(),
        ["30 team/webhook0: A@0", "3930 team/webhook0: A@0", "7830 team/webhook0: A@0", "11730 team/webhook0: A@0"]
    );
}

#[test]
fn resolution_with_and_without_send_resolved() {
    let mut s = sim("route:\n  receiver: both\n");
    s.push(0.0, &[a("A").firing(0.0), a("B").firing(0.0)]);
    // B ends at 100: the integration with send_resolved hears of it at the next flush, the other does not,
    // as A still fires and nothing new does.
    s.push(100.0, &[a("B").between(0.0, 100.0)]);
    // A ends too: the first integration is told; the second's log records it silently.
    s.push(500.0, &[a("A").between(0.0, 500.0)]);
    // A fires again. Its group, empty since 630, was removed by the sweep at 660, so this is a new group
    // that waits group_wait again: news for both at 730.
    s.push(700.0, &[a("A").firing(700.0)]);
    s.advance_to(1000.0);
    assert_eq!(
        s.log(),
        [
            "30 both/webhook0: A@0 B@0",
            "30 both/webhook1: A@0 B@0",
            "330 both/webhook0: A@0 B@0-100",
            "630 both/webhook0: A@0-500",
            "730 both/webhook0: A@700",
            "730 both/webhook1: A@700",
        ]
    );
    // Resolved alerts left their group once notified.
    assert_eq!(s.d.groups()[0].alerts.len(), 1);
}

#[test]
fn alerts_resolving_through_resolve_timeout() {
    let mut s = Sim::new(&format!("global:\n  resolve_timeout: 1m\nroute:\n  receiver: team\n{RECEIVERS}"));
    // Posted without an end: it resolves a minute after its last update unless posted again.
    s.push(0.0, &[a("A")]);
    s.push(50.0, &[a("A")]);
    s.advance_to(1000.0);
    assert_eq!(s.log(), ["30 team/webhook0: A@0", "330 team/webhook0: A@0-110"]);
}

#[test]
fn inhibition_starts_and_ends() {
    let mut s = sim("route:
  receiver: team
  group_by: [alertname]
  repeat_interval: 5m
inhibit_rules:
- source_matchers: [alertname=ClusterDown]
  target_matchers: [alertname=NodeDown]
  equal: [cluster]
");
    let node = alert(&[("alertname", "NodeDown"), ("cluster", "eu"), ("node", "n1")]);
    let other = alert(&[("alertname", "NodeDown"), ("cluster", "us"), ("node", "n2")]);
    let cluster = alert(&[("alertname", "ClusterDown"), ("cluster", "eu")]);
    s.push(0.0, &[node.clone().firing(0.0)]);
    s.push(100.0, &[cluster.clone().firing(100.0)]);
    s.push(650.0, &[other.clone().firing(650.0)]);
    s.push(700.0, &[cluster.clone().between(100.0, 700.0)]);
    s.advance_to(1300.0);
    assert_eq!(
        s.log(),
        [
            "30 team/webhook0: NodeDown,eu,n1@0",
            "130 team/webhook0: ClusterDown,eu@100",
            // From 330 to 630 NodeDown/eu is muted: no repeat although one is due. At 930 the other cluster's
            // node (not inhibited, different cluster) is new.
            "730 team/webhook0: ClusterDown,eu@100-700",
            "930 team/webhook0: NodeDown,eu,n1@0 NodeDown,us,n2@650",
        ]
    );
    // The API's view: inhibited while the source fired, not after.
    let fp = vigil_alerting::Fingerprint::of(&cluster.0.labels);
    assert_eq!(s.d.suppression(&node.0.labels, at(400.0)).inhibited_by, [fp]);
    assert!(s.d.suppression(&node.0.labels, at(800.0)).inhibited_by.is_empty());
    assert!(s.d.suppression(&other.0.labels, at(400.0)).inhibited_by.is_empty());
}

#[test]
fn silence_created_and_expired_mid_way() {
    let mut s = sim("route:\n  receiver: team\n  repeat_interval: 5m\n");
    s.push(0.0, &[a("A").firing(0.0), a("B").firing(0.0)]);
    let id = s.silence(100.0, "alertname=A", 100.0, 10_000.0);
    // A silence that starts later is pending until then.
    s.silence(100.0, "alertname=B", 900.0, 1000.0);
    s.expire_silence(1300.0, &id);
    s.advance_to(2000.0);
    assert_eq!(
        s.log(),
        [
            "30 team/webhook0: A@0 B@0",
            // A is silenced; B is repeated every other flush (5m repeat, strictly more needed).
            "630 team/webhook0: B@0",
            // Both silenced at 930: nothing. The silence on B is over at 1230.
            "1230 team/webhook0: B@0",
            // The silence on A was expired at 1300.
            "1530 team/webhook0: A@0 B@0",
        ]
    );
}

#[test]
fn active_time_intervals_hold_notifications_until_business_hours() {
    let mut s = sim("route:
  receiver: team
  routes:
  - matchers: [severity=ticket]
    active_time_intervals: [business]
    repeat_interval: 30m
time_intervals:
- name: business
  time_intervals:
  - weekdays: ['monday:friday']
    times:
    - start_time: '09:00'
      end_time: '17:00'
");
    let t = alert(&[("alertname", "Disk"), ("severity", "ticket")]);
    let h = 3600.0;
    s.push(8.0 * h, &[t.clone().firing(8.0 * h)]);
    s.push(17.0 * h + 600.0, &[t.between(8.0 * h, 17.0 * h + 600.0)]);
    s.advance_to(24.0 * h);
    let times: Vec<String> = s.log().iter().map(|l| l.split(' ').next().unwrap().to_owned()).collect();
    // Flushes outside 09:00-17:00 send nothing; the first inside sends; repeats every 35m (30m repeat,
    // 5m flushes) until 17:00; the resolution at 17:10 falls outside and is never sent.
    let first = 9.0 * h + 30.0;
    let want: Vec<String> = (0..14).map(|i| crate::support::fmt_secs(first + f64::from(i) * 2100.0)).collect();
    assert_eq!(times, want);
    assert!(s.log().iter().all(|l| !l.contains('-')), "no resolved notification");
    assert!(s.d.groups().is_empty(), "the resolved alert left the group all the same");
}

#[test]
fn mute_time_intervals_silence_a_route() {
    let mut s = sim("route:
  receiver: team
  group_by: [alertname]
  routes:
  - matchers: [team=db]
    mute_time_intervals: [lunch]
time_intervals:
- name: lunch
  time_intervals:
  - times:
    - start_time: '12:00'
      end_time: '13:00'
");
    let h = 3600.0;
    s.push(11.9 * h, &[alert(&[("alertname", "Slow"), ("team", "db")]).firing(11.9 * h)]);
    s.push(12.0 * h, &[alert(&[("alertname", "Busy"), ("team", "db")]).firing(12.0 * h)]);
    // Another route is not muted.
    s.push(12.0 * h, &[alert(&[("alertname", "Web"), ("team", "web")]).firing(12.0 * h)]);
    s.advance_to(14.0 * h);
    assert_eq!(
        s.log(),
        [
            "42870 team/webhook0: Slow,db@42840",
            "43230 team/webhook0: Web,web@43200",
            // Busy's first flush at 12:00:30 is muted; the first after 13:00 sends it.
            "46830 team/webhook0: Busy,db@43200",
        ]
    );
}

#[test]
fn continue_sends_to_every_matching_route() {
    let mut s = sim("route:
  receiver: team
  routes:
  - matchers: [severity=page]
    receiver: quiet
    group_wait: 10s
    continue: true
  - matchers: [team=db]
    receiver: team
");
    s.push(0.0, &[alert(&[("alertname", "X"), ("severity", "page"), ("team", "db")]).firing(0.0)]);
    s.advance_to(60.0);
    assert_eq!(s.log(), ["10 quiet/webhook0: X,page,db@0", "30 team/webhook0: X,page,db@0"]);
    let keys: Vec<&str> = s.sent.iter().map(|(_, n)| n.group_key.as_str()).collect();
    assert_eq!(keys, [r#"{}/{severity="page"}:{}"#, r#"{}/{team="db"}:{}"#]);
}

#[test]
fn failed_deliveries_are_retried_and_keep_resolved_alerts() {
    let mut s = sim("route:\n  receiver: team\n");
    s.failing_until.insert("team/webhook0".into(), 700.0);
    s.push(0.0, &[a("A").firing(0.0), a("B").between(0.0, 20.0)]);
    s.advance_to(1000.0);
    // The flushes at 30, 330 and 630 fail; nothing is logged, so 930 sends everything, B's resolution
    // included: a failed flush does not drop resolved alerts.
    assert_eq!(s.log(), ["930 team/webhook0: A@0 B@0-20"]);
}

#[test]
fn a_flush_waits_for_outstanding_notifications() {
    let mut s = sim("route:\n  receiver: team\n  group_interval: 1m\n  repeat_interval: 1m\n");
    s.push(0.0, &[a("A").firing(0.0)]);
    let first = s.d.run_due(at(30.0));
    assert_eq!(first.len(), 1);
    // Still sending at the next interval: the group does not flush again.
    assert!(s.d.run_due(at(90.0)).is_empty());
    assert_ne!(s.d.next_deadline(), Some(at(90.0)));
    s.d.delivered(first[0].id, at(100.0));
    // Due since 90: flushes now; the repeat counts from the delivery at 100.
    assert_eq!(s.d.next_deadline(), Some(at(90.0)));
    assert!(s.d.run_due(at(100.0)).is_empty());
    assert_eq!(s.d.run_due(at(160.0)).len(), 0, "exactly 1m after the delivery is not more than 1m");
    assert_eq!(s.d.run_due(at(220.0)).len(), 1);
}

#[test]
fn state_survives_a_restart() {
    let yaml = format!("route:\n  receiver: team\n  repeat_interval: 1h\n{RECEIVERS}");
    let mut s = Sim::new(&yaml);
    s.push(0.0, &[a("A").firing(0.0)]);
    s.silence(10.0, "alertname=B", 10.0, 5000.0);
    s.advance_to(100.0);
    let json = serde_json::to_string(&s.d.state()).unwrap();
    // A new process at 200 with the saved state: A is dispatched again (it started long ago, so its group
    // flushes at once) but the notification log knows it was sent at 30.
    let state = serde_json::from_str(&json).unwrap();
    let cfg = crate::support::config(&yaml);
    let mut d = vigil_alerting::Dispatcher::from_state(&cfg, Default::default(), state, at(200.0));
    assert_eq!(d.next_deadline(), Some(at(200.0)));
    assert!(d.run_due_delivered(at(200.0)).is_empty());
    assert_eq!(d.silences().iter().count(), 1);
    d.ingest(vec![a("B").firing(300.0).0], at(300.0)).unwrap();
    assert!(d.run_due_delivered(at(500.0)).is_empty(), "B is silenced");
}
