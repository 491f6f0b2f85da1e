//! The agent's HTTP endpoint: text format, gzip on request, 404 elsewhere, and the scrape survives a broken
//! collector source.

use std::process::Command;

use crate::support::{http_get, start_agent};

#[test]
fn serves_text_format_and_gzip() {
    let (_agent, addr) = start_agent(&[]);
    let url = format!("http://{addr}/metrics");
    let plain = http_get(&url).unwrap();
    let families = vigil_proto::exposition::parse(&plain).expect("valid exposition");
    for family in ["node_cpu_seconds_total", "process_resident_memory_bytes", "vigil_build_info"] {
        assert!(families.iter().any(|f| f.name == family), "{family} missing");
    }

    let out = Command::new("curl")
        .args(["-sf", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", &url])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(headers.contains("content-encoding: gzip"), "{headers}");
    assert!(headers.contains("content-type: text/plain; version=0.0.4"), "{headers}");
    let unzipped = Command::new("curl").args(["-sf", "--compressed", &url]).output().unwrap();
    assert!(String::from_utf8_lossy(&unzipped.stdout).contains("# TYPE node_cpu_seconds_total counter"));

    let status = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{addr}/nope")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout), "404");
}

#[test]
fn a_failing_collector_reports_success_zero_and_the_scrape_still_succeeds() {
    // An empty procfs: every /proc collector fails, yet /metrics answers 200 with success 0 for each.
    let empty = tempfile::tempdir().unwrap();
    let proc_dir = empty.path().to_str().unwrap();
    let (_agent, addr) = start_agent(&["--path.procfs", proc_dir, "--collectors", "cpu,meminfo,loadavg"]);
    let text = http_get(&format!("http://{addr}/metrics")).expect("scrape succeeds");
    for c in ["cpu", "meminfo", "loadavg"] {
        let line = format!("node_scrape_collector_success{{collector=\"{c}\"}} 0");
        assert!(text.contains(&line), "missing {line} in:\n{text}");
    }
    // Each failed collection is counted (start_agent already scraped once while waiting for readiness).
    let families = vigil_proto::exposition::parse(&text).unwrap();
    let errors = families.iter().find(|f| f.name == "vigil_collector_errors_total").expect("error counter");
    let cpu = errors.samples.iter().find(|s| s.label("collector") == Some("cpu")).unwrap();
    assert_eq!(cpu.value, 2.0);
}
