//! Fixture tests of the `conntrack` collector.

use vigil_collect::conntrack::ConntrackCollector;
use vigil_collect::CollectError;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

const HEADER: &str =
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop \
icmp_error  expect_new expect_create expect_delete search_restart\n";

fn fixture(stat: &str) -> FakeRoot {
    let root = FakeRoot::new();
    root.proc("sys/net/netfilter/nf_conntrack_count", "123\n");
    root.proc("sys/net/netfilter/nf_conntrack_max", "262144\n");
    root.proc("net/stat/nf_conntrack", stat);
    root
}

#[test]
fn entries_and_stats_summed_over_cpus() {
    let stat = format!(
        "{HEADER}\
0000002a  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008\n\
0000002a  00000000 00000010 00000000 00000020 00000030 00000000 00000000 00000040 00000050 00000060 00000070 00000000  00000000 00000000 00000000 000000ff\n"
    );
    let root = fixture(&stat);
    let (sink, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 10);
    assert_eq!(sink.value("node_nf_conntrack_entries", &[]), Some(123.0));
    assert_eq!(sink.value("node_nf_conntrack_entries_limit", &[]), Some(262144.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_found", &[]), Some(17.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_invalid", &[]), Some(34.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_ignore", &[]), Some(51.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_insert", &[]), Some(68.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_insert_failed", &[]), Some(85.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_drop", &[]), Some(102.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_early_drop", &[]), Some(119.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_search_restart", &[]), Some(263.0));
    let s = sink.family("node_nf_conntrack_stat_early_drop").next().unwrap();
    assert_eq!(
        s.help,
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."
    );
    assert_eq!(s.kind, MetricKind::Gauge);
}

#[test]
fn old_kernels_lack_search_restart() {
    let root = fixture(&format!("{HEADER}{}\n", ["1"; 16].join(" ")));
    let (sink, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_nf_conntrack_stat_drop", &[]), Some(1.0));
    assert_eq!(sink.value("node_nf_conntrack_stat_search_restart", &[]), Some(0.0));
}

#[test]
fn counters_wrap_instead_of_overflowing() {
    let line = ["ffffffffffffffff"; 17].join(" ");
    let root = fixture(&format!("{HEADER}{line}\n{line}\n"));
    let (sink, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_nf_conntrack_stat_found", &[]), Some((u64::MAX - 1) as f64));
}

#[test]
fn module_not_loaded_means_no_data() {
    let root = FakeRoot::new();
    let (sink, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
    let err = r.unwrap_err();
    assert!(matches!(err, CollectError::NoData(_)), "{err}");
    assert!(err.to_string().contains("nf_conntrack_count"), "{err}");
    assert!(sink.samples.is_empty());
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let ok_line = ["0"; 17].join(" ");
    let cases = [
        ("sys/net/netfilter/nf_conntrack_count", "", ":1:"),
        ("sys/net/netfilter/nf_conntrack_count", "many\n", ":1:"),
        ("sys/net/netfilter/nf_conntrack_max", "\u{0}\u{1}", ":1:"),
        ("net/stat/nf_conntrack", "", ":0:"),
        ("net/stat/nf_conntrack", HEADER, ":0:"),
        ("net/stat/nf_conntrack", &format!("{HEADER}{ok_line}\n0 1 2\n"), ":3:"),
        ("net/stat/nf_conntrack", &format!("{HEADER}{ok_line} 0\n"), ":2:"),
        ("net/stat/nf_conntrack", &format!("{HEADER}{}\n", ok_line.replace("0 0", "0 zz")), ":2:"),
        // A counter wider than 64 bits.
        ("net/stat/nf_conntrack", &format!("{HEADER}{}\n", ok_line.replacen('0', "10000000000000000", 1)), ":2:"),
    ];
    for (file, content, line) in cases {
        let root = fixture(&format!("{HEADER}{ok_line}\n"));
        root.proc(file, content);
        let (_, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
        let err = r.expect_err(content);
        assert!(!matches!(err, CollectError::NoData(_)), "{file} {content:?}: {err}");
        let err = err.to_string();
        assert!(err.contains(&format!("{file}{line}")), "{file} {content:?}: {err}");
    }
    // With the module loaded, a missing statistics file is a real error, as in node_exporter.
    let root = fixture("");
    std::fs::remove_file(root.path().join("proc/net/stat/nf_conntrack")).unwrap();
    let (_, r) = collect(&mut ConntrackCollector::new(&root.options()), &root);
    let err = r.unwrap_err();
    assert!(matches!(err, CollectError::Io { .. }) && err.to_string().contains("net/stat/nf_conntrack"), "{err}");
}
