//! `irate` and `idelta`: the change between the last two samples of the window.

/// The difference between the last two samples, per second if `is_rate`. `is_rate` also treats a decrease as a
/// counter reset (the change is then the last value). `None` with fewer than two samples or if both share a
/// timestamp.
pub(super) fn rate(samples: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    let [.., (prev_t, prev_v), (last_t, last_v)] = *samples else { return None };
    let interval = last_t.wrapping_sub(prev_t);
    if interval == 0 {
        return None;
    }
    let reset = is_rate && last_v < prev_v;
    let mut change = if reset { last_v } else { last_v - prev_v };
    if is_rate {
        change /= interval as f64 / 1000.0;
    }
    Some(change)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, load, series, window};
    use super::super::RangeFunction::{self, Idelta, Irate};

    const MINUTE: i64 = 60_000;

    fn eval(f: RangeFunction, data: &[(i64, f64)], range: i64, at: i64) -> Option<f64> {
        f.eval(&window(data, range, at), &[])
    }

    #[test]
    fn irate() {
        let foo = load(5 * MINUTE, &series(0.0, 10.0, 10));
        let bar = load(5 * MINUTE, &[series(0.0, 10.0, 5), series(0.0, 10.0, 5)].concat());
        assert!(close(eval(Irate, &foo, 50 * MINUTE, 50 * MINUTE), 0.03333333333333333));
        assert!(close(eval(Irate, &bar, 50 * MINUTE, 50 * MINUTE), 0.03333333333333333));
        assert!(close(eval(Irate, &foo, 50 * MINUTE, 30 * MINUTE), 0.03333333333333333));
        // A reset at 30m: the rate is the new value, 0, over the interval.
        assert_eq!(eval(Irate, &bar, 50 * MINUTE, 30 * MINUTE), Some(0.0));
    }

    #[test]
    fn nan_values() {
        // irate/idelta(http_requests_nan[15m1s]) from 0 to 20m: _ NaN NaN NaN 0.02 / _ NaN NaN NaN 6.
        let data = load(5 * MINUTE, &[1.0, f64::NAN, f64::NAN, 5.0, 11.0].map(Some));
        let range = 15 * MINUTE + 1000;
        assert_eq!(eval(Irate, &data, range, 0), None);
        assert_eq!(eval(Idelta, &data, range, 0), None);
        for at in [5, 10, 15] {
            assert!(eval(Irate, &data, range, at * MINUTE).unwrap().is_nan());
            assert!(eval(Idelta, &data, range, at * MINUTE).unwrap().is_nan());
        }
        assert!(close(eval(Irate, &data, range, 20 * MINUTE), 0.02));
        assert_eq!(eval(Idelta, &data, range, 20 * MINUTE), Some(6.0));
    }

    #[test]
    fn idelta() {
        let foo = load(5 * MINUTE, &[0.0, 50.0, 100.0, 150.0].map(Some));
        let bar = load(5 * MINUTE, &[0.0, 50.0, 100.0, 50.0].map(Some));
        assert_eq!(eval(Idelta, &foo, 20 * MINUTE, 20 * MINUTE), Some(50.0));
        assert_eq!(eval(Idelta, &bar, 20 * MINUTE, 20 * MINUTE), Some(-50.0));
    }

    #[test]
    fn degenerate() {
        assert_eq!(super::rate(&[(5, 1.0)], true), None);
        assert_eq!(super::rate(&[(5, 1.0), (5, 2.0)], false), None);
        assert_eq!(super::rate(&[], true), None);
    }
}
