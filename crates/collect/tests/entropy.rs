//! Fixture tests of the `entropy` collector.

use vigil_collect::entropy::EntropyCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

#[test]
fn available_bits_and_pool_size() {
    let root = FakeRoot::new();
    root.proc("sys/kernel/random/entropy_avail", "3520\n");
    root.proc("sys/kernel/random/poolsize", "4096\n");
    let (sink, r) = collect(&mut EntropyCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_entropy_available_bits", &[]), Some(3520.0));
    assert_eq!(sink.value("node_entropy_pool_size_bits", &[]), Some(4096.0));
    let s = sink.family("node_entropy_pool_size_bits").next().unwrap();
    assert_eq!((s.help.as_str(), s.kind), ("Bits of entropy pool.", MetricKind::Gauge));
}

#[test]
fn garbage_and_missing_files_are_errors_not_panics() {
    for (avail, pool, file) in [
        ("", "4096\n", "entropy_avail"),
        ("many\n", "4096\n", "entropy_avail"),
        ("-1\n", "4096\n", "entropy_avail"),
        ("256\n", "\u{0}\u{1}", "poolsize"),
        ("256\n", "", "poolsize"),
    ] {
        let root = FakeRoot::new();
        root.proc("sys/kernel/random/entropy_avail", avail);
        root.proc("sys/kernel/random/poolsize", pool);
        let (_, r) = collect(&mut EntropyCollector::new(&root.options()), &root);
        let err = r.expect_err(file).to_string();
        assert!(err.contains(&format!("random/{file}:1:")), "{avail:?} {pool:?}: {err}");
    }
    let root = FakeRoot::new();
    root.proc("sys/kernel/random/entropy_avail", "256\n");
    let (sink, r) = collect(&mut EntropyCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("random/poolsize"));
    assert_eq!(sink.value("node_entropy_available_bits", &[]), Some(256.0));
    let root = FakeRoot::new();
    let (_, r) = collect(&mut EntropyCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("random/entropy_avail"));
}
