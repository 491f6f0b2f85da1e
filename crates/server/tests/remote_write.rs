//! `POST /api/v1/write` over real HTTP: what is acknowledged is stored, bad bodies get 400 with a reason.

use vigil_proto::remote_write::{
    encode_write_request, Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};

use crate::support::{request, wait_for, Response, TestServer};

pub fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: pairs.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        ..Default::default()
    }
}

pub fn post(server: &TestServer, body: &[u8]) -> Response {
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    request(server.addr, "POST", "/api/v1/write", &headers, body)
}

#[test]
fn acknowledged_writes_are_queryable() {
    let server = TestServer::start();
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "http_requests_total"), ("job", "api"), ("code", "200")],
                &[(1_000, 1.0), (2_000, 2.0)],
            ),
            series(&[("__name__", "http_requests_total"), ("job", "api"), ("code", "500")], &[(1_000, 0.0)]),
        ],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "http_requests_total".into(),
            help: "Requests served.".into(),
            unit: String::new(),
        }],
    };
    let r = post(&server, &encode_write_request(&req));
    assert_eq!(r.status, 204, "{}", r.body);
    let querier = server.db.querier(0, 10_000);
    let stored: Vec<_> = querier.select(&[]).unwrap().map(Result::unwrap).collect();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].labels.get("code"), Some("200"));
    assert_eq!(stored[0].samples.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(), [(1_000, 1.0), (2_000, 2.0)]);
    let r = server.get("/api/v1/metadata");
    assert_eq!(
        r.json()["data"],
        serde_json::json!({"http_requests_total":[{"type":"counter","help":"Requests served.","unit":""}]})
    );
    assert_eq!(server.get("/api/v1/metadata?metric=nope").json()["data"], serde_json::json!({}));
}

#[test]
fn bad_bodies_are_refused_with_a_reason() {
    let server = TestServer::start();
    let r = post(&server, b"definitely not snappy");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("snappy"), "{}", r.body);

    let nameless = WriteRequest { timeseries: vec![series(&[("job", "x")], &[(1, 1.0)])], metadata: vec![] };
    let r = post(&server, &encode_write_request(&nameless));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("series 0") && r.body.contains("__name__"), "{}", r.body);

    let bad_label =
        WriteRequest { timeseries: vec![series(&[("__name__", "x"), ("a-b", "1")], &[(1, 1.0)])], metadata: vec![] };
    let r = post(&server, &encode_write_request(&bad_label));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("\"a-b\""), "{}", r.body);

    let r = post(&server, &vec![0u8; 33 << 20]);
    assert_eq!(r.status, 413, "{}", r.body);
    // Nothing of the refused requests was stored.
    assert_eq!(server.db.querier(i64::MIN / 2, i64::MAX / 2).select(&[]).unwrap().len(), 0);
}

#[test]
fn refused_samples_answer_400_but_keep_the_rest() {
    let server = TestServer::start();
    let first = WriteRequest { timeseries: vec![series(&[("__name__", "g")], &[(10_000_000, 1.0)])], metadata: vec![] };
    assert_eq!(post(&server, &encode_write_request(&first)).status, 204);
    // One sample far behind the newest (outside the out-of-order window) and one new series.
    let second = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "g")], &[(1_000, 5.0)]),
            series(&[("__name__", "h")], &[(10_000_000, 2.0)]),
        ],
        metadata: vec![],
    };
    let r = post(&server, &encode_write_request(&second));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("1 of 2 samples refused"), "{}", r.body);
    let names: Vec<String> =
        server.db.querier(0, 20_000_000).select(&[]).unwrap().map(|s| s.unwrap().labels.to_string()).collect();
    assert_eq!(names, ["g{}", "h{}"]);
}

#[test]
fn a_head_with_a_finished_range_is_persisted_before_the_next_round_is_due() {
    use vigil_tsdb::{Sample, SeriesBatch};
    let server = TestServer::start_with(|o| o.maintain_every = std::time::Duration::from_secs(3600));
    // Five hours of one series: the first two-hour range can no longer change.
    let labels = vigil_model::Labels::from_pairs([("__name__", "up")]).unwrap();
    let samples = (0..5 * 60).map(|k| Sample { t: k * 60_000, v: 1.0 }).collect();
    server.db.append(&[SeriesBatch { labels, samples }]).unwrap();
    let blocks = server.db.dir().join("blocks");
    let persisted = || {
        let names = std::fs::read_dir(&blocks).ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok());
        // A block being written is a `.tmp` directory until it is complete.
        names.into_iter().find(|name| name.starts_with("raw-") && !name.ends_with(".tmp"))
    };
    let name = wait_for("the head's first range in a block", std::time::Duration::from_secs(20), persisted);
    assert_eq!(name, "raw-0-7200000");
}
