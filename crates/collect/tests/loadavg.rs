//! Fixture tests of the `loadavg` collector.

use vigil_collect::loadavg::LoadavgCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

#[test]
fn three_load_averages() {
    let root = FakeRoot::new();
    root.proc("loadavg", "0.13 0.07 12.50 2/114 8330\n");
    let (sink, r) = collect(&mut LoadavgCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 3);
    assert_eq!(sink.value("node_load1", &[]), Some(0.13));
    assert_eq!(sink.value("node_load5", &[]), Some(0.07));
    assert_eq!(sink.value("node_load15", &[]), Some(12.5));
    let s = sink.family("node_load15").next().unwrap();
    assert_eq!((s.help.as_str(), s.kind), ("15m load average.", MetricKind::Gauge));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    for content in ["", "\n", "0.13 0.07", "0.13 x 0.02 1/2 3\n", "\u{0}\u{1}garbage"] {
        let root = FakeRoot::new();
        root.proc("loadavg", content);
        let (sink, r) = collect(&mut LoadavgCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains("proc/loadavg:1:"), "{content:?}: {err}");
        assert!(sink.samples.is_empty(), "{content:?}: nothing is written from a bad file");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut LoadavgCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/loadavg"));
}
