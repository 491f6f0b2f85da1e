//! `deriv` and `predict_linear`: least-squares linear regression over the window's samples.

use crate::functions::stats::KahanSum;

/// The slope of the regression line, per second. `None` with fewer than two samples.
pub(super) fn deriv(samples: &[(i64, f64)]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    // Times are taken relative to the first sample: absolute Unix times squared lose too much precision.
    Some(regression(samples, samples[0].0).0)
}

/// The regression line's value `seconds` after `eval_time` (milliseconds). `None` with fewer than two samples.
pub(super) fn predict_linear(samples: &[(i64, f64)], seconds: f64, eval_time: i64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (slope, intercept) = regression(samples, eval_time);
    Some(slope * seconds + intercept)
}

/// (slope per second, value at `origin`) of the least-squares line through `samples`, which must not be empty.
/// Constant values give slope 0 exactly (NaN for an infinite constant), whatever rounding would say.
fn regression(samples: &[(i64, f64)], origin: i64) -> (f64, f64) {
    let first_y = samples[0].1;
    let mut constant = true;
    let (mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) =
        (KahanSum::default(), KahanSum::default(), KahanSum::default(), KahanSum::default());
    let mut n = 0.0;
    for (i, &(t, y)) in samples.iter().enumerate() {
        // NaN != NaN, so a NaN value after the first always counts as a change.
        constant &= i == 0 || y == first_y;
        n += 1.0;
        let x = t.wrapping_sub(origin) as f64 / 1e3;
        sum_x.add(x);
        sum_y.add(y);
        sum_xy.add(x * y);
        sum_x2.add(x * x);
    }
    if constant {
        return if first_y.is_infinite() { (f64::NAN, f64::NAN) } else { (0.0, first_y) };
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x.value(), sum_y.value(), sum_xy.value(), sum_x2.value());
    let covariance = sum_xy - sum_x * sum_y / n;
    let variance = sum_x2 - sum_x * sum_x / n;
    let slope = covariance / variance;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, load, series, window};
    use super::super::RangeFunction::{Deriv, PredictLinear};

    const MINUTE: i64 = 60_000;

    fn reset_middle() -> Vec<(i64, f64)> {
        load(5 * MINUTE, &[series(0.0, 10.0, 4), series(0.0, 10.0, 5)].concat())
    }

    #[test]
    fn deriv() {
        let total = load(5 * MINUTE, &series(0.0, 80.0, 10));
        assert!(close(Deriv.eval(&window(&total, 50 * MINUTE, 50 * MINUTE), &[]), 0.26666666666666666));
        let reset = reset_middle();
        assert!(close(Deriv.eval(&window(&reset, 100 * MINUTE, 50 * MINUTE), &[]), 0.010606060606060607));
        let with_inf = load(
            5 * MINUTE,
            &[vec![Some(f64::NEG_INFINITY)], series(0.0, 80.0, 10), vec![Some(f64::INFINITY)]].concat(),
        );
        assert!(Deriv.eval(&window(&with_inf, 100 * MINUTE, 100 * MINUTE), &[]).unwrap().is_nan());
        assert_eq!(Deriv.eval(&window(&total, 5 * MINUTE, 50 * MINUTE), &[]), None);
    }

    #[test]
    fn predict_linear() {
        let reset = reset_middle();
        let w = window(&reset, 50 * MINUTE, 50 * MINUTE);
        assert!(close(PredictLinear.eval(&w, &[3600.0]), 70.0));
        let with_inf = load(
            5 * MINUTE,
            &[vec![Some(f64::NEG_INFINITY)], series(0.0, 80.0, 10), vec![Some(f64::INFINITY)]].concat(),
        );
        assert!(PredictLinear.eval(&window(&with_inf, 100 * MINUTE, 100 * MINUTE), &[6000.0]).unwrap().is_nan());
        // With a sample exactly at the window's end on the line, predict_linear equals value + deriv * seconds.
        let total = load(5 * MINUTE, &series(0.0, 80.0, 10));
        let w = window(&total, 50 * MINUTE, 50 * MINUTE);
        let slope = Deriv.eval(&w, &[]).unwrap();
        assert_eq!(PredictLinear.eval(&w, &[3600.0]), Some(800.0 + slope * 3600.0));
    }

    #[test]
    fn constant_series() {
        let flat = [(0, 5.0), (1000, 5.0), (7000, 5.0)];
        assert_eq!(super::regression(&flat, 0), (0.0, 5.0));
        let (slope, intercept) = super::regression(&[(0, f64::INFINITY), (1000, f64::INFINITY)], 0);
        assert!(slope.is_nan() && intercept.is_nan());
        let (slope, _) = super::regression(&[(0, f64::NAN), (1000, f64::NAN)], 0);
        assert!(slope.is_nan());
    }
}
