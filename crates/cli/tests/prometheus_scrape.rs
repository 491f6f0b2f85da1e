//! A real Prometheus 2.42 (started by `../shared/peers/start-prometheus.sh`) scrapes `vigil agent`:
//! the target is `up == 1` and Prometheus logs no scrape errors.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{free_addr, http_get, peer_bin, shared_dir, start_agent, wait_for};

/// Stops the peers started under one `PEERS_RUN` directory when the test ends.
struct Peers {
    run: PathBuf,
    stop_script: PathBuf,
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.stop_script).env("PEERS_RUN", &self.run).output();
    }
}

fn prometheus_value(prom: &str, query: &str) -> Option<f64> {
    let url = format!("http://{prom}/api/v1/query?query={query}");
    let body = http_get(&url)?;
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[t,"1"]}]}}
    let at = body.find("\"value\":[")?;
    let rest = &body[at..];
    let q1 = rest.find(",\"")? + 2;
    let q2 = rest[q1..].find('"')? + q1;
    rest[q1..q2].parse().ok()
}

#[test]
fn prometheus_scrapes_the_agent_without_errors() {
    peer_bin("prometheus");
    let (_agent, agent_addr) = start_agent(&[]);
    let run = tempfile::tempdir().unwrap();
    let peers = Peers { run: run.path().to_owned(), stop_script: shared_dir().join("peers/stop-all.sh") };
    let rules = run.path().join("empty-rules.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    let prom = free_addr();
    let out = Command::new("bash")
        .arg(shared_dir().join("peers/start-prometheus.sh"))
        .arg(&rules)
        .env("PEERS_RUN", &peers.run)
        .env("PROM_LISTEN", &prom)
        .env("PROM_SCRAPE_INTERVAL", "1s")
        .env("NODE_EXPORTER_TARGET", &agent_addr)
        .env("PROM_REMOTE_WRITE", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "start-prometheus.sh failed: {}", String::from_utf8_lossy(&out.stderr));

    let up = wait_for("up == 1 in Prometheus", Duration::from_secs(60), || {
        prometheus_value(&prom, "up%7Bjob%3D%22node%22%7D").filter(|v| *v == 1.0)
    });
    assert_eq!(up, 1.0);
    let scraped = wait_for("scrape_samples_scraped", Duration::from_secs(30), || {
        prometheus_value(&prom, "scrape_samples_scraped%7Bjob%3D%22node%22%7D")
    });
    assert!(scraped > 200.0, "only {scraped} samples scraped");
    // Prometheus parsed our families: a node_exporter query works against vigil's data.
    wait_for("node_memory_MemTotal_bytes in Prometheus", Duration::from_secs(30), || {
        prometheus_value(&prom, "node_memory_MemTotal_bytes").filter(|v| *v > 0.0)
    });

    let log = std::fs::read_to_string(Path::new(&peers.run).join("logs/prometheus.log")).unwrap();
    let scrape_errors: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains("level=warn") || l.contains("level=error")) && l.contains("scrape"))
        .collect();
    assert!(scrape_errors.is_empty(), "Prometheus logged scrape problems:\n{}", scrape_errors.join("\n"));
}
