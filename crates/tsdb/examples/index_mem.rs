//! Measures the in-memory index on node_exporter-like series: heap bytes per series and `select` latency.
//!
//! Run with `cargo run --release -p vigil-tsdb --example index_mem [hosts]` (100 hosts make 100k series).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use roaring::RoaringBitmap;
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::index::Index;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the layout is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the pointer came from `alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let hosts: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let mut series = Vec::new();
    for_each_series(hosts, |labels| series.push(labels.clone()));

    // Only the index allocates between the two readings of the counter.
    let before = LIVE.load(Ordering::Relaxed);
    let mut index = Index::new();
    let started = Instant::now();
    for labels in &series {
        index.get_or_create(labels).unwrap();
    }
    let build = started.elapsed();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let created = index.len();
    println!(
        "series: {created}, symbols: {}, get_or_create of new series: {:.0} ns each",
        index.symbol_count(),
        build.as_nanos() as f64 / created as f64
    );
    println!(
        "heap: {} bytes measured ({:.0} bytes/series), {} estimated by heap_bytes ({:.0} bytes/series)",
        bytes,
        bytes as f64 / created as f64,
        index.heap_bytes(),
        index.heap_bytes() as f64 / created as f64
    );

    let started = Instant::now();
    let found = series.iter().filter(|labels| index.get(labels).is_some()).count();
    println!("get of existing series: {:.0} ns each", started.elapsed().as_nanos() as f64 / found as f64);
    drop(series);

    let selectors: &[&[(MatchOp, &str, &str)]] = &[
        &[(MatchOp::Equal, "__name__", "node_cpu_seconds_total")],
        &[(MatchOp::Equal, "__name__", "node_cpu_seconds_total"), (MatchOp::Equal, "mode", "idle")],
        &[
            (MatchOp::Equal, "__name__", "node_cpu_seconds_total"),
            (MatchOp::Equal, "instance", "host-042:9100"),
            (MatchOp::NotEqual, "mode", "idle"),
        ],
        &[(MatchOp::Equal, "__name__", "node_load1"), (MatchOp::Equal, "job", "node")],
        &[(MatchOp::Regex, "__name__", "node_load1|node_load5|node_load15")],
        &[(MatchOp::Regex, "__name__", "node_network_.*_bytes_total"), (MatchOp::NotRegex, "device", "lo|veth.*")],
        &[(MatchOp::Regex, "instance", "host-00.*"), (MatchOp::Equal, "__name__", "node_filesystem_avail_bytes")],
        &[(MatchOp::Regex, "__name__", ".*disk.*")],
        &[(MatchOp::Regex, "instance", ".+"), (MatchOp::Equal, "__name__", "up")],
        &[(MatchOp::Equal, "job", "node")],
    ];
    for selector in selectors {
        let matchers: Vec<Matcher> =
            selector.iter().map(|&(op, name, value)| Matcher::new(op, name, value).unwrap()).collect();
        let (result, per_call) = time(|| index.select(&matchers));
        let text: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
        println!("select {{{}}}: {} series in {}", text.join(", "), result.len(), micros(per_call));
    }

    let all = index.all().clone();
    let (names, per_call) = time(|| index.label_names(&all));
    println!("label_names(all): {} names in {}", names.len(), micros(per_call));
    let (values, per_call) = time(|| index.label_values("__name__", &all));
    println!("label_values(__name__, all): {} values in {}", values.len(), micros(per_call));
    let one_host = index.select(&[Matcher::new(MatchOp::Equal, "instance", "host-007:9100").unwrap()]);
    let (values, per_call) = time(|| index.label_values("__name__", &one_host));
    println!("label_values(__name__, one host): {} values in {}", values.len(), micros(per_call));
    let (names, per_call) = time(|| index.label_names(&one_host));
    println!("label_names(one host): {} names in {}", names.len(), micros(per_call));

    let removed: RoaringBitmap = (0..created as u32).step_by(2).collect();
    let started = Instant::now();
    let n = index.remove(&removed);
    println!(
        "remove: {n} series in {:.0} ms, heap_bytes after: {:.0} bytes/remaining series",
        started.elapsed().as_secs_f64() * 1e3,
        index.heap_bytes() as f64 / index.len() as f64
    );
}

/// Runs `f` repeatedly for about 200 ms and returns its last result and the median time per call.
fn time<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut result = f();
    while started.elapsed() < Duration::from_millis(200) || samples.len() < 5 {
        let t = Instant::now();
        result = f();
        samples.push(t.elapsed());
    }
    samples.sort();
    (result, samples[samples.len() / 2])
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Calls `f` with node_exporter-like series: per host 1000 series over about 330 metric names, with `instance`,
/// `job` and per-family `cpu`, `mode`, `device`, `fstype`, `mountpoint`, `chip` and `sensor` labels.
fn for_each_series(hosts: usize, mut f: impl FnMut(&Labels)) {
    for h in 0..hosts {
        let instance = format!("host-{h:03}:9100");
        let mut push = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("__name__", name), ("instance", instance.as_str()), ("job", "node")];
            pairs.extend_from_slice(extra);
            f(&Labels::from_pairs(pairs).unwrap());
        };
        for cpu in 0..16 {
            let cpu = cpu.to_string();
            for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
                push("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for mode in ["nice", "user"] {
                push("node_cpu_guest_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for name in ["node_cpu_scaling_frequency_hertz", "node_cpu_frequency_max_hertz", "node_cpu_online"] {
                push(name, &[("cpu", &cpu)]);
            }
        }
        for d in 0..8u8 {
            let device = format!("nvme{d}n1");
            for m in 0..18 {
                push(&format!("node_disk_stat_{m}_total"), &[("device", &device)]);
            }
        }
        for d in 0..8 {
            let device = match d {
                0 => "lo".to_string(),
                1..=3 => format!("eth{d}"),
                _ => format!("veth{d:04x}"),
            };
            for m in 0..32 {
                push(&format!("node_network_stat_{m}_bytes_total"), &[("device", &device)]);
            }
        }
        for fs in 0..10 {
            let mountpoint = if fs == 0 { "/".to_string() } else { format!("/srv/volume{fs}") };
            let device = format!("/dev/nvme0n1p{fs}");
            for name in [
                "avail_bytes",
                "free_bytes",
                "size_bytes",
                "files",
                "files_free",
                "readonly",
                "device_error",
                "mount_info",
            ] {
                let name = format!("node_filesystem_{name}");
                push(&name, &[("device", &device), ("fstype", "ext4"), ("mountpoint", &mountpoint)]);
            }
        }
        for s in 0..10 {
            let sensor = format!("temp{s}");
            for m in 0..5 {
                push(&format!("node_hwmon_stat_{m}"), &[("chip", "platform_coretemp_0"), ("sensor", &sensor)]);
            }
        }
        for name in ["up", "node_load1", "node_load5", "node_load15"] {
            push(name, &[]);
        }
        for m in 0..258 {
            push(&format!("node_plain_metric_{m}"), &[]);
        }
    }
}
