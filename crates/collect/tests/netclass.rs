//! Fixture tests of the `netclass` collector.

use regex::Regex;
use vigil_collect::netclass::NetclassCollector;
use vigil_collect::Options;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

/// Writes the attributes of one interface under `sys/class/net/<dev>/`.
fn iface(root: &FakeRoot, dev: &str, attrs: &[(&str, &str)]) {
    for (name, value) in attrs {
        root.sys(&format!("class/net/{dev}/{name}"), value);
    }
}

fn fixture() -> FakeRoot {
    let root = FakeRoot::new();
    iface(
        &root,
        "eth0",
        &[
            ("addr_assign_type", "0\n"),
            ("address", "02:fc:00:00:00:01\n"),
            ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
            ("carrier", "1\n"),
            ("carrier_changes", "2\n"),
            ("carrier_up_count", "1\n"),
            ("carrier_down_count", "1\n"),
            ("dev_id", "0x0\n"),
            ("dormant", "0\n"),
            ("duplex", "full\n"),
            ("flags", "0x1003\n"),
            ("ifalias", "  uplink to core \n"),
            ("ifindex", "4\n"),
            ("iflink", "4\n"),
            ("link_mode", "0\n"),
            ("mtu", "1400\n"),
            ("name_assign_type", "1\n"),
            ("netdev_group", "0\n"),
            ("operstate", "up\n"),
            ("speed", "1000\n"),
            ("tx_queue_len", "1000\n"),
            ("type", "1\n"),
        ],
    );
    // A down virtual device: no carrier, duplex, speed or name_assign_type, and an unknown speed.
    iface(
        &root,
        "ifb0",
        &[
            ("address", "ae:f9:ac:fd:c5:37\n"),
            ("flags", "0x82\n"),
            ("mtu", "1500\n"),
            ("operstate", "down\n"),
            ("speed", "-1\n"),
            ("tx_queue_len", "32\n"),
            ("type", "1\n"),
        ],
    );
    // A regular file in class/net is not an interface.
    root.sys("class/net/bonding_masters", "bond0\n");
    root
}

#[test]
fn properties_and_info_by_device() {
    let root = fixture();
    let (sink, r) = collect(&mut NetclassCollector::new(&root.options()), &root);
    r.unwrap();
    let eth0 = |name: &str| sink.value(name, &[("device", "eth0")]);
    assert_eq!(eth0("node_network_up"), Some(1.0));
    assert_eq!(eth0("node_network_flags"), Some(4099.0));
    assert_eq!(eth0("node_network_mtu_bytes"), Some(1400.0));
    assert_eq!(eth0("node_network_speed_bytes"), Some(125_000_000.0));
    assert_eq!(eth0("node_network_carrier_changes_total"), Some(2.0));
    assert_eq!(eth0("node_network_carrier_up_changes_total"), Some(1.0));
    assert_eq!(eth0("node_network_carrier_down_changes_total"), Some(1.0));
    assert_eq!(eth0("node_network_iface_id"), Some(4.0));
    assert_eq!(eth0("node_network_iface_link"), Some(4.0));
    assert_eq!(eth0("node_network_iface_link_mode"), Some(0.0));
    assert_eq!(eth0("node_network_device_id"), Some(0.0));
    assert_eq!(eth0("node_network_name_assign_type"), Some(1.0));
    assert_eq!(eth0("node_network_net_dev_group"), Some(0.0));
    assert_eq!(eth0("node_network_protocol_type"), Some(1.0));
    assert_eq!(eth0("node_network_transmit_queue_length"), Some(1000.0));
    assert_eq!(eth0("node_network_address_assign_type"), Some(0.0));
    assert_eq!(eth0("node_network_dormant"), Some(0.0));
    assert_eq!(eth0("node_network_carrier"), Some(1.0));

    let info = sink.family("node_network_info").find(|s| s.labels.contains(&("device".into(), "eth0".into())));
    let mut labels = info.unwrap().labels.clone();
    labels.sort();
    let want: Vec<(String, String)> = [
        ("address", "02:fc:00:00:00:01"),
        ("broadcast", "ff:ff:ff:ff:ff:ff"),
        ("device", "eth0"),
        ("duplex", "full"),
        ("ifalias", "uplink to core"),
        ("operstate", "up"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(labels, want);

    let ifb0 = |name: &str| sink.value(name, &[("device", "ifb0")]);
    assert_eq!(ifb0("node_network_up"), Some(0.0));
    // -1 Mbit/s (unknown) is scaled like any value, as node_exporter 1.5 does.
    assert_eq!(ifb0("node_network_speed_bytes"), Some(-125_000.0));
    assert_eq!(ifb0("node_network_flags"), Some(130.0));
    assert_eq!(ifb0("node_network_carrier"), None);
    assert_eq!(ifb0("node_network_name_assign_type"), None);
    assert_eq!(sink.value("node_network_info", &[("device", "ifb0"), ("duplex", ""), ("ifalias", "")]), Some(1.0));

    assert_eq!(sink.family("node_network_up").count(), 2, "bonding_masters is not a device");
    let s = sink.family("node_network_mtu_bytes").next().unwrap();
    assert_eq!(s.help, "Network device property: mtu_bytes");
    assert_eq!(s.kind, MetricKind::Gauge);
    let s = sink.family("node_network_carrier_changes_total").next().unwrap();
    assert_eq!(s.kind, MetricKind::Counter);
    let s = sink.family("node_network_up").next().unwrap();
    assert_eq!(s.help, "Value is 1 if operstate is 'up', 0 otherwise.");
    let s = sink.family("node_network_info").next().unwrap();
    assert_eq!(s.help, "Non-numeric data from /sys/class/net/<iface>, value is always 1.");
}

#[test]
fn ignored_devices_are_skipped() {
    let root = fixture();
    let options = Options { netclass_ignored_devices: Regex::new("^ifb").unwrap(), ..root.options() };
    let (sink, r) = collect(&mut NetclassCollector::new(&options), &root);
    r.unwrap();
    assert!(sink.samples.iter().all(|s| s.labels.contains(&("device".into(), "eth0".into()))));
    assert_eq!(sink.family("node_network_up").count(), 1);
}

#[test]
fn unparsable_numbers_are_skipped_not_fatal() {
    let root = FakeRoot::new();
    let long_alias = "a".repeat(300);
    iface(
        &root,
        "eth0",
        &[
            ("mtu", "garbage\n"),
            ("flags", "0xZZ"),
            ("speed", ""),
            ("operstate", "\u{0}\u{1}"),
            ("ifalias", &long_alias),
        ],
    );
    let (sink, r) = collect(&mut NetclassCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_network_mtu_bytes", &[("device", "eth0")]), None);
    assert_eq!(sink.value("node_network_flags", &[("device", "eth0")]), None);
    assert_eq!(sink.value("node_network_speed_bytes", &[("device", "eth0")]), None);
    assert_eq!(sink.value("node_network_up", &[("device", "eth0")]), Some(0.0));
    // Attributes are read like procfs does it: one 128-byte read.
    let alias = "a".repeat(128);
    assert_eq!(sink.value("node_network_info", &[("ifalias", alias.as_str())]), Some(1.0));
}

#[test]
fn unreadable_attribute_or_missing_class_dir_is_a_named_error() {
    // Reading a directory fails with EISDIR, which node_exporter does not skip either.
    let root = FakeRoot::new();
    iface(&root, "eth0", &[("operstate", "up\n"), ("mtu/inner", "1\n")]);
    let (_, r) = collect(&mut NetclassCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("class/net/eth0/mtu"), "{err}");

    let root = FakeRoot::new();
    let (_, r) = collect(&mut NetclassCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("sys/class/net"), "{err}");
}
