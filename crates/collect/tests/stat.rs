//! Fixture tests of the `stat` collector.

use vigil_collect::stat::StatCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const STAT: &str = "cpu  10 20 30 40 50 60 70 80 90 100\n\
cpu0 10 20 30 40 50 60 70 80 90 100\n\
intr 98348 9 0 0 12\n\
ctxt 224655\n\
btime 1795252545\n\
processes 5801\n\
procs_running 2\n\
procs_blocked 1\n\
softirq 10 1 2 3 4 0 0 0 0 0 0\n";

#[test]
fn kernel_activity_counters() {
    let root = FakeRoot::new();
    root.proc("stat", STAT);
    let (sink, r) = collect(&mut StatCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 6);
    assert_eq!(sink.value("node_boot_time_seconds", &[]), Some(1795252545.0));
    assert_eq!(sink.value("node_context_switches_total", &[]), Some(224655.0));
    assert_eq!(sink.value("node_forks_total", &[]), Some(5801.0));
    assert_eq!(sink.value("node_intr_total", &[]), Some(98348.0));
    assert_eq!(sink.value("node_procs_running", &[]), Some(2.0));
    assert_eq!(sink.value("node_procs_blocked", &[]), Some(1.0));
    let s = sink.family("node_boot_time_seconds").next().unwrap();
    assert_eq!((s.help.as_str(), s.kind), ("Node boot time, in unixtime.", MetricKind::Gauge));
    let s = sink.family("node_intr_total").next().unwrap();
    assert_eq!((s.help.as_str(), s.kind), ("Total number of interrupts serviced.", MetricKind::Counter));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let cases = [
        ("", ":0:"),
        ("\u{0}\u{1}garbage", ":0:"),
        // Truncated before the process counts.
        ("cpu0 1 2 3 4\nintr 5\nctxt 6\nbtime 7\n", ":0:"),
        (&STAT.replace("ctxt 224655", "ctxt x"), ":4:"),
        (&STAT.replace("ctxt 224655", "ctxt"), ":4:"),
        (&STAT.replace("intr 98348 9", "intr 98348 z"), ":3:"),
        (&STAT.replace("cpu0 10", "cpu0 ten"), ":2:"),
        (&STAT.replace("cpu0", "cpuX"), ":2:"),
        (&STAT.replace("softirq 10 1", "softirq 10 -1"), ":9:"),
    ];
    for (content, line) in cases {
        let root = FakeRoot::new();
        root.proc("stat", content);
        let (_, r) = collect(&mut StatCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains("proc/stat") && err.contains(line), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut StatCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/stat"));
}
