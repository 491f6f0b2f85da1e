//! Element-wise functions of one value: math (`abs`, `ln`, `round`, `clamp`, trigonometry...) and time
//! (`day_of_week`, `hour`...; the value is seconds since the Unix epoch).

mod calendar;

use calendar::Civil;

/// A function applied to every element of an instant vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementFunction {
    Abs,
    Ceil,
    Floor,
    Exp,
    Sqrt,
    Ln,
    Log2,
    Log10,
    Sgn,
    /// Args: `[to_nearest]`, default 1.
    Round,
    /// Args: `[min, max]`. Prometheus outputs nothing at all when `max < min`: check [`Self::yields_empty`].
    Clamp,
    /// Args: `[min]`.
    ClampMin,
    /// Args: `[max]`.
    ClampMax,
    Acos,
    Acosh,
    Asin,
    Asinh,
    Atan,
    Atanh,
    Cos,
    Cosh,
    Sin,
    Sinh,
    Tan,
    Tanh,
    Deg,
    Rad,
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

impl ElementFunction {
    pub fn from_name(name: &str) -> Option<ElementFunction> {
        use ElementFunction::*;
        Some(match name {
            "abs" => Abs,
            "ceil" => Ceil,
            "floor" => Floor,
            "exp" => Exp,
            "sqrt" => Sqrt,
            "ln" => Ln,
            "log2" => Log2,
            "log10" => Log10,
            "sgn" => Sgn,
            "round" => Round,
            "clamp" => Clamp,
            "clamp_min" => ClampMin,
            "clamp_max" => ClampMax,
            "acos" => Acos,
            "acosh" => Acosh,
            "asin" => Asin,
            "asinh" => Asinh,
            "atan" => Atan,
            "atanh" => Atanh,
            "cos" => Cos,
            "cosh" => Cosh,
            "sin" => Sin,
            "sinh" => Sinh,
            "tan" => Tan,
            "tanh" => Tanh,
            "deg" => Deg,
            "rad" => Rad,
            "day_of_month" => DayOfMonth,
            "day_of_week" => DayOfWeek,
            "day_of_year" => DayOfYear,
            "days_in_month" => DaysInMonth,
            "hour" => Hour,
            "minute" => Minute,
            "month" => Month,
            "year" => Year,
            _ => return None,
        })
    }

    /// Whether this is one of the calendar functions, which take the evaluation time (`time()`) when called
    /// without an argument.
    pub fn is_time_function(self) -> bool {
        use ElementFunction::*;
        matches!(self, DayOfMonth | DayOfWeek | DayOfYear | DaysInMonth | Hour | Minute | Month | Year)
    }

    /// Whether Prometheus returns an empty vector for these arguments instead of applying the function: `clamp`
    /// with `max < min`.
    pub fn yields_empty(self, args: &[f64]) -> bool {
        match (self, args) {
            (ElementFunction::Clamp, [min, max, ..]) => max < min,
            _ => false,
        }
    }

    /// Applies the function to `v`; `args` are the extra scalar arguments in call order (e.g. `clamp`'s min and
    /// max, `round`'s to_nearest).
    pub fn eval(self, v: f64, args: &[f64]) -> f64 {
        use ElementFunction::*;
        let arg = |i: usize, default: f64| args.get(i).copied().unwrap_or(default);
        match self {
            Abs => v.abs(),
            Ceil => v.ceil(),
            Floor => v.floor(),
            Exp => v.exp(),
            Sqrt => v.sqrt(),
            Ln => v.ln(),
            Log2 => go_log2(v),
            Log10 => go_log2(v) * std::f64::consts::LOG10_2,
            Sgn => {
                if v < 0.0 {
                    -1.0
                } else if v > 0.0 {
                    1.0
                } else {
                    v
                }
            }
            Round => {
                // Prometheus multiplies by the inverse, which it found to be more accurate than dividing.
                let inverse = 1.0 / arg(0, 1.0);
                (v * inverse + 0.5).floor() / inverse
            }
            Clamp => clamp(v, arg(0, f64::NEG_INFINITY), arg(1, f64::INFINITY)),
            ClampMin => clamp(v, arg(0, f64::NEG_INFINITY), f64::INFINITY),
            ClampMax => clamp(v, f64::NEG_INFINITY, arg(0, f64::INFINITY)),
            Acos => v.acos(),
            Acosh => v.acosh(),
            Asin => v.asin(),
            Asinh => v.asinh(),
            Atan => v.atan(),
            Atanh => v.atanh(),
            Cos => v.cos(),
            Cosh => v.cosh(),
            Sin => v.sin(),
            Sinh => v.sinh(),
            Tan => v.tan(),
            Tanh => v.tanh(),
            Deg => v * 180.0 / std::f64::consts::PI,
            Rad => v * std::f64::consts::PI / 180.0,
            DayOfMonth | DayOfWeek | DayOfYear | DaysInMonth | Hour | Minute | Month | Year => {
                if !v.is_finite() {
                    return f64::NAN;
                }
                // Whole seconds, truncated toward zero like Go's int64 conversion.
                let c = Civil::from_unix(v as i64);
                let field = match self {
                    DayOfMonth => c.day,
                    DayOfWeek => c.weekday,
                    DayOfYear => c.day_of_year(),
                    DaysInMonth => c.days_in_month(),
                    Hour => c.hour,
                    Minute => c.minute,
                    Month => c.month,
                    _ => c.year,
                };
                field as f64
            }
        }
    }
}

/// `max(min, min(max, v))` with Go's `math.Min`/`math.Max` rules: an infinite bound wins over NaN, any other
/// NaN propagates, and -0 < +0.
fn clamp(v: f64, min: f64, max: f64) -> f64 {
    go_max(min, go_min(max, v))
}

fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Base-2 logarithm computed as Go's `math.Log2` does (so `log2` and `log10` agree with Prometheus to the last
/// bit): split off the binary exponent, exact for powers of two.
fn go_log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * std::f64::consts::LOG2_E + f64::from(exp)
}

/// `x = frac * 2^exp` with `0.5 <= |frac| < 1`; zero, infinities and NaN come back unchanged with `exp = 0`.
fn frexp(x: f64) -> (f64, i32) {
    const EXPONENT_MASK: u64 = 0x7ff << 52;
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, adjust) = if x.abs() < f64::MIN_POSITIVE { (x * (1u64 << 52) as f64, -52) } else { (x, 0) };
    let bits = x.to_bits();
    let exp = ((bits & EXPONENT_MASK) >> 52) as i32 - 1022 + adjust;
    (f64::from_bits((bits & !EXPONENT_MASK) | (1022 << 52)), exp)
}

#[cfg(test)]
mod tests {
    use super::ElementFunction::{self, *};
    use super::*;

    const INF: f64 = f64::INFINITY;
    const NAN: f64 = f64::NAN;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Within a few ulps: Rust's libm and Go's math package may round transcendental functions differently.
    fn close(a: f64, b: f64) -> bool {
        same(a, b) || ((a - b) / b).abs() < 1e-15
    }

    /// The data{type=...} values from functions.test: 2.5 2 -2.5 -2 0 -0 +Inf -Inf NaN.
    const DATA: [f64; 9] = [2.5, 2.0, -2.5, -2.0, 0.0, -0.0, INF, -INF, NAN];

    fn check_data(f: ElementFunction, want: [f64; 9]) {
        for (v, w) in DATA.into_iter().zip(want) {
            let got = f.eval(v, &[]);
            // The test scripts do not distinguish -0 from 0.
            assert!(got == w || same(got, w), "{f:?}({v}) = {got}, want {w}");
        }
    }

    #[test]
    fn names_round_trip() {
        for name in ["abs", "clamp_min", "log10", "days_in_month", "atanh", "year"] {
            assert!(ElementFunction::from_name(name).is_some(), "{name}");
        }
        assert_eq!(ElementFunction::from_name("rate"), None);
        assert_eq!(ElementFunction::from_name("pi"), None);
    }

    #[test]
    fn abs_ceil_floor_round() {
        check_data(Abs, [2.5, 2.0, 2.5, 2.0, 0.0, 0.0, INF, INF, NAN]);
        check_data(Ceil, [3.0, 2.0, -2.0, -2.0, 0.0, 0.0, INF, -INF, NAN]);
        check_data(Floor, [2.0, 2.0, -3.0, -2.0, 0.0, 0.0, INF, -INF, NAN]);
        check_data(Round, [3.0, 2.0, -2.0, -2.0, 0.0, 0.0, INF, -INF, NAN]);
    }

    #[test]
    fn round_to_nearest() {
        // aggregators.test: round(-1 * (5.2 + 0.0005 * x), 0.1) for x = 100, 200.
        assert!(close(Round.eval(-(5.2 + 0.0005 * 100.0), &[0.1]), -5.2));
        assert!(close(Round.eval(-(5.2 + 0.0005 * 200.0), &[0.1]), -5.3));
        assert_eq!(Round.eval(0.025 * 100.0, &[5.0]), 5.0);
        assert_eq!(Round.eval(0.045 * 100.0, &[5.0]), 5.0);
        assert_eq!(Round.eval(0.045 * 200.0, &[5.0]), 10.0);
        assert!(Round.eval(1.0, &[0.0]).is_nan());
        assert!(Round.eval(1.0, &[NAN]).is_nan());
    }

    #[test]
    fn sgn() {
        assert_eq!(Sgn.eval(-3.0, &[]), -1.0);
        assert_eq!(Sgn.eval(0.1, &[]), 1.0);
        assert!(same(Sgn.eval(-0.0, &[]), -0.0));
        assert!(Sgn.eval(NAN, &[]).is_nan());
        assert_eq!(Sgn.eval(-INF, &[]), -1.0);
    }

    #[test]
    fn exp_ln_sqrt_logs() {
        // The exp_root_log tests in functions.test.
        assert!(close(Exp.eval(10.0, &[]), 22026.465794806718));
        assert!(close(Exp.eval(20.0, &[]), 485165195.4097903));
        assert!(close(Exp.eval(-10.0, &[]), 4.5399929762484854e-05));
        assert_eq!(Ln.eval(10.0, &[]), std::f64::consts::LN_10);
        assert!(close(Ln.eval(20.0, &[]), 2.995732273553991));
        assert_eq!(Ln.eval(0.0, &[]), -INF);
        assert!(Ln.eval(-10.0, &[]).is_nan());
        assert!(close(Sqrt.eval(10.0, &[]), 3.1622776601683795));
        assert!(close(Sqrt.eval(20.0, &[]), 4.47213595499958));
        assert!(close(Log2.eval(10.0, &[]), 3.3219280948873626));
        assert!(close(Log2.eval(20.0, &[]), 4.321928094887363));
        assert_eq!(Log2.eval(0.0, &[]), -INF);
        assert!(Log2.eval(-10.0, &[]).is_nan());
        assert_eq!(Log2.eval(1024.0, &[]), 10.0);
        assert_eq!(Log2.eval(f64::MIN_POSITIVE / 4.0, &[]), -1024.0);
        assert_eq!(Log2.eval(INF, &[]), INF);
        assert!(Log2.eval(NAN, &[]).is_nan());
        assert_eq!(Log10.eval(10.0, &[]), 1.0);
        assert_eq!(Log10.eval(1e10, &[]), 10.0);
        assert!(close(Log10.eval(20.0, &[]), 1.301029995663981));
        assert_eq!(Log10.eval(0.0, &[]), -INF);
        assert!(Log10.eval(-10.0, &[]).is_nan());
    }

    #[test]
    fn trigonometry() {
        // trig_functions.test with trig = 10 and 20.
        let cases: [(ElementFunction, f64, f64); 22] = [
            (Sin, 10.0, -0.5440211108893699),
            (Sin, 20.0, 0.9129452507276277),
            (Cos, 10.0, -0.8390715290764524),
            (Cos, 20.0, 0.40808206181339196),
            (Tan, 10.0, 0.6483608274590867),
            (Tan, 20.0, 2.2371609442247427),
            (Asin, -0.09999999999999964, -0.10016742116155944),
            (Acos, -0.09999999999999964, 1.670963747956456),
            (Atan, 10.0, 1.4711276743037345),
            (Atan, 20.0, 1.5208379310729538),
            // The test script expects cosh(10) here, which passes only thanks to its 1e-6 tolerance.
            (Sinh, 10.0, 11013.232874703393),
            (Sinh, 20.0, 2.4258259770489514e+08),
            (Cosh, 10.0, 11013.232920103324),
            (Cosh, 20.0, 2.4258259770489514e+08),
            (Tanh, 10.0, 0.9999999958776927),
            (Tanh, 20.0, 1.0),
            (Asinh, 10.0, 2.99822295029797),
            (Asinh, 20.0, 3.6895038689889055),
            (Acosh, 10.0, 2.993222846126381),
            (Acosh, 20.0, 3.6882538673612966),
            (Atanh, -0.09999999999999964, -0.10033534773107522),
            (Rad, 10.0, 0.17453292519943295),
        ];
        for (f, v, want) in cases {
            let got = f.eval(v, &[]);
            assert!(close(got, want), "{f:?}({v}) = {got}, want {want}");
        }
        assert!(close(Rad.eval(20.0, &[]), 0.3490658503988659));
        assert!(close(Deg.eval(10.0, &[]), 572.9577951308232));
        assert!(close(Deg.eval(20.0, &[]), 1145.9155902616465));
        assert!(close(Deg.eval(-10.0, &[]), -572.9577951308232));
        assert_eq!(Deg.eval(0.0, &[]), 0.0);
        for f in [Asin, Acos, Atanh] {
            assert!(f.eval(9.9, &[]).is_nan());
        }
        for f in [Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Deg, Rad] {
            assert!(f.eval(NAN, &[]).is_nan(), "{f:?}");
        }
    }

    #[test]
    fn clamping() {
        assert_eq!(Clamp.eval(5.0, &[0.0, 3.0]), 3.0);
        assert_eq!(Clamp.eval(-5.0, &[0.0, 3.0]), 0.0);
        assert_eq!(Clamp.eval(1.5, &[0.0, 3.0]), 1.5);
        assert!(Clamp.eval(NAN, &[0.0, 3.0]).is_nan());
        assert_eq!(ClampMin.eval(-5.0, &[0.0]), 0.0);
        assert_eq!(ClampMin.eval(7.0, &[0.0]), 7.0);
        assert_eq!(ClampMax.eval(7.0, &[3.0]), 3.0);
        assert_eq!(ClampMax.eval(-INF, &[3.0]), -INF);
        // Go's Max/Min: an infinite bound beats NaN.
        assert_eq!(ClampMin.eval(NAN, &[INF]), INF);
        assert_eq!(ClampMax.eval(NAN, &[-INF]), -INF);
        assert!(ClampMin.eval(NAN, &[0.0]).is_nan());
        assert!(Clamp.eval(1.0, &[NAN, 3.0]).is_nan());
        assert!(same(ClampMin.eval(-0.0, &[0.0]), 0.0));
        assert!(same(ClampMax.eval(0.0, &[-0.0]), -0.0));
        assert!(Clamp.yields_empty(&[3.0, 0.0]));
        assert!(!Clamp.yields_empty(&[0.0, 0.0]));
        assert!(!Clamp.yields_empty(&[NAN, 0.0]));
        assert!(!ClampMin.yields_empty(&[3.0, 0.0]));
        // Inverted bounds still compute Prometheus' formula if called anyway.
        assert_eq!(Clamp.eval(1.0, &[3.0, 0.0]), 3.0);
    }

    #[test]
    fn calendar_functions() {
        let t = 1_136_239_445.0; // 2006-01-02 22:04:05 UTC, a Monday.
        let cases = [(Year, 2006.0), (Month, 1.0), (DayOfMonth, 2.0), (DayOfYear, 2.0), (DayOfWeek, 1.0), (Hour, 22.0)];
        for (f, want) in cases {
            assert_eq!(f.eval(t, &[]), want, "{f:?}");
        }
        assert_eq!(Minute.eval(t, &[]), 4.0);
        assert_eq!(DaysInMonth.eval(t, &[]), 31.0);
        assert_eq!(DayOfWeek.eval(0.0, &[]), 4.0);
        assert_eq!(Month.eval(1_456_790_399.0, &[]) + DayOfMonth.eval(1_456_790_399.0, &[]) / 100.0, 2.29);
        assert_eq!(Month.eval(1_456_790_400.0, &[]) + DayOfMonth.eval(1_456_790_400.0, &[]) / 100.0, 3.01);
        assert_eq!(DaysInMonth.eval(1_454_284_800.0, &[]), 29.0);
        assert_eq!(DaysInMonth.eval(1_485_907_200.0, &[]), 28.0);
        // Fractions truncate toward zero: -0.5 is second 0, 1970-01-01.
        assert_eq!(Year.eval(-0.5, &[]), 1970.0);
        assert_eq!(Year.eval(-1.5, &[]), 1969.0);
        assert_eq!(Minute.eval(59.9, &[]), 0.0);
        for v in [NAN, INF, -INF] {
            assert!(Year.eval(v, &[]).is_nan());
        }
        assert!(Year.eval(1e300, &[]).is_finite());
        assert!(Hour.is_time_function() && !Abs.is_time_function());
    }

    #[test]
    fn frexp_splits_exponent() {
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(f64::MIN_POSITIVE / 8.0), (0.5, -1024));
        assert_eq!(frexp(0.0), (0.0, 0));
    }
}
