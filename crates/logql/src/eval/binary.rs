//! Binary operators between metric expressions, step by step, with Prometheus' rules: arithmetic and
//! comparisons (filtering unless `bool`), set operators, and vector matching with `on`/`ignoring` and
//! `group_left`/`group_right`.

use std::collections::HashMap;

use vigil_model::Labels;

use super::{Series, Value};
use crate::ast::{BinOp, GroupSide, VectorMatching};
use crate::error::EvalError;

fn arith(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Eq => (a == b) as u8 as f64,
        BinOp::Ne => (a != b) as u8 as f64,
        BinOp::Gt => (a > b) as u8 as f64,
        BinOp::Ge => (a >= b) as u8 as f64,
        BinOp::Lt => (a < b) as u8 as f64,
        BinOp::Le => (a <= b) as u8 as f64,
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

/// The result of `a op b` for one pair of samples; `keep` is the value a filtering comparison keeps.
fn apply(op: BinOp, a: f64, b: f64, return_bool: bool, keep: f64) -> Option<f64> {
    let v = arith(op, a, b);
    if op.is_comparison() && !return_bool {
        return (v == 1.0).then_some(keep);
    }
    Some(v)
}

pub(super) fn eval(
    op: BinOp,
    lhs: Value,
    rhs: Value,
    return_bool: bool,
    matching: &VectorMatching,
    n_steps: usize,
) -> Result<Value, EvalError> {
    Ok(match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => {
            Value::Scalar(a.iter().zip(&b).map(|(&x, &y)| apply(op, x, y, true, x).unwrap_or(f64::NAN)).collect())
        }
        (Value::Vector(v), Value::Scalar(s)) => Value::Vector(with_scalar(op, v, &s, return_bool, false)),
        (Value::Scalar(s), Value::Vector(v)) => Value::Vector(with_scalar(op, v, &s, return_bool, true)),
        (Value::Vector(l), Value::Vector(r)) if op.is_set() => Value::Vector(set_op(op, l, r, matching, n_steps)),
        (Value::Vector(l), Value::Vector(r)) => Value::Vector(vector_op(op, l, r, return_bool, matching, n_steps)?),
    })
}

fn with_scalar(op: BinOp, series: Vec<Series>, scalar: &[f64], return_bool: bool, scalar_left: bool) -> Vec<Series> {
    series
        .into_iter()
        .filter_map(|mut s| {
            for (p, &k) in s.points.iter_mut().zip(scalar) {
                if let Some(v) = *p {
                    *p = if scalar_left { apply(op, k, v, return_bool, v) } else { apply(op, v, k, return_bool, v) };
                }
            }
            s.points.iter().any(Option::is_some).then_some(s)
        })
        .collect()
}

fn signature(labels: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        labels.filtered(|l| m.labels.contains(&l.name))
    } else {
        labels.filtered(|l| !m.labels.contains(&l.name))
    }
}

fn set_op(op: BinOp, lhs: Vec<Series>, rhs: Vec<Series>, m: &VectorMatching, n_steps: usize) -> Vec<Series> {
    let lsig: Vec<Labels> = lhs.iter().map(|s| signature(&s.labels, m)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| signature(&s.labels, m)).collect();
    let present = |series: &[Series], sigs: &[Labels], step: usize| -> Vec<Labels> {
        series.iter().zip(sigs).filter(|(s, _)| s.points[step].is_some()).map(|(_, sig)| sig.clone()).collect()
    };
    let mut out_l = lhs;
    let mut out_r = rhs;
    for step in 0..n_steps {
        match op {
            BinOp::And | BinOp::Unless => {
                let right = present(&out_r, &rsig, step);
                for (s, sig) in out_l.iter_mut().zip(&lsig) {
                    if right.contains(sig) != (op == BinOp::And) {
                        s.points[step] = None;
                    }
                }
            }
            _ => {
                let left = present(&out_l, &lsig, step);
                for (s, sig) in out_r.iter_mut().zip(&rsig) {
                    if left.contains(sig) {
                        s.points[step] = None;
                    }
                }
            }
        }
    }
    if op == BinOp::Or {
        out_l.extend(out_r);
    }
    out_l.retain(|s| s.points.iter().any(Option::is_some));
    out_l
}

fn vector_op(
    op: BinOp,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    return_bool: bool,
    m: &VectorMatching,
    n_steps: usize,
) -> Result<Vec<Series>, EvalError> {
    // The "many" side is walked, the "one" side looked up by signature; group_right swaps them.
    let swapped = matches!(m.group, Some((GroupSide::Right, _)));
    let (many, one) = if swapped { (&rhs, &lhs) } else { (&lhs, &rhs) };
    let many_sig: Vec<Labels> = many.iter().map(|s| signature(&s.labels, m)).collect();
    let one_sig: Vec<Labels> = one.iter().map(|s| signature(&s.labels, m)).collect();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    let mut by_step_one: HashMap<&Labels, usize> = HashMap::new();
    let mut matched_many: HashMap<&Labels, usize> = HashMap::new();
    for step in 0..n_steps {
        by_step_one.clear();
        for (i, s) in one.iter().enumerate() {
            if s.points[step].is_some() && by_step_one.insert(&one_sig[i], i).is_some() {
                return Err(EvalError::Execution(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation: \
                     many-to-many matching not allowed: matching labels must be unique on one side",
                    one_sig[i],
                    if swapped { "left" } else { "right" }
                )));
            }
        }
        matched_many.clear();
        for (i, s) in many.iter().enumerate() {
            let Some(mv) = s.points[step] else { continue };
            let Some(&j) = by_step_one.get(&many_sig[i]) else { continue };
            if m.group.is_none() {
                if let Some(_prev) = matched_many.insert(&many_sig[i], i) {
                    return Err(EvalError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                            .to_string(),
                    ));
                }
            }
            let ov = one[j].points[step].unwrap_or(f64::NAN);
            let (a, b) = if swapped { (ov, mv) } else { (mv, ov) };
            let Some(v) = apply(op, a, b, return_bool, a) else { continue };
            let labels = result_labels(&s.labels, &one[j].labels, m);
            let k = match index.get(&labels) {
                Some(&k) => k,
                None => {
                    out.push(Series { labels: labels.clone(), points: vec![None; n_steps] });
                    index.insert(labels, out.len() - 1);
                    out.len() - 1
                }
            };
            if out[k].points[step].is_some() {
                return Err(EvalError::Execution(format!(
                    "multiple matches for labels: grouping labels must ensure unique matches ({})",
                    out[k].labels
                )));
            }
            out[k].points[step] = Some(v);
        }
    }
    Ok(out)
}

fn result_labels(many: &Labels, one: &Labels, m: &VectorMatching) -> Labels {
    match &m.group {
        None if m.on => many.filtered(|l| m.labels.contains(&l.name)),
        None => many.filtered(|l| !m.labels.contains(&l.name)),
        Some((_, include)) => {
            let mut out = many.clone();
            for name in include {
                match one.get(name) {
                    Some(v) => out.set(name, v),
                    None => {
                        out.remove(name);
                    }
                }
            }
            out
        }
    }
}
