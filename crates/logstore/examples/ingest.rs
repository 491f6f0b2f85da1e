//! Ingest benchmark: realistic nginx, sshd and JSON lines appended in batches of 1000 (like a Loki push),
//! then maintain, bytes on disk per line and the time of a needle read.
//!
//! `cargo run --release -p vigil-logstore --example ingest -- [lines] [nginx|sshd|json|mixed] [threads]`

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use vigil_logstore::{LogStore, Options};
use vigil_model::{Direction, Labels, LogBatch, LogEntry};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/users",
    "/api/v1/orders",
    "/static/app.js",
    "/static/style.css",
    "/login",
    "/favicon.ico",
    "/api/v1/products?page=2",
    "/healthz",
    "/metrics",
    "/images/logo.png",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "Prometheus/2.42.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];
const USERS: &[&str] = &["root", "admin", "ubuntu", "deploy", "git", "oracle", "test", "postgres"];
const MONTHS: &[&str] = &["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn ip(rng: &mut Rng) -> String {
    // Mostly a few hundred clients, as real traffic.
    let n = rng.below(400);
    format!("{}.{}.{}.{}", 10 + n % 7, (n * 37) % 256, (n * 101) % 256, n % 250 + 1)
}

fn nginx(rng: &mut Rng, ts_s: i64) -> String {
    let status = [200, 200, 200, 200, 304, 404, 301, 500][rng.below(8) as usize];
    let (h, m, s) = (ts_s / 3600 % 24, ts_s / 60 % 60, ts_s % 60);
    format!(
        "{} - - [21/Nov/2026:{h:02}:{m:02}:{s:02} +0000] \"GET {} HTTP/1.1\" {status} {} \"-\" \"{}\"",
        ip(rng),
        rng.pick(PATHS),
        rng.below(50_000),
        rng.pick(AGENTS)
    )
}

fn sshd(rng: &mut Rng, ts_s: i64) -> String {
    let (h, m, s) = (ts_s / 3600 % 24, ts_s / 60 % 60, ts_s % 60);
    let pid = 1000 + rng.below(60_000);
    let what = match rng.below(4) {
        0 => format!("Failed password for {} from {} port {} ssh2", rng.pick(USERS), ip(rng), 1024 + rng.below(60_000)),
        1 => format!("Invalid user {} from {} port {}", rng.pick(USERS), ip(rng), 1024 + rng.below(60_000)),
        2 => format!(
            "Accepted publickey for {} from {} port {} ssh2: RSA SHA256:{:016x}",
            rng.pick(USERS),
            ip(rng),
            1024 + rng.below(60_000),
            rng.next()
        ),
        _ => format!(
            "Connection closed by authenticating user {} {} port {} [preauth]",
            rng.pick(USERS),
            ip(rng),
            1024 + rng.below(60_000)
        ),
    };
    format!("{} 21 {h:02}:{m:02}:{s:02} web-1 sshd[{pid}]: {what}", MONTHS[10])
}

fn json(rng: &mut Rng, ts_s: i64) -> String {
    let level = ["info", "info", "info", "debug", "warn", "error"][rng.below(6) as usize];
    let mut line = format!(
        "{{\"ts\":{ts_s},\"level\":\"{level}\",\"service\":\"checkout\",\"msg\":\"request handled\",\"method\":\"POST\",\
         \"path\":\"{}\",\"status\":{},\"duration_ms\":{},\"request_id\":\"{:016x}{:016x}\",\"user_id\":{},\
         \"client_ip\":\"{}\",\"cart_items\":{},\"region\":\"eu-west-1\"",
        rng.pick(PATHS),
        [200, 201, 400, 500][rng.below(4) as usize],
        rng.below(2000),
        rng.next(),
        rng.next(),
        rng.below(100_000),
        ip(rng),
        rng.below(20)
    );
    if level == "error" {
        line.push_str(",\"error\":\"upstream timed out while reading response header from upstream\",\"stack\":\"");
        for i in 0..8 {
            line.push_str(&format!("at com.shop.checkout.Service{i}.handle(Service{i}.java:{}) ", rng.below(500)));
        }
        line.push('"');
    }
    line.push('}');
    line
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let kind = args.get(2).map_or("nginx", String::as_str).to_string();
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LogStore::open(dir.path(), Options { retention: None, ..Options::default() }).expect("open");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
    let start_ns = now - 3_600_000_000_000;
    let needle_at = total / 2;

    // Lines are generated before timing: the benchmark measures the store.
    let batch = 1000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut batches: Vec<Vec<(Labels, Vec<LogEntry>)>> = Vec::new();
    let step = 3_000_000_000_000 / total.max(1) as i64;
    let mut line_bytes = 0usize;
    for b in 0..total.div_ceil(batch) {
        let host = format!("web-{}", b % 4);
        let k = match kind.as_str() {
            "mixed" => ["nginx", "sshd", "json"][b % 3],
            k => k,
        };
        let labels = Labels::from_pairs([("host", host.as_str()), ("job", k)]).unwrap();
        let mut entries = Vec::with_capacity(batch);
        for i in b * batch..((b + 1) * batch).min(total) {
            let ts_ns = start_ns + i as i64 * step;
            let ts_s = ts_ns / 1_000_000_000;
            let mut line = match k {
                "sshd" => sshd(&mut rng, ts_s),
                "json" => json(&mut rng, ts_s),
                _ => nginx(&mut rng, ts_s),
            };
            if i == needle_at {
                line.push_str(" trace=needle_c0ffee42");
            }
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
        let mut r = store.read(s.id, 0, i64::MAX, Direction::Backward, &["needle_c0ffee42"]).expect("read");
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
