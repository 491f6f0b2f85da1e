//! Fixture tests of the `vmstat` collector.

use regex::Regex;
use vigil_collect::vmstat::VmstatCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const VMSTAT: &str = "nr_free_pages 803610\n\
pgpgin 923429\n\
pgpgout 611036\n\
pswpin 0\n\
pswpout 0\n\
pgfault 2085034\n\
pgmajfault 540\n\
thp_fault_alloc 3\n\
oom_kill 1\n\
numa_hit 99\n";

#[test]
fn default_fields_only() {
    let root = FakeRoot::new();
    root.proc("vmstat", VMSTAT);
    let (sink, r) = collect(&mut VmstatCollector::new(&root.options()), &root);
    r.unwrap();
    let mut names: Vec<&str> = sink.samples.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "node_vmstat_oom_kill",
            "node_vmstat_pgfault",
            "node_vmstat_pgmajfault",
            "node_vmstat_pgpgin",
            "node_vmstat_pgpgout",
            "node_vmstat_pswpin",
            "node_vmstat_pswpout",
        ]
    );
    assert_eq!(sink.value("node_vmstat_pgfault", &[]), Some(2085034.0));
    let s = sink.family("node_vmstat_oom_kill").next().unwrap();
    assert_eq!(s.help, "/proc/vmstat information field oom_kill.");
    assert_eq!(s.kind, MetricKind::Untyped);
    assert_eq!(s.value, 1.0);
}

#[test]
fn fields_option_is_an_unanchored_regex() {
    let root = FakeRoot::new();
    root.proc("vmstat", VMSTAT);
    let options = vigil_collect::Options { vmstat_fields: Regex::new("fault").unwrap(), ..root.options() };
    let (sink, r) = collect(&mut VmstatCollector::new(&options), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 3);
    assert_eq!(sink.value("node_vmstat_thp_fault_alloc", &[]), Some(3.0));
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let cases = [
        ("", ":0:"),
        ("\n\n", ":0:"),
        ("pgfault\n", ":1:"),
        ("pgfault 1\npgmajfault x\n", ":2:"),
        // An unselected field with a bad value fails too, as in node_exporter.
        ("pgfault 1\nnr_free_pages ?\n", ":2:"),
        ("pg{fault} 1\n", ":1:"),
        ("\u{0}\u{1}garbage", ":1:"),
    ];
    for (content, line) in cases {
        let root = FakeRoot::new();
        root.proc("vmstat", content);
        let (_, r) = collect(&mut VmstatCollector::new(&root.options()), &root);
        let err = r.expect_err(content).to_string();
        assert!(err.contains(&format!("proc/vmstat{line}")), "{content:?}: {err}");
    }
    let root = FakeRoot::new();
    let (_, r) = collect(&mut VmstatCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/vmstat"));
}
