//! Per-series work spread over the cores: each worker reads a selected series' samples into its own buffer and
//! turns them into a result, so a selection is never held in memory all at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::limits::Budget;
use super::selector::Selected;
use super::QueryError;

/// Series a worker claims at a time, at most: enough to make claiming cheap, few enough to balance uneven series.
const SERIES_PER_CLAIM: usize = 64;
/// Below this many series per extra thread, starting the thread costs more than it saves.
const MIN_SERIES_PER_THREAD: usize = 512;
/// Or below this many samples per extra thread (a few hundred microseconds of decoding): long ranges over few
/// series are worth spreading too.
const MIN_SAMPLES_PER_THREAD: usize = 65_536;

/// Calls `f(i, samples)` for every series `i` of `selected` with its samples (a buffer `f` may change or take),
/// on up to `max_threads` threads (as many as pay off), and returns the `Some` results in series order. Stops at the
/// first error, the budget's deadline included. The first series is read before the threads start: its sample
/// count estimates the work of the others.
pub(crate) fn map_series<T, F>(
    selected: &Selected<'_>,
    budget: &Budget,
    max_threads: usize,
    f: F,
) -> Result<Vec<(usize, T)>, QueryError>
where
    T: Send,
    F: Fn(usize, &mut Vec<(i64, f64)>) -> Result<Option<T>, QueryError> + Sync,
{
    let n = selected.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut first = Vec::new();
    selected.samples(0, &mut first)?;
    budget.check(first.len())?;
    let estimate = n.saturating_mul(first.len());
    let mut all: Vec<(usize, T)> = f(0, &mut first)?.map(|r| (0, r)).into_iter().collect();
    let rest = n - 1;
    let worth = (rest / MIN_SERIES_PER_THREAD).max(estimate / MIN_SAMPLES_PER_THREAD);
    let threads = max_threads.min(worth).min(rest).max(1);
    let claim = (rest / (threads * 4)).clamp(1, SERIES_PER_CLAIM);
    let next = AtomicUsize::new(1);
    let failed = AtomicBool::new(false);
    let work = || -> Result<Vec<(usize, T)>, QueryError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let first = next.fetch_add(claim, Ordering::Relaxed);
            if first >= n || failed.load(Ordering::Relaxed) {
                return Ok(out);
            }
            budget.check_deadline()?;
            for i in first..(first + claim).min(n) {
                selected.samples(i, &mut buf)?;
                budget.check(buf.len())?;
                if let Some(result) = f(i, &mut buf)? {
                    out.push((i, result));
                }
            }
        }
    };
    let run = || {
        let result = work();
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        result
    };
    let parts: Vec<Result<Vec<(usize, T)>, QueryError>> = if threads == 1 {
        vec![run()]
    } else {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
            let mut parts = vec![run()];
            for helper in helpers {
                parts.push(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            parts
        })
    };
    for part in parts {
        all.extend(part?);
    }
    if threads > 1 {
        all.sort_unstable_by_key(|&(i, _)| i);
    }
    Ok(all)
}
