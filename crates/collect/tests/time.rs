//! Fixture tests of the `time` collector: the clock and zone come from the host, clocksources from a fake sysfs.

use std::time::{SystemTime, UNIX_EPOCH};

use vigil_collect::time::TimeCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const DIR: &str = "devices/system/clocksource";

#[test]
fn clock_and_zone() {
    let root = FakeRoot::new();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let (sink, r) = collect(&mut TimeCollector::new(&root.options()), &root);
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    r.unwrap();
    let now = sink.value("node_time_seconds", &[]).unwrap();
    assert!(before - 0.001 <= now && now <= after + 0.001, "{before} <= {now} <= {after}");
    let zone = sink.family("node_time_zone_offset_seconds").next().unwrap();
    assert_eq!(zone.help, "System time zone offset in seconds.");
    assert_eq!(zone.kind, MetricKind::Gauge);
    assert_eq!(zone.labels.len(), 1);
    assert_eq!(zone.labels[0].0, "time_zone");
    assert!(!zone.labels[0].1.is_empty());
    assert!(zone.value.abs() <= 14.0 * 3600.0 && zone.value % 60.0 == 0.0, "{}", zone.value);
    // No clocksource directory: nothing to report, and no error.
    assert_eq!(sink.family("node_time_clocksource_current_info").count(), 0);
}

#[test]
fn clocksources_numbered_in_name_order() {
    let root = FakeRoot::new();
    root.sys(&format!("{DIR}/clocksource0/available_clocksource"), "tsc kvm-clock acpi_pm \n");
    root.sys(&format!("{DIR}/clocksource0/current_clocksource"), "tsc\n");
    // Like a glob, "clocksource10" sorts before "clocksource2".
    root.sys(&format!("{DIR}/clocksource10/available_clocksource"), "jiffies\n");
    root.sys(&format!("{DIR}/clocksource10/current_clocksource"), "jiffies\n");
    root.sys(&format!("{DIR}/clocksource2/available_clocksource"), "\n");
    root.sys(&format!("{DIR}/clocksource2/current_clocksource"), "hpet\n");
    root.sys(&format!("{DIR}/clocksourcex/current_clocksource"), "ignored\n");
    root.sys(&format!("{DIR}/uevent"), "");
    let (sink, r) = collect(&mut TimeCollector::new(&root.options()), &root);
    r.unwrap();
    let avail = "node_time_clocksource_available_info";
    let current = "node_time_clocksource_current_info";
    assert_eq!(sink.family(avail).count(), 4);
    assert_eq!(sink.value(avail, &[("clocksource", "kvm-clock"), ("device", "0")]), Some(1.0));
    assert_eq!(sink.value(avail, &[("clocksource", "acpi_pm"), ("device", "0")]), Some(1.0));
    assert_eq!(sink.value(avail, &[("clocksource", "jiffies"), ("device", "1")]), Some(1.0));
    // Sorted by name within a device, as node_exporter writes them.
    let device0: Vec<&str> = sink
        .family(avail)
        .filter(|s| s.labels.iter().any(|(k, v)| k == "device" && v == "0"))
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(device0, ["acpi_pm", "kvm-clock", "tsc"]);
    assert_eq!(sink.family(current).count(), 3);
    assert_eq!(sink.value(current, &[("clocksource", "tsc"), ("device", "0")]), Some(1.0));
    assert_eq!(sink.value(current, &[("clocksource", "jiffies"), ("device", "1")]), Some(1.0));
    assert_eq!(sink.value(current, &[("clocksource", "hpet"), ("device", "2")]), Some(1.0));
    let s = sink.family(current).next().unwrap();
    assert_eq!(s.help, "Current clocksource read from '/sys/devices/system/clocksource'.");
    let s = sink.family(avail).next().unwrap();
    assert_eq!(s.help, "Available clocksources read from '/sys/devices/system/clocksource'.");
    assert_eq!(s.labels[0].0, "clocksource");
    assert_eq!(s.labels[1].0, "device");
}

#[test]
fn missing_clocksource_file_is_an_error_naming_it() {
    let root = FakeRoot::new();
    root.sys(&format!("{DIR}/clocksource0/available_clocksource"), "tsc\n");
    let (sink, r) = collect(&mut TimeCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("clocksource0/current_clocksource"), "{err}");
    // The clock itself was still reported.
    assert!(sink.value("node_time_seconds", &[]).is_some());
}
