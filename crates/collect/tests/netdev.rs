//! Fixture tests of the `netdev` collector.

use regex::Regex;
use vigil_collect::netdev::NetdevCollector;
use vigil_collect::Options;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  134010     144    0    0    0     0          0         0   134010     144    0    0    0     0       0          0
  eth0: 101774207    3142    1    2    3     4          5         6   231930    2289    7    8    9    10      11         12
";

fn fixture() -> FakeRoot {
    let root = FakeRoot::new();
    root.proc("net/dev", DEV);
    root.sys("class/net/eth0/statistics/rx_nohandler", "42\n");
    root
}

#[test]
fn counters_by_device_with_node_exporter_names() {
    let root = fixture();
    let (sink, r) = collect(&mut NetdevCollector::new(&root.options()), &root);
    r.unwrap();
    let eth0 = |name: &str| sink.value(name, &[("device", "eth0")]);
    assert_eq!(eth0("node_network_receive_bytes_total"), Some(101774207.0));
    assert_eq!(eth0("node_network_receive_errs_total"), Some(1.0));
    assert_eq!(eth0("node_network_receive_drop_total"), Some(2.0));
    assert_eq!(eth0("node_network_receive_frame_total"), Some(4.0));
    assert_eq!(eth0("node_network_receive_multicast_total"), Some(6.0));
    assert_eq!(eth0("node_network_transmit_packets_total"), Some(2289.0));
    assert_eq!(eth0("node_network_transmit_colls_total"), Some(10.0));
    assert_eq!(eth0("node_network_transmit_carrier_total"), Some(11.0));
    assert_eq!(eth0("node_network_transmit_compressed_total"), Some(12.0));
    // rx_nohandler comes from sysfs; a device without it reports 0, as netlink does.
    assert_eq!(eth0("node_network_receive_nohandler_total"), Some(42.0));
    assert_eq!(sink.value("node_network_receive_nohandler_total", &[("device", "lo")]), Some(0.0));
    // 16 /proc/net/dev columns plus receive_nohandler, for each of two devices.
    assert_eq!(sink.samples.len(), 34);
    let s = sink.family("node_network_receive_bytes_total").next().unwrap();
    assert_eq!(s.help, "Network device statistic receive_bytes.");
    assert_eq!(s.kind, MetricKind::Counter);
    assert!(sink.samples.iter().all(|s| s.labels.len() == 1 && s.labels[0].0 == "device"));
}

#[test]
fn excluded_devices_are_skipped() {
    let root = fixture();
    let options = Options { netdev_device_exclude: Some(Regex::new("^lo$").unwrap()), ..root.options() };
    let (sink, r) = collect(&mut NetdevCollector::new(&options), &root);
    r.unwrap();
    assert!(sink.samples.iter().all(|s| s.labels[0].1 == "eth0"));
    assert_eq!(sink.samples.len(), 17);
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let header = DEV.lines().take(2).collect::<Vec<_>>().join("\n");
    let cases = [
        (String::new(), ":1:"),
        ("Inter-|   Receive\n".to_owned(), ":2:"),
        ("Inter-|\n face bytes packets\n".to_owned(), ":2:"),
        (format!("{header}\n  eth0: 1 2 3\n"), ":3:"),
        (format!("{header}\n  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), ":3:"),
        (
            format!(
                "{header}\n  lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  eth0: 1 2 3 x 5 6 7 8 9 10 11 12 13 14 15 16\n"
            ),
            ":4:",
        ),
        (format!("{header}\n  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), ":3:"),
        ("\u{0}\u{1}garbage\n\u{2}|\u{3}|\u{4}\n".to_owned(), ":2:"),
    ];
    for (content, line) in cases {
        let root = FakeRoot::new();
        root.proc("net/dev", &content);
        let (_, r) = collect(&mut NetdevCollector::new(&root.options()), &root);
        let err = r.expect_err(&content).to_string();
        assert!(err.contains("net/dev") && err.contains(line), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut NetdevCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/net/dev"));
}

#[test]
fn a_bad_line_writes_nothing_for_that_device() {
    let root = FakeRoot::new();
    let header = DEV.lines().take(2).collect::<Vec<_>>().join("\n");
    root.proc("net/dev", &format!("{header}\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n"));
    let (sink, r) = collect(&mut NetdevCollector::new(&root.options()), &root);
    assert!(r.is_err());
    assert!(sink.samples.is_empty());
}
