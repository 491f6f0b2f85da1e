//! Interoperability with the Prometheus ecosystem: a real Prometheus 2.42 and vmagent remote_write into
//! `vigil server`, Prometheus and vigil answer the same PromQL alike on the same data, and vigil's own scrape
//! manager scrapes node_exporter.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{free_addr, http_get, log_to, peer_bin, start_vigil_server, wait_for, Proc};

/// Series labels → `(timestamp, value)` points, sorted by labels.
type Series = BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>>;

/// One API answer, normalised: `resultType` and its series (a scalar is one series without labels).
#[derive(Debug)]
struct Answer {
    kind: String,
    series: Series,
}

/// Percent-encodes a query parameter (everything but RFC 3986's unreserved characters).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GETs `http://addr/path?params` with curl and returns the JSON body whatever the status (errors are JSON too).
fn api(addr: &str, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let url = format!("http://{addr}{path}?{}", query.join("&"));
    let out = Command::new("curl").args(["-s", "--max-time", "10", &url]).output().expect("curl is installed");
    if !out.status.success() {
        return Err(format!("{url}: curl failed: {}", out.status));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// A timestamp or sample value as the API writes it; values are strings, with `NaN`, `+Inf` and `-Inf`.
fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a float")),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "+Inf" | "Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            _ => s.parse().map_err(|e| format!("{s:?}: {e}")),
        },
        _ => Err(format!("{v} is not a sample value")),
    }
}

fn point(v: &Value) -> Result<(f64, f64), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([t, x]) => Ok((number(t)?, number(x)?)),
        _ => Err(format!("{v} is not a [t, v] pair")),
    }
}

/// Runs a query (`/api/v1/query` or `/api/v1/query_range`) and normalises the answer.
fn ask(addr: &str, path: &str, params: &[(&str, &str)]) -> Result<Answer, String> {
    let body = api(addr, path, params)?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    let data = &body["data"];
    let kind = data["resultType"].as_str().ok_or("no resultType")?.to_string();
    let mut series = Series::new();
    match kind.as_str() {
        "scalar" => {
            series.insert(BTreeMap::new(), vec![point(&data["result"])?]);
        }
        "vector" | "matrix" => {
            for s in data["result"].as_array().ok_or("result is not an array")? {
                let labels: BTreeMap<String, String> = s["metric"]
                    .as_object()
                    .ok_or("no metric")?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let points = match s.get("values") {
                    Some(values) => values.as_array().ok_or("values is not an array")?.iter().map(point).collect(),
                    None => point(&s["value"]).map(|p| vec![p]),
                }?;
                if series.insert(labels.clone(), points).is_some() {
                    return Err(format!("series {labels:?} answered twice"));
                }
            }
        }
        other => return Err(format!("unexpected resultType {other}")),
    }
    Ok(Answer { kind, series })
}

fn instant(addr: &str, query: &str, time: Option<&str>) -> Result<Answer, String> {
    let mut params = vec![("query", query)];
    params.extend(time.map(|t| ("time", t)));
    ask(addr, "/api/v1/query", &params)
}

/// The value of a query answering exactly one series at the current time.
fn single_value(addr: &str, query: &str) -> Option<f64> {
    let answer = instant(addr, query, None).ok()?;
    let mut points = answer.series.into_values();
    match (points.next(), points.next()) {
        (Some(p), None) => p.first().map(|(_, v)| *v),
        _ => None,
    }
}

/// Equal within a relative 1e-9, NaN equal to NaN.
fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Differences between vigil's and Prometheus' answers; values are compared only when `values` is set.
fn differences(what: &str, ours: &Answer, theirs: &Answer, values: bool) -> Vec<String> {
    let mut diffs = Vec::new();
    if ours.kind != theirs.kind {
        diffs.push(format!("{what}: resultType {}, Prometheus {}", ours.kind, theirs.kind));
    }
    let (o, t): (BTreeSet<_>, BTreeSet<_>) = (ours.series.keys().collect(), theirs.series.keys().collect());
    for extra in o.difference(&t) {
        diffs.push(format!("{what}: series {extra:?} only in vigil"));
    }
    for missing in t.difference(&o) {
        diffs.push(format!("{what}: series {missing:?} only in Prometheus"));
    }
    for labels in o.intersection(&t) {
        let (op, tp) = (&ours.series[*labels], &theirs.series[*labels]);
        let (ot, tt): (Vec<f64>, Vec<f64>) = (op.iter().map(|p| p.0).collect(), tp.iter().map(|p| p.0).collect());
        if ot != tt {
            diffs.push(format!("{what}: {labels:?} timestamps {ot:?}, Prometheus {tt:?}"));
        } else if values {
            for ((t, ov), (_, tv)) in op.iter().zip(tp) {
                if !close(*ov, *tv) {
                    diffs.push(format!("{what}: {labels:?} at {t}: {ov}, Prometheus {tv}"));
                }
            }
        }
    }
    diffs
}

fn start_node_exporter() -> (Proc, String) {
    let addr = free_addr();
    let mut ne = Proc::spawn(
        "node_exporter",
        Command::new(peer_bin("prometheus-node-exporter"))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("node_exporter /metrics", Duration::from_secs(30), || {
        ne.assert_alive();
        http_get(&format!("http://{addr}/metrics"))
    });
    (ne, addr)
}

/// Seconds with milliseconds, as the API's `time`, `start` and `end` take them.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The queries both servers must answer alike, each with whether it contains a subquery.
const QUERIES: &[(&str, bool)] = &[
    ("rate(node_cpu_seconds_total[10s])", false),
    ("sum by (mode) (rate(node_cpu_seconds_total[10s]))", false),
    ("histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[10s])))", false),
    ("topk(3, node_cpu_seconds_total)", false),
    ("topk(2, node_network_receive_bytes_total)", false),
    ("predict_linear(node_memory_MemFree_bytes[15s], 60)", false),
    ("max_over_time(rate(node_cpu_seconds_total[5s])[15s:2s])", true),
    ("node_filesystem_avail_bytes / on(instance, device, mountpoint) node_filesystem_size_bytes", false),
    ("node_network_receive_bytes_total * on(instance) group_left(nodename) node_uname_info", false),
    ("count by (job) (up)", false),
    ("absent(nonexistent_metric)", false),
];

/// The families the queries read.
const RAW_FAMILIES: &[&str] = &[
    "up",
    "node_cpu_seconds_total",
    "node_network_receive_bytes_total",
    "node_memory_MemFree_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_uname_info",
    "prometheus_http_request_duration_seconds_bucket",
];

#[test]
fn prometheus_remote_writes_into_vigil_and_both_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let vigil_addr = free_addr();
    let vigil_data = dir.path().join("vigil");
    let _vigil = start_vigil_server(&["--listen", &vigil_addr, "--data", vigil_data.to_str().unwrap()], &vigil_addr);
    let (_ne, ne_addr) = start_node_exporter();

    let prom_addr = free_addr();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: node\n    static_configs: [{{targets: ['{ne_addr}']}}]\n\
             \x20 - job_name: prometheus\n    static_configs: [{{targets: ['{prom_addr}']}}]\n\
             remote_write:\n\
             \x20 - url: http://{vigil_addr}/api/v1/write\n\
             \x20   queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 2000}}\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(peer_bin("prometheus"));
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("prometheus").display()))
        .arg(format!("--web.listen-address={prom_addr}"));
    log_to(dir.path(), "prometheus", &mut cmd);
    let mut prom = Proc::spawn("prometheus", &mut cmd);
    wait_for("Prometheus ready", Duration::from_secs(60), || {
        prom.assert_alive();
        http_get(&format!("http://{prom_addr}/-/ready"))
    });

    // The comparison looks back up to 35 s before T (the subquery's 15 s, its 5 s rate, the range's 15 s), so
    // wait for 32 s of scrapes of both jobs. Poll vigil rather than Prometheus: whatever vigil holds Prometheus
    // has too, and Prometheus' query API stays unused until T is chosen, so the series its own
    // prometheus_http_request_duration_seconds gains for the handlers we call all start after T.
    // FIXME: that matters because vigil extrapolates `rate` of a counter that starts inside the window as
    // Prometheus 3 does (the zero point is clamped after the half-interval rule), Prometheus 2.42 the other way
    // round: rate(prometheus_http_requests_total[10s]) 2 s after such a series' first sample (values 1 then 2)
    // is 0.2133 in vigil, 0.2633 in Prometheus.
    let jobs = wait_for("32 s of scrapes of both jobs in vigil", Duration::from_secs(90), || {
        prom.assert_alive();
        let counts = instant(&vigil_addr, "count_over_time(up[1m])", None).ok()?;
        let enough = counts.series.len() == 2 && counts.series.values().all(|p| p[0].1 >= 32.0);
        enough.then(|| instant(&vigil_addr, "timestamp(up)", None).ok()).flatten()
    });
    // Each job's samples fall on the same millisecond of the second (Prometheus aligns scrape timestamps).
    let newest_ms: Vec<i64> = jobs.series.values().map(|p| (p[0].1 * 1000.0).round() as i64).collect();
    assert_eq!(newest_ms.len(), 2, "{jobs:?}");
    let offsets: Vec<i64> = newest_ms.iter().map(|ms| ms.rem_euclid(1000)).collect();
    // T is 2 s behind the older job's newest sample in vigil, at a fraction of a second no scrape sits near. At a
    // whole second the subquery's 2 s grid would meet its window's start, where vigil and 2.42 differ (see the
    // FIXME below); every window boundary of the comparison has T's fraction of a second.
    let fraction = [500, 250, 750]
        .into_iter()
        .find(|f| offsets.iter().all(|o| (o - f).rem_euclid(1000).min((f - o).rem_euclid(1000)) > 50))
        .unwrap();
    let t_ms = (newest_ms.iter().min().unwrap().div_euclid(1000) - 2) * 1000 + fraction;
    let (t, start) = (secs(t_ms), secs(t_ms - 15_000));
    // The subquery's inner rate windows end on whole seconds: comparable unless a scrape sits exactly on one.
    let subquery_values = offsets.iter().all(|o| *o != 0);

    // Prometheus sends in batches from several shards: wait until vigil holds exactly the raw samples Prometheus
    // has of the compared families in the 40 s up to T, which is also remote_write losing nothing.
    // FIXME: the cheaper `sum(count_over_time({__name__=~".+"}[40s]))` is an error in Prometheus ("vector cannot
    // contain metrics with the same labelset": names go before `sum`) but answers in vigil, which always removes
    // names late, as Prometheus 3 does only with --enable-feature=promql-delayed-name-removal.
    let raw = format!("{{__name__=~\"{}\"}}[40s]", RAW_FAMILIES.join("|"));
    wait_for("vigil to hold Prometheus' samples up to T", Duration::from_secs(30), || {
        prom.assert_alive();
        let (ours, theirs) = (instant(&vigil_addr, &raw, Some(&t)).ok()?, instant(&prom_addr, &raw, Some(&t)).ok()?);
        (theirs.series.len() > 20 && differences(&raw, &ours, &theirs, true).is_empty()).then_some(())
    });

    let mut diffs = Vec::new();
    for (query, subquery) in QUERIES {
        let values = !subquery || subquery_values;
        let instant_params = [("query", *query), ("time", t.as_str())];
        let range_params = [("query", *query), ("start", start.as_str()), ("end", t.as_str()), ("step", "1")];
        for (path, params) in [("/api/v1/query", &instant_params[..]), ("/api/v1/query_range", &range_params[..])] {
            let what = format!("{path} {query} at {t}");
            let theirs = ask(&prom_addr, path, params).unwrap_or_else(|e| panic!("Prometheus, {what}: {e}"));
            assert!(!theirs.series.is_empty(), "Prometheus answered nothing to {what}: a vacuous comparison");
            match ask(&vigil_addr, path, params) {
                Ok(ours) => diffs.extend(differences(&what, &ours, &theirs, values)),
                Err(e) => diffs.push(format!("{what}: vigil failed: {e}")),
            }
        }
    }

    // FIXME: vigil's range windows are left-open (t - range, t] as in Prometheus 3, 2.42's are closed: at a whole
    // second `count_over_time(up[15s:1s])` is 15 in vigil and 16 in Prometheus 2.42 (and `count_over_time(up[10s])`
    // at the very millisecond of a scrape is 10 against 11). Only the series and timestamps are compared.
    let whole = secs(t_ms - fraction);
    let query = "count_over_time(up[15s:1s])";
    let theirs = instant(&prom_addr, query, Some(&whole)).unwrap();
    let ours = instant(&vigil_addr, query, Some(&whole)).unwrap();
    assert_eq!(theirs.series.len(), 2, "{theirs:?}");
    diffs.extend(differences(&format!("{query} at {whole}"), &ours, &theirs, false));

    // 2.42's `holt_winters` is Prometheus 3's `double_exponential_smoothing`; vigil answers to both names.
    let query = "holt_winters(node_memory_MemFree_bytes[15s], 0.5, 0.5)";
    let theirs = instant(&prom_addr, query, Some(&t)).unwrap();
    assert!(!theirs.series.is_empty(), "{theirs:?}");
    for ours in [query, "double_exponential_smoothing(node_memory_MemFree_bytes[15s], 0.5, 0.5)"] {
        let ours = instant(&vigil_addr, ours, Some(&t)).unwrap();
        diffs.extend(differences(&format!("{query} at {t}"), &ours, &theirs, true));
    }

    assert!(diffs.is_empty(), "{} differences from Prometheus 2.42:\n{}", diffs.len(), diffs.join("\n"));
}

#[test]
fn vmagent_remote_writes_into_vigil() {
    let dir = tempfile::tempdir().unwrap();
    let vigil_addr = free_addr();
    let vigil_data = dir.path().join("vigil");
    let _vigil = start_vigil_server(&["--listen", &vigil_addr, "--data", vigil_data.to_str().unwrap()], &vigil_addr);
    let (_ne, ne_addr) = start_node_exporter();

    let config = dir.path().join("scrape.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: node\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{ne_addr}']}}]\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(peer_bin("vmagent"));
    cmd.arg(format!("-promscrape.config={}", config.display()))
        .arg(format!("-remoteWrite.url=http://{vigil_addr}/api/v1/write"))
        .arg("-remoteWrite.flushInterval=1s")
        .arg(format!("-httpListenAddr={}", free_addr()))
        .arg(format!("-remoteWrite.tmpDataPath={}", dir.path().join("vmagent").display()));
    log_to(dir.path(), "vmagent", &mut cmd);
    let mut vmagent = Proc::spawn("vmagent", &mut cmd);

    let up = wait_for("up{job=\"node\"} == 1 in vigil", Duration::from_secs(60), || {
        vmagent.assert_alive();
        single_value(&vigil_addr, "up{job=\"node\"}").filter(|v| *v == 1.0)
    });
    assert_eq!(up, 1.0);
    let series = wait_for("over 100 node_ series in vigil", Duration::from_secs(60), || {
        vmagent.assert_alive();
        single_value(&vigil_addr, "count({__name__=~\"node_.+\"})").filter(|n| *n > 100.0)
    });
    assert!(series > 100.0, "{series}");
}

#[test]
fn vigil_scrapes_node_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let (_ne, ne_addr) = start_node_exporter();
    let vigil_addr = free_addr();
    let config = dir.path().join("vigil.yml");
    std::fs::write(
        &config,
        format!(
            "server:\n  listen: {vigil_addr}\n  data_dir: {}\n\
             scrape_configs:\n\
             \x20 - job_name: node\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{ne_addr}']}}]\n",
            dir.path().join("vigil").display()
        ),
    )
    .unwrap();
    let mut server = start_vigil_server(&["--config", config.to_str().unwrap()], &vigil_addr);

    wait_for("up{job=\"node\"} == 1 in vigil", Duration::from_secs(60), || {
        server.assert_alive();
        single_value(&vigil_addr, "up{job=\"node\"}").filter(|v| *v == 1.0)
    });
    let mem_total = wait_for("node_memory_MemTotal_bytes in vigil", Duration::from_secs(30), || {
        single_value(&vigil_addr, "node_memory_MemTotal_bytes{job=\"node\"}")
    });
    assert!(mem_total > 0.0, "node_memory_MemTotal_bytes is {mem_total}");

    let targets = api(&vigil_addr, "/api/v1/targets", &[]).unwrap();
    assert_eq!(targets["status"], "success", "{targets}");
    let active = targets["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{targets}");
    let target = &active[0];
    assert_eq!(target["labels"]["job"], "node", "{target}");
    assert_eq!(target["labels"]["instance"], ne_addr.as_str(), "{target}");
    assert_eq!(target["scrapeUrl"], format!("http://{ne_addr}/metrics").as_str(), "{target}");
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
}
