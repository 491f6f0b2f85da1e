//! Whole-configuration reloads through `POST /-/reload`: a server reading its vigil file through a
//! `ConfigSource` picks up a new receiver, new rule files and a new scrape job; a broken file (or rule file)
//! answers 500 with `file:line:col` and changes nothing; `vigil_config_last_reload_*` follow.

use std::path::Path;
use std::time::Duration;

use vigil_config::Config;
use vigil_server::{ConfigSource, ServerOptions, ServerReload};

use crate::alertmanager::harness::{alert, Sink};
use crate::scrape::exporter;
use crate::support::{request, wait_for, Response, TestServer};

const LIMIT: Duration = Duration::from_secs(20);

/// What the server's `ConfigSource` does: the file, then its reloadable parts.
fn read(path: &Path) -> Result<ServerReload, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    ServerReload::from_config(&config).map_err(|e| e.to_string())
}

/// A vigil file: the rule file patterns, everything routed to the webhook at `hook` through receiver
/// `receiver`, and `scrape` appended as is.
fn vigil_yml(rule_files: &str, receiver: &str, hook: &str, scrape: &str) -> String {
    format!(
        "global:\n  evaluation_interval: 1s\n  scrape_interval: 200ms\n  scrape_timeout: 100ms\n\
         rule_files: {rule_files}\n\
         alerting:\n  route:\n    receiver: {receiver}\n    group_by: [alertname]\n    group_wait: 100ms\n    \
         group_interval: 1s\n    repeat_interval: 1h\n  receivers:\n    - name: {receiver}\n      \
         webhook_configs:\n        - url: {hook}\n{scrape}"
    )
}

fn scrape_job(target: &str) -> String {
    format!("scrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['{target}']\n")
}

/// Starts a server configured from `path`, re-reading it on reload.
fn start(path: &Path) -> TestServer {
    let initial = read(path).unwrap();
    let path = path.to_owned();
    TestServer::start_with(move |o: &mut ServerOptions| {
        o.rules.evaluation_interval_ms = initial.global.evaluation_interval().as_millis() as i64;
        o.rules.external_labels = initial.external_labels();
        o.rules.rule_files = initial.rule_files;
        o.global = initial.global;
        o.scrape_configs = initial.scrape_configs;
        o.alerting = initial.alerting;
        o.config_source = Some(ConfigSource::new(move || read(&path)));
    })
}

fn reload(server: &TestServer) -> Response {
    request(server.addr, "POST", "/-/reload", &[], &[])
}

fn metric(server: &TestServer, name: &str) -> f64 {
    let r = server.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    let found = r.body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok());
    found.unwrap_or_else(|| panic!("{name} is not on /metrics"))
}

/// The result vector of an instant query.
fn query(server: &TestServer, promql: &str) -> Vec<serde_json::Value> {
    let encoded: String = promql
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    let r = server.get(&format!("/api/v1/query?query={encoded}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Waits until a notification mentioning `alertname` arrived at `sink`.
fn wait_alert(sink: &Sink, alertname: &str) {
    let needle = format!(r#""alertname":"{alertname}""#);
    wait_for(&format!("{alertname} at {}", sink.url), LIMIT, || {
        sink.bodies().iter().any(|b| b.contains(&needle)).then_some(())
    });
}

/// The jobs of the active targets.
fn jobs(server: &TestServer) -> Vec<String> {
    let targets = server.get("/api/v1/targets").json()["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
    targets.iter().map(|t| t["scrapePool"].as_str().unwrap().to_owned()).collect()
}

/// The receiver the running Alertmanager configuration routes to.
fn receiver(server: &TestServer) -> String {
    let original = server.get("/api/v2/status").json()["config"]["original"].as_str().unwrap().to_owned();
    original.lines().find_map(|l| l.trim().strip_prefix("receiver: ")).unwrap().to_owned()
}

fn rule_names(server: &TestServer) -> Vec<String> {
    let groups = server.get("/api/v1/rules").json()["data"]["groups"].as_array().cloned().unwrap_or_default();
    groups.iter().map(|g| g["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_reload_applies_receivers_rule_files_and_scrape_jobs_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (Sink::start(), Sink::start());
    let target = exporter("# TYPE demo_up gauge\ndemo_up 1\n");
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let alerting = |name: &str| {
        format!("groups:\n  - name: {name}\n    rules:\n      - alert: Always{name}\n        expr: vector(1)\n")
    };
    std::fs::write(dir.path().join("rules/a.yml"), alerting("a")).unwrap();
    let b = format!("{}      - record: reloaded:one\n        expr: vector(1)\n", alerting("b"));
    let file = dir.path().join("vigil.yml");
    std::fs::write(&file, vigil_yml("['rules/a.yml']", "first", &first.url, "")).unwrap();
    let server = start(&file);
    wait_alert(&first, "Alwaysa");
    assert_eq!(metric(&server, "vigil_config_last_reload_successful"), 1.0);
    let started = metric(&server, "vigil_config_last_reload_success_timestamp_seconds");
    assert!(started > 1.6e9, "{started}");

    // A new receiver, a new rule file pattern and a new scrape job, in one reload.
    std::fs::write(dir.path().join("rules/b.yml"), &b).unwrap();
    std::fs::write(&file, vigil_yml("['rules/*.yml']", "second", &second.url, &scrape_job(&target))).unwrap();
    let r = reload(&server);
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(rule_names(&server), ["a", "b"]);
    assert_eq!(receiver(&server), "second");
    wait_alert(&second, "Alwaysb");
    wait_for("the new rule's series", LIMIT, || (!query(&server, "reloaded:one").is_empty()).then_some(()));
    let up = wait_for("the new job's up", LIMIT, || query(&server, r#"up{job="exporter"}"#).pop());
    assert_eq!(up["value"][1], "1");
    assert_eq!(metric(&server, "vigil_config_last_reload_successful"), 1.0);
    let reloaded = metric(&server, "vigil_config_last_reload_success_timestamp_seconds");
    assert!(reloaded >= started, "{reloaded} < {started}");

    // A broken vigil file: 500 with the position, nothing changes.
    let broken = vigil_yml(
        "['rules/a.yml']",
        "first",
        &first.url,
        "scrape_configs:\n  - job_name: exporter\n    scrape_interval: soon\n",
    );
    std::fs::write(&file, &broken).unwrap();
    let line = broken.lines().count();
    let r = reload(&server);
    assert_eq!(r.status, 500, "{}", r.body);
    let at = format!("failed to reload config: {}:{line}:22: ", file.display());
    assert!(r.body.starts_with(&at), "{} does not start with {at}", r.body);
    assert_eq!(metric(&server, "vigil_config_last_reload_successful"), 0.0);
    assert_eq!(metric(&server, "vigil_config_last_reload_success_timestamp_seconds"), reloaded);
    assert_eq!(
        (rule_names(&server), receiver(&server), jobs(&server)),
        (vec!["a".into(), "b".into()], "second".into(), vec!["exporter".into()])
    );
    let post = request(
        server.addr,
        "POST",
        "/api/v2/alerts",
        &[("Content-Type", "application/json")],
        format!("[{}]", alert("Manual", "x")).as_bytes(),
    );
    assert_eq!(post.status, 200, "{}", post.body);
    wait_alert(&second, "Manual");
    let scraped_at = |server: &TestServer| {
        query(server, r#"timestamp(up{job="exporter"})"#)[0]["value"][1].as_str().unwrap().parse::<f64>().unwrap()
    };
    let before = scraped_at(&server);
    wait_for("the job to keep scraping", LIMIT, || (scraped_at(&server) > before).then_some(()));

    // A valid vigil file naming a broken rule file: the rule file's position, nothing changes.
    std::fs::write(
        dir.path().join("rules/b.yml"),
        "groups:\n  - name: b\n    rules:\n      - record: x\n        expr: 'sum('\n",
    )
    .unwrap();
    std::fs::write(&file, vigil_yml("['rules/*.yml']", "first", &first.url, "")).unwrap();
    let r = reload(&server);
    assert_eq!(r.status, 500, "{}", r.body);
    let at = format!("{}:5:15: ", dir.path().join("rules/b.yml").display());
    assert!(r.body.contains(&at), "{} does not contain {at}", r.body);
    assert_eq!(
        (rule_names(&server), receiver(&server), jobs(&server)),
        (vec!["a".into(), "b".into()], "second".into(), vec!["exporter".into()])
    );
    assert_eq!(metric(&server, "vigil_config_last_reload_successful"), 0.0);
    let sent_first = first.bodies().len();

    // Fixed again: the reload applies, the job is removed, the first receiver is back.
    std::fs::write(dir.path().join("rules/b.yml"), &b).unwrap();
    assert_eq!(reload(&server).status, 200);
    assert_eq!(metric(&server, "vigil_config_last_reload_successful"), 1.0);
    assert_eq!((jobs(&server), receiver(&server)), (Vec::<String>::new(), "first".into()));
    wait_for("the removed job's up to go stale", LIMIT, || {
        query(&server, r#"up{job="exporter"}"#).is_empty().then_some(())
    });
    wait_for("a notification at the first receiver again", LIMIT, || (first.bodies().len() > sent_first).then_some(()));
}
