//! Alertmanager's own acceptance tests (`test/with_api_v2/acceptance/send_test.go`, `inhibit_test.go`,
//! `silence_test.go`), replayed on the simulated clock. Upstream checks each notification against a time
//! window (`Between(a, b)`, 150 ms tolerance) and that no other notification arrived; here every notification
//! has one exact time, which falls in upstream's window. Times are seconds after the start.

use crate::support::{alert, Sim};

const WEBHOOK: &str = "
receivers:
- name: default
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
";

fn sim(route: &str) -> Sim {
    Sim::new(&format!("{route}{WEBHOOK}"))
}

/// send_test.go `TestMergeAlerts`: repeated posts of one alert keep the earliest start, the newest
/// annotations and the latest explicit resolution; a post after the resolution starts a new alert.
#[test]
fn merge_alerts() {
    let mut s = sim("
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1ms
");
    let a = || alert(&[("alertname", "test")]);
    s.push(1.0, &[a().active(1.1)]);
    s.push(1.2, &[a().active(1.0)]);
    s.push(2.1, &[a().annotate("ann", "v1").active(2.0)]);
    s.push(3.6, &[a().annotate("ann", "v2").active(1.5)]);
    s.push(4.6, &[a().annotate("ann", "v2").between(3.0, 4.5)]);
    s.push(4.8, &[a().annotate("ann", "v3").between(2.9, 4.8)]);
    s.push(4.8, &[a().annotate("ann", "v3").between(2.9, 4.1)]);
    s.push(5.3, &[a()]);
    s.advance_to(6.5);
    let ann = |i: usize| s.sent[i].1.alerts[0].annotations.get("ann").cloned().unwrap_or_default();
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: test@1",     // Between(2, 2.5): Active(1)
            "3 default/webhook0: test@1",     // Between(3, 3.5): v1, Active(1)
            "4 default/webhook0: test@1",     // Between(4, 4.5): v2, Active(1)
            "5 default/webhook0: test@1-4.8", // Between(5, 5.5): v3, Active(1, 4.8)
            "6 default/webhook0: test@5.3",   // Between(6, 6.5): Active(5.3)
        ]
    );
    assert_eq!([ann(0), ann(1), ann(2), ann(3), ann(4)], ["", "v1", "v2", "v3", ""]);
}

/// send_test.go `TestRepeat`: with a 1ms repeat interval the alert is sent at every group interval, and
/// once more when it resolves.
#[test]
fn repeat() {
    let mut s = sim("
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1ms
");
    s.push(1.0, &[alert(&[("alertname", "test")]).active(1.0)]);
    s.push(3.5, &[alert(&[("alertname", "test")]).between(1.0, 3.0)]);
    s.advance_to(10.0);
    assert_eq!(s.log(), ["2 default/webhook0: test@1", "3 default/webhook0: test@1", "4 default/webhook0: test@1-3"]);
}

/// send_test.go `TestRetry`, with the failing webhook failing every attempt before 4.5s. Upstream's function
/// never calls `at.Run()`, so it checks nothing; its windows are kept here as comments. The second webhook
/// is notified at the first flush after 4.5 (5s, upstream: `Between(4.5, 5)`). The first repeats at 6s, the
/// first flush strictly more than the 3s repeat interval after its 2s notification (upstream wrote
/// `Between(5, 5.5)`, which Alertmanager's strict comparison would also miss by a few milliseconds).
#[test]
fn retry() {
    let mut s = Sim::new(
        "
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 3s
receivers:
- name: default
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
  - url: 'http://127.0.0.1:2/'
",
    );
    s.failing_until.insert("default/webhook1".into(), 4.5);
    s.push(1.0, &[alert(&[("alertname", "test1")])]);
    s.advance_to(6.5);
    assert_eq!(s.log(), ["2 default/webhook0: test1@1", "5 default/webhook1: test1@1", "6 default/webhook0: test1@1"]);
}

/// send_test.go `TestBatching`: alerts arriving after the first flush wait for the next group interval and
/// go out together with the ones already sent; then nothing until the repeat interval.
#[test]
fn batching() {
    let mut s = sim("
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4900ms
");
    s.push(1.1, &[alert(&[("alertname", "test1")]).active(1.0)]);
    s.push(1.7, &[alert(&[("alertname", "test5")]).active(1.0)]);
    s.push(
        3.3,
        &[
            alert(&[("alertname", "test2")]).active(1.5),
            alert(&[("alertname", "test3")]).active(1.5),
            alert(&[("alertname", "test4")]).active(1.6),
        ],
    );
    s.advance_to(9.5);
    // The group was created at 1.1; its flushes are at 2.1, 3.1, 4.1...
    assert_eq!(
        s.log(),
        [
            "2.1 default/webhook0: test1@1 test5@1",
            "4.1 default/webhook0: test1@1 test2@1.5 test3@1.5 test4@1.6 test5@1",
            "9.1 default/webhook0: test1@1 test2@1.5 test3@1.5 test4@1.6 test5@1",
        ]
    );
}

/// send_test.go `TestResolved`: alerts posted without an end resolve after `resolve_timeout` (10s from the
/// post at 1s) and the resolution is sent at the next flush.
#[test]
fn resolved() {
    let mut s = sim("
global:
  resolve_timeout: 10s
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
");
    let a = |v| alert(&[("alertname", "test"), ("lbl", v)]);
    s.push(1.0, &[a("v1"), a("v2"), a("v3")]);
    s.advance_to(20.0);
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: test,v1@1 test,v2@1 test,v3@1",
            "12 default/webhook0: test,v1@1-11 test,v2@1-11 test,v3@1-11",
        ]
    );
}

/// send_test.go `TestResolvedFilter`: an integration without `send_resolved` never gets resolved alerts but
/// its log still records them, so it is not notified again when nothing new fires.
#[test]
fn resolved_filter() {
    let mut s = Sim::new(
        "
global:
  resolve_timeout: 10s
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
receivers:
- name: default
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
    send_resolved: true
  - url: 'http://127.0.0.1:2/'
    send_resolved: false
",
    );
    let a = |v| alert(&[("alertname", "test"), ("lbl", v)]);
    s.push(1.0, &[a("v1"), a("v2")]);
    s.push(3.0, &[a("v1").between(1.0, 4.0), a("v3")]);
    s.push(8.0, &[a("v3").active(3.0)]);
    s.advance_to(12.5);
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: test,v1@1 test,v2@1",
            "2 default/webhook1: test,v1@1 test,v2@1",
            "7 default/webhook0: test,v1@1-4 test,v2@1 test,v3@3",
            "7 default/webhook1: test,v2@1 test,v3@3",
            // v2 timed out at 11; only the integration that wants resolved alerts hears of it.
            "12 default/webhook0: test,v2@1-11 test,v3@3",
        ]
    );
}

/// send_test.go `TestReload`: a reload at 3s restarts the group's timers (the first alert is not sent again,
/// its repeat interval is 10m) and the next flush is a group interval after the reload.
#[test]
fn reload() {
    let yaml = "
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 6s
  repeat_interval: 10m
receivers:
- name: default
  webhook_configs:
  - url: 'http://127.0.0.1:1/'
";
    let mut s = Sim::new(yaml);
    s.push(1.0, &[alert(&[("alertname", "test1")])]);
    s.advance_to(3.0);
    let now = crate::support::at(3.0);
    s.d.reload(&crate::support::config(yaml), now);
    s.push(4.0, &[alert(&[("alertname", "test2")])]);
    s.advance_to(9.5);
    assert_eq!(s.log(), ["2 default/webhook0: test1@1", "9 default/webhook0: test1@1 test2@4"]);
}

/// inhibit_test.go `TestInhibiting`: `JobDown` mutes `InstanceDown` of the same job and zone while it fires;
/// once it resolves, the muted alert is sent again with the others.
#[test]
fn inhibiting() {
    let mut s = sim("
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1s
inhibit_rules:
- source_match:
    alertname: JobDown
  target_match:
    alertname: InstanceDown
  equal:
    - job
    - zone
");
    let a = |name, zone| alert(&[("alertname", name), ("job", "testjob"), ("zone", zone)]);
    s.push(1.0, &[a("test1", "aa"), a("InstanceDown", "aa"), a("InstanceDown", "ab")]);
    s.push(2.2, &[a("JobDown", "aa")]);
    s.push(3.6, &[a("JobDown", "aa").between(2.2, 3.6)]);
    s.advance_to(4.5);
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: InstanceDown,testjob,aa@1 InstanceDown,testjob,ab@1 test1,testjob,aa@1",
            "3 default/webhook0: InstanceDown,testjob,ab@1 JobDown,testjob,aa@2.2 test1,testjob,aa@1",
            "4 default/webhook0: InstanceDown,testjob,aa@1 InstanceDown,testjob,ab@1 JobDown,testjob,aa@2.2-3.6 test1,testjob,aa@1",
        ]
    );
}

/// inhibit_test.go `TestAlwaysInhibiting`: when the inhibiting and the inhibited alert resolve together, the
/// final notification carries both.
#[test]
fn always_inhibiting() {
    let mut s = sim("
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1s
inhibit_rules:
- source_match:
    alertname: JobDown
  target_match:
    alertname: InstanceDown
  equal:
    - job
    - zone
");
    let a = |name| alert(&[("alertname", name), ("job", "testjob"), ("zone", "aa")]);
    s.push(1.0, &[a("InstanceDown")]);
    s.push(1.0, &[a("JobDown")]);
    s.push(2.6, &[a("JobDown").between(1.0, 2.6)]);
    s.push(2.6, &[a("InstanceDown").between(1.0, 2.6)]);
    s.advance_to(3.5);
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: JobDown,testjob,aa@1",
            "3 default/webhook0: InstanceDown,testjob,aa@1-2.6 JobDown,testjob,aa@1-2.6",
        ]
    );
}

/// silence_test.go `TestSilencing`: a silence from 2.5s to 4.5s on one alert keeps it out of the
/// notifications at 3s and 4s; at 5s both are sent again.
#[test]
fn silencing() {
    let mut s = sim("
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1ms
");
    s.push(1.0, &[alert(&[("alertname", "test1")]).active(1.0), alert(&[("alertname", "test2")]).active(1.0)]);
    s.silence(2.3, "alertname=test1", 2.5, 4.5);
    s.advance_to(5.5);
    assert_eq!(
        s.log(),
        [
            "2 default/webhook0: test1@1 test2@1",
            "3 default/webhook0: test2@1",
            "4 default/webhook0: test2@1",
            "5 default/webhook0: test1@1 test2@1",
        ]
    );
}

/// silence_test.go `TestSilenceDelete`: everything is silenced from 1.5s; deleting (expiring) the silence
/// at 3.5s lets the next flush send both alerts.
#[test]
fn silence_delete() {
    let mut s = sim("
route:
  receiver: default
  group_by: []
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1ms
");
    s.push(1.0, &[alert(&[("alertname", "test1")]).active(1.0), alert(&[("alertname", "test2")]).active(1.0)]);
    let id = s.silence(1.3, r#"alertname=~".+""#, 1.5, 100.0);
    s.expire_silence(3.5, &id);
    s.advance_to(4.5);
    assert_eq!(s.log(), ["4 default/webhook0: test1@1 test2@1"]);
}
