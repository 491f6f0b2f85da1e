//! Fixture tests of the `netstat` collector.

use regex::Regex;
use vigil_collect::netstat::NetstatCollector;
use vigil_collect::Options;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const NETSTAT: &str = "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPTimeouts DelayedACKs
TcpExt: 1 2 3 4 5 6
IpExt: InNoRoutes InOctets OutOctets
IpExt: 0 101785774 254767
";

const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 2 64 3200 7
Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab InErrs
Tcp: 1 -1 42 2 0
Udp: InDatagrams NoPorts InErrors OutDatagrams
Udp: 78 0 9 79
";

const SNMP6: &str = "Ip6InReceives                   \t4
Ip6InOctets                     \t128
Ip6OutOctets                    880
Icmp6InMsgs 1
Icmp6InErrors 3
Icmp6InType134 5
Udp6InDatagrams 11
UdpLite6InErrors 0
";

fn fixture() -> FakeRoot {
    let root = FakeRoot::new();
    root.proc("net/netstat", NETSTAT).proc("net/snmp", SNMP).proc("net/snmp6", SNMP6);
    root
}

#[test]
fn default_fields_from_all_three_files() {
    let root = fixture();
    let (sink, r) = collect(&mut NetstatCollector::new(&root.options()), &root);
    r.unwrap();
    let v = |name: &str| sink.value(name, &[]);
    assert_eq!(v("node_netstat_TcpExt_SyncookiesSent"), Some(1.0));
    assert_eq!(v("node_netstat_TcpExt_ListenDrops"), Some(4.0));
    assert_eq!(v("node_netstat_TcpExt_TCPTimeouts"), Some(5.0));
    assert_eq!(v("node_netstat_IpExt_InOctets"), Some(101785774.0));
    assert_eq!(v("node_netstat_Ip_Forwarding"), Some(2.0));
    assert_eq!(v("node_netstat_Tcp_ActiveOpens"), Some(42.0));
    assert_eq!(v("node_netstat_Tcp_CurrEstab"), Some(2.0));
    assert_eq!(v("node_netstat_Tcp_InErrs"), Some(0.0));
    assert_eq!(v("node_netstat_Udp_InErrors"), Some(9.0));
    assert_eq!(v("node_netstat_Ip6_InOctets"), Some(128.0));
    assert_eq!(v("node_netstat_Ip6_OutOctets"), Some(880.0));
    assert_eq!(v("node_netstat_Icmp6_InMsgs"), Some(1.0));
    assert_eq!(v("node_netstat_Icmp6_InErrors"), Some(3.0));
    assert_eq!(v("node_netstat_Udp6_InDatagrams"), Some(11.0));
    assert_eq!(v("node_netstat_UdpLite6_InErrors"), Some(0.0));
    // Fields outside the default filter are not exported.
    assert_eq!(v("node_netstat_TcpExt_DelayedACKs"), None);
    assert_eq!(v("node_netstat_Tcp_MaxConn"), None);
    assert_eq!(v("node_netstat_Ip6_InReceives"), None);
    assert_eq!(v("node_netstat_Icmp6_InType134"), None);
    assert_eq!(v("node_netstat_Ip_InHdrErrors"), None);
    assert_eq!(sink.samples.len(), 21);

    let s = sink.family("node_netstat_Ip6_InOctets").next().unwrap();
    assert_eq!(s.help, "Statistic Ip6InOctets.");
    assert_eq!(s.kind, MetricKind::Untyped);
    let s = sink.family("node_netstat_TcpExt_ListenDrops").next().unwrap();
    assert_eq!(s.help, "Statistic TcpExtListenDrops.");
    assert!(s.labels.is_empty());
}

#[test]
fn custom_field_filter_and_optional_snmp6() {
    let root = FakeRoot::new();
    root.proc("net/netstat", NETSTAT).proc("net/snmp", SNMP);
    let options = Options { netstat_fields: Regex::new("^Tcp_MaxConn$").unwrap(), ..root.options() };
    let (sink, r) = collect(&mut NetstatCollector::new(&options), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 1);
    assert_eq!(sink.value("node_netstat_Tcp_MaxConn", &[]), Some(-1.0));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let cases = [
        ("net/netstat", "", "netstat:0:"),
        ("net/netstat", "TcpExt: A B\n", "netstat:1:"),
        ("net/netstat", "TcpExt: A B\nTcpExt: 1\n", "netstat:2:"),
        ("net/netstat", "TcpExt: A B\nIpExt: 1 2\n", "netstat:2:"),
        // A value outside the filter must still be a number, as in node_exporter.
        ("net/netstat", "TcpExt: A B\nTcpExt: 1 x\n", "netstat:2:"),
        ("net/netstat", "TcpExt A\nTcpExt 1\n", "netstat:1:"),
        ("net/netstat", "\u{0}\u{1}garbage\n\u{2}\n", "netstat:1:"),
        ("net/snmp", "Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm\n", "snmp:3:"),
        ("net/snmp6", "Ip6InOctets 12\nIp6OutOctets twelve\n", "snmp6:2:"),
        ("net/snmp6", "Ip6In-Octets 12\n", "snmp6:1:"),
    ];
    for (file, content, want) in cases {
        let root = fixture();
        root.proc(file, content);
        let (_, r) = collect(&mut NetstatCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains(want), "{file} {content:?}: {err}");
    }
    for missing in ["net/netstat", "net/snmp"] {
        let root = fixture();
        std::fs::remove_file(root.path().join("proc").join(missing)).unwrap();
        let (_, r) = collect(&mut NetstatCollector::new(&root.options()), &root);
        let err = r.unwrap_err().to_string();
        assert!(err.contains(missing), "{err}");
    }
}
