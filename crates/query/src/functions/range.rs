//! Functions over one series' window of samples: `rate`, `increase`, `*_over_time` and friends.

use std::ops::Range;

mod counts;
mod extrapolated;
mod instant;
mod over_time;
mod regression;
mod smoothing;
#[cfg(test)]
mod test_support;

/// The samples of one series in a range-vector window, and the window itself.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    /// Samples with `start < t <= end` (Prometheus 3's left-open ranges), ascending, stale markers removed.
    pub samples: &'a [(i64, f64)],
    /// Exclusive start of the window, milliseconds.
    pub start: i64,
    /// Inclusive end of the window, milliseconds (the evaluation time minus any offset, or the `@` time).
    pub end: i64,
}

impl Window<'_> {
    /// The selector's range in seconds, converted as Go's `time.Duration.Seconds` does.
    fn range_seconds(&self) -> f64 {
        let millis = self.end.wrapping_sub(self.start);
        (millis / 1000) as f64 + ((millis % 1000) * 1_000_000) as f64 / 1e9
    }
}

/// A function from a range vector to an instant vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFunction {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Deriv,
    /// Args: `[seconds]`. The prediction is relative to the evaluation time: see [`RangeFunction::eval_at`].
    PredictLinear,
    Changes,
    Resets,
    /// `double_exponential_smoothing`, formerly `holt_winters`. Args: `[sf, tf]`, validated by
    /// [`RangeFunction::check_args`].
    DoubleExponentialSmoothing,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    /// Args: `[φ]`.
    QuantileOverTime,
    StddevOverTime,
    StdvarOverTime,
    MadOverTime,
    LastOverTime,
    FirstOverTime,
    TsOfMinOverTime,
    TsOfMaxOverTime,
    TsOfLastOverTime,
    TsOfFirstOverTime,
    PresentOverTime,
}

impl RangeFunction {
    /// The function called `name` in PromQL, if it is a range function implemented here.
    pub fn from_name(name: &str) -> Option<RangeFunction> {
        use RangeFunction::*;
        Some(match name {
            "rate" => Rate,
            "increase" => Increase,
            "delta" => Delta,
            "irate" => Irate,
            "idelta" => Idelta,
            "deriv" => Deriv,
            "predict_linear" => PredictLinear,
            "changes" => Changes,
            "resets" => Resets,
            "double_exponential_smoothing" | "holt_winters" => DoubleExponentialSmoothing,
            "avg_over_time" => AvgOverTime,
            "min_over_time" => MinOverTime,
            "max_over_time" => MaxOverTime,
            "sum_over_time" => SumOverTime,
            "count_over_time" => CountOverTime,
            "quantile_over_time" => QuantileOverTime,
            "stddev_over_time" => StddevOverTime,
            "stdvar_over_time" => StdvarOverTime,
            "mad_over_time" => MadOverTime,
            "last_over_time" => LastOverTime,
            "first_over_time" => FirstOverTime,
            "ts_of_min_over_time" => TsOfMinOverTime,
            "ts_of_max_over_time" => TsOfMaxOverTime,
            "ts_of_last_over_time" => TsOfLastOverTime,
            "ts_of_first_over_time" => TsOfFirstOverTime,
            "present_over_time" => PresentOverTime,
            _ => return None,
        })
    }

    /// Validates the scalar arguments the way Prometheus does before evaluating, returning its error message for
    /// a failing query. Only `double_exponential_smoothing` rejects values (sf and tf must be in (0, 1); NaN
    /// passes and yields NaN).
    pub fn check_args(self, args: &[f64]) -> Result<(), String> {
        if self != RangeFunction::DoubleExponentialSmoothing {
            return Ok(());
        }
        for (name, value) in [("smoothing", args.first()), ("trend", args.get(1))] {
            if let Some(&v) = value {
                if v <= 0.0 || v >= 1.0 {
                    let short = &name[..1];
                    return Err(format!("invalid {name} factor. Expected: 0 < {short}f < 1, got: {}", go_float_f(v)));
                }
            }
        }
        Ok(())
    }

    /// Evaluates the function over `window`. `args` are the scalar arguments in call order other than the range
    /// vector (e.g. `predict_linear`'s seconds, `quantile_over_time`'s φ, `double_exponential_smoothing`'s sf and
    /// tf). `None` means "no output element for this series" (e.g. `rate` with fewer than two samples).
    ///
    /// Same as [`RangeFunction::eval_at`] with the evaluation time taken to be `window.end`, which is right
    /// unless the selector has an offset or `@` and the function is `predict_linear`.
    pub fn eval(self, window: &Window<'_>, args: &[f64]) -> Option<f64> {
        self.eval_at(window, args, window.end)
    }

    /// [`RangeFunction::eval`] at evaluation time `eval_time` (milliseconds), which differs from `window.end`
    /// when the selector has an offset or `@` modifier. Only `predict_linear` depends on it: Prometheus
    /// extrapolates from the evaluation time, not from the end of the (shifted) window.
    pub fn eval_at(self, window: &Window<'_>, args: &[f64], eval_time: i64) -> Option<f64> {
        use RangeFunction::*;
        let samples = window.samples;
        match self {
            Rate => extrapolated::rate(window, true, true),
            Increase => extrapolated::rate(window, true, false),
            Delta => extrapolated::rate(window, false, false),
            Irate => instant::rate(samples, true),
            Idelta => instant::rate(samples, false),
            Deriv => regression::deriv(samples),
            PredictLinear => regression::predict_linear(samples, *args.first()?, eval_time),
            Changes => counts::changes(samples),
            Resets => counts::resets(samples),
            DoubleExponentialSmoothing => {
                let (&sf, &tf) = (args.first()?, args.get(1)?);
                self.check_args(args).ok()?;
                smoothing::double_exponential(samples, sf, tf)
            }
            AvgOverTime => over_time::avg(samples),
            MinOverTime => over_time::min(samples),
            MaxOverTime => over_time::max(samples),
            SumOverTime => over_time::sum(samples),
            CountOverTime => over_time::count(samples),
            QuantileOverTime => over_time::quantile(samples, *args.first()?),
            StddevOverTime => over_time::stddev(samples),
            StdvarOverTime => over_time::stdvar(samples),
            MadOverTime => over_time::mad(samples),
            LastOverTime => samples.last().map(|&(_, v)| v),
            FirstOverTime => samples.first().map(|&(_, v)| v),
            TsOfMinOverTime => over_time::ts_of_min(samples),
            TsOfMaxOverTime => over_time::ts_of_max(samples),
            TsOfLastOverTime => samples.last().map(|&(t, _)| seconds(t)),
            TsOfFirstOverTime => samples.first().map(|&(t, _)| seconds(t)),
            PresentOverTime => (!samples.is_empty()).then_some(1.0),
        }
    }
}

/// The counter resets of a whole series, found once so that `rate` and `increase` over many overlapping
/// windows need not rescan each window for them.
#[derive(Clone, Debug, Default)]
pub struct CounterResets {
    /// Indices `i` with `samples[i] < samples[i - 1]`, ascending.
    at: Vec<usize>,
}

impl CounterResets {
    pub fn find(samples: &[(i64, f64)]) -> CounterResets {
        // Most series have no reset: a scan without early exit or allocation (which vectorizes) says so.
        let any = samples.windows(2).fold(false, |any, w| any | (w[1].1 < w[0].1));
        if !any {
            return CounterResets::default();
        }
        let at = (1..samples.len()).filter(|&i| samples[i].1 < samples[i - 1].1).collect();
        CounterResets { at }
    }

    /// The value before each reset that lies inside `samples[range]` (both samples of the pair in it), in order.
    fn within<'s>(&'s self, samples: &'s [(i64, f64)], range: Range<usize>) -> impl Iterator<Item = f64> + 's {
        let from = self.at.partition_point(|&i| i <= range.start);
        self.at[from..].iter().take_while(move |&&i| i < range.end).map(move |&i| samples[i - 1].1)
    }
}

impl RangeFunction {
    /// Whether [`RangeFunction::eval_in_series`] uses the series' [`CounterResets`].
    pub fn uses_counter_resets(self) -> bool {
        matches!(self, RangeFunction::Rate | RangeFunction::Increase)
    }

    /// [`RangeFunction::eval_at`] over the window `series[range]` (with bounds `start`, `end`) of one series,
    /// using the series' counter resets when given. The result is the same as `eval_at`'s, bit for bit.
    pub fn eval_in_series(
        self,
        series: &[(i64, f64)],
        range: Range<usize>,
        (start, end): (i64, i64),
        args: &[f64],
        eval_time: i64,
        resets: Option<&CounterResets>,
    ) -> Option<f64> {
        let window = Window { samples: &series[range.clone()], start, end };
        match resets {
            Some(resets) if self.uses_counter_resets() => {
                let is_rate = self == RangeFunction::Rate;
                extrapolated::rate_with_resets(&window, resets.within(series, range), true, is_rate)
            }
            _ => self.eval_at(&window, args, eval_time),
        }
    }
}

/// A millisecond timestamp in (fractional) seconds.
fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// `v` as Go's `%f` prints it, for error messages.
fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{load, window};
    use super::RangeFunction::{self, *};

    #[test]
    fn counter_resets_found_once_give_the_same_bits_as_a_rescan() {
        // A counter with resets of every kind: to zero, to a lower value, twice in a row, and at the edges.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut value = 0.0;
        let series: Vec<(i64, f64)> = (0..400)
            .map(|i| {
                value = match next() % 10 {
                    0 => 0.0,
                    1 => value * 0.3,
                    _ => value + (next() % 1000) as f64 / 7.0,
                };
                (i * 10_000 + (next() % 3000) as i64, value)
            })
            .collect();
        let resets = super::CounterResets::find(&series);
        for f in [Rate, Increase] {
            for range_ms in [15_000, 60_000, 300_000, 1_000_000] {
                for end in (0..4_200_000).step_by(15_000) {
                    let start = end - range_ms;
                    let range = series.partition_point(|p| p.0 <= start)..series.partition_point(|p| p.0 <= end);
                    let window = super::Window { samples: &series[range.clone()], start, end };
                    let expected = f.eval(&window, &[]);
                    let got = f.eval_in_series(&series, range, (start, end), &[], end, Some(&resets));
                    assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "{f:?} over ({start}, {end}]");
                }
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(RangeFunction::from_name("holt_winters"), Some(DoubleExponentialSmoothing));
        assert_eq!(RangeFunction::from_name("double_exponential_smoothing"), Some(DoubleExponentialSmoothing));
        assert_eq!(RangeFunction::from_name("ts_of_first_over_time"), Some(TsOfFirstOverTime));
        assert_eq!(RangeFunction::from_name("absent_over_time"), None);
        assert_eq!(RangeFunction::from_name("abs"), None);
    }

    #[test]
    fn check_args_for_smoothing() {
        assert_eq!(DoubleExponentialSmoothing.check_args(&[0.5, 0.5]), Ok(()));
        assert_eq!(DoubleExponentialSmoothing.check_args(&[f64::NAN, 0.5]), Ok(()));
        assert_eq!(
            DoubleExponentialSmoothing.check_args(&[1.0, 0.5]),
            Err("invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000".to_owned())
        );
        assert_eq!(
            DoubleExponentialSmoothing.check_args(&[0.5, f64::NEG_INFINITY]),
            Err("invalid trend factor. Expected: 0 < tf < 1, got: -Inf".to_owned())
        );
        assert_eq!(Rate.check_args(&[5.0]), Ok(()));
        let data = load(10_000, &[Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(DoubleExponentialSmoothing.eval(&window(&data, 60_000, 30_000), &[0.0, 0.5]), None);
    }

    #[test]
    fn missing_args_give_no_output() {
        let data = load(10_000, &[Some(1.0), Some(2.0), Some(3.0)]);
        let w = window(&data, 60_000, 30_000);
        for f in [PredictLinear, QuantileOverTime, DoubleExponentialSmoothing] {
            assert_eq!(f.eval(&w, &[]), None, "{f:?}");
        }
    }

    #[test]
    fn empty_windows_give_no_output() {
        let w = super::Window { samples: &[], start: 0, end: 60_000 };
        let all = [
            Rate,
            Increase,
            Delta,
            Irate,
            Idelta,
            Deriv,
            PredictLinear,
            Changes,
            Resets,
            DoubleExponentialSmoothing,
            AvgOverTime,
            MinOverTime,
            MaxOverTime,
            SumOverTime,
            CountOverTime,
            QuantileOverTime,
            StddevOverTime,
            StdvarOverTime,
            MadOverTime,
            LastOverTime,
            FirstOverTime,
            TsOfMinOverTime,
            TsOfMaxOverTime,
            TsOfLastOverTime,
            TsOfFirstOverTime,
            PresentOverTime,
        ];
        for f in all {
            assert_eq!(f.eval(&w, &[0.5, 0.5]), None, "{f:?}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let odd = [(i64::MIN, f64::NAN), (-5, f64::INFINITY), (-5, f64::NEG_INFINITY), (0, 1e308), (i64::MAX, -1e308)];
        let windows = [
            super::Window { samples: &odd, start: i64::MIN, end: i64::MAX },
            super::Window { samples: &odd, start: i64::MAX, end: i64::MIN },
            super::Window { samples: &odd[1..3], start: -10, end: -5 },
        ];
        for w in windows {
            for name in ["rate", "increase", "delta", "irate", "idelta", "deriv", "predict_linear", "changes"] {
                let f = RangeFunction::from_name(name).unwrap();
                let _ = f.eval_at(&w, &[f64::NAN, 2.0], i64::MIN);
                let _ = f.eval(&w, &[1e308, 0.5]);
            }
            for f in [QuantileOverTime, MadOverTime, StddevOverTime, AvgOverTime, DoubleExponentialSmoothing] {
                let _ = f.eval(&w, &[f64::INFINITY, 0.5]);
                let _ = f.eval(&w, &[0.5, 0.5]);
            }
        }
    }

    #[test]
    fn predict_linear_uses_the_evaluation_time() {
        // predict_linear(testcounter_reset_middle_total[55m] @ 3000, 3600) evaluated at 10m and 70m.
        let data = load(300_000, &[0.0, 10.0, 20.0, 30.0, 40.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0].map(Some));
        let w = window(&data, 3_300_000, 3_000_000);
        let at_10m = PredictLinear.eval_at(&w, &[3600.0], 600_000).unwrap();
        let at_70m = PredictLinear.eval_at(&w, &[3600.0], 4_200_000).unwrap();
        assert!((at_10m - 51.36363636363637).abs() < 1e-12);
        assert!((at_70m - 89.54545454545455).abs() < 1e-12);
        let at_end = PredictLinear.eval(&w, &[3600.0]).unwrap();
        assert!((at_end - 76.81818181818181).abs() < 1e-12);
    }

    #[test]
    fn range_seconds_like_go() {
        let w = |start, end| super::Window { samples: &[], start, end };
        assert_eq!(w(0, 300_000).range_seconds(), 300.0);
        assert_eq!(w(-1, 1000).range_seconds(), 1.001);
        assert_eq!(w(0, 1).range_seconds(), 0.001);
    }
}
