//! The Prometheus HTTP API over real HTTP: response shapes, parameters, errors.

use vigil_model::Labels;
use vigil_tsdb::{Sample, SeriesBatch};

use crate::support::TestServer;

fn load(server: &TestServer) {
    let mut batches = Vec::new();
    for (instance, base) in [("a:9100", 1.0), ("b:9100", 10.0)] {
        for (name, extra) in [("node_load1", None), ("node_cpu_seconds_total", Some(("mode", "idle")))] {
            let mut pairs = vec![("__name__", name), ("job", "node"), ("instance", instance)];
            pairs.extend(extra);
            let samples = (0..10).map(|i| Sample { t: 1_000_000 + i * 15_000, v: base + i as f64 }).collect();
            batches.push(SeriesBatch { labels: Labels::from_pairs(pairs).unwrap(), samples });
        }
    }
    server.db.append(&batches).unwrap();
}

#[test]
fn series_labels_and_values() {
    let server = TestServer::start();
    load(&server);
    let r = server.get("/api/v1/series?match[]=node_load1&start=900&end=2000");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"status":"success","data":[
            {"__name__":"node_load1","instance":"a:9100","job":"node"},
            {"__name__":"node_load1","instance":"b:9100","job":"node"}]})
    );
    // Several selectors are a union; POST forms work like GET.
    let r = server
        .post_form("/api/v1/series", "match[]=node_load1%7Binstance%3D%22a:9100%22%7D&match[]=node_cpu_seconds_total");
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 3, "{}", r.body);

    let r = server.get("/api/v1/labels");
    assert_eq!(r.json()["data"], serde_json::json!(["__name__", "instance", "job", "mode"]));
    let r = server.get("/api/v1/labels?match[]=node_load1");
    assert_eq!(r.json()["data"], serde_json::json!(["__name__", "instance", "job"]));
    let r = server.get("/api/v1/label/__name__/values");
    assert_eq!(r.json()["data"], serde_json::json!(["node_cpu_seconds_total", "node_load1"]));
    let r = server.get("/api/v1/label/instance/values?match[]=node_load1&limit=1");
    assert_eq!(
        r.json(),
        serde_json::json!({"status":"success","data":["a:9100"],"warnings":["results truncated due to limit"]})
    );
    // Outside the data's time range there is nothing.
    let r = server.get("/api/v1/label/instance/values?start=5000&end=6000");
    assert_eq!(r.json()["data"], serde_json::json!([]));
}

#[test]
fn errors_have_prometheus_shape() {
    let server = TestServer::start();
    for (path, status, fragment) in [
        ("/api/v1/series", 400, "no match[]"),
        ("/api/v1/series?match[]=rate(x[5m])", 400, "not a series selector"),
        ("/api/v1/series?match[]=%7Ba%3D~%22.*%22%7D", 400, "non-empty matcher"),
        ("/api/v1/query", 400, "missing parameter \\\"query\\\""),
        ("/api/v1/query?query=up&time=tomorrow", 400, "cannot parse"),
        ("/api/v1/query_range?query=up&start=0&end=100000&step=1", 400, "11,000 points"),
        ("/api/v1/query_range?query=up&start=10&end=0&step=1", 400, "before start"),
        ("/api/v1/query_range?query=up&start=0&end=10&step=0", 400, "zero or negative"),
        ("/api/v1/label/bad-name/values", 400, "invalid label name"),
        ("/api/v1/labels?limit=x", 400, "limit"),
        ("/api/v1/query?query=%ZZ", 400, "percent-encoding"),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let json = r.json();
        assert_eq!(json["status"], "error", "{path}");
        assert_eq!(json["errorType"], "bad_data", "{path}");
        assert!(r.body.contains(fragment), "{path}: {}", r.body);
    }
    assert_eq!(server.get("/api/v1/nothing").status, 404);
}

#[test]
fn status_and_formatting_endpoints() {
    let server = TestServer::start();
    let r = server.get("/api/v1/status/buildinfo");
    assert_eq!(r.json()["data"]["version"], "2.42.0");
    let r = server.get("/api/v1/status/runtimeinfo");
    assert_eq!(r.json()["data"]["storageRetention"], "15d");
    let r = server.get("/api/v1/format_query?query=sum(rate(x[5m]))by(job)");
    assert_eq!(r.json()["data"], "sum by (job) (rate(x[5m]))");
    assert_eq!(server.get("/api/v1/format_query?query=sum(").json()["errorType"], "bad_data");
    // The query dialect of the engine: duration expressions are evaluated, byte escapes decoded.
    let r = server.get("/api/v1/format_query?query=rate(x%5B1m%2B30s%5D)");
    assert_eq!(r.json()["data"], "rate(x[1m30s])");
    let r = server.get("/api/v1/format_query?query=x%7Bj%3D%22%5Cx41%22%7D");
    assert_eq!(r.json()["data"], "x{j=\"A\"}");
    assert_eq!(server.get("/api/v1/query_exemplars?query=up").json()["data"], serde_json::json!([]));
    assert_eq!(server.get("/-/healthy").status, 200);
}

#[test]
fn serves_its_own_metrics() {
    let server = TestServer::start();
    load(&server);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("vigil_tsdb_head_series 4\n"), "{}", r.body);
}

#[test]
fn query_and_query_range_shapes() {
    let server = TestServer::start();
    load(&server);
    // Instant vector at the last sample: 1_000_000 + 9 * 15_000 ms = 1135 s.
    let r = server.get("/api/v1/query?query=node_load1&time=1135");
    assert_eq!(
        r.json(),
        serde_json::json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"node_load1","instance":"a:9100","job":"node"},"value":[1135,"10"]},
            {"metric":{"__name__":"node_load1","instance":"b:9100","job":"node"},"value":[1135,"19"]}]}})
    );
    let r = server.post_form("/api/v1/query", "query=sum(node_load1)&time=1135.5");
    assert_eq!(r.json()["data"]["result"][0]["value"], serde_json::json!([1135.5, "29"]));
    assert_eq!(
        server.get("/api/v1/query?query=1%2B1&time=10").json()["data"],
        serde_json::json!({"resultType":"scalar","result":[10,"2"]})
    );
    assert_eq!(
        server.get("/api/v1/query?query=%22hi%22&time=10").json()["data"],
        serde_json::json!({"resultType":"string","result":[10,"hi"]})
    );

    let r = server.get("/api/v1/query_range?query=rate(node_cpu_seconds_total%5B1m%5D)&start=1060&end=1120&step=30");
    let json = r.json();
    assert_eq!(json["data"]["resultType"], "matrix", "{}", r.body);
    let result = json["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"], serde_json::json!({"instance":"a:9100","job":"node","mode":"idle"}));
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 3);
    // One per 15 s is 1/15 per second; floats are compared as Prometheus formats them.
    let rate: f64 = values[0][1].as_str().unwrap().parse().unwrap();
    assert!((rate - 1.0 / 15.0).abs() < 1e-9, "{rate}");

    let r = server.get("/api/v1/query?query=sum(");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (400, Some("bad_data")));
    let r = server.get("/api/v1/query?query=node_load1%20%2B%20on(job)%20node_load1&time=1135");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (422, Some("execution")), "{}", r.body);
}

#[test]
fn the_timeout_parameter_bounds_a_query() {
    let server = TestServer::start();
    load(&server);
    for path in [
        "/api/v1/query?query=sum(node_load1)&time=1135&timeout=0s",
        "/api/v1/query_range?query=rate(node_load1%5B1m%5D)&start=1060&end=1120&step=30&timeout=0s",
    ] {
        let r = server.get(path);
        assert_eq!((r.status, r.json()["errorType"].as_str()), (503, Some("timeout")), "{path}: {}", r.body);
    }
    let r = server.get("/api/v1/query?query=sum(node_load1)&time=1135&timeout=1m");
    assert_eq!(r.json()["data"]["result"][0]["value"], serde_json::json!([1135, "29"]), "{}", r.body);
    let r = server.get("/api/v1/query?query=up&timeout=soon");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (400, Some("bad_data")));
    assert!(r.body.contains("timeout"), "{}", r.body);
}

#[test]
fn range_queries_read_downsampled_blocks_when_the_step_allows() {
    const MIN: i64 = 60_000;
    let server = TestServer::start();
    // Two days, one sample a minute, appended an hour at a time: a counter rising by one a second and a gauge
    // whose value is its minute.
    for hour in 0..48 {
        let minutes = hour * 60..(hour + 1) * 60;
        let series = |name: &str, value: fn(i64) -> f64| SeriesBatch {
            labels: Labels::from_pairs([("__name__", name), ("job", "node")]).unwrap(),
            samples: minutes.clone().map(|k| Sample { t: k * MIN, v: value(k) }).collect(),
        };
        server.db.append(&[series("c_total", |k| (k * 60) as f64), series("ramp", |k| k as f64)]).unwrap();
    }
    while server.db.maintain().unwrap() != Default::default() {}
    let downsampled = std::fs::read_dir(server.db.dir().join("blocks"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("5m-"))
        .count();
    assert!(downsampled > 0, "maintenance wrote no 5 m blocks");
    let (start, end) = (3_600, 2 * 24 * 3_600 - 3_600);
    let values = |query: &str, extra: &str| -> Vec<(i64, f64)> {
        let path = format!("/api/v1/query_range?query={query}&start={start}&end={end}&step=1800{extra}");
        let r = server.get(&path);
        let result = &r.json()["data"]["result"];
        assert_eq!(result.as_array().map(Vec::len), Some(1), "{path}: {}", r.body);
        let points = result[0]["values"].as_array().unwrap();
        points.iter().map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().parse().unwrap())).collect()
    };
    for extra in ["", "&max_source_resolution=raw", "&max_source_resolution=5m"] {
        let rates = values("rate(c_total%5B1h%5D)", extra);
        assert_eq!(rates.len(), 93, "{extra}");
        assert!(rates.iter().all(|p| (p.1 - 1.0).abs() < 1e-9), "{extra}: {rates:?}");
        let counts = values("count_over_time(ramp%5B1h%5D)", extra);
        assert!(counts.iter().all(|p| p.1 == 60.0), "{extra}: {counts:?}");
    }
    // A window of whole 5 m buckets ends with the last complete bucket, so it holds minutes k-60..k-1 where
    // the raw window holds k-59..k.
    let sum = |first: i64| (first..first + 60).sum::<i64>() as f64;
    for (t, v) in values("sum_over_time(ramp%5B1h%5D)", "") {
        assert_eq!(v, sum(t / 60 - 60), "at {t}");
    }
    for (t, v) in values("sum_over_time(ramp%5B1h%5D)", "&max_source_resolution=0s") {
        assert_eq!(v, sum(t / 60 - 59), "at {t}");
    }
    let r = server.get("/api/v1/query_range?query=ramp&start=0&end=60&step=15&max_source_resolution=soon");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (400, Some("bad_data")), "{}", r.body);
    assert!(r.body.contains("max_source_resolution"), "{}", r.body);
}
