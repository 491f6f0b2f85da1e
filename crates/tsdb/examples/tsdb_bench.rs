//! The storage engine benchmark: ingests hours of node_exporter-like data into a [`Db`] the way a server fed by
//! remote_write would, then reports ingest throughput and CPU cost, memory per active series, bytes on disk per
//! sample after compaction, and query latencies.
//!
//! Run with
//! `cargo run --release -p vigil-tsdb --example tsdb_bench -- [--series N] [--hours H] [--threads T] [--dir PATH]
//! [--batch S]`. Defaults: 100000 series, 24 hours, 2 writer threads, a temporary directory under /tmp removed at
//! the end, about 5000 samples per append. A quick run: `-- --series 10000 --hours 4`.
//!
//! - **Data**: hosts of 355 series each (the mix of `support/node_like.rs`: CPU, network, disk, memory, load,
//!   filesystem, rare counters, constants, scrape durations) with `instance`, `job="node"` and per-family labels.
//!   Every host is scraped every 10 s at its own phase plus 0-4 ms of jitter; all its series share that
//!   timestamp. The first scrape is at 12:00 UTC, so a 24 h run crosses a day boundary and sees every
//!   compaction level and downsampling.
//! - **Ingest**: in time order, scrape round after scrape round. Each host's samples of a round are a batch;
//!   batches of whole hosts are grouped into `Db::append` calls of about `--batch` samples. The hosts are split
//!   among `--threads` writer threads, which meet at a barrier every simulated minute so that they stay well
//!   inside the head's out-of-order window. A separate thread calls `Db::maintain` every 10 simulated minutes,
//!   as a server would, so the head is persisted and compacted while ingesting. CPU time is the process's
//!   (`getrusage`); the writers' time spent generating values is measured with the thread CPU clock and reported
//!   separately, so that the engine's own cost per sample can be told apart.
//! - **After ingest**: `Db::maintain` runs until it has nothing left to do. Memory is the growth of VmRSS since
//!   just before the database was opened (the generators already built), divided by the head's series, split
//!   into anonymous memory and file pages (`RssAnon`, `RssFile`: mapped block and head chunk files, and the
//!   program's own code), next to the growth of the live heap (a counting global allocator) and the engine's own
//!   `head_bytes` estimate; anonymous memory minus live heap is what the allocator keeps. The peak RSS
//!   (`VmHWM`) is that of the whole run, maintenance included.
//! - **Disk**: the blocks under `<dir>/blocks/` by resolution (`raw-`, `5m-`, `1h-`), with sample counts from
//!   each block's `meta.json`; bytes per sample = raw block bytes / raw block samples. The samples still in the
//!   head are counted by a query and checked against the appended total.
//! - **Queries**: `node_cpu_seconds_total` of enough hosts for about 1000 series; `select` plus decoding every
//!   sample over the last hour and over the whole run, and a 5-minute `select_downsampled` over the whole run.
//!
//! The last line is machine-readable: `RESULT key=value ...`.

#[path = "support/node_like.rs"]
mod node_like;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::backend::FsBackend;
use vigil_tsdb::block::Block;
use vigil_tsdb::{Aggregate, Db, DbOptions, DbStats, MaintainReport, Resolution, Sample, SeriesBatch};

use node_like::{Rng, SeriesGen, INTERVAL_MS};

const HOUR_MS: i64 = 3_600_000;
/// The first scrape round: 2023-11-14 12:00 UTC.
const START_MS: i64 = 1_699_963_200_000;
/// The most a scrape is late, in milliseconds.
const JITTER_MS: u64 = 4;
const ROUNDS_PER_HOUR: u64 = (HOUR_MS / INTERVAL_MS) as u64;
/// Writer threads meet every simulated minute.
const ROUNDS_PER_BARRIER: u64 = 6;
/// Maintenance runs every 10 simulated minutes.
const ROUNDS_PER_MAINTAIN: u64 = 60;
/// How many series the queries select, about.
const QUERY_SERIES: usize = 1000;
const QUERY_RUNS: usize = 10;
/// `node_cpu_seconds_total` series per host: 4 CPUs, 8 modes.
const CPU_SERIES_PER_HOST: usize = 32;

/// Maintenance calls taking longer than this are reported as they happen.
const SLOW_MAINTAIN: Duration = Duration::from_secs(5);

/// The system allocator, counting the bytes currently allocated and the most allocated at once, so that the
/// heap the program really uses can be told apart from what the allocator keeps from the system (RSS).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The most allocated at once since the current maintenance call started.
static MAINTAIN_PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
    MAINTAIN_PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the layout is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the layout is passed through unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The command line.
struct Args {
    series: usize,
    hours: u64,
    threads: usize,
    dir: Option<PathBuf>,
    batch: usize,
}

const USAGE: &str = "usage: tsdb_bench [--series N] [--hours H] [--threads T] [--dir PATH] [--batch SAMPLES]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args { series: 100_000, hours: 24, threads: 2, dir: None, batch: 5000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().ok().filter(|&n| n > 0).ok_or(format!("invalid {flag}: {value:?}"));
        match flag.as_str() {
            "--series" => args.series = number()? as usize,
            "--hours" => args.hours = number()?,
            "--threads" => args.threads = number()? as usize,
            "--batch" => args.batch = number()? as usize,
            "--dir" => args.dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = parse_args().unwrap_or_else(|msg| {
        eprintln!("{msg}\n{USAGE}");
        std::process::exit(2);
    });
    let (dir, _temp) = match &args.dir {
        Some(dir) => {
            let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
            if !empty {
                eprintln!("{} is not empty; the benchmark needs a fresh database directory", dir.display());
                std::process::exit(2);
            }
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("vigil-tsdb-bench-").tempdir_in("/tmp").expect("temp dir");
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    run(&args, &dir);
}

fn run(args: &Args, dir: &Path) {
    let per_host = node_like::series_per_host();
    let hosts = args.series.div_ceil(per_host);
    let threads = args.threads.min(hosts);
    let rounds = args.hours * ROUNDS_PER_HOUR;
    eprintln!(
        "tsdb_bench: {} series ({hosts} hosts of up to {per_host}), {} h, {threads} writer threads, dir {}",
        args.series,
        args.hours,
        dir.display()
    );
    let mut writers = build_writers(args.series, hosts, threads, args.batch);
    let baseline = MemoryBaseline::now();

    let db = Db::open(dir, DbOptions::default()).expect("open the database");
    let ingest = ingest(&db, &mut writers, rounds);
    let settle = maintain_until_idle(&db);
    let memory = measure_memory(baseline);
    let stats = db.stats();
    drop(writers);

    let disk = disk_usage(&dir.join("blocks"));
    let (head_min, head_max) = (stats.head_min_t.unwrap_or(i64::MAX), stats.head_max_t.unwrap_or(i64::MIN));
    let in_head = if head_min <= head_max { count_samples(&db, &[job_matcher()], head_min, head_max).1 } else { 0 };

    let end = START_MS + rounds as i64 * INTERVAL_MS;
    let queries = run_queries(&db, hosts, end);
    let run = Run { args, hosts, threads, rounds, ingest, settle, memory, stats, disk, in_head, queries };
    print_summary(&run);
    println!("{}", result_line(&run));
    db.close().expect("close the database");
}

/// Everything measured, for the summary.
struct Run<'a> {
    args: &'a Args,
    hosts: usize,
    threads: usize,
    rounds: u64,
    ingest: IngestReport,
    /// Maintenance after the ingest.
    settle: MaintainTotals,
    memory: MemoryReport,
    stats: DbStats,
    disk: DiskUsage,
    /// Samples found in the head by a query after ingest.
    in_head: u64,
    queries: QueryReport,
}

// ---------------------------------------------------------------------------------------------------------------
// Data

/// One simulated host: its random stream, its scrape phase within the interval and its series, a range of the
/// writer's vectors.
struct Host {
    rng: Rng,
    phase_ms: i64,
    series: Range<usize>,
}

/// The hosts one writer thread sends, with a value generator and a reusable one-sample batch per series.
struct Writer {
    hosts: Vec<Host>,
    gens: Vec<SeriesGen>,
    batches: Vec<SeriesBatch>,
    /// The ranges of `batches` sent by one `Db::append` each: whole hosts, about `--batch` samples.
    appends: Vec<Range<usize>>,
}

impl Writer {
    /// Fills every batch with the host's sample of scrape round `round`.
    fn scrape(&mut self, round: u64) {
        let grid = START_MS + round as i64 * INTERVAL_MS;
        for host in &mut self.hosts {
            let t = grid + host.phase_ms + host.rng.jitter(JITTER_MS);
            for i in host.series.clone() {
                let v = self.gens[i].next(&mut host.rng);
                self.batches[i].samples[0] = Sample { t, v };
            }
        }
    }
}

fn instance(host: usize) -> String {
    format!("host-{host:05}:9100")
}

/// Builds the hosts, dealt round-robin to `threads` writers.
fn build_writers(series: usize, hosts: usize, threads: usize, batch: usize) -> Vec<Writer> {
    let mut writers: Vec<Writer> = (0..threads)
        .map(|_| Writer { hosts: Vec::new(), gens: Vec::new(), batches: Vec::new(), appends: Vec::new() })
        .collect();
    let per_host = node_like::series_per_host();
    for h in 0..hosts {
        let w = &mut writers[h % threads];
        let mut rng = Rng::new(h as u64 + 1);
        let phase_ms = (rng.next_u64() % INTERVAL_MS as u64) as i64;
        let (first, name) = (w.batches.len(), instance(h));
        let count = per_host.min(series - h * per_host);
        for (kind, index) in node_like::host_mix().take(count) {
            w.gens.push(SeriesGen::new(kind, index, &mut rng));
            let labels = host_labels(&name, kind, index);
            w.batches.push(SeriesBatch { labels, samples: vec![Sample { t: 0, v: 0.0 }] });
        }
        w.hosts.push(Host { rng, phase_ms, series: first..w.batches.len() });
    }
    for w in &mut writers {
        w.appends = group_hosts(&w.hosts, batch);
    }
    check_unique_labels(&writers[0]);
    writers
}

fn host_labels(instance: &str, kind: node_like::Kind, index: usize) -> Labels {
    let (name, extra) = node_like::series_labels(kind, index);
    let mut pairs = vec![("__name__", name), ("instance", instance.to_string()), ("job", "node".to_string())];
    pairs.extend(extra);
    Labels::from_pairs(pairs).expect("generated labels are valid")
}

/// Groups consecutive whole hosts into appends of at least `batch` samples (the last may be smaller).
fn group_hosts(hosts: &[Host], batch: usize) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for host in hosts {
        if host.series.end - start >= batch {
            groups.push(start..host.series.end);
            start = host.series.end;
        }
    }
    if let Some(last) = hosts.last().filter(|h| h.series.end > start) {
        groups.push(start..last.series.end);
    }
    groups
}

/// A host whose series had equal label sets would have fewer series than the mix and duplicate samples.
fn check_unique_labels(writer: &Writer) {
    let Some(host) = writer.hosts.first() else { return };
    let unique: HashSet<&Labels> = writer.batches[host.series.clone()].iter().map(|b| &b.labels).collect();
    assert_eq!(unique.len(), host.series.len(), "the generated label sets of a host are not unique");
}

fn job_matcher() -> Matcher {
    Matcher::new(MatchOp::Equal, "job", "node").expect("valid matcher")
}

// ---------------------------------------------------------------------------------------------------------------
// Ingest

#[derive(Default)]
struct IngestReport {
    appended: u64,
    rejected: u64,
    appends: u64,
    wall: Duration,
    cpu: CpuTime,
    /// Thread CPU time the writers spent generating values.
    generate_cpu: Duration,
    maintain: MaintainTotals,
}

#[derive(Default)]
struct WriterTotals {
    appended: u64,
    rejected: u64,
    appends: u64,
    generate_cpu: Duration,
}

#[derive(Default)]
struct MaintainTotals {
    calls: u64,
    cpu: Duration,
    wall: Duration,
    longest: Duration,
    persisted: u64,
    checkpoints: u64,
    compacted: u64,
    downsampled: u64,
    /// The largest rise of the live heap during one call (other threads' allocations included), and that call.
    heap_rise: u64,
    heap_rise_call: Option<MaintainReport>,
}

impl MaintainTotals {
    fn add(&mut self, report: &MaintainReport, cpu: Duration, wall: Duration, heap_rise: u64) {
        if heap_rise > self.heap_rise {
            self.heap_rise = heap_rise;
            self.heap_rise_call = Some(report.clone());
        }
        self.calls += 1;
        self.cpu += cpu;
        self.wall += wall;
        self.longest = self.longest.max(wall);
        self.persisted += report.persisted;
        self.checkpoints += u64::from(report.checkpointed);
        self.compacted += report.compacted;
        self.downsampled += report.downsampled;
    }
}

/// Writes `rounds` scrape rounds with one thread per writer and a maintenance thread.
fn ingest(db: &Db, writers: &mut [Writer], rounds: u64) -> IngestReport {
    let barrier = &Barrier::new(writers.len());
    let cpu_before = CpuTime::process();
    let started = Instant::now();
    let (totals, maintain) = std::thread::scope(|s| {
        let (tick, ticks) = sync_channel(1);
        let maintainer = s.spawn(move || maintain_on_ticks(db, ticks));
        let handles: Vec<_> = writers
            .iter_mut()
            .enumerate()
            .map(|(i, w)| {
                let tick = (i == 0).then(|| tick.clone());
                s.spawn(move || run_writer(db, w, rounds, barrier, tick, started))
            })
            .collect();
        drop(tick);
        let totals: Vec<WriterTotals> = handles.into_iter().map(|h| h.join().expect("writer thread")).collect();
        (totals, maintainer.join().expect("maintenance thread"))
    });
    IngestReport {
        appended: totals.iter().map(|t| t.appended).sum(),
        rejected: totals.iter().map(|t| t.rejected).sum(),
        appends: totals.iter().map(|t| t.appends).sum(),
        wall: started.elapsed(),
        cpu: CpuTime::process().since(cpu_before),
        generate_cpu: totals.iter().map(|t| t.generate_cpu).sum(),
        maintain,
    }
}

/// One writer thread: scrape round after scrape round, generate then append. The first writer also asks for
/// maintenance and prints progress.
fn run_writer(
    db: &Db,
    w: &mut Writer,
    rounds: u64,
    barrier: &Barrier,
    tick: Option<SyncSender<()>>,
    started: Instant,
) -> WriterTotals {
    let mut totals = WriterTotals::default();
    for round in 0..rounds {
        let before = thread_cpu();
        w.scrape(round);
        totals.generate_cpu += thread_cpu().saturating_sub(before);
        for range in &w.appends {
            let report = db.append(&w.batches[range.clone()]).expect("append");
            if let Some(err) = report.first_error.as_ref().filter(|_| totals.rejected == 0) {
                eprintln!("first rejected sample: {err}");
            }
            totals.appended += report.appended;
            totals.rejected += report.rejected();
            totals.appends += 1;
        }
        let done = round + 1;
        if done % ROUNDS_PER_BARRIER == 0 {
            barrier.wait();
        }
        let Some(tick) = &tick else { continue };
        if done % ROUNDS_PER_MAINTAIN == 0 {
            // A full channel means maintenance is still busy with the previous request; skip this one.
            let _ = tick.try_send(());
        }
        if done % ROUNDS_PER_HOUR == 0 {
            let appended = db.stats().samples_appended;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  {:>3} h of data in {secs:>6.1} s: {} samples, {}/s",
                done / ROUNDS_PER_HOUR,
                si(appended as f64),
                si(appended as f64 / secs)
            );
        }
    }
    totals
}

/// Runs maintenance whenever the first writer asks, until the writers are done.
fn maintain_on_ticks(db: &Db, ticks: Receiver<()>) -> MaintainTotals {
    let mut totals = MaintainTotals::default();
    for () in ticks {
        maintain_once(db, &mut totals);
    }
    totals
}

fn maintain_once(db: &Db, totals: &mut MaintainTotals) -> MaintainReport {
    let heap_before = LIVE.load(Ordering::Relaxed);
    MAINTAIN_PEAK.store(heap_before, Ordering::Relaxed);
    let (cpu, wall) = (thread_cpu(), Instant::now());
    let report = db.maintain().expect("maintain");
    let (cpu, wall) = (thread_cpu().saturating_sub(cpu), wall.elapsed());
    let heap_rise = MAINTAIN_PEAK.load(Ordering::Relaxed).saturating_sub(heap_before) as u64;
    if wall > SLOW_MAINTAIN {
        eprintln!(
            "  maintain took {:.1} s ({:.1} s CPU, heap rose up to {}): {report:?}",
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            mib(heap_rise)
        );
    }
    totals.add(&report, cpu, wall, heap_rise);
    report
}

/// Runs maintenance until it has nothing left to do.
fn maintain_until_idle(db: &Db) -> MaintainTotals {
    let mut totals = MaintainTotals::default();
    while maintain_once(db, &mut totals) != MaintainReport::default() {}
    totals
}

// ---------------------------------------------------------------------------------------------------------------
// Memory and disk

/// Memory just before the database is opened.
struct MemoryBaseline {
    rss: u64,
    anon: u64,
    file: u64,
    heap: u64,
}

impl MemoryBaseline {
    fn now() -> MemoryBaseline {
        let heap = LIVE.load(Ordering::Relaxed);
        PEAK.store(heap, Ordering::Relaxed);
        let (anon, file) = (status_bytes("RssAnon:"), status_bytes("RssFile:"));
        MemoryBaseline { rss: rss_bytes(), anon, file, heap: heap as u64 }
    }
}

struct MemoryReport {
    baseline: MemoryBaseline,
    rss_after: u64,
    /// Anonymous memory only, without mapped block files.
    anon_after: u64,
    /// Pages of mapped files (blocks, head chunk files, the executable).
    file_after: u64,
    /// The most RSS at any time (VmHWM), since the process started.
    rss_peak: u64,
    /// Bytes allocated and not freed, and the most at any time since the baseline.
    heap_after: u64,
    heap_peak: u64,
    /// After giving freed heap memory back to the system, where the allocator can.
    rss_trimmed: Option<u64>,
}

fn measure_memory(baseline: MemoryBaseline) -> MemoryReport {
    MemoryReport {
        baseline,
        rss_after: rss_bytes(),
        anon_after: status_bytes("RssAnon:"),
        file_after: status_bytes("RssFile:"),
        rss_peak: status_bytes("VmHWM:"),
        heap_after: LIVE.load(Ordering::Relaxed) as u64,
        heap_peak: PEAK.load(Ordering::Relaxed) as u64,
        rss_trimmed: trim_heap().then(rss_bytes),
    }
}

/// Returns freed heap memory to the system (glibc only); `false` where that is not possible.
fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe { libc::malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// VmRSS of this process, in bytes.
fn rss_bytes() -> u64 {
    status_bytes("VmRSS:")
}

/// A size from `/proc/self/status`, such as `VmRSS:`, in bytes; 0 if missing.
fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kib.unwrap_or(0) * 1024
}

/// Blocks of one resolution.
#[derive(Default)]
struct BlockUsage {
    blocks: u64,
    bytes: u64,
    chunk_bytes: u64,
    index_bytes: u64,
    series: u64,
    samples: u64,
}

#[derive(Default)]
struct DiskUsage {
    raw: BlockUsage,
    five_minutes: BlockUsage,
    one_hour: BlockUsage,
    /// Anything else under `blocks/`, such as unfinished blocks.
    other_bytes: u64,
}

/// Walks `<dir>/blocks`, reading each block's statistics with the engine's block reader.
fn disk_usage(blocks_dir: &Path) -> DiskUsage {
    let mut usage = DiskUsage::default();
    for entry in std::fs::read_dir(blocks_dir).expect("list blocks").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = match name.split('-').next() {
            Some("raw") => &mut usage.raw,
            Some("5m") => &mut usage.five_minutes,
            Some("1h") => &mut usage.one_hour,
            _ => {
                usage.other_bytes += tree_bytes(&path);
                continue;
            }
        };
        let block = Block::open(Arc::new(FsBackend), &path).expect("open block");
        target.blocks += 1;
        target.bytes += tree_bytes(&path);
        target.chunk_bytes += file_bytes(&path.join("chunks"));
        target.index_bytes += file_bytes(&path.join("index"));
        target.series += block.meta().stats.series;
        target.samples += block.meta().stats.samples;
    }
    usage
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Bytes of the files under `path`.
fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    let entries = std::fs::read_dir(path).into_iter().flatten().flatten();
    entries.map(|e| tree_bytes(&e.path())).sum()
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

/// Median and 90th percentile of some runs of one query, with what it returned.
struct Timing {
    median: Duration,
    p90: Duration,
    series: u64,
    samples: u64,
}

struct QueryReport {
    selector: String,
    last_hour: Timing,
    whole: Timing,
    downsampled: Timing,
}

/// How many hosts the queries select: enough for about `QUERY_SERIES` series.
fn query_hosts(hosts: usize) -> usize {
    QUERY_SERIES.div_ceil(CPU_SERIES_PER_HOST).min(hosts)
}

/// `node_cpu_seconds_total` of the first `query_hosts` hosts.
fn query_matchers(hosts: usize) -> Vec<Matcher> {
    let instances: Vec<String> = (0..query_hosts(hosts)).map(instance).collect();
    vec![
        Matcher::new(MatchOp::Equal, "__name__", "node_cpu_seconds_total").expect("valid matcher"),
        Matcher::new(MatchOp::Regex, "instance", instances.join("|")).expect("valid matcher"),
    ]
}

fn run_queries(db: &Db, hosts: usize, end: i64) -> QueryReport {
    let matchers = query_matchers(hosts);
    let selector = format!(
        "{{__name__=\"node_cpu_seconds_total\", instance=~\"<{} hosts, one alternative each>\"}}",
        query_hosts(hosts)
    );
    let last_hour = time_runs(|| count_samples(db, &matchers, end - HOUR_MS, end));
    let whole = time_runs(|| count_samples(db, &matchers, START_MS, end));
    let downsampled = time_runs(|| {
        let result = db.select_downsampled(&matchers, START_MS, end, Resolution::FiveMinutes, Aggregate::Sum);
        let series = result.expect("select_downsampled");
        (series.len() as u64, series.iter().map(|s| s.samples.len() as u64).sum())
    });
    QueryReport { selector, last_hour, whole, downsampled }
}

/// Selects the series and decodes all their samples in `[mint, maxt]`; returns the series and sample counts.
fn count_samples(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> (u64, u64) {
    let querier = db.querier(mint, maxt);
    let (mut series, mut samples) = (0, 0);
    for s in querier.select(matchers).expect("select") {
        let s = s.expect("decode series");
        series += 1;
        samples += s.samples.len() as u64;
        std::hint::black_box(&s);
    }
    (series, samples)
}

fn time_runs(mut query: impl FnMut() -> (u64, u64)) -> Timing {
    let mut times = Vec::with_capacity(QUERY_RUNS);
    let mut counts = (0, 0);
    for _ in 0..QUERY_RUNS {
        let started = Instant::now();
        counts = query();
        times.push(started.elapsed());
    }
    times.sort();
    let p90 = times[(times.len() * 9).div_ceil(10) - 1];
    Timing { median: times[times.len() / 2], p90, series: counts.0, samples: counts.1 }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU time

/// User and system CPU time of the process.
#[derive(Clone, Copy, Default)]
struct CpuTime {
    user: Duration,
    system: Duration,
}

impl CpuTime {
    fn process() -> CpuTime {
        // SAFETY: `rusage` is plain data, valid when zeroed, and getrusage only writes into it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live, writable `rusage`.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        assert_eq!(rc, 0, "getrusage failed");
        let duration = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
        CpuTime { user: duration(usage.ru_utime), system: duration(usage.ru_stime) }
    }

    fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime { user: self.user.saturating_sub(earlier.user), system: self.system.saturating_sub(earlier.system) }
    }

    fn total(self) -> Duration {
        self.user + self.system
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: `timespec` is plain data, valid when zeroed.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live, writable `timespec`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/// A number with an SI suffix: 1.23 k, 4.56 M.
fn si(n: f64) -> String {
    match n.abs() {
        x if x >= 1e9 => format!("{:.2} G", n / 1e9),
        x if x >= 1e6 => format!("{:.2} M", n / 1e6),
        x if x >= 1e3 => format!("{:.2} k", n / 1e3),
        _ => format!("{n:.0}"),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a / b`, or 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Figures computed from the measurements, shared by the summary and the result line.
struct Derived {
    samples_per_s: f64,
    samples_per_cpu_s: f64,
    samples_per_cpu_s_engine: f64,
    engine_cpu: Duration,
    rss_per_series: f64,
    rss_trimmed_per_series: Option<f64>,
    /// Growth of anonymous and of file-backed RSS per head series.
    anon_per_series: f64,
    file_per_series: f64,
    /// Growth of the live heap (counting allocator) per head series.
    heap_per_series: f64,
    head_bytes_per_series: f64,
    bytes_per_sample: f64,
    chunk_bytes_per_sample: f64,
}

fn derive(run: &Run) -> Derived {
    let ingest = &run.ingest;
    let samples = ingest.appended as f64;
    let engine_cpu = ingest.cpu.total().saturating_sub(ingest.generate_cpu);
    let series = run.stats.head_series as f64;
    let grown = |rss: u64| ratio(rss.saturating_sub(run.memory.baseline.rss) as f64, series);
    let raw = &run.disk.raw;
    Derived {
        samples_per_s: ratio(samples, ingest.wall.as_secs_f64()),
        samples_per_cpu_s: ratio(samples, ingest.cpu.total().as_secs_f64()),
        samples_per_cpu_s_engine: ratio(samples, engine_cpu.as_secs_f64()),
        engine_cpu,
        rss_per_series: grown(run.memory.rss_after),
        rss_trimmed_per_series: run.memory.rss_trimmed.map(grown),
        anon_per_series: ratio(run.memory.anon_after.saturating_sub(run.memory.baseline.anon) as f64, series),
        file_per_series: ratio(run.memory.file_after.saturating_sub(run.memory.baseline.file) as f64, series),
        heap_per_series: ratio(run.memory.heap_after.saturating_sub(run.memory.baseline.heap) as f64, series),
        head_bytes_per_series: ratio(run.stats.head_bytes as f64, series),
        bytes_per_sample: ratio(raw.bytes as f64, raw.samples as f64),
        chunk_bytes_per_sample: ratio(raw.chunk_bytes as f64, raw.samples as f64),
    }
}

fn print_summary(run: &Run) {
    let d = derive(run);
    let (ingest, stats) = (&run.ingest, &run.stats);
    println!();
    println!(
        "vigil tsdb bench: {} series on {} hosts, {} h at 10 s ({} rounds), {} writer threads, ~{} samples/append",
        run.args.series, run.hosts, run.args.hours, run.rounds, run.threads, run.args.batch
    );
    println!();
    println!("ingest");
    println!("  samples appended        {} ({} rejected)", ingest.appended, ingest.rejected);
    println!("  wall time               {:.1} s", ingest.wall.as_secs_f64());
    println!(
        "  process CPU             {:.1} s (user {:.1} s, system {:.1} s)",
        ingest.cpu.total().as_secs_f64(),
        ingest.cpu.user.as_secs_f64(),
        ingest.cpu.system.as_secs_f64()
    );
    println!("    generating data       {:.1} s (writer threads)", ingest.generate_cpu.as_secs_f64());
    let m = &ingest.maintain;
    println!(
        "    maintenance           {:.1} s ({} calls, {:.1} s wall, longest {:.2} s)",
        m.cpu.as_secs_f64(),
        m.calls,
        m.wall.as_secs_f64(),
        m.longest.as_secs_f64()
    );
    println!("    engine (all but gen.) {:.1} s", d.engine_cpu.as_secs_f64());
    println!("  samples/s               {}", si(d.samples_per_s));
    println!(
        "  samples/s per core      {} (all CPU); {} (excluding generation)",
        si(d.samples_per_cpu_s),
        si(d.samples_per_cpu_s_engine)
    );
    println!(
        "  appends                 {} calls, {:.0} samples each",
        ingest.appends,
        ratio(ingest.appended as f64, ingest.appends as f64)
    );
    println!(
        "  WAL fsyncs              {} ({:.2} per append, {:.1} s in fsync), {} written",
        stats.wal_fsyncs,
        ratio(stats.wal_fsyncs as f64, ingest.appends as f64),
        stats.wal_fsync_seconds,
        mib(stats.wal_bytes_written)
    );
    println!(
        "  maintenance did         {} head persists, {} checkpoints, {} compactions, {} downsamplings",
        m.persisted, m.checkpoints, m.compacted, m.downsampled
    );
    if let Some(call) = &m.heap_rise_call {
        println!("  largest heap rise       {} in one maintain call: {call:?}", mib(m.heap_rise));
    }
    let s = &run.settle;
    println!(
        "  settling maintenance    {} calls, {:.1} s: {} persists, {} compactions, {} downsamplings",
        s.calls,
        s.wall.as_secs_f64(),
        s.persisted,
        s.compacted,
        s.downsampled
    );
    println!();
    print_memory(run, &d);
    println!();
    print_disk(run, &d);
    println!();
    print_queries(&run.queries);
}

fn print_memory(run: &Run, d: &Derived) {
    let (mem, stats) = (&run.memory, &run.stats);
    println!("memory ({} head series, head {:?}..{:?})", stats.head_series, stats.head_min_t, stats.head_max_t);
    let base = &mem.baseline;
    println!("  RSS before opening      {}", mib(base.rss));
    println!("  RSS after ingest        {} -> {:.0} bytes/series", mib(mem.rss_after), d.rss_per_series);
    println!("    of which anonymous    {} -> {:.0} bytes/series", mib(mem.anon_after), d.anon_per_series);
    println!("    of which file pages   {} -> {:.0} bytes/series", mib(mem.file_after), d.file_per_series);
    println!("  peak RSS (VmHWM)        {}", mib(mem.rss_peak));
    println!(
        "  live heap               {} -> {:.0} bytes/series (peak {} during ingest)",
        mib(mem.heap_after),
        d.heap_per_series,
        mib(mem.heap_peak)
    );
    if let (Some(trimmed), Some(per_series)) = (mem.rss_trimmed, d.rss_trimmed_per_series) {
        println!("  RSS after malloc_trim   {} -> {per_series:.0} bytes/series", mib(trimmed));
    }
    println!("  head_bytes (engine)     {} -> {:.0} bytes/series", mib(stats.head_bytes), d.head_bytes_per_series);
}

fn print_disk(run: &Run, d: &Derived) {
    let disk = &run.disk;
    println!("disk");
    println!("  | blocks | count | bytes | chunks | index | series | samples | bytes/sample |");
    for (name, u) in [("raw", &disk.raw), ("5m", &disk.five_minutes), ("1h", &disk.one_hour)] {
        println!(
            "  | {name} | {} | {} | {} | {} | {} | {} | {:.3} |",
            u.blocks,
            mib(u.bytes),
            mib(u.chunk_bytes),
            mib(u.index_bytes),
            u.series,
            u.samples,
            ratio(u.bytes as f64, u.samples as f64)
        );
    }
    if disk.other_bytes > 0 {
        println!("  other files under blocks/  {}", mib(disk.other_bytes));
    }
    println!("  blocks_bytes (engine)   {}", mib(run.stats.blocks_bytes));
    println!("  WAL on disk             {}", mib(run.stats.wal_bytes));
    println!(
        "  bytes/sample, raw       {:.3} ({:.3} in chunks) over {} samples in raw blocks",
        d.bytes_per_sample, d.chunk_bytes_per_sample, disk.raw.samples
    );
    let accounted = disk.raw.samples + run.in_head;
    let verdict = if accounted == run.ingest.appended { "ok" } else { "MISMATCH" };
    println!(
        "  check                   {} in raw blocks + {} in the head = {accounted}, appended {}: {verdict}",
        disk.raw.samples, run.in_head, run.ingest.appended
    );
}

fn print_queries(q: &QueryReport) {
    println!("queries ({QUERY_RUNS} runs each): {}", q.selector);
    println!("  | query | median ms | p90 ms | series | samples |");
    for (name, t) in [
        ("select + decode, last 1 h", &q.last_hour),
        ("select + decode, whole range", &q.whole),
        ("select_downsampled 5m sum, whole range", &q.downsampled),
    ] {
        println!("  | {name} | {:.2} | {:.2} | {} | {} |", ms(t.median), ms(t.p90), t.series, t.samples);
    }
}

fn result_line(run: &Run) -> String {
    let d = derive(run);
    let (i, q) = (&run.ingest, &run.queries);
    let fields: Vec<(&str, String)> = vec![
        ("series", run.args.series.to_string()),
        ("hours", run.args.hours.to_string()),
        ("threads", run.threads.to_string()),
        ("samples", i.appended.to_string()),
        ("rejected", i.rejected.to_string()),
        ("wall_s", format!("{:.2}", i.wall.as_secs_f64())),
        ("cpu_s", format!("{:.2}", i.cpu.total().as_secs_f64())),
        ("gen_cpu_s", format!("{:.2}", i.generate_cpu.as_secs_f64())),
        ("maintain_cpu_s", format!("{:.2}", i.maintain.cpu.as_secs_f64())),
        ("samples_per_s", format!("{:.0}", d.samples_per_s)),
        ("samples_per_cpu_s", format!("{:.0}", d.samples_per_cpu_s)),
        ("samples_per_cpu_s_excl_gen", format!("{:.0}", d.samples_per_cpu_s_engine)),
        ("wal_fsyncs", run.stats.wal_fsyncs.to_string()),
        ("appends", i.appends.to_string()),
        ("rss_bytes_per_series", format!("{:.0}", d.rss_per_series)),
        ("rss_trimmed_bytes_per_series", format!("{:.0}", d.rss_trimmed_per_series.unwrap_or(0.0))),
        ("rss_anon_bytes_per_series", format!("{:.0}", d.anon_per_series)),
        ("rss_file_bytes_per_series", format!("{:.0}", d.file_per_series)),
        ("rss_peak_bytes", run.memory.rss_peak.to_string()),
        ("heap_bytes_per_series", format!("{:.0}", d.heap_per_series)),
        ("head_bytes_per_series", format!("{:.0}", d.head_bytes_per_series)),
        ("raw_blocks_bytes", run.disk.raw.bytes.to_string()),
        ("raw_blocks_samples", run.disk.raw.samples.to_string()),
        ("ds5m_blocks_bytes", run.disk.five_minutes.bytes.to_string()),
        ("ds1h_blocks_bytes", run.disk.one_hour.bytes.to_string()),
        ("wal_bytes", run.stats.wal_bytes.to_string()),
        ("bytes_per_sample", format!("{:.4}", d.bytes_per_sample)),
        ("q1h_p50_ms", format!("{:.2}", ms(q.last_hour.median))),
        ("q1h_p90_ms", format!("{:.2}", ms(q.last_hour.p90))),
        ("qall_p50_ms", format!("{:.2}", ms(q.whole.median))),
        ("qall_p90_ms", format!("{:.2}", ms(q.whole.p90))),
        ("qds5m_p50_ms", format!("{:.2}", ms(q.downsampled.median))),
        ("qds5m_p90_ms", format!("{:.2}", ms(q.downsampled.p90))),
        ("query_series", q.whole.series.to_string()),
    ];
    let pairs: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("RESULT {}", pairs.join(" "))
}
