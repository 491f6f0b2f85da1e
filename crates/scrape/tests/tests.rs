//! End-to-end scraping: a real HTTP exporter on 127.0.0.1, the manager, and an appender that records.

mod https;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;
use vigil_config::scrape::PrometheusConfig;
use vigil_scrape::{is_stale_nan, Appender, Health, Manager};
use vigil_tsdb::SeriesBatch;

/// Long enough for any condition below on a loaded machine; conditions end the wait, not this.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<SeriesBatch>>,
    changed: Notify,
}

impl Appender for Recorder {
    fn append(&self, batch: Vec<SeriesBatch>) -> Result<(), String> {
        self.batches.lock().unwrap().extend(batch);
        self.changed.notify_waiters();
        Ok(())
    }
}

impl Recorder {
    /// Every sample of `series` (as `name{a="b", ...}`), in append order.
    fn samples(&self, series: &str) -> Vec<(i64, f64)> {
        let batches = self.batches.lock().unwrap();
        batches
            .iter()
            .filter(|b| b.labels.to_string() == series)
            .flat_map(|b| b.samples.iter().map(|s| (s.t, s.v)))
            .collect()
    }

    fn last(&self, series: &str) -> Option<f64> {
        self.samples(series).last().map(|s| s.1)
    }

    fn len(&self) -> usize {
        self.batches.lock().unwrap().len()
    }

    fn any_series(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.batches.lock().unwrap().iter().any(|b| pred(&b.labels.to_string()))
    }

    /// Waits until `cond` holds, failing the test with `what` at the deadline.
    async fn wait(&self, what: &str, cond: impl Fn(&Recorder) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let changed = self.changed.notified();
            if cond(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    /// Waits until `series`' last value satisfies `pred`.
    async fn wait_value(&self, series: &str, pred: impl Fn(f64) -> bool) {
        self.wait(&format!("{series} to reach the expected value"), |r| r.last(series).is_some_and(&pred)).await;
    }
}

/// What the exporter serves; tests change it while scraping goes on.
struct Exporter {
    addr: SocketAddr,
    body: Mutex<String>,
    status: AtomicU16,
    delay_ms: AtomicU64,
    gzip: AtomicBool,
    /// Answer with OpenMetrics' content type.
    openmetrics: AtomicBool,
    /// Serve this many raw bytes instead (already gzipped), to test decompression limits.
    raw_gzip: Mutex<Option<Vec<u8>>>,
    last_headers: Mutex<Option<HeaderMap>>,
}

impl Exporter {
    async fn start(body: &str) -> Arc<Exporter> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let exporter = Arc::new(Exporter {
            addr: listener.local_addr().unwrap(),
            body: Mutex::new(body.to_owned()),
            status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
            gzip: AtomicBool::new(false),
            openmetrics: AtomicBool::new(false),
            raw_gzip: Mutex::new(None),
            last_headers: Mutex::new(None),
        });
        let app = axum::Router::new().route("/metrics", axum::routing::get(serve)).with_state(exporter.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        exporter
    }

    fn address(&self) -> String {
        self.addr.to_string()
    }

    fn set_body(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_owned();
    }
}

async fn serve(State(e): State<Arc<Exporter>>, headers: HeaderMap) -> Response {
    *e.last_headers.lock().unwrap() = Some(headers);
    let delay = e.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(e.status.load(Ordering::SeqCst)).unwrap();
    if let Some(raw) = e.raw_gzip.lock().unwrap().clone() {
        return (status, [("content-encoding", "gzip")], raw).into_response();
    }
    let body = e.body.lock().unwrap().clone();
    if e.gzip.load(Ordering::SeqCst) {
        return (status, [("content-encoding", "gzip")], gzip(body.as_bytes())).into_response();
    }
    let content_type = if e.openmetrics.load(Ordering::SeqCst) {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4"
    };
    (status, [("content-type", content_type)], body).into_response()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn config(yaml: &str) -> PrometheusConfig {
    PrometheusConfig::parse(yaml, "test.yml").unwrap_or_else(|e| panic!("{e}"))
}

/// One job scraping `targets` every 100ms.
fn job(name: &str, targets: &[&str], extra: &str) -> String {
    let list = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    format!(
        "  - job_name: {name}\n    scrape_interval: 100ms\n    scrape_timeout: 80ms\n    static_configs:\n      - targets: [{list}]\n{extra}"
    )
}

async fn start(yaml: &str) -> (Manager, Arc<Recorder>) {
    let c = config(yaml);
    let rec = Arc::new(Recorder::default());
    let m = Manager::start(&c.global, &c.scrape_configs, rec.clone()).await.unwrap();
    (m, rec)
}

fn series(name: &str, job: &str, instance: &str, extra: &str) -> String {
    if extra.is_empty() {
        format!("{name}{{instance=\"{instance}\", job=\"{job}\"}}")
    } else {
        format!("{name}{{{extra}, instance=\"{instance}\", job=\"{job}\"}}")
    }
}

#[tokio::test]
async fn scrapes_samples_with_target_labels_and_report_series() {
    let e = Exporter::start("# TYPE a gauge\na 1\nb{x=\"y\"} 2\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    let up = series("up", "j", &inst, "");
    rec.wait_value(&up, |v| v == 1.0).await;
    assert_eq!(rec.last(&series("a", "j", &inst, "")), Some(1.0));
    assert_eq!(rec.last(&format!("b{{instance=\"{inst}\", job=\"j\", x=\"y\"}}")), Some(2.0));
    assert_eq!(rec.samples(&series("scrape_samples_scraped", "j", &inst, ""))[0].1, 2.0);
    assert_eq!(rec.samples(&series("scrape_samples_post_metric_relabeling", "j", &inst, ""))[0].1, 2.0);
    assert_eq!(rec.samples(&series("scrape_series_added", "j", &inst, ""))[0].1, 2.0);
    let duration = rec.samples(&series("scrape_duration_seconds", "j", &inst, ""))[0].1;
    assert!(duration > 0.0 && duration < 5.0, "{duration}");
    // Samples and report series of one scrape share its timestamp.
    assert_eq!(rec.samples(&up)[0].0, rec.samples(&series("a", "j", &inst, ""))[0].0);
    let headers = e.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(headers["x-prometheus-scrape-timeout-seconds"], "0.08");
    assert_eq!(headers["accept"], vigil_proto::exposition::ACCEPT_HEADER);
    assert_eq!(headers["accept-encoding"], "gzip");
    let targets = m.targets();
    assert_eq!(targets.len(), 1);
    let t = &targets[0];
    assert_eq!((t.job.as_str(), t.health, t.last_error.as_deref()), ("j", Health::Up, None));
    assert_eq!(t.scrape_url, format!("http://{inst}/metrics"));
    assert_eq!(t.labels.get("instance"), Some(inst.as_str()));
    assert_eq!(t.discovered_labels.get("__address__"), Some(inst.as_str()));
    assert_eq!(t.scrape_interval, Duration::from_millis(100));
    assert!(t.last_scrape.is_some());
    m.stop().await;
}

#[tokio::test]
async fn honor_labels_decides_who_wins_a_label_conflict() {
    let e = Exporter::start("m{job=\"exposed\",instance=\"i\"} 1\n").await;
    let inst = e.address();
    let yaml = format!(
        "scrape_configs:\n{}{}",
        job("plain", &[&inst], ""),
        job("honored", &[&inst], "    honor_labels: true\n")
    );
    let (m, rec) = start(&yaml).await;
    let plain = format!("m{{exported_instance=\"i\", exported_job=\"exposed\", instance=\"{inst}\", job=\"plain\"}}");
    rec.wait_value(&plain, |v| v == 1.0).await;
    rec.wait_value("m{instance=\"i\", job=\"exposed\"}", |v| v == 1.0).await;
    // The report series always carry the target's own labels.
    rec.wait_value(&series("up", "honored", &inst, ""), |v| v == 1.0).await;
    m.stop().await;
}

#[tokio::test]
async fn metric_relabeling_drops_series() {
    let e = Exporter::start("go_goroutines 10\nhttp_requests_total 5\n").await;
    let inst = e.address();
    let extra = "    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'go_.*'\n        action: drop\n";
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], extra))).await;
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 1.0).await;
    assert_eq!(rec.last(&series("http_requests_total", "j", &inst, "")), Some(5.0));
    assert!(!rec.any_series(|s| s.starts_with("go_goroutines")));
    assert_eq!(rec.last(&series("scrape_samples_scraped", "j", &inst, "")), Some(2.0));
    assert_eq!(rec.last(&series("scrape_samples_post_metric_relabeling", "j", &inst, "")), Some(1.0));
    m.stop().await;
}

#[tokio::test]
async fn series_missing_from_a_scrape_get_stale_markers() {
    let e = Exporter::start("a 1\nb 2\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    let b = series("b", "j", &inst, "");
    rec.wait_value(&b, |v| v == 2.0).await;
    e.set_body("a 1\n");
    rec.wait_value(&b, is_stale_nan).await;
    // The marker carries the timestamp of the scrape that missed the series.
    let stale_t = rec.samples(&b).last().unwrap().0;
    assert!(rec.samples(&series("up", "j", &inst, "")).iter().any(|s| s.0 == stale_t));
    assert!(rec.samples(&series("a", "j", &inst, "")).iter().all(|s| !is_stale_nan(s.1)));
    // The series comes back when exposed again.
    e.set_body("a 1\nb 3\n");
    rec.wait_value(&b, |v| v == 3.0).await;
    m.stop().await;
}

#[tokio::test]
async fn a_failed_scrape_writes_up_0_and_marks_everything_stale() {
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    let up = series("up", "j", &inst, "");
    rec.wait_value(&up, |v| v == 1.0).await;
    e.status.store(500, Ordering::SeqCst);
    rec.wait_value(&up, |v| v == 0.0).await;
    assert!(is_stale_nan(rec.last(&series("a", "j", &inst, "")).unwrap()));
    let t = &m.targets()[0];
    assert_eq!(t.health, Health::Down);
    assert_eq!(t.last_error.as_deref(), Some("server returned HTTP status 500 Internal Server Error"));
    e.status.store(200, Ordering::SeqCst);
    rec.wait_value(&up, |v| v == 1.0).await;
    assert_eq!(rec.last(&series("a", "j", &inst, "")), Some(1.0));
    m.stop().await;
}

#[tokio::test]
async fn unreachable_targets_are_down() {
    // A port nobody listens on: bind, learn the port, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&closed], ""))).await;
    rec.wait_value(&series("up", "j", &closed, ""), |v| v == 0.0).await;
    assert_eq!(rec.last(&series("scrape_samples_scraped", "j", &closed, "")), Some(0.0));
    assert_eq!(m.targets()[0].health, Health::Down);
    m.stop().await;
}

#[tokio::test]
async fn exceeding_the_sample_limit_fails_the_scrape() {
    let e = Exporter::start("a 1\nb 2\nc 3\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], "    sample_limit: 2\n"))).await;
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 0.0).await;
    assert!(!rec.any_series(|s| s.starts_with("a{") || s.starts_with("b{")));
    assert_eq!(rec.last(&series("scrape_samples_scraped", "j", &inst, "")), Some(3.0));
    assert_eq!(m.targets()[0].last_error.as_deref(), Some("sample limit exceeded"));
    e.set_body("a 1\n");
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 1.0).await;
    m.stop().await;
}

#[tokio::test]
async fn slow_exporters_time_out() {
    let e = Exporter::start("a 1\n").await;
    e.delay_ms.store(2_000, Ordering::SeqCst);
    let inst = e.address();
    let yaml = format!(
        "scrape_configs:\n  - job_name: j\n    scrape_interval: 300ms\n    scrape_timeout: 100ms\n    static_configs:\n      - targets: ['{inst}']\n"
    );
    let (m, rec) = start(&yaml).await;
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 0.0).await;
    let duration = rec.last(&series("scrape_duration_seconds", "j", &inst, "")).unwrap();
    assert!((0.1..2.0).contains(&duration), "{duration}");
    let err = m.targets()[0].last_error.clone().unwrap();
    assert!(err.contains("context deadline exceeded"), "{err}");
    // The next scrape on a fresh connection works once the exporter is fast again.
    e.delay_ms.store(0, Ordering::SeqCst);
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 1.0).await;
    m.stop().await;
}

#[tokio::test]
async fn openmetrics_answers_are_parsed_as_openmetrics() {
    let e = Exporter::start("# TYPE a gauge\na 42\n# EOF\n").await;
    e.openmetrics.store(true, Ordering::SeqCst);
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    rec.wait_value(&series("a", "j", &inst, ""), |v| v == 42.0).await;
    let accept = e.last_headers.lock().unwrap().as_ref().unwrap()["accept"].to_str().unwrap().to_owned();
    assert!(accept.starts_with("application/openmetrics-text;version=1.0.0"), "{accept}");
    // Without `# EOF` the body is not valid OpenMetrics: the scrape fails.
    e.set_body("# TYPE a gauge\na 43\n");
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 0.0).await;
    m.stop().await;
}

#[tokio::test]
async fn gzip_bodies_are_decompressed() {
    let e = Exporter::start("a 42\n").await;
    e.gzip.store(true, Ordering::SeqCst);
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    rec.wait_value(&series("a", "j", &inst, ""), |v| v == 42.0).await;
    m.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_plain_and_gzipped() {
    let big = format!("a 1\n# {}\n", "x".repeat(2000));
    let e = Exporter::start(&big).await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], "    body_size_limit: 1KB\n"))).await;
    let up = series("up", "j", &inst, "");
    rec.wait_value(&up, |v| v == 0.0).await;
    assert_eq!(m.targets()[0].last_error.as_deref(), Some("body size limit exceeded"));
    assert!(!rec.any_series(|s| s.starts_with("a{")));
    // Small when compressed, too big once inflated.
    e.set_body("a 1\n");
    rec.wait_value(&up, |v| v == 1.0).await;
    *e.raw_gzip.lock().unwrap() = Some(gzip(&vec![b'\n'; 1 << 20]));
    rec.wait_value(&up, |v| v == 0.0).await;
    assert_eq!(m.targets()[0].last_error.as_deref(), Some("body size limit exceeded"));
    m.stop().await;
}

#[tokio::test]
async fn file_sd_targets_come_and_go_with_stale_markers() {
    let e1 = Exporter::start("a 1\n").await;
    let e2 = Exporter::start("a 2\n").await;
    let (i1, i2) = (e1.address(), e2.address());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(&file, format!(r#"[{{"targets": ["{i1}"], "labels": {{"team": "x"}}}}]"#)).unwrap();
    let yaml = format!(
        "scrape_configs:\n  - job_name: f\n    scrape_interval: 100ms\n    scrape_timeout: 80ms\n    file_sd_configs:\n      - files: ['{}/*.json']\n        refresh_interval: 100ms\n",
        dir.path().display()
    );
    let (m, rec) = start(&yaml).await;
    let up1 = format!("up{{instance=\"{i1}\", job=\"f\", team=\"x\"}}");
    rec.wait_value(&up1, |v| v == 1.0).await;
    assert_eq!(m.targets()[0].discovered_labels.get("__meta_filepath"), Some(&*file.to_string_lossy()));

    // A broken file keeps the targets it had.
    std::fs::write(&file, "[{\"targets\": [").unwrap();
    let before = rec.len();
    rec.wait("more scrapes", |r| r.len() > before + 20).await;
    assert_eq!(m.targets().len(), 1);
    assert!(!is_stale_nan(rec.last(&up1).unwrap()));

    // Rewritten to another target: the first one's series go stale, the second is scraped.
    std::fs::write(&file, format!(r#"[{{"targets": ["{i2}"]}}]"#)).unwrap();
    rec.wait_value(&series("a", "f", &i2, ""), |v| v == 2.0).await;
    rec.wait_value(&up1, is_stale_nan).await;
    assert!(is_stale_nan(rec.last(&format!("a{{instance=\"{i1}\", job=\"f\", team=\"x\"}}")).unwrap()));
    let targets = m.targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].labels.get("instance"), Some(i2.as_str()));
    m.stop().await;
}

#[tokio::test]
async fn stopping_writes_stale_markers_for_every_series() {
    let e = Exporter::start("a 1\nb 2\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst], ""))).await;
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 1.0).await;
    m.stop().await;
    for name in ["a", "b", "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"] {
        let s = series(name, "j", &inst, "");
        assert!(is_stale_nan(rec.last(&s).unwrap()), "{s}");
    }
    // Nothing is written after stop returns.
    let n = rec.len();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(rec.len(), n);
    assert!(m.targets().is_empty());
    let c = config("scrape_configs: []\n");
    assert!(m.apply_config(&c.global, &c.scrape_configs).await.is_err());
}

#[tokio::test]
async fn reloads_keep_staleness_and_removed_jobs_go_stale() {
    let e = Exporter::start("go_x 1\nkeep 2\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}{}", job("a", &[&inst], ""), job("b", &[&inst], ""))).await;
    let go_x = series("go_x", "a", &inst, "");
    rec.wait_value(&go_x, |v| v == 1.0).await;
    rec.wait_value(&series("up", "b", &inst, ""), |v| v == 1.0).await;

    // Job a now drops go_x: the reloaded loop knows go_x was written and marks it stale. Job b is gone.
    let extra = "    metric_relabel_configs:\n      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n";
    let c = config(&format!("scrape_configs:\n{}", job("a", &[&inst], extra)));
    m.apply_config(&c.global, &c.scrape_configs).await.unwrap();
    rec.wait_value(&go_x, is_stale_nan).await;
    rec.wait_value(&series("up", "b", &inst, ""), is_stale_nan).await;
    assert!(is_stale_nan(rec.last(&series("keep", "b", &inst, "")).unwrap()));
    assert_eq!(rec.last(&series("keep", "a", &inst, "")), Some(2.0));
    assert_eq!(m.targets().len(), 1);

    // Invalid configurations change nothing.
    let bad = config(&format!("scrape_configs:\n{}", job("a", &[&inst], "    scheme: http\n")));
    let mut cfgs = bad.scrape_configs.clone();
    cfgs.push(bad.scrape_configs[0].clone());
    assert!(m.apply_config(&bad.global, &cfgs).await.is_err());
    assert_eq!(m.targets().len(), 1);
    m.stop().await;
}

#[tokio::test]
async fn relabeling_drops_and_rewrites_targets() {
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let extra = "    relabel_configs:\n      - {source_labels: [__address__], regex: '.*:1', action: drop}\n      - {target_label: env, replacement: prod}\n";
    let (m, rec) = start(&format!("scrape_configs:\n{}", job("j", &[&inst, "nowhere:1"], extra))).await;
    rec.wait_value(&format!("a{{env=\"prod\", instance=\"{inst}\", job=\"j\"}}"), |v| v == 1.0).await;
    let dropped = m.dropped_targets();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].discovered_labels.get("__address__"), Some("nowhere:1"));
    assert_eq!(m.targets().len(), 1);
    m.stop().await;
}
