//! Fixture tests of the `pressure` collector.

use vigil_collect::pressure::PressureCollector;
use vigil_collect::CollectError;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const CPU: &str = "some avg10=8.08 avg60=4.56 avg300=1.84 total=4726234\n\
full avg10=0.00 avg60=0.00 avg300=0.00 total=99\n";
const IO: &str = "some avg10=0.00 avg60=0.12 avg300=0.14 total=1107418\n\
full avg10=0.00 avg60=0.10 avg300=0.12 total=987545\n";
const MEMORY: &str = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
full avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n";

fn fixture(cpu: &str, io: &str, memory: &str) -> FakeRoot {
    let root = FakeRoot::new();
    root.proc("pressure/cpu", cpu).proc("pressure/io", io).proc("pressure/memory", memory);
    root
}

#[test]
fn totals_in_seconds() {
    let root = fixture(CPU, IO, MEMORY);
    let (sink, r) = collect(&mut PressureCollector::new(&root.options()), &root);
    r.unwrap();
    // node_exporter 1.5 reports only the "some" total of cpu.
    assert_eq!(sink.samples.len(), 5);
    assert_eq!(sink.family("node_pressure_cpu_stalled_seconds_total").count(), 0);
    // Divided by 1000 twice, like node_exporter: the float is 4.726234000000001, not 4.726234.
    assert_eq!(sink.value("node_pressure_cpu_waiting_seconds_total", &[]), Some(4726234.0 / 1000.0 / 1000.0));
    assert_eq!(sink.value("node_pressure_io_waiting_seconds_total", &[]), Some(1.1074179999999998));
    assert_eq!(sink.value("node_pressure_io_stalled_seconds_total", &[]), Some(0.987545));
    assert_eq!(sink.value("node_pressure_memory_waiting_seconds_total", &[]), Some(0.0));
    assert_eq!(sink.value("node_pressure_memory_stalled_seconds_total", &[]), Some(2.5));
    let s = sink.family("node_pressure_io_stalled_seconds_total").next().unwrap();
    assert_eq!(s.help, "Total time in seconds no process could make progress due to IO congestion");
    assert_eq!(s.kind, MetricKind::Counter);
}

#[test]
fn cpu_without_full_line_is_fine() {
    let root = fixture("some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n", IO, MEMORY);
    let (sink, r) = collect(&mut PressureCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_pressure_cpu_waiting_seconds_total", &[]), Some(0.000007));
}

#[test]
fn missing_files_mean_no_data() {
    let root = FakeRoot::new();
    let (_, r) = collect(&mut PressureCollector::new(&root.options()), &root);
    let err = r.unwrap_err();
    assert!(matches!(err, CollectError::NoData(_)), "{err}");
    assert!(err.to_string().contains("pressure/cpu"), "{err}");
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let cases = [
        ("pressure/cpu", "", ":0:"),
        ("pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00\n", ":1:"),
        ("pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=-5\n", ":1:"),
        ("pressure/cpu", "some avg10=x avg60=0.00 avg300=0.00 total=5\n", ":1:"),
        ("pressure/cpu", "some total=5 avg10=0.00 avg60=0.00 avg300=0.00\n", ":1:"),
        ("pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", ":0:"),
        ("pressure/io", "\u{0}\u{1}garbage", ":0:"),
        ("pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00", ":2:"),
    ];
    for (file, content, line) in cases {
        let root = fixture(CPU, IO, MEMORY);
        root.proc(file, content);
        let (_, r) = collect(&mut PressureCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains(&format!("{file}{line}")), "{file} {content:?}: {err}");
    }
}
