//! Test helpers: series as the `load` blocks of Prometheus' test scripts write them, and windows over them.

use super::Window;

/// Samples every `step` milliseconds from t=0; `None` is a missing sample (`_` in the scripts).
pub(super) fn load(step: i64, values: &[Option<f64>]) -> Vec<(i64, f64)> {
    values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as i64 * step, v))).collect()
}

/// `start+step*n` repeated: the scripts' `start+stepxn` (n + 1 values).
pub(super) fn series(start: f64, step: f64, n: usize) -> Vec<Option<f64>> {
    (0..=n).map(|i| Some(start + step * i as f64)).collect()
}

/// The window `range` milliseconds long ending at `end`, over `samples`.
pub(super) fn window(samples: &[(i64, f64)], range: i64, end: i64) -> Window<'_> {
    let start = end - range;
    let from = samples.partition_point(|&(t, _)| t <= start);
    let to = samples.partition_point(|&(t, _)| t <= end);
    Window { samples: &samples[from..to], start, end }
}

/// Equal up to the decimal rounding of the expected values in the test scripts.
pub(super) fn close(got: Option<f64>, want: f64) -> bool {
    match got {
        Some(g) => g == want || (g.is_nan() && want.is_nan()) || ((g - want) / want).abs() < 1e-12,
        None => false,
    }
}
