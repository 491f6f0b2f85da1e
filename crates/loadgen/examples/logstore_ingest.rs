//! Log store benchmark without the network: loadgen's nginx, sshd or JSON app lines appended in batches of
//! 1000 (like a Loki push), then maintain, bytes on disk per line, a needle read and a full scan.
//!
//! `cargo run --release -p vigil-loadgen --example logstore_ingest -- [lines] [nginx|sshd|app|mixed] [threads]`

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use vigil_loadgen::loggen::{self, Job, Plant};
use vigil_loadgen::nodegen::Rng;
use vigil_logstore::{LogStore, Options};
use vigil_model::{Direction, Labels, LogBatch, LogEntry};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let kind = args.get(2).map_or("nginx", String::as_str).to_string();
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(dir.path(), Options { retention: None, ..Options::default() }).expect("open");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as i64;
    let start_ns = now - 3_600_000_000_000;
    let needle = loggen::needle(1);
    let needle_at = total / 2;

    // Lines are generated before timing: the benchmark measures the store.
    let batch = 1000;
    let mut rng = Rng::new(1);
    let mut batches: Vec<Vec<(Labels, Vec<LogEntry>)>> = Vec::new();
    let step = 3_000_000_000_000 / total.max(1) as i64;
    let mut line_bytes = 0usize;
    for b in 0..total.div_ceil(batch) {
        let host = format!("web-{}", b % 4);
        let job = match kind.as_str() {
            "sshd" => Job::Sshd,
            "app" | "json" => Job::App,
            "mixed" => [Job::Nginx, Job::Sshd, Job::App][b % 3],
            _ => Job::Nginx,
        };
        let labels = Labels::from_pairs([("host", host.as_str()), ("job", job.name())]).expect("valid labels");
        let mut entries = Vec::with_capacity(batch);
        for i in b * batch..((b + 1) * batch).min(total) {
            let ts_ns = start_ns + i as i64 * step;
            let mut line = String::new();
            let plant = Plant { marker: false, needle: (i == needle_at).then_some(needle.as_str()) };
            loggen::line(&mut line, &mut rng, job, &host, ts_ns, plant);
            line_bytes += line.len();
            entries.push(LogEntry { ts_ns, line, fields: Vec::new() });
        }
        batches.push(vec![(labels, entries)]);
    }

    let t = Instant::now();
    std::thread::scope(|s| {
        for part in batches.chunks(batches.len().div_ceil(threads)) {
            let store = &store;
            s.spawn(move || {
                for b in part {
                    store.append(b).expect("append");
                }
            });
        }
    });
    let append_s = t.elapsed().as_secs_f64();
    let m = store.metrics();
    println!(
        "{kind}: appended {total} lines ({:.0} B/line avg) in {append_s:.2}s with {threads} thread(s): {:.0} lines/s, \
         {:.1} MB/s, {} wal fsyncs",
        line_bytes as f64 / total as f64,
        total as f64 / append_s,
        line_bytes as f64 / append_s / 1e6,
        m.wal_fsyncs
    );

    let t = Instant::now();
    store.maintain(now).expect("maintain");
    let m = store.metrics();
    println!(
        "maintain: {:.2}s; {} parts, {} bytes on disk: {:.1} bytes/line (raw {:.0}, ratio {:.1}x)",
        t.elapsed().as_secs_f64(),
        m.parts,
        m.disk_bytes,
        m.disk_bytes as f64 / total as f64,
        line_bytes as f64 / total as f64,
        line_bytes as f64 / m.disk_bytes as f64
    );

    let t = Instant::now();
    let mut found = 0;
    let mut blocks_read = 0;
    let mut skipped = 0;
    let mut out = LogBatch::default();
    for s in store.streams(&[], 0, i64::MAX).expect("streams") {
        let mut r = store.read(s.id, 0, i64::MAX, Direction::Backward, &[needle.as_str()]).expect("read");
        while r.next_batch(&mut out).expect("batch") {
            found += out.len();
        }
        blocks_read += r.stats().blocks_read;
        skipped += r.stats().blocks_skipped;
    }
    println!(
        "needle read: {found} line(s) in {:.3} ms, {blocks_read} block(s) decoded, {skipped} skipped by bloom",
        t.elapsed().as_secs_f64() * 1e3
    );

    let t = Instant::now();
    let mut rows = 0;
    for s in store.streams(&[], 0, i64::MAX).expect("streams") {
        let mut r = store.read(s.id, 0, i64::MAX, Direction::Forward, &[]).expect("read");
        while r.next_batch(&mut out).expect("batch") {
            rows += out.len();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!("full scan: {rows} lines in {secs:.2}s: {:.0} lines/s", rows as f64 / secs);
}
