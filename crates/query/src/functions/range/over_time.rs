//! The `*_over_time` aggregations of a window's sample values. Each gives `None` for an empty window.

use super::seconds;
use crate::functions::stats::{self, CompensatedVariance, KahanSum, Mean};

pub(super) fn avg(samples: &[(i64, f64)]) -> Option<f64> {
    non_empty(samples)?;
    let mut mean = Mean::default();
    samples.iter().for_each(|&(_, v)| mean.add(v));
    Some(mean.value())
}

pub(super) fn sum(samples: &[(i64, f64)]) -> Option<f64> {
    non_empty(samples)?;
    let mut sum = KahanSum::default();
    samples.iter().for_each(|&(_, v)| sum.add(v));
    Some(sum.value())
}

pub(super) fn count(samples: &[(i64, f64)]) -> Option<f64> {
    non_empty(samples)?;
    Some(samples.len() as f64)
}

/// The smallest value; NaN only if all values are NaN.
pub(super) fn min(samples: &[(i64, f64)]) -> Option<f64> {
    extreme(samples, |v, best| v < best || best.is_nan()).map(|(_, v)| v)
}

/// The largest value; NaN only if all values are NaN.
pub(super) fn max(samples: &[(i64, f64)]) -> Option<f64> {
    extreme(samples, |v, best| v > best || best.is_nan()).map(|(_, v)| v)
}

/// The time in seconds of the last occurrence of the smallest value.
pub(super) fn ts_of_min(samples: &[(i64, f64)]) -> Option<f64> {
    extreme(samples, |v, best| v <= best || best.is_nan()).map(|(t, _)| seconds(t))
}

/// The time in seconds of the last occurrence of the largest value.
pub(super) fn ts_of_max(samples: &[(i64, f64)]) -> Option<f64> {
    extreme(samples, |v, best| v >= best || best.is_nan()).map(|(t, _)| seconds(t))
}

/// The sample that wins every comparison `replaces(value, best so far)`, starting from the first sample.
fn extreme(samples: &[(i64, f64)], replaces: impl Fn(f64, f64) -> bool) -> Option<(i64, f64)> {
    let mut best = *samples.first()?;
    for &(t, v) in samples {
        if replaces(v, best.1) {
            best = (t, v);
        }
    }
    Some(best)
}

pub(super) fn quantile(samples: &[(i64, f64)], phi: f64) -> Option<f64> {
    non_empty(samples)?;
    Some(stats::quantile(phi, &mut values(samples)))
}

pub(super) fn mad(samples: &[(i64, f64)]) -> Option<f64> {
    non_empty(samples)?;
    Some(stats::mad(&mut values(samples)))
}

pub(super) fn stdvar(samples: &[(i64, f64)]) -> Option<f64> {
    variance(samples).map(|v| v.stdvar())
}

pub(super) fn stddev(samples: &[(i64, f64)]) -> Option<f64> {
    variance(samples).map(|v| v.stddev())
}

fn variance(samples: &[(i64, f64)]) -> Option<CompensatedVariance> {
    non_empty(samples)?;
    let mut variance = CompensatedVariance::default();
    samples.iter().for_each(|&(_, v)| variance.add(v));
    Some(variance)
}

fn values(samples: &[(i64, f64)]) -> Vec<f64> {
    samples.iter().map(|&(_, v)| v).collect()
}

fn non_empty(samples: &[(i64, f64)]) -> Option<()> {
    (!samples.is_empty()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, load, window};
    use super::super::RangeFunction::{self, *};

    const INF: f64 = f64::INFINITY;
    /// 9.988465674311579e+307 in the test scripts: twice it overflows.
    const BIG: f64 = 9.988_465_674_311_58e307;
    const NAN: f64 = f64::NAN;

    /// `f(metric[range])` at `at` with `metric` loaded every `step` milliseconds.
    fn eval(f: RangeFunction, step: i64, values: &[f64], range: i64, at: i64, args: &[f64]) -> Option<f64> {
        let data = load(step, &values.iter().map(|&v| Some(v)).collect::<Vec<_>>());
        f.eval(&window(&data, range, at), args)
    }

    fn at_1m(f: RangeFunction, values: &[f64]) -> Option<f64> {
        eval(f, 10_000, values, 120_000, 60_000, &[])
    }

    #[test]
    fn avg_over_time() {
        let metric = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(eval(AvgOverTime, 10_000, &metric, 10_000, 55_000, &[]), None);
        assert_eq!(eval(AvgOverTime, 10_000, &metric, 20_000, 55_000, &[]), Some(5.0));
        assert_eq!(eval(AvgOverTime, 10_000, &metric, 60_000, 55_000, &[]), Some(3.0));
        assert_eq!(eval(AvgOverTime, 10_000, &[1.0, 2.0, 3.0, 4.0, INF], 60_000, 55_000, &[]), Some(INF));
        assert!(eval(AvgOverTime, 10_000, &[1.0, 2.0, 3.0, INF, -INF], 60_000, 55_000, &[]).unwrap().is_nan());
        let nan = [1.0, 2.0, 3.0, NAN, NAN];
        assert_eq!(eval(AvgOverTime, 10_000, &nan, 60_000, 20_000, &[]), Some(2.0));
        assert!(eval(AvgOverTime, 10_000, &nan, 60_000, 30_000, &[]).unwrap().is_nan());
        assert_eq!(eval(AvgOverTime, 10_000, &[1.0, 1e100, 1.0, -1e100], 120_000, 60_000, &[]), Some(0.5));
        // foo 52+0x100 (load 10s) at 10m: direct mean keeps it exact.
        for range in [100_000, 110_000, 120_000, 130_000] {
            assert_eq!(eval(AvgOverTime, 10_000, &[52.0; 101], range, 600_000, &[]), Some(52.0));
        }
    }

    #[test]
    fn sum_and_count_over_time() {
        assert_eq!(eval(SumOverTime, 10_000, &[1.0, 1e100, 1.0, -1e100], 120_000, 60_000, &[]), Some(2.0));
        assert_eq!(eval(SumOverTime, 10_000, &[BIG; 2], 60_000, 55_000, &[]), Some(INF));
        // metric 1+0x4000 (load 1ms) at 4s.
        for (range, want) in [(1000, 1000.0), (1001, 1001.0), (2003, 2003.0), (3002, 3002.0)] {
            assert_eq!(eval(SumOverTime, 1, &[1.0; 4001], range, 4000, &[]), Some(want));
        }
        assert_eq!(at_1m(CountOverTime, &[NAN, NAN, NAN]), Some(3.0));
    }

    #[test]
    fn min_max_last_over_time() {
        // data{type=...} 2 0 3 / 2 0 NaN / 2 NaN 1 / NaN 0 1 / NaN NaN NaN, at 1m over [2m].
        let series = [[2.0, 0.0, 3.0], [2.0, 0.0, NAN], [2.0, NAN, 1.0], [NAN, 0.0, 1.0], [NAN, NAN, NAN]];
        let mins = [0.0, 0.0, 1.0, 0.0, NAN];
        let maxs = [3.0, 2.0, 2.0, 1.0, NAN];
        let lasts = [3.0, NAN, 1.0, 1.0, NAN];
        for (i, values) in series.iter().enumerate() {
            assert!(close(at_1m(MinOverTime, values), mins[i]), "{values:?}");
            assert!(close(at_1m(MaxOverTime, values), maxs[i]), "{values:?}");
            assert!(close(at_1m(LastOverTime, values), lasts[i]), "{values:?}");
            assert!(close(at_1m(FirstOverTime, values), values[0]), "{values:?}");
        }
    }

    #[test]
    fn timestamps_over_time() {
        // metric 1 2 3 0 5 6 2 1 4 loaded every 10.053s, at 90s over [90s].
        let values = [1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 2.0, 1.0, 4.0];
        assert_eq!(eval(TsOfMinOverTime, 10_053, &values, 90_000, 90_000, &[]), Some(30.159));
        assert_eq!(eval(TsOfMaxOverTime, 10_053, &values, 90_000, 90_000, &[]), Some(50.265));
        assert_eq!(eval(TsOfLastOverTime, 10_053, &[1.0, 2.0, 3.0], 90_000, 95_000, &[]), Some(20.106));
        assert_eq!(eval(TsOfFirstOverTime, 10_053, &[1.0, 2.0, 3.0], 90_000, 95_000, &[]), Some(10.053));
        // Ties go to the last occurrence; NaN never wins over a number but replaces a NaN.
        assert_eq!(eval(TsOfMaxOverTime, 1000, &[NAN, 3.0, 1.0, 3.0, NAN], 10_000, 5000, &[]), Some(3.0));
        assert_eq!(eval(TsOfMinOverTime, 1000, &[NAN, NAN], 10_000, 5000, &[]), Some(1.0));
    }

    #[test]
    fn quantile_over_time() {
        let uneven = [0.0, 1.0, 4.0];
        for (phi, want) in [(0.0, 0.0), (0.5, 1.0), (0.75, 2.5), (0.8, 2.8), (1.0, 4.0), (-1.0, -INF), (2.0, INF)] {
            assert!(close(eval(QuantileOverTime, 10_000, &uneven, 120_000, 60_000, &[phi]), want), "{phi}");
        }
        assert!(eval(QuantileOverTime, 10_000, &uneven, 120_000, 60_000, &[NAN]).unwrap().is_nan());
    }

    #[test]
    fn variance_over_time() {
        let metric = [0.0, 8.0, 8.0, 2.0, 3.0];
        assert!(close(at_1m(StdvarOverTime, &metric), 10.56));
        assert!((at_1m(StddevOverTime, &metric).unwrap() - 3.249615).abs() < 1e-6);
        let flat = [1.5990505637277868; 3];
        assert_eq!(eval(StdvarOverTime, 10_000, &flat, 60_000, 55_000, &[]), Some(0.0));
        assert_eq!(eval(StddevOverTime, 10_000, &flat, 60_000, 55_000, &[]), Some(0.0));
        assert_eq!(at_1m(StddevOverTime, &[1.0, 1.0, 1.0]), Some(0.0));
    }

    #[test]
    fn mad_and_present_over_time() {
        assert_eq!(eval(MadOverTime, 10_000, &[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0], 70_000, 70_000, &[]), Some(1.0));
        assert_eq!(at_1m(MadOverTime, &[1.0, 1.0, 1.0]), Some(0.0));
        assert_eq!(at_1m(PresentOverTime, &[NAN]), Some(1.0));
    }
}
