//! Steady-state scrapes do not allocate per sample: with every collector running against this host, a warmed-up
//! collection makes far fewer heap allocations than it writes samples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use vigil_collect::{CollectorSet, Options};
use vigil_model::{Desc, MetricSink};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts samples and keeps nothing, so the sink itself never allocates.
struct CountingSink(usize);

impl MetricSink for CountingSink {
    fn sample(&mut self, _: &Desc<'_>, _: &[(&str, &str)], _: f64) {
        self.0 += 1;
    }
}

/// Allocations and samples of one warmed-up collection by the named collector.
fn measure(name: &str) -> (usize, usize) {
    let mut set = CollectorSet::new(Options::default(), Some(&[name.to_owned()])).unwrap();
    for _ in 0..3 {
        set.collect(&mut CountingSink(0));
    }
    let mut sink = CountingSink(0);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    set.collect(&mut sink);
    (ALLOCATIONS.load(Ordering::Relaxed) - before, sink.0)
}

#[test]
fn a_warm_scrape_allocates_less_than_once_per_two_samples() {
    let mut report = String::new();
    let (mut allocations, mut samples) = (0, 0);
    for name in vigil_collect::ALL_COLLECTORS {
        let (a, s) = measure(name);
        report.push_str(&format!("{name}: {a} allocations, {s} samples\n"));
        allocations += a;
        samples += s;
    }
    println!("{report}total: {allocations} allocations, {samples} samples");
    assert!(samples > 200, "expected a real host's worth of samples:\n{report}");
    assert!(allocations * 2 < samples, "too many allocations per scrape:\n{report}");
}
