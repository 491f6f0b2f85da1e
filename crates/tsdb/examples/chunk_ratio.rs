//! Measures bytes per sample of the chunk encodings on synthetic node_exporter-like series (24 h at a 10 s
//! scrape interval with a few milliseconds of timestamp jitter) for 120-, 240- and 480-sample chunks.
//! Run with `cargo run --release -p vigil-tsdb --example chunk_ratio`.
//!
//! With `-- --scrapes DIR` it measures recorded scrapes instead: one file of text exposition per scrape, named by
//! its time in milliseconds, e.g. recorded with
//! `while sleep 10; do curl -s localhost:9100/metrics > DIR/$(date +%s%3N); done`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use vigil_tsdb::chunk::{Chunk, ChunkAppender, Encoding};

/// Samples per series: 24 hours at one sample every 10 seconds.
const SAMPLES: usize = 8640;
const INTERVAL_MS: i64 = 10_000;
/// Simulated hosts; each has every series of the mix with its own random parameters.
const HOSTS: u64 = 4;
const CHUNK_SIZES: [usize; 3] = [120, 240, 480];

/// A tiny deterministic xorshift64* generator, so that every run measures the same data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly normal with mean 0 and standard deviation 1 (a sum of uniforms).
    fn normal(&mut self) -> f64 {
        (0..6).map(|_| self.unit()).sum::<f64>() * std::f64::consts::SQRT_2 - 3.0 * std::f64::consts::SQRT_2
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The kinds of series, with how many of each one host exposes (roughly node_exporter's default collectors on a
/// 4-CPU machine with 2 disks, 3 network interfaces and 5 filesystems).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `node_cpu_seconds_total`: jiffies divided by 100, 8 modes per CPU.
    CpuSeconds,
    /// `node_network_{receive,transmit}_{bytes,packets}_total`, bursty traffic.
    NetBytes,
    /// `node_disk_*`: operations, bytes in 512-byte sectors, milliseconds times 0.001.
    Disk,
    /// `node_memory_*_bytes` that move by whole pages.
    MemBytes,
    /// `node_load1/5/15` with two decimals.
    Load,
    /// `node_filesystem_{avail,free}_bytes`, moving by 4 KiB blocks now and then.
    FsBytes,
    /// Error, drop and event counters that rarely move.
    RareCounter,
    /// Info metrics, sizes, limits, flags.
    Constant,
    /// `node_scrape_collector_duration_seconds`: nanoseconds divided by 1e9, as Go reports durations.
    Duration,
    /// Arbitrary floats; not node_exporter-like, shown for the XOR fallback only.
    RandomFloat,
}

const KINDS: [(Kind, &str, usize); 10] = [
    (Kind::CpuSeconds, "cpu seconds (counter, 0.01)", 32),
    (Kind::NetBytes, "network bytes/packets (counter)", 12),
    (Kind::Disk, "disk ops/bytes/seconds (counter)", 24),
    (Kind::MemBytes, "memory bytes (gauge, pages)", 24),
    (Kind::Load, "load average (gauge, 0.01)", 3),
    (Kind::FsBytes, "filesystem bytes (gauge)", 10),
    (Kind::RareCounter, "rarely-moving counters", 60),
    (Kind::Constant, "constants (info, sizes, flags)", 150),
    (Kind::Duration, "scrape durations (gauge, ns)", 40),
    (Kind::RandomFloat, "random floats (not in the mix)", 10),
];

/// Generates the values of series number `index` of `kind`.
fn values(kind: Kind, index: usize, rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(SAMPLES);
    match kind {
        Kind::CpuSeconds => {
            // Mean and spread of the jiffies (1/100 s) each mode gains per 10 s scrape.
            const MODES: [(f64, f64); 8] = [
                (850.0, 60.0),
                (80.0, 50.0),
                (30.0, 15.0),
                (3.0, 3.0),
                (0.3, 0.5),
                (4.0, 3.0),
                (0.02, 0.2),
                (1.0, 1.0),
            ];
            let (mean, spread) = MODES[index % MODES.len()];
            let mut ticks = (rng.range(0.5, 2.0) * 2.6e8 * mean / 1000.0).round();
            for _ in 0..SAMPLES {
                ticks += (mean + spread * rng.normal()).round().max(0.0);
                out.push(ticks / 100.0);
            }
        }
        Kind::NetBytes => {
            let rate = rng.range(2e3, 2e5) * 10.0;
            let packet_size = rng.range(300.0, 1200.0);
            let packets = index % 2 == 1;
            let mut total = rng.range(1e9, 1e12).round();
            for _ in 0..SAMPLES {
                let burst = if rng.chance(0.05) { rng.range(5.0, 20.0) } else { 1.0 };
                let bytes = (rate * rng.range(0.3, 1.7) * burst).round();
                total += if packets { (bytes / packet_size).round() } else { bytes };
                out.push(total);
            }
        }
        Kind::Disk => {
            let ops_rate = rng.range(1.0, 60.0);
            let mut total = rng.range(1e6, 1e9).round();
            for _ in 0..SAMPLES {
                let ops = (ops_rate * rng.range(0.0, 2.0)).round();
                let v = match index % 3 {
                    // Operations.
                    0 => {
                        total += ops;
                        total
                    }
                    // Bytes: sectors of 512 bytes, mostly in whole 4 KiB pages (8 sectors).
                    1 => {
                        let odd_sector = if rng.chance(0.1) { 1.0 } else { 0.0 };
                        total += ops * 8.0 * rng.range(1.0, 16.0).round() + odd_sector;
                        total * 512.0
                    }
                    // Seconds: milliseconds times 0.001, as node_exporter computes them.
                    _ => {
                        total += (ops * rng.range(0.1, 4.0)).round();
                        total * 0.001
                    }
                };
                out.push(v);
            }
        }
        Kind::MemBytes => {
            let step_pages = rng.range(1.0, 2000.0);
            let moves = rng.range(0.3, 1.0);
            let mut pages = rng.range(1e4, 4e6).round();
            for _ in 0..SAMPLES {
                if rng.chance(moves) {
                    pages = (pages + (step_pages * rng.normal()).round()).max(0.0);
                }
                out.push(pages * 4096.0);
            }
        }
        Kind::Load => {
            let decay = (-10.0 / [60.0f64, 300.0, 900.0][index % 3]).exp();
            let mut runnable: f64 = rng.range(0.0, 4.0);
            let mut load = runnable;
            for _ in 0..SAMPLES {
                runnable = (runnable + rng.normal() * 0.5).clamp(0.0, 8.0);
                let now = (runnable + rng.normal()).max(0.0).round();
                load = load * decay + now * (1.0 - decay);
                out.push((load * 100.0).round() / 100.0);
            }
        }
        Kind::FsBytes => {
            let mut blocks = rng.range(1e5, 1e8).round();
            let moves = rng.range(0.05, 0.5);
            let step = rng.range(1.0, 5000.0);
            for _ in 0..SAMPLES {
                if rng.chance(moves) {
                    blocks = (blocks + (step * rng.normal()).round()).max(0.0);
                }
                out.push(blocks * 4096.0);
            }
        }
        Kind::RareCounter => {
            let p = rng.range(0.001, 0.05);
            let mut total = if rng.chance(0.5) { 0.0 } else { rng.range(1.0, 1e5).round() };
            for _ in 0..SAMPLES {
                if rng.chance(p) {
                    total += rng.range(1.0, 4.0).round();
                }
                out.push(total);
            }
        }
        Kind::Constant => {
            const VALUES: [f64; 8] = [1.0, 0.0, 1500.0, 8_345_178_112.0, 1.712e9, 2.4e9, 65536.0, 0.5];
            out.resize(SAMPLES, VALUES[index % VALUES.len()]);
        }
        Kind::Duration => {
            let typical_ns = rng.range(1e4, 5e6);
            for _ in 0..SAMPLES {
                let ns = (typical_ns * rng.range(0.5, 1.5) * if rng.chance(0.02) { 10.0 } else { 1.0 }).round();
                out.push(ns / 1e9);
            }
        }
        Kind::RandomFloat => {
            let mut v = rng.range(0.0, 100.0);
            for _ in 0..SAMPLES {
                v += rng.normal();
                out.push(v);
            }
        }
    }
    out
}

/// Scrape timestamps: a 10 s grid plus a few milliseconds of scheduling delay (`jitter_ms` at most).
fn timestamps(rng: &mut Rng, jitter_ms: u64) -> Vec<i64> {
    let start = 1_700_000_000_000i64;
    (0..SAMPLES as i64).map(|n| start + n * INTERVAL_MS + (rng.next_u64() % (jitter_ms + 1)) as i64).collect()
}

/// Totals for one encoding and chunk size.
#[derive(Clone, Copy, Default)]
struct Totals {
    bytes: usize,
    samples: usize,
    append: Duration,
    decode: Duration,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.bytes += other.bytes;
        self.samples += other.samples;
        self.append += other.append;
        self.decode += other.decode;
    }

    fn per_sample(&self) -> f64 {
        self.bytes as f64 / self.samples as f64
    }
}

/// Encodes a series in chunks of `chunk_size` samples, then decodes every chunk and checks it against the input.
fn encode_series(ts: &[i64], vs: &[f64], chunk_size: usize, encoding: Encoding) -> Totals {
    let mut totals = Totals { samples: ts.len(), ..Totals::default() };
    for (t_chunk, v_chunk) in ts.chunks(chunk_size).zip(vs.chunks(chunk_size)) {
        let started = Instant::now();
        let mut app = ChunkAppender::with_encoding(encoding);
        for (&t, &v) in t_chunk.iter().zip(v_chunk) {
            app.append(t, v).expect("generated timestamps increase");
        }
        totals.append += started.elapsed();
        totals.bytes += app.bytes().len();

        let started = Instant::now();
        let chunk = Chunk::from_bytes(app.bytes()).expect("a fresh chunk is valid");
        let mut sum = 0i64;
        for sample in chunk.iter() {
            sum = sum.wrapping_add(sample.expect("a fresh chunk decodes").0);
        }
        totals.decode += started.elapsed();
        std::hint::black_box(sum);

        let decoded: Vec<(i64, f64)> = chunk.iter().collect::<Result<_, _>>().expect("a fresh chunk decodes");
        let same = decoded.len() == t_chunk.len()
            && decoded
                .iter()
                .zip(t_chunk.iter().zip(v_chunk))
                .all(|(d, (t, v))| d.0 == *t && d.1.to_bits() == v.to_bits());
        assert!(same, "{encoding:?} chunk did not round-trip");
    }
    totals
}

const ENCODINGS: [Encoding; 2] = [Encoding::Gorilla, Encoding::Compact];

/// Totals indexed by series kind, chunk size and encoding.
type Table = Vec<[[Totals; 2]; CHUNK_SIZES.len()]>;

fn measure(jitter_ms: u64) -> Table {
    let mut table = vec![[[Totals::default(); 2]; CHUNK_SIZES.len()]; KINDS.len()];
    for host in 0..HOSTS {
        let mut rng = Rng::new(host + 1);
        let ts = timestamps(&mut rng, jitter_ms);
        for (k, &(kind, _, count)) in KINDS.iter().enumerate() {
            for index in 0..count {
                let vs = values(kind, index, &mut rng);
                for (c, &size) in CHUNK_SIZES.iter().enumerate() {
                    for (e, &encoding) in ENCODINGS.iter().enumerate() {
                        table[k][c][e].add(encode_series(&ts, &vs, size, encoding));
                    }
                }
            }
        }
    }
    table
}

/// Sums the kinds in the node_exporter-like mix.
fn mix(table: &Table) -> [[Totals; 2]; CHUNK_SIZES.len()] {
    let mut sum = [[Totals::default(); 2]; CHUNK_SIZES.len()];
    for (row, &(kind, _, _)) in table.iter().zip(&KINDS) {
        if kind == Kind::RandomFloat {
            continue;
        }
        for (sum_size, row_size) in sum.iter_mut().zip(row) {
            for (s, r) in sum_size.iter_mut().zip(row_size) {
                s.add(*r);
            }
        }
    }
    sum
}

fn row(name: &str, series: usize, cells: &[[Totals; 2]; CHUNK_SIZES.len()], bold: bool) -> String {
    let mark = if bold { "**" } else { "" };
    let mut line = format!("| {mark}{name}{mark} | {series} |");
    for sizes in cells {
        for totals in sizes {
            line += &format!(" {mark}{:.3}{mark} |", totals.per_sample());
        }
    }
    line
}

/// Reads recorded scrapes: series name and labels to samples, in time order.
fn read_scrapes(dir: &Path) -> std::io::Result<BTreeMap<String, Vec<(i64, f64)>>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if let Ok(t) = stem.parse::<i64>() {
            files.push((t, path));
        }
    }
    files.sort();
    let mut series: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (t, path) in files {
        for line in std::fs::read_to_string(path)?.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else { continue };
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => match other.parse() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
            };
            series.entry(key.to_string()).or_default().push((t, value));
        }
    }
    Ok(series)
}

/// Prints bytes per sample of recorded scrapes, as recorded and with timestamps moved onto a 10 s grid.
fn measure_scrapes(dir: &Path) -> std::io::Result<()> {
    let series = read_scrapes(dir)?;
    let longest = series.values().map(Vec::len).max().unwrap_or(0);
    println!("{} series, up to {longest} samples each, from {}", series.len(), dir.display());
    println!();
    println!("| chunk size | timestamps | series | samples | Gorilla | compact |");
    println!("|---:|---|---:|---:|---:|---:|");
    for size in CHUNK_SIZES.into_iter().filter(|&size| size <= longest) {
        for on_grid in [false, true] {
            let mut totals = [Totals::default(); 2];
            let mut count = 0;
            for samples in series.values().filter(|s| s.len() >= size) {
                // Whole chunks only, so that every series is measured over the same span.
                let used = &samples[..samples.len() / size * size];
                let ts: Vec<i64> = if on_grid {
                    (0..used.len() as i64).map(|n| used[0].0 + n * INTERVAL_MS).collect()
                } else {
                    used.iter().map(|s| s.0).collect()
                };
                let vs: Vec<f64> = used.iter().map(|s| s.1).collect();
                for (total, encoding) in totals.iter_mut().zip(ENCODINGS) {
                    total.add(encode_series(&ts, &vs, size, encoding));
                }
                count += 1;
            }
            let timestamps = if on_grid { "on the grid" } else { "as recorded" };
            let [g, c] = totals;
            println!(
                "| {size} | {timestamps} | {count} | {} | {:.3} | {:.3} |",
                g.samples,
                g.per_sample(),
                c.per_sample()
            );
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir] = args.as_slice() {
        if flag == "--scrapes" {
            if let Err(e) = measure_scrapes(Path::new(dir)) {
                eprintln!("cannot read scrapes from {dir}: {e}");
                std::process::exit(1);
            }
            return;
        }
    }
    println!("Bytes per sample over {HOSTS} simulated hosts x 24 h at a 10 s interval (timestamps 0-4 ms late).");
    println!("G = Gorilla (Prometheus XOR chunk), C = compact; 120, 240, 480 samples per chunk.");
    println!();
    println!("| series kind | series | G 120 | C 120 | G 240 | C 240 | G 480 | C 480 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let table = measure(4);
    for (cells, &(_, name, count)) in table.iter().zip(&KINDS) {
        println!("{}", row(name, count * HOSTS as usize, cells, false));
    }
    let mixed = mix(&table);
    let mix_series = mixed[0][0].samples / SAMPLES;
    println!("{}", row("node_exporter-like mix", mix_series, &mixed, true));
    // Prometheus 2.42 snaps scrape timestamps within 2 ms of the grid onto it; the same data without jitter:
    println!("{}", row("mix, timestamps on the grid", mix_series, &mix(&measure(0)), false));

    println!();
    for (e, encoding) in ENCODINGS.iter().enumerate() {
        let t = mixed[0][e];
        let ns = |d: Duration| d.as_nanos() as f64 / t.samples as f64;
        println!(
            "{encoding:?}, 120-sample chunks: append {:.1} ns/sample, decode {:.1} ns/sample",
            ns(t.append),
            ns(t.decode)
        );
    }
}
