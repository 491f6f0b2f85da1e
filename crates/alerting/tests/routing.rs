//! The routing tree: destinations with `continue` and nesting, inherited options, `group_by: ['...']`, and
//! route and group keys. The trees and expectations of the first tests are those of Alertmanager's
//! `dispatch/route_test.go` (`TestRouteMatch`, `TestRouteMatchers`, `TestInheritParentGroupByAll`).

use std::collections::BTreeSet;
use std::time::Duration;

use vigil_alerting::labels::labels;
use vigil_alerting::route::{Route, RouteOpts};
use vigil_alerting::LabelSet;

use crate::support::config;

fn tree(route: &str) -> Route {
    tree_with(route, "")
}

fn tree_with(route: &str, extra: &str) -> Route {
    // The test trees name receivers they do not define; declare them all.
    let receivers =
        ["notify-def", "notify-A", "notify-testing", "notify-productionA", "notify-productionB", "notify-BC", "r"];
    let mut yaml = format!("route:\n{}\nreceivers:\n", indent(route));
    for r in receivers {
        yaml.push_str(&format!("  - name: {r}\n"));
    }
    yaml.push_str(extra);
    Route::new(config(&yaml).route())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn opts(receiver: &str, group_by: &[&str], all: bool, wait: u64, interval: u64, repeat: u64) -> RouteOpts {
    RouteOpts {
        receiver: receiver.into(),
        group_by: group_by.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>(),
        group_by_all: all,
        group_wait: Duration::from_secs(wait),
        group_interval: Duration::from_secs(interval),
        repeat_interval: Duration::from_secs(repeat),
        ..RouteOpts::default()
    }
}

fn check(route: &Route, cases: &[(LabelSet, Vec<RouteOpts>, Vec<&str>)]) {
    for (input, want_opts, want_keys) in cases {
        let ids = route.matches(input);
        let got_opts: Vec<RouteOpts> = ids.iter().map(|&i| route.node(i).opts.clone()).collect();
        let got_keys: Vec<&str> = ids.iter().map(|&i| route.node(i).key.as_str()).collect();
        assert_eq!(&got_opts, want_opts, "options for {input:?}");
        assert_eq!(&got_keys, want_keys, "keys for {input:?}");
    }
}

const MATCH_TREE: &str = r#"receiver: 'notify-def'
routes:
- match:
    owner: 'team-A'
  receiver: 'notify-A'
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    group_by: [...]
  - match:
      env: "production"
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - match_re:
      env: "produ.*"
      job: ".*"
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- match_re:
    owner: 'team-(B|C)'
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- match:
    group_by: 'role'
  group_by: ['role']
  routes:
  - match:
      env: 'testing'
    receiver: 'notify-testing'
    routes:
    - match:
        wait: 'long'
      group_wait: 2m"#;

/// `TestRouteMatch`, with the deprecated `match` / `match_re`: regexes show anchored in the keys.
#[test]
fn route_match() {
    let t = tree(MATCH_TREE);
    let (h, m) = (3600, 60);
    check(
        &t,
        &[
            (
                labels([("owner", "team-A")]),
                vec![opts("notify-A", &[], false, 30, 5 * m, 4 * h)],
                vec![r#"{}/{owner="team-A"}"#],
            ),
            (
                labels([("owner", "team-A"), ("env", "unset")]),
                vec![opts("notify-A", &[], false, 30, 5 * m, 4 * h)],
                vec![r#"{}/{owner="team-A"}"#],
            ),
            (
                labels([("owner", "team-C")]),
                vec![opts("notify-BC", &["foo", "bar"], false, 2 * m, 5 * m, 4 * h)],
                vec![r#"{}/{owner=~"^(?:team-(B|C))$"}"#],
            ),
            (
                labels([("owner", "team-A"), ("env", "testing")]),
                vec![opts("notify-testing", &[], true, 30, 5 * m, 4 * h)],
                vec![r#"{}/{owner="team-A"}/{env="testing"}"#],
            ),
            (
                labels([("owner", "team-A"), ("env", "production")]),
                vec![
                    opts("notify-productionA", &[], false, m, 5 * m, 4 * h),
                    opts("notify-productionB", &["job"], false, 30, 5 * m, h),
                ],
                vec![
                    r#"{}/{owner="team-A"}/{env="production"}"#,
                    r#"{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}"#,
                ],
            ),
            (
                labels([("group_by", "role")]),
                vec![opts("notify-def", &["role"], false, 30, 5 * m, 4 * h)],
                vec![r#"{}/{group_by="role"}"#],
            ),
            (
                labels([("env", "testing"), ("group_by", "role")]),
                vec![opts("notify-testing", &["role"], false, 30, 5 * m, 4 * h)],
                vec![r#"{}/{group_by="role"}/{env="testing"}"#],
            ),
            (
                labels([("env", "testing"), ("group_by", "role"), ("wait", "long")]),
                vec![opts("notify-testing", &["role"], false, 2 * m, 5 * m, 4 * h)],
                vec![r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#],
            ),
        ],
    );
    // `TestRouteWalk`: depth first.
    let receivers: Vec<&str> = t.nodes().iter().map(|n| n.opts.receiver.as_str()).collect();
    assert_eq!(
        receivers,
        [
            "notify-def",
            "notify-A",
            "notify-testing",
            "notify-productionA",
            "notify-productionB",
            "notify-BC",
            "notify-def",
            "notify-testing",
            "notify-testing"
        ]
    );
}

/// `TestRouteMatchers`: the same tree with `matchers:`, several per route, sorted by name in the key.
#[test]
fn route_matchers() {
    let t = tree(
        r#"receiver: 'notify-def'
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: 'notify-A'
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: 'notify-testing'
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: [owner=~"team-(B|C)"]
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- matchers: [group_by="role"]
  group_by: ['role']
  routes:
  - matchers: ['{env="testing"}']
    receiver: 'notify-testing'
    routes:
    - matchers: [wait="long"]
      group_wait: 2m"#,
    );
    let (h, m) = (3600, 60);
    check(
        &t,
        &[
            (
                labels([("owner", "team-A")]),
                vec![opts("notify-A", &[], false, 30, 5 * m, 4 * h)],
                vec![r#"{}/{level!="critical",owner="team-A"}"#],
            ),
            (
                labels([("owner", "team-C")]),
                vec![opts("notify-BC", &["foo", "bar"], false, 2 * m, 5 * m, 4 * h)],
                vec![r#"{}/{owner=~"team-(B|C)"}"#],
            ),
            (
                labels([("owner", "team-A"), ("env", "testing")]),
                vec![opts("notify-testing", &[], true, 30, 5 * m, 4 * h)],
                vec![r#"{}/{level!="critical",owner="team-A"}/{baz!~".*quux",env="testing"}"#],
            ),
            (
                labels([("owner", "team-A"), ("env", "production")]),
                vec![
                    opts("notify-productionA", &[], false, m, 5 * m, 4 * h),
                    opts("notify-productionB", &["job"], false, 30, 5 * m, h),
                ],
                vec![
                    r#"{}/{level!="critical",owner="team-A"}/{env="production"}"#,
                    r#"{}/{level!="critical",owner="team-A"}/{env=~"produ.*",job=~".*"}"#,
                ],
            ),
            (
                labels([("env", "testing"), ("group_by", "role"), ("wait", "long")]),
                vec![opts("notify-testing", &["role"], false, 2 * m, 5 * m, 4 * h)],
                vec![r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#],
            ),
            // A critical alert of team A matches no child of `owner="team-A"` (its `level!="critical"`
            // fails), nor any other: the root takes it.
            (
                labels([("owner", "team-A"), ("level", "critical")]),
                vec![opts("notify-def", &[], false, 30, 5 * m, 4 * h)],
                vec!["{}"],
            ),
        ],
    );
}

/// `TestInheritParentGroupByAll`.
#[test]
fn group_by_all_is_inherited_until_overridden() {
    let t = tree(
        "receiver: r
routes:
- match:
    env: 'parent'
  group_by: ['...']
  routes:
  - match:
      env: 'child1'
  - match:
      env: 'child2'
    group_by: ['foo']",
    );
    let flags: Vec<bool> = t.nodes().iter().map(|n| n.opts.group_by_all).collect();
    assert_eq!(flags, [false, true, true, false]);
}

#[test]
fn continue_and_nesting() {
    let t = tree(
        "receiver: r
group_by: [alertname]
routes:
- matchers: [team=a]
  continue: true
  group_wait: 1s
- matchers: [team=~a|b]
  group_interval: 1m
  routes:
  - matchers: [severity=page]
    repeat_interval: 5m
    mute_time_intervals: []
- matchers: [team=a]
  group_wait: 3s",
    );
    let ids = |l: LabelSet| t.matches(&l);
    // The first route continues, the second stops the search: the third is never reached.
    assert_eq!(ids(labels([("team", "a")])), [1, 2]);
    // Nested: the deepest matching route is the destination, with everything inherited along the path.
    assert_eq!(ids(labels([("team", "a"), ("severity", "page")])), [1, 3]);
    let leaf = &t.node(3).opts;
    assert_eq!(
        (leaf.group_wait, leaf.group_interval, leaf.repeat_interval),
        (Duration::from_secs(30), Duration::from_secs(60), Duration::from_secs(300))
    );
    assert_eq!(leaf.group_by, BTreeSet::from(["alertname".to_owned()]));
    // No match anywhere: the root.
    assert_eq!(ids(labels([("team", "z")])), [0]);
}

#[test]
fn mute_and_active_intervals_are_not_inherited() {
    let t = tree_with(
        "receiver: r
routes:
- matchers: [a=b]
  mute_time_intervals: [x]
  active_time_intervals: [y]
  routes:
  - matchers: [c=d]",
        "time_intervals:\n  - name: x\n  - name: y\n",
    );
    assert_eq!(t.node(1).opts.mute_time_intervals, ["x"]);
    assert!(t.node(2).opts.mute_time_intervals.is_empty() && t.node(2).opts.active_time_intervals.is_empty());
}

#[test]
fn group_labels_and_keys() {
    let t = tree(
        "receiver: r
group_by: [alertname, cluster]
routes:
- matchers: ['service=\"api\"']
  group_by: ['...']",
    );
    let alert = labels([("alertname", "HighLatency"), ("cluster", "eu-1"), ("service", "api"), ("pod", "p-1")]);
    let id = t.matches(&alert)[0];
    let g = t.group_labels(id, &alert);
    assert_eq!(g, alert, "`...` groups by every label");
    assert_eq!(
        t.group_key(id, &g),
        r#"{}/{service="api"}:{alertname="HighLatency", cluster="eu-1", pod="p-1", service="api"}"#
    );
    // Labels missing from the alert are missing from the group: it is a group of its own.
    let other = labels([("alertname", "Down"), ("job", "node")]);
    let g = t.group_labels(0, &other);
    assert_eq!(t.group_key(0, &g), r#"{}:{alertname="Down"}"#);
    assert_eq!(t.group_key(0, &LabelSet::new()), "{}:{}");
    // Values are quoted as Go's %q quotes them.
    let q = labels([("alertname", "a\"b\\c\td\u{0}é")]);
    assert_eq!(t.group_key(0, &q), "{}:{alertname=\"a\\\"b\\\\c\\td\\x00é\"}");
}
