//! `double_exponential_smoothing` (formerly `holt_winters`): Holt's linear trend smoothing of the samples.

/// The smoothed value at the last sample, with smoothing factor `sf` and trend factor `tf` (both expected in
/// (0, 1), which the caller checks). `None` with fewer than two samples.
pub(super) fn double_exponential(samples: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    let [(_, first), (_, second), ..] = *samples else { return None };
    let mut previous = 0.0;
    let mut smoothed = first;
    let mut trend = second - first;
    for (i, &(_, value)) in samples.iter().enumerate().skip(1) {
        // The initial trend is used as is for the first step.
        if i > 1 {
            trend = tf * (smoothed - previous) + (1.0 - tf) * trend;
        }
        let next = sf * value + (1.0 - sf) * (smoothed + trend);
        previous = smoothed;
        smoothed = next;
    }
    Some(smoothed)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, load, series, window};
    use super::super::RangeFunction::DoubleExponentialSmoothing;

    fn smooth(values: Vec<Option<f64>>, at_seconds: i64) -> Option<f64> {
        let data = load(10_000, &values);
        DoubleExponentialSmoothing.eval(&window(&data, 60_000, at_seconds * 1000), &[0.01, 0.1])
    }

    #[test]
    fn positive_trends() {
        // double_exponential_smoothing(http_requests[1m], 0.01, 0.1) at 8000s in functions.test.
        assert!(close(smooth([series(0.0, 10.0, 1000), series(100.0, 30.0, 1000)].concat(), 8000), 8000.0));
        assert!(close(smooth([series(0.0, 20.0, 1000), series(200.0, 30.0, 1000)].concat(), 8000), 16000.0));
        assert!(close(smooth([series(0.0, 30.0, 1000), series(300.0, 80.0, 1000)].concat(), 8000), 24000.0));
        assert!(close(smooth(series(0.0, 40.0, 2000), 8000), 32000.0));
        assert!(close(smooth([series(0.0, 10.0, 1000), series(100.0, 30.0, 1000)].concat(), 20010), 30100.0));
    }

    #[test]
    fn negative_trends() {
        assert_eq!(smooth(series(8000.0, -10.0, 1000), 8000), Some(0.0));
        assert!(close(smooth(series(0.0, -20.0, 1000), 8000), -16000.0));
        assert!(close(smooth([series(0.0, 30.0, 1000), series(300.0, -80.0, 1000)].concat(), 8000), 24000.0));
        assert!(close(smooth([series(0.0, -40.0, 1000), series(0.0, 40.0, 1000)].concat(), 8000), -32000.0));
    }

    #[test]
    fn needs_two_samples_and_propagates_nan() {
        assert_eq!(super::double_exponential(&[(0, 1.0)], 0.5, 0.5), None);
        assert_eq!(super::double_exponential(&[(0, 1.0), (1, 3.0)], 0.5, 0.5), Some(0.5 * 3.0 + 0.5 * (1.0 + 2.0)));
        assert!(super::double_exponential(&[(0, 1.0), (1, 3.0)], f64::NAN, 0.5).unwrap().is_nan());
    }
}
