//! Fixture tests of the `filefd` collector.

use vigil_collect::filefd::FilefdCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

#[test]
fn allocated_and_maximum() {
    let root = FakeRoot::new();
    root.proc("sys/fs/file-nr", "525\t0\t2466170\n");
    let (sink, r) = collect(&mut FilefdCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 2);
    assert_eq!(sink.value("node_filefd_allocated", &[]), Some(525.0));
    assert_eq!(sink.value("node_filefd_maximum", &[]), Some(2466170.0));
    let s = sink.family("node_filefd_maximum").next().unwrap();
    assert_eq!((s.help.as_str(), s.kind), ("File descriptor statistics: maximum.", MetricKind::Gauge));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    for content in ["", "525\t0", "525\t0\tlots\n", "x\t0\t1\n", "\u{0}\u{1}garbage"] {
        let root = FakeRoot::new();
        root.proc("sys/fs/file-nr", content);
        let (_, r) = collect(&mut FilefdCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains("sys/fs/file-nr:1:"), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut FilefdCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("sys/fs/file-nr"));
}
