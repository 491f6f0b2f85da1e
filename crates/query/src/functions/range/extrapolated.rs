//! `rate`, `increase` and `delta`: the change over the window, extrapolated towards the window's boundaries.

use super::Window;

/// The change over `window` (adding back counter resets if `is_counter`), extrapolated to the window's edges,
/// per second if `is_rate`. `None` with fewer than two samples.
///
/// The first and last samples are extrapolated to the window's edge if they lie within 1.1 times the average
/// sample interval of it; otherwise only half an average interval, assuming the series starts or ends inside the
/// window. Counters are never extrapolated below zero.
pub(super) fn rate(window: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    if is_counter {
        let resets = window.samples.windows(2).filter(|pair| pair[1].1 < pair[0].1).map(|pair| pair[0].1);
        rate_with_resets(window, resets, true, is_rate)
    } else {
        rate_with_resets(window, std::iter::empty(), false, is_rate)
    }
}

/// [`rate`] with the window's counter resets given: the value before each reset, in time order. Adding them one
/// by one, as [`rate`] does, keeps the result bit for bit the same however they were found.
pub(super) fn rate_with_resets(
    window: &Window<'_>,
    resets: impl Iterator<Item = f64>,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let samples = window.samples;
    let (&(first_t, first_v), &(last_t, last_v)) = (samples.first()?, samples.last()?);
    if samples.len() < 2 {
        return None;
    }
    let mut change = last_v - first_v;
    for before_reset in resets {
        change += before_reset;
    }

    let mut to_start = first_t.wrapping_sub(window.start) as f64 / 1000.0;
    let mut to_end = window.end.wrapping_sub(last_t) as f64 / 1000.0;
    let sampled = last_t.wrapping_sub(first_t) as f64 / 1000.0;
    let average_interval = sampled / (samples.len() - 1) as f64;
    let threshold = average_interval * 1.1;

    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    if is_counter && change > 0.0 && first_v >= 0.0 {
        // Where a straight line through the samples would cross zero.
        let to_zero = sampled * (first_v / change);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }

    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= window.range_seconds();
    }
    Some(change * factor)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, load, series, window};
    use super::super::RangeFunction::{self, Delta, Increase, Rate};

    const MINUTE: i64 = 60_000;

    fn eval(f: RangeFunction, data: &[(i64, f64)], range_min: i64, at_min: i64) -> Option<f64> {
        f.eval(&window(data, range_min * MINUTE, at_min * MINUTE), &[])
    }

    #[test]
    fn increase_extrapolates_to_zero_at_most() {
        // "Tests for increase()" in functions.test (load 5m).
        let foo = load(5 * MINUTE, &series(0.0, 10.0, 10));
        let bar = load(5 * MINUTE, &[series(0.0, 18.0, 5), series(0.0, 18.0, 5)].concat());
        let dings = load(5 * MINUTE, &series(10.0, 10.0, 10));
        let bumms = load(5 * MINUTE, &series(1.0, 10.0, 10));
        for (data, at_50m, at_100m) in
            [(&foo, 100.0, 100.0), (&bar, 160.0, 162.0), (&dings, 100.0, 105.0), (&bumms, 100.0, 101.0)]
        {
            assert!(close(eval(Increase, data, 50, 50), at_50m));
            assert!(close(eval(Increase, data, 100, 50), at_100m));
        }
    }

    #[test]
    fn increase_adds_back_resets() {
        let data = load(5 * MINUTE, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0].map(Some));
        assert!(close(eval(Increase, &data, 30, 30), 7.0));
    }

    #[test]
    fn rate_with_resets() {
        let middle = load(5 * MINUTE, &[series(0.0, 27.0, 4), series(0.0, 27.0, 5)].concat());
        assert!(close(eval(Rate, &middle, 50, 50), 0.08));
        let end = load(5 * MINUTE, &[series(0.0, 10.0, 9), vec![Some(0.0), Some(10.0)]].concat());
        assert_eq!(eval(Rate, &end, 5, 50), None);
        assert_eq!(eval(Rate, &end, 6, 50), Some(0.0));
    }

    #[test]
    fn rate_per_second_and_with_offset() {
        let window_total = load(5 * MINUTE, &series(0.0, 80.0, 10));
        assert!(close(eval(Rate, &window_total, 50, 50), 0.26666666666666666));
        // rate(x[10m] offset 5m) at 50m is the window (35m, 45m].
        let a = load(5 * MINUTE, &series(0.0, 10.0, 10));
        let b = load(5 * MINUTE, &series(0.0, 20.0, 10));
        assert!(close(eval(Rate, &a, 10, 45), 0.03333333333333333));
        assert!(close(eval(Rate, &b, 10, 45), 0.06666666666666667));
    }

    #[test]
    fn rate_zero_cutoff() {
        // testcounter_zero_cutoff_total (load 4m) at 10m and 50m over [20m].
        for (start, at_10m) in [(0.0, 0.5), (60.0, 0.55), (120.0, 0.6), (180.0, 0.6), (240.0, 0.6), (300.0, 0.6)] {
            let data = load(4 * MINUTE, &series(start, 240.0, 10));
            assert!(close(eval(Rate, &data, 20, 10), at_10m), "start {start}");
            assert!(close(eval(Rate, &data, 20, 50), 0.6), "start {start}");
        }
    }

    #[test]
    fn delta_is_not_a_counter() {
        let foo = load(5 * MINUTE, &[0.0, 50.0, 100.0, 150.0, 200.0].map(Some));
        let bar = load(5 * MINUTE, &[200.0, 150.0, 100.0, 50.0, 0.0].map(Some));
        assert!(close(eval(Delta, &foo, 20, 20), 200.0));
        assert!(close(eval(Delta, &bar, 20, 20), -200.0));
    }

    #[test]
    fn needs_two_samples() {
        let data = load(5 * MINUTE, &[Some(1.0)]);
        for f in [Rate, Increase, Delta] {
            assert_eq!(eval(f, &data, 5, 1), None);
        }
    }

    #[test]
    fn special_values() {
        // A NaN inside the window neither adds to nor resets the counter; one at an end poisons the result.
        let nan = load(MINUTE, &[Some(1.0), Some(f64::NAN), Some(3.0), Some(f64::NAN)]);
        assert!(close(eval(Rate, &nan, 3, 2), 2.0 * 1.5 / 180.0));
        assert!(eval(Rate, &nan, 3, 3).unwrap().is_nan());
        let inf = load(MINUTE, &[Some(1.0), Some(f64::INFINITY)]);
        assert_eq!(eval(Increase, &inf, 2, 1), Some(f64::INFINITY));
        // Samples at one instant make the sampled interval 0: Prometheus divides by it.
        let same_time = [(0, 1.0), (0, 2.0)];
        assert!(eval(Delta, &same_time, 1, 0).unwrap().is_nan());
    }
}
