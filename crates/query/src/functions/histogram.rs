//! Classic (bucket-series) histogram quantiles, for `histogram_quantile`.

/// Relative difference between adjacent cumulative counts below which Prometheus treats them as equal: such
/// deltas come from floating-point error (e.g. summing sharded rates), not from observations.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One `_bucket` series' value at an instant: the cumulative count of observations `<= upper_bound`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// The φ-quantile from classic buckets, as Prometheus' `bucketQuantile`: sorts and merges buckets with equal
/// bounds, forces monotonic counts, needs a `+Inf` bucket (else NaN), interpolates linearly inside the bucket.
pub fn bucket_quantile(phi: f64, buckets: &mut Vec<Bucket>) -> f64 {
    bucket_quantile_with_info(phi, buckets).0
}

/// [`bucket_quantile`], also telling whether decreasing bucket counts had to be raised to make them monotonic;
/// Prometheus then attaches the info annotation "input to histogram_quantile needed to be fixed for
/// monotonicity". Tiny floating-point deltas are corrected silently and do not count.
///
/// Special cases: NaN φ or no buckets give NaN, φ < 0 gives -Inf, φ > 1 gives +Inf; no `+Inf` bucket, fewer than
/// two distinct bounds, or zero observations give NaN. If the rank falls into the `+Inf` bucket, the second
/// highest bound is returned. The lowest bucket is interpolated from 0 when its bound is positive; otherwise its
/// bound is returned as is.
pub fn bucket_quantile_with_info(phi: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if phi.is_nan() || buckets.is_empty() {
        return (f64::NAN, false);
    }
    if phi < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if phi > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    if buckets.last().is_none_or(|b| b.upper_bound != f64::INFINITY) {
        return (f64::NAN, false);
    }
    coalesce(buckets);
    let forced = make_monotonic(buckets);

    if buckets.len() < 2 {
        return (f64::NAN, false);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = phi * observations;
    // The first bucket (the +Inf one excluded) whose cumulative count reaches the rank.
    let b = go_search(buckets.len() - 1, |i| buckets[i].count >= rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper_bound, forced);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, forced);
    }
    let end = buckets[b].upper_bound;
    let mut start = 0.0;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// The smallest `i` in `0..n` for which `reached(i)` holds, assuming it holds for all larger `i`; `n` if none.
/// The same bisection as Go's `sort.Search`, so that NaN counts (which break the assumption) pick the same bucket.
fn go_search(n: usize, reached: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, n);
    while low < high {
        let middle = low + (high - low) / 2;
        if reached(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// Merges adjacent buckets with equal bounds (the input is sorted) by adding their counts.
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut kept = 0;
    for i in 1..buckets.len() {
        if buckets[i].upper_bound == buckets[kept].upper_bound {
            buckets[kept].count += buckets[i].count;
        } else {
            kept += 1;
            buckets[kept] = buckets[i];
        }
    }
    buckets.truncate(kept + 1);
}

/// Levels out decreases in the cumulative counts, comparing each count with the last one accepted (corrected
/// counts are not accepted). Returns whether a real (not merely imprecise) decrease had to be removed.
fn make_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else { return false };
    let mut prev = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let curr = bucket.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            bucket.count = prev;
            continue;
        }
        if curr < prev {
            bucket.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Whether `a` and `b` differ by less than `epsilon` relative to their magnitudes (two NaNs count as equal), as
/// Prometheus' `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }

    fn q(phi: f64, pairs: &[(f64, f64)]) -> f64 {
        bucket_quantile(phi, &mut buckets(pairs))
    }

    fn close(a: f64, b: f64) -> bool {
        a == b || ((a - b) / b).abs() < 1e-12
    }

    // testhistogram at 50m in histograms.test.
    const POSITIVE: [(f64, f64); 4] = [(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)];
    const NEGATIVE: [(f64, f64); 4] = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)];

    #[test]
    fn interpolates_within_buckets() {
        assert!(close(q(0.2, &POSITIVE), 0.048));
        assert!(close(q(0.5, &POSITIVE), 0.15));
        assert!(close(q(0.8, &POSITIVE), 0.72));
        assert_eq!(q(0.2, &NEGATIVE), -0.2);
        assert!(close(q(0.5, &NEGATIVE), -0.15));
        assert_eq!(q(0.8, &NEGATIVE), 0.3);
        // testhistogram2 at 7m: q(1/2) is in the middle of a bucket.
        assert_eq!(q(0.5, &[(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)]), 3.0);
    }

    #[test]
    fn out_of_range_phi() {
        assert_eq!(q(-0.1, &POSITIVE), -INF);
        assert_eq!(q(1.01, &POSITIVE), INF);
        assert!(q(f64::NAN, &POSITIVE).is_nan());
    }

    #[test]
    fn degenerate_inputs_give_nan() {
        assert!(q(0.5, &[]).is_nan());
        assert!(q(0.5, &[(0.1, 1.0), (0.2, 2.0)]).is_nan()); // No +Inf bucket.
        assert!(q(0.5, &[(INF, 5.0)]).is_nan()); // One bucket.
        assert!(q(0.5, &[(INF, 5.0), (INF, 2.0)]).is_nan()); // Merged into one.
        assert!(q(0.5, &[(1.0, 0.0), (INF, 0.0)]).is_nan()); // No observations.
        assert!(q(0.5, &[(f64::NAN, 1.0), (1.0, 1.0)]).is_nan());
        assert!(q(0.5, &[(1.0, f64::NAN), (2.0, 3.0), (INF, 4.0)]).is_nan());
        // Zero-width rank in an empty lowest bucket: 0/0, as in Prometheus.
        assert!(q(0.0, &[(1.0, 0.0), (INF, 4.0)]).is_nan());
    }

    #[test]
    fn sorts_and_merges_buckets() {
        // rate(mixed_bucket[10m]) at 50m: le="0.2", "2e-1" and "2.0e-1" are one bound.
        let r = 1.0 / 300.0;
        let mixed = [(0.2, r), (INF, 4.0 * r), (0.1, r), (0.2, r), (0.2, r)];
        assert!(close(q(0.5, &mixed), 0.15));
        assert!(close(q(0.75, &mixed), 0.2));
        assert!(close(q(1.0, &mixed), 0.2));
        assert!(q(0.5, &[(INF, 0.0), (INF, 0.0)]).is_nan());
    }

    #[test]
    fn rank_in_the_inf_bucket_returns_second_highest_bound() {
        assert_eq!(q(0.99, &[(1.0, 1.0), (2.0, 2.0), (INF, 100.0)]), 2.0);
    }

    #[test]
    fn forces_monotonicity() {
        // nonmonotonic_bucket at 50m in histograms.test, which raises the info annotation.
        let nonmonotonic = [(0.1, 20.0), (1.0, 10.0), (10.0, 50.0), (100.0, 40.0), (1000.0, 90.0), (INF, 80.0)];
        for (phi, want) in [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)] {
            let (got, forced) = bucket_quantile_with_info(phi, &mut buckets(&nonmonotonic));
            assert!(forced);
            assert!(close(got, want), "{phi}: {got}");
        }
        let (_, forced) = bucket_quantile_with_info(0.5, &mut buckets(&POSITIVE));
        assert!(!forced);
    }

    #[test]
    fn ignores_tiny_deltas_silently() {
        let mut b = buckets(&[(1.0, 1e15), (2.0, 1e15 - 0.25), (INF, 1e15)]);
        let (v, forced) = bucket_quantile_with_info(1.0, &mut b);
        assert!(!forced);
        assert_eq!(v, 1.0);
        assert_eq!(b[1].count, 1e15);
    }

    #[test]
    fn almost_equal_rules() {
        assert!(almost_equal(f64::NAN, f64::NAN, 1e-12));
        assert!(!almost_equal(0.0, 1e-300, 1e-12));
        assert!(almost_equal(1.0, 1.0 + 1e-13, 1e-12));
        assert!(!almost_equal(1.0, 1.0 + 1e-11, 1e-12));
        assert!(almost_equal(f64::MAX, f64::MAX, 1e-12));
    }
}
