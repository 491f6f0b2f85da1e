//! `changes` and `resets`: how often consecutive samples differ, or decrease.

/// The number of times the value changed (NaN to NaN is no change). `None` for no samples, 0 for one.
pub(super) fn changes(samples: &[(i64, f64)]) -> Option<f64> {
    count_pairs(samples, |prev, curr| prev != curr && !(prev.is_nan() && curr.is_nan()))
}

/// The number of times the value decreased (counter resets). `None` for no samples, 0 for one.
pub(super) fn resets(samples: &[(i64, f64)]) -> Option<f64> {
    count_pairs(samples, |prev, curr| curr < prev)
}

fn count_pairs(samples: &[(i64, f64)], counts: impl Fn(f64, f64) -> bool) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    Some(samples.windows(2).filter(|pair| counts(pair[0].1, pair[1].1)).count() as f64)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{load, window};
    use super::super::RangeFunction::{self, Changes, Resets};

    const MINUTE: i64 = 60_000;
    const NAN: f64 = f64::NAN;

    /// http_requests{path="/foo"}, {path="/bar"} and {path="/biz"} from functions.test (load 5m).
    fn requests() -> [Vec<(i64, f64)>; 3] {
        [
            [1.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0],
            [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        ]
        .map(|values| load(5 * MINUTE, &values.map(Some)))
    }

    fn at_50m(f: RangeFunction, range: i64) -> Vec<Option<f64>> {
        requests().iter().map(|data| f.eval(&window(data, range, 50 * MINUTE), &[])).collect()
    }

    #[test]
    fn resets() {
        assert_eq!(at_50m(Resets, 5 * MINUTE), [None, None, None]);
        assert_eq!(at_50m(Resets, 10 * MINUTE), [Some(0.0); 3]);
        assert_eq!(at_50m(Resets, 20 * MINUTE), [Some(1.0), Some(0.0), Some(0.0)]);
        assert_eq!(at_50m(Resets, 30 * MINUTE), [Some(1.0), Some(0.0), Some(0.0)]);
        assert_eq!(at_50m(Resets, 32 * MINUTE), [Some(2.0), Some(1.0), Some(0.0)]);
        assert_eq!(at_50m(Resets, 50 * MINUTE), [Some(3.0), Some(1.0), Some(0.0)]);
    }

    #[test]
    fn changes() {
        assert_eq!(at_50m(Changes, 5 * MINUTE), [None, None, None]);
        assert_eq!(at_50m(Changes, 6 * MINUTE), [Some(0.0); 3]);
        assert_eq!(at_50m(Changes, 20 * MINUTE), [Some(2.0), Some(2.0), Some(0.0)]);
        assert_eq!(at_50m(Changes, 30 * MINUTE), [Some(3.0), Some(4.0), Some(0.0)]);
        assert_eq!(at_50m(Changes, 50 * MINUTE), [Some(7.0), Some(8.0), Some(1.0)]);
    }

    #[test]
    fn changes_with_nan() {
        let b = load(5 * MINUTE, &[NAN, NAN, NAN].map(Some));
        let c = load(5 * MINUTE, &[0.0, NAN, 0.0].map(Some));
        assert_eq!(Changes.eval(&window(&b, 20 * MINUTE, 15 * MINUTE), &[]), Some(0.0));
        assert_eq!(Changes.eval(&window(&c, 20 * MINUTE, 15 * MINUTE), &[]), Some(2.0));
        assert_eq!(Resets.eval(&window(&c, 20 * MINUTE, 15 * MINUTE), &[]), Some(0.0));
    }
}
