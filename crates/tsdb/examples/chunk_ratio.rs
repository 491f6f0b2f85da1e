//! Measures bytes per sample of the chunk encodings on synthetic node_exporter-like series (24 h at a 10 s
//! scrape interval with a few milliseconds of timestamp jitter) for 120-, 240- and 480-sample chunks: whole
//! chunks as the head keeps them (Gorilla, compact), and values chunks as blocks store them (timestamps in a
//! shared column, not counted; compact, and packed in the grouped and the split grouped encoding).
//! Run with `cargo run --release -p vigil-tsdb --example chunk_ratio`; it ends with the decode throughput, which
//! `-- --decode` prints alone.
//!
//! With `-- --scrapes DIR` it measures recorded scrapes instead: one file of text exposition per scrape, named by
//! its time in milliseconds, e.g. recorded with
//! `while sleep 10; do curl -s localhost:9100/metrics > DIR/$(date +%s%3N); done`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use vigil_tsdb::chunk::{Chunk, ChunkAppender, Encoding};

#[path = "support/node_like.rs"]
mod node_like;

use node_like::{Kind, Rng, INTERVAL_MS, KINDS};

/// Chunks' bytes indexed by chunk size and encoding.
type ChunkSets = [[Vec<Vec<u8>>; FORMATS.len()]; CHUNK_SIZES.len()];

/// Decodes chunks into a buffer of (timestamp, value bits); returns the samples decoded.
type Decoder = fn(&[Vec<u8>], &mut Vec<(i64, u64)>) -> usize;

/// Samples per series: 24 hours at one sample every 10 seconds.
const SAMPLES: usize = 8640;
/// The first scrape's time in milliseconds since the epoch.
const START_MS: i64 = 1_700_000_000_000;
/// Simulated hosts; each has every series of the mix with its own random parameters.
const HOSTS: u64 = 4;
const CHUNK_SIZES: [usize; 3] = [120, 240, 480];

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

/// How a chunk is stored.
#[derive(Clone, Copy, Debug)]
enum Format {
    /// A whole chunk in this encoding.
    Whole(Encoding),
    /// A compact values chunk: the values at timestamps 0, 1, 2, …
    Values,
    /// A values chunk packed in `Grouped` or `Split`, where that applies.
    Packed(Encoding),
}

const FORMATS: [Format; 5] = [
    Format::Whole(Encoding::Gorilla),
    Format::Whole(Encoding::Compact),
    Format::Values,
    Format::Packed(Encoding::Grouped),
    Format::Packed(Encoding::Split),
];

/// The short names of `FORMATS` in the tables.
const FORMAT_NAMES: [&str; 5] = ["G", "C", "CV", "GV", "SV"];

/// One chunk of samples in `format`.
fn encode_chunk(format: Format, ts: &[i64], vs: &[f64]) -> Vec<u8> {
    let encoding = if let Format::Whole(encoding) = format { encoding } else { Encoding::Compact };
    let mut app = ChunkAppender::with_encoding(encoding);
    for (i, (&t, &v)) in ts.iter().zip(vs).enumerate() {
        let t = if let Format::Whole(_) = format { t } else { i as i64 };
        app.append(t, v).expect("generated timestamps increase");
    }
    match format {
        Format::Packed(encoding) => {
            let chunk = Chunk::from_bytes(app.bytes()).expect("a fresh chunk is valid");
            chunk.pack_as(encoding).expect("a fresh chunk packs").unwrap_or_else(|| app.bytes().to_vec())
        }
        _ => app.bytes().to_vec(),
    }
}

/// Encodes a series in chunks of `chunk_size` samples, then decodes every chunk and checks it against the input.
fn encode_series(ts: &[i64], vs: &[f64], chunk_size: usize, format: Format) -> Totals {
    let mut totals = Totals { samples: ts.len(), ..Totals::default() };
    for (t_chunk, v_chunk) in ts.chunks(chunk_size).zip(vs.chunks(chunk_size)) {
        let started = Instant::now();
        let bytes = encode_chunk(format, t_chunk, v_chunk);
        totals.append += started.elapsed();
        totals.bytes += bytes.len();

        let started = Instant::now();
        let chunk = Chunk::from_bytes(&bytes).expect("a fresh chunk is valid");
        let mut sum = 0i64;
        for sample in chunk.iter() {
            sum = sum.wrapping_add(sample.expect("a fresh chunk decodes").0);
        }
        totals.decode += started.elapsed();
        std::hint::black_box(sum);

        let decoded: Vec<(i64, f64)> = chunk.iter().collect::<Result<_, _>>().expect("a fresh chunk decodes");
        let whole = matches!(format, Format::Whole(_));
        let same = decoded.len() == t_chunk.len()
            && decoded
                .iter()
                .zip(t_chunk.iter().zip(v_chunk))
                .enumerate()
                .all(|(i, (d, (t, v)))| d.0 == if whole { *t } else { i as i64 } && d.1.to_bits() == v.to_bits());
        assert!(same, "{format:?} chunk did not round-trip");
    }
    totals
}

/// Totals indexed by series kind, chunk size and encoding.
type Table = Vec<[[Totals; FORMATS.len()]; CHUNK_SIZES.len()]>;

fn measure(jitter_ms: u64) -> Table {
    let mut table = vec![[[Totals::default(); FORMATS.len()]; CHUNK_SIZES.len()]; KINDS.len()];
    for host in 0..HOSTS {
        let mut rng = Rng::new(host + 1);
        let ts = node_like::timestamps(START_MS, SAMPLES, &mut rng, jitter_ms);
        for (k, &(kind, _, count)) in KINDS.iter().enumerate() {
            for index in 0..count {
                let vs = node_like::values(kind, index, &mut rng, SAMPLES);
                for (c, &size) in CHUNK_SIZES.iter().enumerate() {
                    for (e, &format) in FORMATS.iter().enumerate() {
                        table[k][c][e].add(encode_series(&ts, &vs, size, format));
                    }
                }
            }
        }
    }
    table
}

/// Sums the kinds in the node_exporter-like mix.
fn mix(table: &Table) -> [[Totals; FORMATS.len()]; CHUNK_SIZES.len()] {
    let mut sum = [[Totals::default(); FORMATS.len()]; CHUNK_SIZES.len()];
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

fn row(name: &str, series: usize, cells: &[[Totals; FORMATS.len()]; CHUNK_SIZES.len()], bold: bool) -> String {
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
    println!(
        "| chunk size | timestamps | series | samples | Gorilla | compact | compact values | grouped values | split \
         values |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for size in CHUNK_SIZES.into_iter().filter(|&size| size <= longest) {
        for on_grid in [false, true] {
            let mut totals = [Totals::default(); FORMATS.len()];
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
                for (total, format) in totals.iter_mut().zip(FORMATS) {
                    total.add(encode_series(&ts, &vs, size, format));
                }
                count += 1;
            }
            let timestamps = if on_grid { "on the grid" } else { "as recorded" };
            let cells: Vec<String> = totals.iter().map(|t| format!("{:.3}", t.per_sample())).collect();
            println!("| {size} | {timestamps} | {count} | {} | {} |", totals[0].samples, cells.join(" | "));
        }
    }
    Ok(())
}

/// Rounds of decode timing. The fastest is reported: slower ones measure other work on the machine.
const DECODE_ROUNDS: usize = 9;

/// CPU time of the calling thread, which unlike wall time leaves out time other processes ran instead.
fn thread_cpu() -> Duration {
    // SAFETY: `timespec` is plain data, valid when zeroed.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live, writable `timespec`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The chunks of one host's node_exporter-like mix, and of its `node_cpu_seconds_total` series alone.
fn host_chunks() -> (ChunkSets, ChunkSets) {
    let mut mix: ChunkSets = Default::default();
    let mut cpu: ChunkSets = Default::default();
    let mut rng = Rng::new(1);
    let ts = node_like::timestamps(START_MS, SAMPLES, &mut rng, 4);
    for (kind, index) in node_like::host_mix() {
        let vs = node_like::values(kind, index, &mut rng, SAMPLES);
        for (c, &size) in CHUNK_SIZES.iter().enumerate() {
            for (e, &format) in FORMATS.iter().enumerate() {
                for (t_chunk, v_chunk) in ts.chunks(size).zip(vs.chunks(size)) {
                    let bytes = encode_chunk(format, t_chunk, v_chunk);
                    if kind == Kind::CpuSeconds {
                        cpu[c][e].push(bytes.clone());
                    }
                    mix[c][e].push(bytes);
                }
            }
        }
    }
    (mix, cpu)
}

/// Decodes every chunk with [`Chunk::iter`] into `out` as (timestamp, value bits); returns the samples decoded.
fn decode_iter(chunks: &[Vec<u8>], out: &mut Vec<(i64, u64)>) -> usize {
    let mut samples = 0;
    for bytes in chunks {
        out.clear();
        for sample in Chunk::from_bytes(bytes).expect("a fresh chunk is valid").iter() {
            let (t, v) = sample.expect("a fresh chunk decodes");
            out.push((t, v.to_bits()));
        }
        samples += std::hint::black_box(&*out).len();
    }
    samples
}

/// Decodes every chunk with [`Chunk::decode_into`]; returns the samples decoded.
fn decode_bulk(chunks: &[Vec<u8>], out: &mut Vec<(i64, u64)>) -> usize {
    let mut samples = 0;
    for bytes in chunks {
        out.clear();
        let chunk = Chunk::from_bytes(bytes).expect("a fresh chunk is valid");
        chunk.decode_into(i64::MIN, i64::MAX, out).expect("a fresh chunk decodes");
        samples += std::hint::black_box(&*out).len();
    }
    samples
}

/// The table columns after the first ones: a format's short name and a chunk size, e.g. ` G 120 |`.
fn size_columns() -> String {
    CHUNK_SIZES.iter().flat_map(|size| FORMAT_NAMES.iter().map(move |name| format!(" {name} {size} |"))).collect()
}

/// Prints ns per decoded sample for each encoding and chunk size, the fastest of `DECODE_ROUNDS` rounds.
fn decode_report() {
    let (mix, cpu) = host_chunks();
    let decoders: [(&str, Decoder); 2] = [("iter", decode_iter), ("decode_into", decode_bulk)];
    let sets = [("node_exporter-like mix", &mix), ("cpu seconds only", &cpu)];
    let mut best = vec![[[f64::INFINITY; FORMATS.len()]; CHUNK_SIZES.len()]; sets.len() * decoders.len()];
    let mut out = Vec::new();
    for _ in 0..DECODE_ROUNDS {
        for (s, (_, set)) in sets.iter().enumerate() {
            for (d, (_, decode)) in decoders.iter().enumerate() {
                for (c, sizes) in set.iter().enumerate() {
                    for (e, chunks) in sizes.iter().enumerate() {
                        let started = thread_cpu();
                        let samples = decode(chunks, &mut out);
                        let ns = (thread_cpu() - started).as_nanos() as f64 / samples as f64;
                        let cell = &mut best[s * decoders.len() + d][c][e];
                        *cell = cell.min(ns);
                    }
                }
            }
        }
    }
    println!("Decode ns/sample (thread CPU time), one host x 24 h, fastest of {DECODE_ROUNDS} rounds:");
    println!();
    println!("| series | decoder |{}", size_columns());
    println!("|---|---|{}", "---:|".repeat(FORMATS.len() * CHUNK_SIZES.len()));
    for (s, (set_name, _)) in sets.iter().enumerate() {
        for (d, (decoder_name, _)) in decoders.iter().enumerate() {
            let mut line = format!("| {set_name} | {decoder_name} |");
            for sizes in &best[s * decoders.len() + d] {
                for ns in sizes {
                    line += &format!(" {ns:.1} |");
                }
            }
            println!("{line}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--decode"] {
        decode_report();
        return;
    }
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
    println!("G = Gorilla (Prometheus XOR chunk), C = compact; CV = compact values chunk, GV = grouped values chunk,");
    println!("SV = split grouped values chunk (timestamps not counted); 120, 240, 480 samples per chunk.");
    println!();
    println!("| series kind | series |{}", size_columns());
    println!("|---|---:|{}", "---:|".repeat(FORMATS.len() * CHUNK_SIZES.len()));
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
    for (e, format) in FORMATS.iter().enumerate() {
        let t = mixed[0][e];
        let ns = |d: Duration| d.as_nanos() as f64 / t.samples as f64;
        println!(
            "{format:?}, 120-sample chunks: append {:.1} ns/sample, decode {:.1} ns/sample",
            ns(t.append),
            ns(t.decode)
        );
    }
    println!();
    decode_report();
}
