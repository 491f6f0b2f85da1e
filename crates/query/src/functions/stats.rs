//! Statistics shared by aggregations and `*_over_time`: quantiles, compensated sums, means, variance.
//!
//! Each accumulator reproduces the exact floating-point operation order Prometheus uses, so results agree to the
//! last bit, including NaN and ±Inf propagation.

use std::cmp::Ordering;

/// The φ-quantile of `values` as Prometheus computes it (linear interpolation between closest ranks; φ < 0 gives
/// -Inf, φ > 1 gives +Inf, no values give NaN). Reorders `values`.
pub fn quantile(phi: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let weight = rank - rank.floor();
    // The two closest ranks without sorting: the lower one selected in place, the upper one the least of the
    // values after it. The same values a sort would put there, in linear time.
    let (_, &mut low, above) = values.select_nth_unstable_by(lower, nan_first);
    let high = above.iter().copied().min_by(nan_first).unwrap_or(low);
    low * (1.0 - weight) + high * weight
}

/// The median absolute deviation of `values` (the median of the distances to the median), as `mad_over_time`.
/// NaN for no values. Overwrites `values`.
pub fn mad(values: &mut [f64]) -> f64 {
    let median = quantile(0.5, values);
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    quantile(0.5, values)
}

/// Ascending order with NaN before everything, as Prometheus sorts samples for quantiles. Unlike `f64::total_cmp`,
/// -0 and +0 compare equal.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// One step of Kahan-Babuška (Neumaier) summation: adds `inc` to `sum` with compensation `c`, returning the new sum
/// and compensation. An infinite sum clears the compensation, which would otherwise turn into NaN.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Kahan-Babuška compensated summation, as Prometheus sums.
#[derive(Clone, Copy, Debug, Default)]
pub struct KahanSum {
    pub sum: f64,
    pub c: f64,
}

impl KahanSum {
    pub fn add(&mut self, v: f64) {
        (self.sum, self.c) = kahan_inc(v, self.sum, self.c);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// Arithmetic mean as Prometheus' `avg` and `avg_over_time`: a Kahan-compensated direct sum divided by the count,
/// switching to a compensated incremental mean once the sum would overflow. NaN for no values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            // Seeded directly: the overflow fallback below would divide an infinite first value by a zero count.
            self.sum = v;
            return;
        }
        if !self.incremental {
            let (sum, c) = kahan_inc(v, self.sum, self.c);
            if !sum.is_infinite() {
                (self.sum, self.c) = (sum, c);
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        let q = (self.count - 1.0) / self.count;
        (self.mean, self.c) = kahan_inc(v / self.count, q * self.mean, q * self.c);
    }

    pub fn value(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else if self.incremental {
            self.mean + self.c
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

/// Running population variance as the `stddev` and `stdvar` aggregations compute it (Welford's update without
/// compensation). A NaN or infinite value makes the result NaN. For `stddev_over_time` and `stdvar_over_time`
/// use [`CompensatedVariance`], which rounds differently.
#[derive(Clone, Copy, Debug, Default)]
pub struct Variance {
    pub count: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Variance {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (v - self.mean);
    }

    /// NaN for no values.
    pub fn stdvar(&self) -> f64 {
        self.m2 / self.count
    }

    pub fn stddev(&self) -> f64 {
        self.stdvar().sqrt()
    }
}

/// Running population variance as `stddev_over_time` and `stdvar_over_time` compute it: Welford's update with both
/// the mean and the sum of squared deviations Kahan-compensated.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompensatedVariance {
    count: f64,
    mean: f64,
    c_mean: f64,
    m2: f64,
    c_m2: f64,
}

impl CompensatedVariance {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - (self.mean + self.c_mean);
        (self.mean, self.c_mean) = kahan_inc(delta / self.count, self.mean, self.c_mean);
        let spread = delta * (v - (self.mean + self.c_mean));
        (self.m2, self.c_m2) = kahan_inc(spread, self.m2, self.c_m2);
    }

    /// NaN for no values.
    pub fn stdvar(&self) -> f64 {
        (self.m2 + self.c_m2) / self.count
    }

    pub fn stddev(&self) -> f64 {
        self.stdvar().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;
    /// 9.988465674311579e+307 in the test scripts: twice it overflows.
    const BIG: f64 = 9.988_465_674_311_58e307;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Equal up to the decimal rounding of the expected values in Prometheus' test scripts.
    fn close(a: f64, b: f64) -> bool {
        a == b || ((a - b) / b).abs() < 1e-12
    }

    fn mean_of(values: &[f64]) -> f64 {
        let mut m = Mean::default();
        values.iter().for_each(|&v| m.add(v));
        m.value()
    }

    fn variance_of(values: &[f64]) -> (f64, f64) {
        let mut v = Variance::default();
        values.iter().for_each(|&x| v.add(x));
        (v.stdvar(), v.stddev())
    }

    fn compensated_variance_of(values: &[f64]) -> (f64, f64) {
        let mut v = CompensatedVariance::default();
        values.iter().for_each(|&x| v.add(x));
        (v.stdvar(), v.stddev())
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        // quantile_over_time cases from functions.test.
        for (phi, two, three, uneven) in [
            (0.0, 0.0, 0.0, 0.0),
            (0.5, 0.5, 1.0, 1.0),
            (0.75, 0.75, 1.5, 2.5),
            (0.8, 0.8, 1.6, 2.8),
            (1.0, 1.0, 2.0, 4.0),
        ] {
            assert!(close(quantile(phi, &mut [1.0, 0.0]), two));
            assert!(close(quantile(phi, &mut [2.0, 0.0, 1.0]), three));
            assert!(close(quantile(phi, &mut [0.0, 4.0, 1.0]), uneven));
        }
    }

    #[test]
    fn quantile_by_selection_matches_a_sort() {
        // A sort-based reference against the selection, on values with duplicates, NaN and infinities.
        let reference = |phi: f64, values: &mut [f64]| {
            values.sort_by(nan_first);
            let rank = phi * (values.len() - 1) as f64;
            let (lower, weight) = (rank.floor() as usize, rank - rank.floor());
            values[lower] * (1.0 - weight) + values[(lower + 1).min(values.len() - 1)] * weight
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for n in 1..40 {
            for _ in 0..20 {
                let values: Vec<f64> = (0..n)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        match state % 23 {
                            0 => f64::NAN,
                            1 => INF,
                            2 => -INF,
                            k => (k % 7) as f64 * 1.5 - 3.0,
                        }
                    })
                    .collect();
                for phi in [0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0] {
                    let want = reference(phi, &mut values.clone());
                    let got = quantile(phi, &mut values.clone());
                    assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{phi} {values:?}");
                }
            }
        }
    }

    #[test]
    fn quantile_special_cases() {
        assert_eq!(quantile(-1.0, &mut [1.0, 2.0]), -INF);
        assert_eq!(quantile(2.0, &mut [1.0, 2.0]), INF);
        assert!(quantile(f64::NAN, &mut [1.0, 2.0]).is_nan());
        assert!(quantile(0.5, &mut []).is_nan());
        assert!(quantile(-1.0, &mut []).is_nan());
        assert_eq!(quantile(0.3, &mut [7.0]), 7.0);
        // NaN sorts first, like Prometheus' heap order.
        assert_eq!(quantile(1.0, &mut [3.0, f64::NAN, 1.0]), 3.0);
        assert!(quantile(0.0, &mut [3.0, f64::NAN, 1.0]).is_nan());
        // Weight 0 on an infinite neighbour still multiplies it: Inf * 0 = NaN, exactly as Prometheus.
        assert!(quantile(0.0, &mut [1.0, INF]).is_nan());
    }

    #[test]
    fn mad_matches_prometheus() {
        // mad_over_time(metric[70s]) with metric 4 6 2 1 999 1 2 (first sample outside the window).
        assert_eq!(mad(&mut [6.0, 2.0, 1.0, 999.0, 1.0, 2.0]), 1.0);
        assert_eq!(mad(&mut [1.0, 1.0, 1.0]), 0.0);
        assert!(mad(&mut []).is_nan());
    }

    #[test]
    fn kahan_sum_recovers_cancelled_terms() {
        let mut s = KahanSum::default();
        for v in [1.0, 1e100, 1.0, -1e100] {
            s.add(v);
        }
        assert_eq!(s.value(), 2.0);
    }

    #[test]
    fn kahan_sum_infinities() {
        let mut s = KahanSum::default();
        for v in [1.0, INF, 3.0] {
            s.add(v);
        }
        assert_eq!(s.value(), INF);
        s.add(-INF);
        assert!(s.value().is_nan());
        let mut big = KahanSum::default();
        big.add(BIG);
        big.add(BIG);
        assert_eq!(big.value(), INF);
    }

    #[test]
    fn mean_matches_avg_over_time() {
        assert_eq!(mean_of(&[1.0, 2.0, 3.0, 4.0, 5.0]), 3.0);
        assert_eq!(mean_of(&[1.0, 2.0, 3.0, 4.0, INF]), INF);
        assert_eq!(mean_of(&[1.0, 2.0, 3.0, 4.0, -INF]), -INF);
        assert!(mean_of(&[1.0, 2.0, 3.0, INF, -INF]).is_nan());
        assert_eq!(mean_of(&[INF, 0.0, INF]), INF);
        assert!(mean_of(&[INF, INF, INF, -INF]).is_nan());
        assert_eq!(mean_of(&[1.0, 2.0, 3.0, -INF, -INF]), -INF);
        assert_eq!(mean_of(&[-INF, 0.0, -INF]), -INF);
        assert!(mean_of(&[-INF, -INF, -INF, INF]).is_nan());
        assert!(mean_of(&[1.0, 2.0, -INF, -INF, INF]).is_nan());
        assert_eq!(mean_of(&[BIG; 2]), BIG);
        assert_eq!(mean_of(&[-BIG; 3]), -BIG);
        assert_eq!(mean_of(&[-BIG, BIG]), 0.0);
        assert!(mean_of(&[1.0, 2.0, 3.0, f64::NAN]).is_nan());
        assert_eq!(mean_of(&[1.0, 1e100, 1.0, -1e100]), 0.5);
        assert!(mean_of(&[]).is_nan());
        assert!(same(mean_of(&[-0.0]), 0.0));
    }

    #[test]
    fn mean_extreme_magnitudes() {
        // "More tests for extreme values" in functions.test.
        let cases: [(&[f64], f64); 10] = [
            (&[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6], 1.6666666666666675e9),
            (
                &[
                    5.30921651659898,
                    0.961118537914768,
                    1.62091361305318,
                    0.865089463758091,
                    0.323055185914577,
                    0.951811357687154,
                ],
                1.67186744582113,
            ),
            (&[1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154], 3.56528e49),
            (&[0.76342771, 1.9592258, 7.69805412, 1.78264e50, 458.90154], 3.56528e49),
            (&[1.78264e50, 0.76342771, 1.9592258, 2.258e220, 7.69805412, 458.90154], 3.76333333333333e219),
            (&[-1.78264e50, 0.76342771, 1.9592258, 2.258e220, 7.69805412, -458.90154], 3.76333333333333e219),
            (&[-1.78264e50, 0.76342771, 1.9592258, -2.258e220, 7.69805412, -458.90154], -3.76333333333333e219),
            (&[-1.78264e215, 0.76342771, 1.9592258, 2.258e220, 7.69805412, -458.90154], 3.76330362266667e219),
            (
                &[-1.78264e215, 0.76342771, 1.9592258, 2.258e220, 7.69805412, 1.78264e215, -458.90154],
                3.225714285714286e219,
            ),
            (
                &[
                    -1.78264e219,
                    0.76342771,
                    1.9592258,
                    2.3757689e217,
                    -2.3757689e217,
                    2.258e220,
                    7.69805412,
                    1.78264e219,
                    -458.90154,
                ],
                2.5088888888888888e219,
            ),
        ];
        for (values, want) in cases {
            let got = mean_of(values);
            assert!(close(got, want), "{values:?}: {got} != {want}");
        }
        // Kahan summation cannot cope here either; Prometheus documents the result 0.
        let cancelling = [
            -2.258e220,
            -1.78264e219,
            0.76342771,
            1.9592258,
            2.3757689e217,
            -2.3757689e217,
            2.258e220,
            7.69805412,
            1.78264e219,
            -458.90154,
        ];
        assert_eq!(mean_of(&cancelling), 0.0);
        assert_eq!(mean_of(&[52.0; 13]), 52.0);
    }

    #[test]
    fn variance_matches_aggregation() {
        // stdvar(http_requests) over 100..800 at 50m in aggregators.test.
        let requests = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0];
        let (var, dev) = variance_of(&requests);
        assert_eq!(var, 52500.0);
        assert!((dev - 229.12878474779).abs() < 1e-9);
        assert_eq!(variance_of(&[13.3, 13.3, 13.3]).0, 0.0);
        assert_eq!(variance_of(&[1.0, 2.0]), (0.25, 0.5));
        assert_eq!(variance_of(&[1.0]), (0.0, 0.0));
        for values in
            [&[1.0, 2.0, f64::NAN][..], &[f64::NAN, 1.0, 2.0], &[f64::NAN], &[1.0, 2.0, INF], &[INF, 1.0], &[INF]]
        {
            let (var, dev) = variance_of(values);
            assert!(var.is_nan() && dev.is_nan(), "{values:?}");
        }
        assert!(Variance::default().stdvar().is_nan());
    }

    #[test]
    fn compensated_variance_matches_over_time() {
        let (var, dev) = compensated_variance_of(&[0.0, 8.0, 8.0, 2.0, 3.0]);
        assert!(close(var, 10.56));
        assert!((dev - 3.249615).abs() < 1e-6);
        assert_eq!(compensated_variance_of(&[1.5990505637277868; 3]), (0.0, 0.0));
        assert_eq!(compensated_variance_of(&[1.0, 1.0, 1.0]), (0.0, 0.0));
        assert!(compensated_variance_of(&[1.0, INF]).0.is_nan());
        assert!(compensated_variance_of(&[INF]).0.is_nan());
        assert!(compensated_variance_of(&[f64::NAN, 1.0]).0.is_nan());
        assert!(compensated_variance_of(&[]).0.is_nan());
    }
}
