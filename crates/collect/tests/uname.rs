//! Tests of the `uname` collector, against the host it runs on (uname(2) cannot be faked).

use vigil_collect::uname::UnameCollector;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

#[test]
fn one_info_sample_labeled_like_node_exporter() {
    let root = FakeRoot::new();
    let (sink, r) = collect(&mut UnameCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.samples.len(), 1);
    let s = sink.family("node_uname_info").next().unwrap();
    assert_eq!(s.help, "Labeled system information as provided by the uname system call.");
    assert_eq!(s.kind, MetricKind::Gauge);
    assert_eq!(s.value, 1.0);
    let names: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["domainname", "machine", "nodename", "release", "sysname", "version"]);
    let label = |name: &str| s.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(label("sysname"), "Linux");
    // The kernel reports the same strings under /proc/sys/kernel; an unset domain name reads "(none)".
    let proc = |f: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{f}")).unwrap().trim_end().to_owned();
    assert_eq!(label("nodename"), proc("hostname"));
    assert_eq!(label("domainname"), proc("domainname"));
    assert_eq!(label("release"), proc("osrelease"));
    assert_eq!(label("version"), proc("version"));
    assert_eq!(label("machine"), std::env::consts::ARCH);
}
