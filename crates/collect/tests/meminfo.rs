//! Fixture tests of the `meminfo` collector.

use vigil_collect::meminfo::MeminfoCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

#[test]
fn fields_become_bytes_with_node_exporter_names() {
    let root = FakeRoot::new();
    root.proc(
        "meminfo",
        "MemTotal:       16384 kB\nActive(anon):     100 kB\nHugePages_Total:       3\nHugepagesize:       2048 kB\n",
    );
    let (sink, r) = collect(&mut MeminfoCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_memory_MemTotal_bytes", &[]), Some(16384.0 * 1024.0));
    assert_eq!(sink.value("node_memory_Active_anon_bytes", &[]), Some(102400.0));
    assert_eq!(sink.value("node_memory_HugePages_Total", &[]), Some(3.0));
    let s = sink.family("node_memory_Hugepagesize_bytes").next().unwrap();
    assert_eq!(s.help, "Memory information field Hugepagesize_bytes.");
    assert_eq!(s.kind, MetricKind::Gauge);
}

#[test]
fn garbage_is_an_error_naming_the_line() {
    for (content, line) in
        [("MemTotal: 1 kB\nnonsense\n", ":2:"), ("MemTotal: x kB\n", ":1:"), ("MemTotal: 1 MB\n", ":1:")]
    {
        let root = FakeRoot::new();
        root.proc("meminfo", content);
        let (_, r) = collect(&mut MeminfoCollector::new(&root.options()), &root);
        let err = r.unwrap_err().to_string();
        assert!(err.contains("meminfo") && err.contains(line), "{content:?}: {err}");
    }
}
