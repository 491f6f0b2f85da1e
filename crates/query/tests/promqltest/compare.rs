//! Comparing query results with script expectations, with promqltest's float tolerance.

use std::collections::HashMap;

use vigil_model::Labels;
use vigil_query::{QueryError, QueryResult, Value};

use super::script::{Eval, Pattern, Timing};
use vigil_query::series_notation::SeqValue;

/// Relative tolerance of promqltest.
const EPSILON: f64 = 1e-6;
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// Prometheus' `almost.Equal`: NaN equals NaN, staleness markers only equal each other.
pub fn almost_equal(a: f64, b: f64) -> bool {
    const STALE: u64 = 0x7ff0_0000_0000_0002;
    if a.to_bits() == STALE || b.to_bits() == STALE {
        return a.to_bits() == b.to_bits();
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// Checks a failed query against the case's failure expectations.
pub fn check_failure(eval: &Eval, err: &QueryError) -> Result<(), String> {
    let msg = err.to_string();
    if !eval.fail && eval.expect.fail.is_none() {
        return Err(format!("unexpected error: {msg}"));
    }
    if let Some(m) = &eval.fail_message {
        if *m != msg {
            return Err(format!("expected error {m:?}, got {msg:?}"));
        }
    }
    if let Some(r) = &eval.fail_regex {
        if !r.is_match(&msg) {
            return Err(format!("expected error matching {:?}, got {msg:?}", r.as_str()));
        }
    }
    if let Some(p) = &eval.expect.fail {
        if !p.matches(&msg) {
            return Err(format!("expected error matching {p:?}, got {msg:?}"));
        }
    }
    Ok(())
}

/// Checks warnings and infos as Prometheus 3.5's promqltest does: `eval_warn`/`eval_info` need at least one,
/// plain `eval` none, and `expect` lines must match exactly the annotations present.
pub fn check_annotations(eval: &Eval, res: &QueryResult) -> Result<(), String> {
    check_kind("warning", eval.warn, &eval.expect.warn, eval.expect.no_warn, &res.warnings)?;
    check_kind("info", eval.info, &eval.expect.info, eval.expect.no_info, &res.infos)
}

fn check_kind(kind: &str, flag: bool, expected: &[Pattern], none: bool, actual: &[String]) -> Result<(), String> {
    let wanted = flag || !expected.is_empty();
    if wanted && actual.is_empty() {
        return Err(format!("expected {kind} annotations but got none"));
    }
    if (!wanted || none) && !actual.is_empty() {
        return Err(format!("unexpected {kind} annotations: {actual:?}"));
    }
    for p in expected {
        if !actual.iter().any(|a| p.matches(a)) {
            return Err(format!("expected {kind} annotation {p:?} not found in {actual:?}"));
        }
    }
    if !expected.is_empty() {
        if let Some(a) = actual.iter().find(|a| !expected.iter().any(|p| p.matches(a))) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

/// Compares a result value with the expected series or scalar.
pub fn check_value(eval: &Eval, value: &Value, ordered: bool) -> Result<(), String> {
    let expected: HashMap<&Labels, (&Vec<SeqValue>, usize)> =
        eval.series.iter().map(|(l, v, pos)| (l, (v, *pos))).collect();
    match value {
        Value::Scalar { v, .. } => match eval.scalar {
            Some(e) if almost_equal(e, *v) => Ok(()),
            Some(e) => Err(format!("expected scalar {e} but got {v}")),
            None => Err(format!("expected vector or matrix result, but got scalar {v}")),
        },
        Value::String { s, .. } => Err(format!("unexpected string result {s:?}")),
        Value::Vector(samples) => {
            if eval.scalar.is_some() {
                return Err(format!("expected scalar result, but got vector of {} samples", samples.len()));
            }
            for (pos, s) in samples.iter().enumerate() {
                let Some((vals, epos)) = expected.get(&s.labels) else {
                    return Err(format!("unexpected metric {} in result, has value {}", s.labels, s.v));
                };
                if ordered && *epos != pos + 1 {
                    return Err(format!("expected metric {} at position {epos} but was at {}", s.labels, pos + 1));
                }
                let e = match vals.first() {
                    Some(SeqValue::Float(f)) => *f,
                    other => return Err(format!("unsupported expectation {other:?} for {}", s.labels)),
                };
                if !almost_equal(e, s.v) {
                    return Err(format!("expected {e} for {} but got {}", s.labels, s.v));
                }
            }
            if samples.len() != expected.len() {
                let got: Vec<&Labels> = samples.iter().map(|s| &s.labels).collect();
                if let Some(missing) = expected.keys().find(|l| !got.contains(l)) {
                    return Err(format!("expected metric {missing} not found"));
                }
                return Err("duplicate metrics in result".into());
            }
            Ok(())
        }
        Value::Matrix(series) => {
            if ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if eval.scalar.is_some() {
                return Err("expected scalar result, but got matrix".into());
            }
            let (start, step) = match eval.timing {
                Timing::Instant(t) => (t, 0),
                Timing::Range { start, step, .. } => (start, step),
            };
            for w in series.windows(2) {
                if w[0].labels > w[1].labels {
                    return Err(format!("matrix is not sorted: {} before {}", w[0].labels, w[1].labels));
                }
            }
            for s in series {
                let Some((vals, _)) = expected.get(&s.labels) else {
                    return Err(format!("unexpected metric {} in result, has {:?}", s.labels, s.points));
                };
                let want: Vec<(i64, f64)> = vals
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        SeqValue::Float(f) => Some((start + i as i64 * step, *f)),
                        _ => None,
                    })
                    .collect();
                if want.len() != s.points.len() {
                    return Err(format!("expected {} points for {}, but got {:?}", want.len(), s.labels, s.points));
                }
                for (w, g) in want.iter().zip(&s.points) {
                    if w.0 != g.0 || !almost_equal(w.1, g.1) {
                        return Err(format!("expected {w:?} for {} but got {g:?} (all: {:?})", s.labels, s.points));
                    }
                }
            }
            if let Some(missing) = expected.keys().find(|l| !series.iter().any(|s| &s.labels == **l)) {
                return Err(format!("expected metric {missing} not found"));
            }
            Ok(())
        }
    }
}
