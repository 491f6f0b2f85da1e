//! Fixture tests of the `cpu` collector.

use vigil_collect::cpu::CpuCollector;

use crate::common::{collect, FakeRoot};

const STAT: &str = "cpu  10 20 30 40 50 60 70 80 90 100\n\
cpu0 100 200 300 400 500 600 700 800 900 1000\n\
cpu1 1 2 3 4 5 6 7 8 0 0\n\
intr 1 2 3\nctxt 42\n";

#[test]
fn per_cpu_seconds_by_mode() {
    let root = FakeRoot::new();
    root.proc("stat", STAT);
    let (sink, r) = collect(&mut CpuCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.family("node_cpu_seconds_total").count(), 16);
    // USER_HZ is 100 on Linux.
    assert_eq!(sink.value("node_cpu_seconds_total", &[("cpu", "0"), ("mode", "idle")]), Some(4.0));
    assert_eq!(sink.value("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "steal")]), Some(0.08));
    assert_eq!(sink.value("node_cpu_guest_seconds_total", &[("cpu", "0"), ("mode", "nice")]), Some(10.0));
}

#[test]
fn thermal_throttles_per_core_and_package() {
    let root = FakeRoot::new();
    root.proc("stat", STAT);
    for (cpu, core) in [("cpu0", "0"), ("cpu1", "0")] {
        root.sys(&format!("devices/system/cpu/{cpu}/topology/physical_package_id"), "0\n");
        root.sys(&format!("devices/system/cpu/{cpu}/topology/core_id"), &format!("{core}\n"));
        root.sys(&format!("devices/system/cpu/{cpu}/thermal_throttle/core_throttle_count"), "7\n");
        root.sys(&format!("devices/system/cpu/{cpu}/thermal_throttle/package_throttle_count"), "9\n");
    }
    let (sink, r) = collect(&mut CpuCollector::new(&root.options()), &root);
    r.unwrap();
    // Two hyperthreads of one core count once.
    assert_eq!(sink.family("node_cpu_core_throttles_total").count(), 1);
    assert_eq!(sink.value("node_cpu_package_throttles_total", &[("package", "0")]), Some(9.0));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    for content in ["", "cpu  1 2 3\n", "cpu0 1 2 x 4\n", "cpu0 1\n", "\u{0}\u{1}garbage", "cpu0"] {
        let root = FakeRoot::new();
        root.proc("stat", content);
        let (_, r) = collect(&mut CpuCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains("stat"), "error should name the file: {err}");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut CpuCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/stat"));
}
