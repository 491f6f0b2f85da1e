//! End-to-end tests of the load generator against a tiny remote_write receiver on a local socket.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use vigil_loadgen::run::now_ms;
use vigil_loadgen::{run, Config};
use vigil_proto::remote_write::{decode_write_request, to_series, DecodeLimits, WriteRequest};

/// What the receiver does after reading a request.
#[derive(Clone, Copy)]
enum Reply {
    /// Answer with this status, keeping the connection open.
    Status(u16),
    /// Answer 400 with a chunked body.
    ChunkedReject,
    /// Answer 204, then close the connection without saying so.
    SilentClose,
}

#[derive(Debug)]
struct Received {
    headers: HashMap<String, String>,
    request: WriteRequest,
    arrived_ms: i64,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Starts a receiver whose `n`th request (counting from 0) is answered by `script(n)`.
fn receiver(script: fn(usize) -> Reply) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let counter = Arc::new(AtomicUsize::new(0));
    let server_log = log.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (log, counter) = (server_log.clone(), counter.clone());
            thread::spawn(move || serve_connection(stream, script, &log, &counter));
        }
    });
    (url, log)
}

fn serve_connection(stream: TcpStream, script: fn(usize) -> Reply, log: &Log, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert_eq!(line, "POST /api/v1/write HTTP/1.1\r\n");
        let mut headers = HashMap::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let Some((k, v)) = line.trim_end().split_once(':') else { break };
            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let request = decode_write_request(&body, &DecodeLimits::default()).unwrap();
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let reply = script(n);
        if !matches!(reply, Reply::Status(500..)) {
            log.lock().unwrap().push(Received { headers, request, arrived_ms: now_ms() });
        }
        let response = match reply {
            Reply::Status(s) => format!("HTTP/1.1 {s} Whatever\r\nContent-Length: 4\r\n\r\nnope"),
            Reply::ChunkedReject => {
                "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nout \r\n8\r\nof order\r\n0\r\n\r\n"
                    .to_owned()
            }
            Reply::SilentClose => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
        };
        writer.write_all(response.as_bytes()).unwrap();
        if matches!(reply, Reply::SilentClose) {
            return;
        }
    }
}

fn config(url: &str) -> Config {
    Config {
        hosts: 2,
        rounds: 3,
        start_ms: 1_700_000_000_000,
        batch_series: 300,
        concurrency: 2,
        min_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        timeout: Duration::from_secs(10),
        ..Config::new(url)
    }
}

#[test]
fn every_series_arrives_in_order_with_remote_write_headers() {
    let (url, log) = receiver(|_| Reply::Status(204));
    let summary = run(&config(&url)).unwrap();
    let log = log.lock().unwrap();

    let series = summary.series;
    assert!(series >= 900, "{series}");
    assert_eq!(summary.samples_sent, 3 * series as u64);
    assert_eq!(summary.samples_accepted, summary.samples_sent);
    assert_eq!((summary.samples_rejected, summary.samples_failed, summary.retries), (0, 0, 0));
    assert_eq!(summary.requests, log.len() as u64);
    assert_eq!(log.len(), 3 * series.div_ceil(300));

    let mut timestamps: HashMap<String, Vec<i64>> = HashMap::new();
    for r in log.iter() {
        assert_eq!(r.headers["content-encoding"], "snappy");
        assert_eq!(r.headers["content-type"], "application/x-protobuf");
        assert_eq!(r.headers["x-prometheus-remote-write-version"], "0.1.0");
        assert!(r.request.timeseries.len() <= 300);
        for s in to_series(&r.request).unwrap() {
            assert_eq!(s.samples.len(), 1);
            assert_eq!(s.labels.get("job"), Some("node"));
            timestamps.entry(s.labels.to_string()).or_default().push(s.samples[0].0);
        }
    }
    assert_eq!(timestamps.len(), series);
    for (name, ts) in &timestamps {
        assert_eq!(ts.len(), 3, "{name}");
        let offset = ts[0] - 1_700_000_000_000;
        assert!((0..10_000).contains(&offset), "{name}: {ts:?}");
        assert_eq!(ts[1] - ts[0], 10_000, "{name}: rounds arrive in order, one interval apart");
        assert_eq!(ts[2] - ts[1], 10_000, "{name}");
    }
    let json = summary.to_json();
    assert!(json.starts_with(&format!("{{\"series\":{series},")), "{json}");
    assert!(json.contains(&format!("\"samples_accepted\":{}", 3 * series)), "{json}");
}

#[test]
fn retries_server_errors_and_counts_rejections() {
    let (url, log) = receiver(|n| match n {
        0 | 1 => Reply::Status(503),
        2 => Reply::ChunkedReject,
        _ => Reply::Status(200),
    });
    let c = Config { hosts: 1, batch_series: 5000, concurrency: 1, ..config(&url) };
    let summary = run(&c).unwrap();
    let per_round = summary.series as u64;
    assert_eq!(summary.requests, 3);
    assert_eq!(summary.retries, 2);
    assert_eq!(summary.samples_rejected, per_round);
    assert_eq!(summary.samples_accepted, 2 * per_round);
    assert_eq!(summary.last_error.as_deref(), Some("HTTP 400: out of order"));
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[test]
fn reconnects_when_the_server_drops_kept_alive_connections() {
    let (url, log) = receiver(|_| Reply::SilentClose);
    let c = Config { concurrency: 1, ..config(&url) };
    let summary = run(&c).unwrap();
    assert_eq!(summary.samples_accepted, summary.samples_sent);
    assert_eq!(summary.retries, 0);
    assert_eq!(log.lock().unwrap().len() as u64, summary.requests);
}

#[test]
fn gives_up_after_retries_when_nothing_listens() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = Config {
        hosts: 1,
        rounds: 2,
        batch_series: 5000,
        max_retries: 2,
        ..config(&format!("http://127.0.0.1:{port}/w"))
    };
    let summary = run(&c).unwrap();
    assert_eq!(summary.samples_failed, summary.samples_sent);
    assert_eq!(summary.retries, 4);
    assert!(summary.last_error.unwrap().starts_with("connecting:"));
}

#[test]
fn same_seed_sends_the_same_data() {
    let collect = |seed| {
        let (url, log) = receiver(|_| Reply::Status(204));
        run(&Config { seed, concurrency: 1, ..config(&url) }).unwrap();
        let log = log.lock().unwrap();
        log.iter().map(|r| r.request.clone()).collect::<Vec<_>>()
    };
    let a = collect(9);
    assert_eq!(a, collect(9));
    assert_ne!(a, collect(10));
}

#[test]
fn bad_urls_and_configs_are_errors() {
    assert!(run(&Config::new("https://example/")).unwrap_err().to_string().contains("only http://"));
    let c = Config { batch_series: 0, ..Config::new("http://127.0.0.1:1/") };
    assert!(run(&c).unwrap_err().to_string().contains("at least 1"));
}

#[test]
fn workers_with_uneven_shares_stay_within_a_few_rounds_of_each_other() {
    let (url, log) = receiver(|_| Reply::Status(204));
    // Five batches over four workers: one worker has two, so alone it would fall a round behind every round.
    let rounds = 60;
    let config = Config { hosts: 2, rounds, batch_series: 250, concurrency: 4, ..config(&url) };
    let summary = run(&config).unwrap();
    assert_eq!(summary.samples_accepted, summary.samples_sent);
    let log = log.lock().unwrap();
    let mut newest = 1_700_000_000_000;
    for r in log.iter() {
        let times: Vec<i64> = r.request.timeseries.iter().map(|ts| ts.samples[0].timestamp).collect();
        let oldest = *times.iter().min().unwrap();
        // Seven rounds: the six a worker may lead by, plus the scrape offsets within a round.
        assert!(newest - oldest <= 7 * 10_000, "a request {} ms behind the newest sample", newest - oldest);
        newest = newest.max(*times.iter().max().unwrap());
    }
    assert!(newest - 1_700_000_000_000 >= (rounds as i64 - 1) * 10_000);
}

#[test]
fn realtime_sends_the_rounds_already_due_at_once_then_each_at_its_time() {
    let (url, log) = receiver(|_| Reply::Status(204));
    let interval_ms = 300;
    let start_ms = now_ms() - 3 * interval_ms;
    let c = Config {
        hosts: 1,
        rounds: 6,
        interval: Duration::from_millis(interval_ms as u64),
        start_ms,
        batch_series: 5000,
        concurrency: 1,
        realtime: true,
        ..config(&url)
    };
    let summary = run(&c).unwrap();
    assert_eq!(summary.samples_accepted, summary.samples_sent);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 6);
    for (round, r) in log.iter().enumerate() {
        let due = start_ms + round as i64 * interval_ms;
        assert!(r.arrived_ms >= due, "round {round} arrived {} ms early", due - r.arrived_ms);
        if round <= 3 {
            assert!(r.arrived_ms - log[0].arrived_ms < interval_ms, "round {round} was due at once");
        }
    }
    assert!(summary.seconds >= 2.0 * interval_ms as f64 / 1000.0, "{}", summary.seconds);
}

#[test]
fn systemd_units_follow_the_node_series() {
    let (url, log) = receiver(|_| Reply::Status(204));
    let plain = run(&Config { rounds: 1, ..config(&url) }).unwrap();
    log.lock().unwrap().clear();
    let with = run(&Config { rounds: 1, systemd: true, ..config(&url) }).unwrap();
    assert_eq!(with.series, plain.series + 2 * 60);
    let log = log.lock().unwrap();
    let units: Vec<_> = log
        .iter()
        .flat_map(|r| to_series(&r.request).unwrap())
        .filter(|s| s.labels.get("__name__") == Some("node_systemd_unit_state"))
        .collect();
    assert_eq!(units.len(), 2 * 60);
    assert!(units.iter().all(|s| s.labels.get("state").is_some() && s.labels.get("name").is_some()));
}
