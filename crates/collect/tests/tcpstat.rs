//! Fixture tests of the `tcpstat` collector.

use vigil_collect::tcpstat::TcpstatCollector;
use vigil_collect::{Collector, Paths};
use vigil_model::metric::VecSink;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const HEADER: &str =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 1225 1 00000000053d2633 100 0 0 10 0
   1: 0100007F:4B15 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8291 1 000000003f31afb8 100 0 0 10 0
   2: 0100007F:B0BC 0100007F:4B01 06 00000000:00000000 03:00000403 00000000     0        0 0 3 0000000052af7463
   3: 0100007F:A562 0100007F:4B0B 01 00000100:00000010 00:00000000 00000000     0        0 0 3 00000000085a0ff5
";

const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D0A4 01 00000001:00000002 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
";

fn states(sink: &VecSink) -> Vec<(String, f64)> {
    let mut v: Vec<_> = sink
        .family("node_tcp_connection_states")
        .map(|s| {
            assert_eq!(s.labels.len(), 1);
            assert_eq!(s.labels[0].0, "state");
            (s.labels[0].1.clone(), s.value)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn owned(v: &[(&str, f64)]) -> Vec<(String, f64)> {
    v.iter().map(|(k, x)| ((*k).to_owned(), *x)).collect()
}

#[test]
fn states_and_queues_from_tcp_and_tcp6() {
    let root = FakeRoot::new();
    root.proc("net/tcp", TCP).proc("net/tcp6", TCP6);
    let (sink, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(
        states(&sink),
        owned(&[
            ("established", 2.0),
            ("listen", 3.0),
            ("rx_queued_bytes", 3.0 + 0x10 as f64 + 2.0),
            ("time_wait", 1.0),
            ("tx_queued_bytes", 0x100 as f64 + 1.0),
        ])
    );
    let s = sink.family("node_tcp_connection_states").next().unwrap();
    assert_eq!(s.help, "Number of connection states.");
    assert_eq!(s.kind, MetricKind::Gauge);
}

#[test]
fn tcp6_is_optional_and_no_sockets_means_no_samples() {
    let root = FakeRoot::new();
    root.proc("net/tcp", TCP);
    let (sink, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_tcp_connection_states", &[("state", "listen")]), Some(2.0));

    let root = FakeRoot::new();
    root.proc("net/tcp", HEADER);
    let (sink, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
    r.unwrap();
    assert!(sink.samples.is_empty());
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let long = format!("{HEADER}{}\n", "0".repeat(10_000));
    let cases = [
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 0A\n"),
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 0A 0000000000000000\n"),
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 0A 0000000G:00000000 00\n"),
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 ZZ 00000000:00000000 00\n"),
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 FF 00000000:00000000 00\n"),
        format!("{HEADER}   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00\n   1: \u{0}\u{1} garbage\n"),
        long,
    ];
    for content in &cases {
        let root = FakeRoot::new();
        root.proc("net/tcp", content);
        let (_, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        let line = if content.contains("garbage") { ":3:" } else { ":2:" };
        assert!(err.contains("net/tcp") && err.contains(line), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    root.proc("net/tcp", TCP).proc("net/tcp6", &format!("{HEADER}   0: x\n"));
    let (_, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("net/tcp6:2:"));

    let root = FakeRoot::new();
    let (_, r) = collect(&mut TcpstatCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/net/tcp"));
}

#[test]
fn this_host_reports_a_listening_socket() {
    // Against the real /proc this goes through inet_diag (or /proc/net/tcp where netlink is unavailable).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sink = VecSink::default();
    let mut c = TcpstatCollector::new(&vigil_collect::Options::default());
    c.collect(&Paths::default(), &mut sink).unwrap();
    let listen = sink.value("node_tcp_connection_states", &[("state", "listen")]).unwrap();
    assert!(listen >= 1.0);
    assert!(sink.value("node_tcp_connection_states", &[("state", "tx_queued_bytes")]).is_some());
    drop(listener);
}
