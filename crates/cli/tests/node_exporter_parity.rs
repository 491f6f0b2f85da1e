//! Parity with node_exporter 1.5 on this host: for the collectors vigil implements, every family node_exporter
//! emits is emitted by `vigil agent` with the same HELP, TYPE and label names and the same series, and stable
//! values agree (MemTotal, boot time and filesystem sizes exactly, CPU seconds within 2 %).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use vigil_proto::exposition::{parse, Family};

use crate::support::{free_addr, http_get, peer_bin, start_agent, wait_for, Proc};

/// Families whose set of series legitimately changes from one moment to the next.
const VOLATILE_SERIES: &[&str] = &["node_tcp_connection_states"];

/// Every vigil collector (they carry node_exporter's names). node_exporter's systemd collector needs a running
/// systemd, so it is compared only where there is one.
fn collectors() -> Vec<&'static str> {
    let has_systemd = std::path::Path::new("/run/systemd/private").exists();
    vigil_collect::ALL_COLLECTORS.iter().copied().filter(|c| *c != "systemd" || has_systemd).collect()
}

fn by_name(text: &str) -> BTreeMap<String, Family> {
    parse(text).expect("valid exposition").into_iter().map(|f| (f.name.clone(), f)).collect()
}

fn series_key(labels: &[(String, String)]) -> Vec<(String, String)> {
    let mut l = labels.to_vec();
    l.sort();
    l
}

fn label_names(f: &Family) -> BTreeSet<String> {
    f.samples.iter().flat_map(|s| s.labels.iter().map(|(k, _)| k.clone())).collect()
}

fn value(f: &Family, key: &[(String, String)]) -> Option<f64> {
    f.samples.iter().find(|s| series_key(&s.labels) == key).map(|s| s.value)
}

#[test]
fn agent_matches_node_exporter_family_for_family() {
    let collectors = collectors();
    let ne_addr = free_addr();
    let mut ne_cmd = Command::new(peer_bin("prometheus-node-exporter"));
    ne_cmd.arg(format!("--web.listen-address={ne_addr}")).arg("--collector.disable-defaults");
    for c in &collectors {
        ne_cmd.arg(format!("--collector.{c}"));
    }
    ne_cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut ne = Proc::spawn("node_exporter", &mut ne_cmd);
    let ne_url = format!("http://{ne_addr}/metrics");
    wait_for("node_exporter", Duration::from_secs(20), || {
        ne.assert_alive();
        http_get(&ne_url)
    });
    let (_agent, addr) = start_agent(&["--collectors", &collectors.join(",")]);

    let theirs = by_name(&http_get(&ne_url).unwrap());
    let ours = by_name(&http_get(&format!("http://{addr}/metrics")).unwrap());

    let mut problems = Vec::new();
    let mut compared = 0;
    for (name, t) in &theirs {
        if name.starts_with("go_") || name.starts_with("process_") || name.starts_with("promhttp_") {
            continue;
        }
        if name == "node_exporter_build_info" {
            continue;
        }
        compared += 1;
        let Some(o) = ours.get(name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        if o.type_word != t.type_word {
            problems.push(format!("{name}: TYPE {:?}, node_exporter {:?}", o.type_word, t.type_word));
        }
        if o.help != t.help {
            problems.push(format!("{name}: HELP {:?}, node_exporter {:?}", o.help, t.help));
        }
        if label_names(o) != label_names(t) {
            problems.push(format!("{name}: labels {:?}, node_exporter {:?}", label_names(o), label_names(t)));
        }
        if VOLATILE_SERIES.contains(&name.as_str()) {
            continue;
        }
        for s in &t.samples {
            let key = series_key(&s.labels);
            if value(o, &key).is_none() {
                problems.push(format!("{name}: missing series {key:?}"));
            }
        }
    }

    let exact = |family: &str, problems: &mut Vec<String>| {
        let (Some(t), Some(o)) = (theirs.get(family), ours.get(family)) else { return };
        for s in &t.samples {
            let key = series_key(&s.labels);
            if let Some(v) = value(o, &key) {
                if v != s.value {
                    problems.push(format!("{family}{key:?}: {v}, node_exporter {}", s.value));
                }
            }
        }
    };
    for f in
        ["node_memory_MemTotal_bytes", "node_boot_time_seconds", "node_filesystem_size_bytes", "node_filesystem_files"]
    {
        assert!(theirs.contains_key(f), "node_exporter did not emit {f}");
        exact(f, &mut problems);
    }
    let cpu = &theirs["node_cpu_seconds_total"];
    for s in &cpu.samples {
        let key = series_key(&s.labels);
        if let Some(v) = value(&ours["node_cpu_seconds_total"], &key) {
            // The two scrapes are a few milliseconds apart, so allow 2 % or a fifth of a second.
            let tolerance = (0.02 * v.max(s.value)).max(0.2);
            if (v - s.value).abs() > tolerance {
                problems.push(format!("node_cpu_seconds_total{key:?}: {v}, node_exporter {}", s.value));
            }
        }
    }

    assert!(compared > 100, "node_exporter emitted only {compared} families; is it running the collectors?");
    assert!(problems.is_empty(), "{} differences from node_exporter:\n{}", problems.len(), problems.join("\n"));
}
