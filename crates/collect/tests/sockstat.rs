//! Fixture tests of the `sockstat` collector.

use vigil_collect::sockstat::SockstatCollector;
use vigil_collect::CollectError;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const SOCKSTAT: &str = "sockets: used 229
TCP: inuse 4 orphan 1 tw 7 alloc 9 mem 98
UDP: inuse 2 mem 3
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";

const SOCKSTAT6: &str = "TCP6: inuse 5
UDP6: inuse 6
UDPLITE6: inuse 0
RAW6: inuse 1
FRAG6: inuse 0 memory 0
";

#[test]
fn socket_counts_by_protocol_and_state() {
    let root = FakeRoot::new();
    root.proc("net/sockstat", SOCKSTAT).proc("net/sockstat6", SOCKSTAT6);
    let (sink, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_sockstat_sockets_used", &[]), Some(229.0));
    assert_eq!(sink.value("node_sockstat_TCP_inuse", &[]), Some(4.0));
    assert_eq!(sink.value("node_sockstat_TCP_orphan", &[]), Some(1.0));
    assert_eq!(sink.value("node_sockstat_TCP_tw", &[]), Some(7.0));
    assert_eq!(sink.value("node_sockstat_TCP_alloc", &[]), Some(9.0));
    assert_eq!(sink.value("node_sockstat_TCP_mem", &[]), Some(98.0));
    assert_eq!(sink.value("node_sockstat_UDP_mem", &[]), Some(3.0));
    assert_eq!(sink.value("node_sockstat_FRAG_memory", &[]), Some(0.0));
    assert_eq!(sink.value("node_sockstat_TCP6_inuse", &[]), Some(5.0));
    assert_eq!(sink.value("node_sockstat_RAW6_inuse", &[]), Some(1.0));
    assert_eq!(sink.value("node_sockstat_FRAG6_memory", &[]), Some(0.0));
    // States the kernel does not print for a protocol are not made up.
    assert_eq!(sink.value("node_sockstat_UDP_tw", &[]), None);
    assert_eq!(sink.value("node_sockstat_UDPLITE_mem_bytes", &[]), None);
    // mem is in pages; mem_bytes is pages times the page size.
    let tcp_bytes = sink.value("node_sockstat_TCP_mem_bytes", &[]).unwrap();
    let page = tcp_bytes / 98.0;
    assert!([4096.0, 16384.0, 65536.0].contains(&page), "page size {page}");
    assert_eq!(sink.value("node_sockstat_UDP_mem_bytes", &[]), Some(3.0 * page));
    assert_eq!(sink.samples.len(), 20);

    let s = sink.family("node_sockstat_TCP_mem_bytes").next().unwrap();
    assert_eq!(s.help, "Number of TCP sockets in state mem_bytes.");
    assert_eq!(s.kind, MetricKind::Gauge);
    let s = sink.family("node_sockstat_sockets_used").next().unwrap();
    assert_eq!(s.help, "Number of IPv4 sockets in use.");
}

#[test]
fn ipv6_file_is_optional_and_its_sockets_line_is_ignored() {
    let root = FakeRoot::new();
    root.proc("net/sockstat", SOCKSTAT);
    let (sink, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_sockstat_TCP6_inuse", &[]), None);

    let root = FakeRoot::new();
    root.proc("net/sockstat6", "sockets: used 3\nTCP6: orphan 1\n");
    let (sink, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_sockstat_sockets_used", &[]), None);
    // inuse is always exported, as 0 when missing, like node_exporter.
    assert_eq!(sink.value("node_sockstat_TCP6_inuse", &[]), Some(0.0));
    assert_eq!(sink.value("node_sockstat_TCP6_orphan", &[]), Some(1.0));

    let root = FakeRoot::new();
    let (_, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
    let err = r.unwrap_err();
    assert!(matches!(err, CollectError::NoData(_)) && err.to_string().contains("net/sockstat"), "{err}");
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let cases = [
        ("", "sockstat:0:"),
        ("sockets: used 1\nTCP: inuse 4 orphan\n", "sockstat:2:"),
        ("TCP:\n", "sockstat:1:"),
        ("TCP: inuse x\n", "sockstat:1:"),
        ("TCP: inuse 99999999999999999999\n", "sockstat:1:"),
        ("T-CP: inuse 1\n", "sockstat:1:"),
        ("\u{0}\u{1}garbage", "sockstat:1:"),
    ];
    for (content, want) in cases {
        let root = FakeRoot::new();
        root.proc("net/sockstat", content);
        let (_, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains(want), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    root.proc("net/sockstat", SOCKSTAT).proc("net/sockstat6", "TCP6: inuse\n");
    let (_, r) = collect(&mut SockstatCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("sockstat6:1:"), "{err}");
}
