//! Stream selection by matchers and time, label names and values, index statistics.

use vigil_model::{Labels, MatchOp, Matcher};

use crate::{entry, labels, open};

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

#[test]
fn matchers_time_ranges_names_values_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = labels(&[("job", "nginx"), ("host", "a")]);
    let b = labels(&[("job", "nginx"), ("host", "b"), ("env", "prod")]);
    let c = labels(&[("job", "sshd"), ("host", "a")]);
    store
        .append(&[(a.clone(), vec![entry(100, "a1"), entry(300, "a3")]), (b.clone(), vec![entry(200, "b2")])])
        .unwrap();
    store.maintain(0).unwrap();
    store.append(&[(c.clone(), vec![entry(1000, "c")])]).unwrap();

    for persisted in [false, true] {
        if persisted {
            store.maintain(0).unwrap();
        }
        let names = |ms: &[Matcher], s, e| -> Vec<Labels> {
            store.streams(ms, s, e).unwrap().into_iter().map(|s| s.labels).collect()
        };
        // Sorted by labels: `env` comes first.
        assert_eq!(names(&[m(MatchOp::Equal, "job", "nginx")], 0, 2000), [b.clone(), a.clone()]);
        assert_eq!(names(&[m(MatchOp::Regex, "job", "ng.*|ssh.")], 0, 2000).len(), 3);
        assert_eq!(names(&[m(MatchOp::NotEqual, "env", "prod")], 0, 2000), [a.clone(), c.clone()]);
        assert_eq!(names(&[m(MatchOp::NotRegex, "job", "nginx")], 0, 2000), vec![c.clone()]);
        assert_eq!(
            names(&[m(MatchOp::Equal, "host", "a"), m(MatchOp::Equal, "job", "sshd")], 0, 2000),
            vec![c.clone()]
        );
        assert!(names(&[m(MatchOp::Equal, "job", "none")], 0, 2000).is_empty());
        // Exact time check: a's records are at 100 and 300 only.
        assert_eq!(names(&[m(MatchOp::Equal, "job", "nginx")], 150, 250), vec![b.clone()]);
        assert!(names(&[], 301, 999).is_empty());
        assert_eq!(names(&[], 1000, 1000), vec![c.clone()]);

        assert_eq!(store.label_names(&[], 0, 2000).unwrap(), ["env", "host", "job"]);
        assert_eq!(store.label_names(&[m(MatchOp::Equal, "job", "sshd")], 0, 2000).unwrap(), ["host", "job"]);
        assert_eq!(store.label_values("host", &[], 0, 2000).unwrap(), ["a", "b"]);
        assert_eq!(store.label_values("host", &[], 500, 2000).unwrap(), ["a"]);
        assert_eq!(store.label_values("job", &[m(MatchOp::Equal, "host", "b")], 0, 2000).unwrap(), ["nginx"]);

        let stats = store.stats(&[m(MatchOp::Equal, "job", "nginx")], 0, 2000).unwrap();
        assert_eq!((stats.streams, stats.entries, stats.bytes), (2, 3, 6));
        assert!(stats.chunks >= 2);
        let none = store.stats(&[], 2001, 3000).unwrap();
        assert_eq!(none, Default::default());
    }
}
