//! Per-series work spread over the cores: each worker reads a selected series' samples into its own buffer and
//! turns them into a result, so a selection is never held in memory all at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::limits::Budget;
use super::selector::Selected;
use super::QueryError;

/// Series a worker claims at a time: enough to make claiming cheap, few enough to balance uneven series.
const SERIES_PER_CLAIM: usize = 64;
/// Below this many series per extra thread, starting the thread costs more than it saves.
const MIN_SERIES_PER_THREAD: usize = 512;

/// Calls `f(i, samples)` for every series `i` of `selected` with its samples (a buffer `f` may change or take),
/// on up to `max_threads` threads (as many as pay off), and returns the `Some` results in series order. Stops at the first error, the
/// budget's deadline included.
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
    let threads = max_threads.min(n / MIN_SERIES_PER_THREAD).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Result<Vec<(usize, T)>, QueryError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let first = next.fetch_add(SERIES_PER_CLAIM, Ordering::Relaxed);
            if first >= n || failed.load(Ordering::Relaxed) {
                return Ok(out);
            }
            budget.check_deadline()?;
            for i in first..(first + SERIES_PER_CLAIM).min(n) {
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
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    if threads > 1 {
        all.sort_unstable_by_key(|&(i, _)| i);
    }
    Ok(all)
}
