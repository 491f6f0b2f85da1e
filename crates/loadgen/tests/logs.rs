//! End-to-end tests of the log mode against a tiny Loki push receiver on a local socket: what arrives, what the
//! raw file holds, and the planted needle and marker.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use vigil_loadgen::loggen::MARKER;
use vigil_loadgen::logrun::{run_logs, LogConfig};
use vigil_loadgen::send::RetryPolicy;
use vigil_model::LogEntry;
use vigil_proto::loki::{decode_push, PushLimits};

type Received = Arc<Mutex<Vec<(String, LogEntry)>>>;

/// Starts a receiver that answers 503 to its first request and 204 to the others, keeping what it accepted
/// as (stream labels, entry).
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let counter = Arc::new(AtomicUsize::new(0));
    let kept = received.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (kept, counter) = (kept.clone(), counter.clone());
            thread::spawn(move || serve(stream, &kept, &counter));
        }
    });
    (url, received)
}

fn serve(stream: TcpStream, kept: &Received, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        assert_eq!(line, "POST /loki/api/v1/push HTTP/1.1\r\n");
        let mut len = 0;
        let mut content_type = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let Some((k, v)) = line.trim_end().split_once(':') else { break };
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap(),
                "content-type" => content_type = v.trim().to_owned(),
                _ => {}
            }
        }
        assert_eq!(content_type, "application/x-protobuf");
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            writer.write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy").unwrap();
            continue;
        }
        let streams = decode_push(&body, &PushLimits::default()).unwrap();
        let mut kept = kept.lock().unwrap();
        for (labels, entries) in streams {
            kept.extend(entries.into_iter().map(|e| (labels.to_string(), e)));
        }
        writer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    }
}

#[test]
fn lines_arrive_once_each_as_in_the_raw_file_with_needle_and_marker_planted() {
    let (url, received) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.log");
    let config = LogConfig {
        url,
        lines: 5_000,
        hosts: 3,
        start_ns: 1_700_000_000_000_000_000,
        window: Duration::from_secs(3600),
        batch_lines: 700,
        concurrency: 2,
        seed: 9,
        raw_out: Some(raw.clone()),
        retry: RetryPolicy { max_retries: 2, min_backoff: Duration::ZERO, max_backoff: Duration::ZERO },
        timeout: Duration::from_secs(10),
    };
    let summary = run_logs(&config).unwrap();

    // 5000 lines over 3 hosts: 1700 each, rounded up to whole hundreds.
    assert_eq!(summary.lines_sent, 5_100);
    assert_eq!(summary.lines_accepted, 5_100);
    assert_eq!((summary.lines_rejected, summary.lines_failed, summary.retries), (0, 0, 1));
    assert_eq!((summary.hosts, summary.streams), (3, 9));
    assert_eq!(summary.marker_lines, 51);
    assert_eq!(summary.requests, 3 * 3);

    let received = received.lock().unwrap();
    assert_eq!(received.len(), 5_100);
    let text = std::fs::read_to_string(&raw).unwrap();
    assert_eq!(summary.raw_bytes, text.len() as u64);
    let mut file_lines: Vec<&str> = text.lines().collect();
    let mut sent_lines: Vec<&str> = received.iter().map(|(_, e)| e.line.as_str()).collect();
    file_lines.sort_unstable();
    sent_lines.sort_unstable();
    assert_eq!(file_lines, sent_lines);
    assert_eq!(text.lines().filter(|l| l.contains(MARKER)).count(), 51);
    let needles: Vec<_> = received.iter().filter(|(_, e)| e.line.contains(&summary.needle)).collect();
    assert_eq!(needles.len(), 1);
    assert!(needles[0].0.contains("job=\"app\""), "{}", needles[0].0);
    assert!(needles[0].1.line.contains(&format!("\"request_id\":\"{}\"", summary.needle)));

    let mut per_stream: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (labels, e) in received.iter() {
        assert!(e.ts_ns >= config.start_ns && e.ts_ns < summary.end_ns, "{}", e.ts_ns);
        per_stream.entry(labels).or_default().push(e.ts_ns);
    }
    assert_eq!(per_stream.len(), 9, "{:?}", per_stream.keys());
    let nginx = per_stream.iter().filter(|(k, _)| k.contains("nginx")).map(|(_, v)| v.len()).sum::<usize>();
    assert!((2_700..3_400).contains(&nginx), "{nginx}");

    let json = summary.to_json();
    assert!(json.contains("\"lines_accepted\":5100,") && json.contains("\"marker\":\"deadline_exceeded\""), "{json}");
    assert!(json.contains(&format!("\"needle\":\"{}\"", summary.needle)), "{json}");

    // The same seed sends the same lines.
    let again = dir.path().join("again.log");
    let (url, _) = receiver();
    let summary2 = run_logs(&LogConfig { url, raw_out: Some(again.clone()), ..config }).unwrap();
    assert_eq!(summary2.needle, summary.needle);
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
}
