//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`, `quantile`,
//! `topk`, `bottomk`, `limitk`, `limit_ratio`, `count_values`) with `by`/`without` grouping.

use std::collections::HashMap;

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use vigil_model::Labels;

use super::eval::Evaluator;
use super::parse::unparen;
use super::types::{for_each_step, EvalSeries, Grid, OutBuilder, StepWalker, Val};
use super::QueryError;
use crate::functions::stats::{quantile, KahanSum, Mean, Variance};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    TopK,
    BottomK,
    LimitK,
    LimitRatio,
    CountValues,
}

impl AggOp {
    fn from_token(t: TokenType) -> Result<AggOp, QueryError> {
        Ok(match t.id() {
            token::T_SUM => AggOp::Sum,
            token::T_AVG => AggOp::Avg,
            token::T_COUNT => AggOp::Count,
            token::T_MIN => AggOp::Min,
            token::T_MAX => AggOp::Max,
            token::T_GROUP => AggOp::Group,
            token::T_STDDEV => AggOp::Stddev,
            token::T_STDVAR => AggOp::Stdvar,
            token::T_QUANTILE => AggOp::Quantile,
            token::T_TOPK => AggOp::TopK,
            token::T_BOTTOMK => AggOp::BottomK,
            token::T_LIMITK => AggOp::LimitK,
            token::T_LIMIT_RATIO => AggOp::LimitRatio,
            token::T_COUNT_VALUES => AggOp::CountValues,
            _ => return Err(QueryError::Execution(format!("unsupported aggregation {t}"))),
        })
    }

    /// The operators whose output elements are input elements.
    fn selects(self) -> bool {
        matches!(self, AggOp::TopK | AggOp::BottomK | AggOp::LimitK | AggOp::LimitRatio)
    }
}

/// `by (...)` or `without (...)`.
struct Grouping {
    without: bool,
    labels: Vec<String>,
}

impl Grouping {
    fn new(modifier: &Option<LabelModifier>) -> Grouping {
        let (without, mut labels) = match modifier {
            Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
            None => (false, Vec::new()),
        };
        labels.sort();
        labels.dedup();
        Grouping { without, labels }
    }

    fn keeps(&self, name: &str) -> bool {
        if self.without {
            name != METRIC_NAME && self.labels.binary_search_by(|l| l.as_str().cmp(name)).is_err()
        } else {
            self.labels.binary_search_by(|l| l.as_str().cmp(name)).is_ok()
        }
    }

    /// The labels of the group a series belongs to; equal group labels mean the same group.
    fn group_labels(&self, labels: &Labels) -> Labels {
        labels.filtered(|x| self.keeps(&x.name))
    }
}

/// Running state of one group at one step.
#[derive(Default)]
struct Acc {
    seen: bool,
    count: f64,
    value: f64,
    kahan: KahanSum,
    mean: Mean,
    variance: Variance,
    values: Vec<f64>,
    members: Vec<(usize, f64)>,
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr, grid: Grid) -> Result<Val, QueryError> {
        let op = AggOp::from_token(a.op)?;
        let grouping = Grouping::new(&a.modifier);
        if op == AggOp::CountValues {
            let label = match a.param.as_deref().map(unparen) {
                Some(Expr::StringLiteral(s)) => s.val.clone(),
                Some(e) => match self.eval(e, grid)? {
                    Val::String(s) => s,
                    other => {
                        return Err(QueryError::Execution(format!(
                            "expected string parameter for count_values, got {}",
                            other.type_name()
                        )))
                    }
                },
                None => return Err(QueryError::Execution("count_values needs a label name".into())),
            };
            if label.is_empty() {
                return Err(QueryError::Execution(format!("invalid label name {label:?}")));
            }
            let input = self.eval(&a.expr, grid)?.into_vector()?;
            return self.count_values(&grouping, &label, input, grid).map(Val::Vector);
        }
        let params = match &a.param {
            Some(p)
                if matches!(op, AggOp::Quantile | AggOp::TopK | AggOp::BottomK | AggOp::LimitK | AggOp::LimitRatio) =>
            {
                Some(self.eval_scalar(p, grid)?)
            }
            _ => None,
        };
        let input = self.eval(&a.expr, grid)?.into_vector()?;
        if let Some(params) = &params {
            if !self.check_params(op, params)? {
                return Ok(Val::Vector(Vec::new()));
            }
        }
        let mut group_index: HashMap<Labels, usize> = HashMap::new();
        let mut group_labels: Vec<Labels> = Vec::new();
        let series_group: Vec<usize> = input
            .iter()
            .map(|s| {
                let labels = grouping.group_labels(&s.labels);
                if let Some(&g) = group_index.get(&labels) {
                    return g;
                }
                group_index.insert(labels.clone(), group_labels.len());
                group_labels.push(labels);
                group_labels.len() - 1
            })
            .collect();
        // A group's name is removed at the end if any member's name is pending removal.
        let mut group_drop = vec![false; group_labels.len()];
        for (s, &g) in input.iter().zip(&series_group) {
            group_drop[g] |= s.drop_name;
        }
        let steps = grid.len();
        let points: usize = input.iter().map(|s| s.points.len()).sum();
        if !op.selects() && group_labels.len().saturating_mul(steps) <= (points / 8).max(steps) {
            // Few groups for the points: one accumulator per group and step is smaller than regrouping every
            // point by step, and walks each series once in order. Each (group, step) still sees its members in
            // series order, so the result is the same to the bit.
            let mut accs: Vec<Acc> = (0..group_labels.len() * steps).map(|_| Acc::default()).collect();
            for (i, s) in input.iter().enumerate() {
                self.limits.tick()?;
                let group = &mut accs[series_group[i] * steps..][..steps];
                for_each_step(&s.points, grid, |k, v| accumulate(op, &mut group[k], i, v));
            }
            let mut out = Vec::new();
            for (g, (labels, drop_name)) in group_labels.into_iter().zip(group_drop).enumerate() {
                self.limits.tick()?;
                let mut points = Vec::new();
                for (k, acc) in accs[g * steps..][..steps].iter_mut().enumerate() {
                    if acc.seen {
                        let param = params.as_ref().map_or(f64::NAN, |p| p[k]);
                        points.push((grid.ts(k), finish(op, param, acc)));
                    }
                }
                if !points.is_empty() {
                    out.push(EvalSeries { labels, drop_name, points });
                }
            }
            return Ok(Val::Vector(out));
        }
        let mut accs: Vec<Acc> = (0..group_labels.len()).map(|_| Acc::default()).collect();
        let mut group_slots = vec![usize::MAX; group_labels.len()];
        let mut series_slots = vec![usize::MAX; input.len()];
        let mut out = OutBuilder::default();
        let walker = StepWalker::new(&input, grid);
        for (step, t) in grid.times().enumerate() {
            self.limits.tick()?;
            let param = params.as_ref().map_or(f64::NAN, |p| p[step]);
            for acc in accs.iter_mut() {
                acc.seen = false;
            }
            for &(i, v) in walker.at(t) {
                accumulate(op, &mut accs[series_group[i]], i, v);
            }
            for (g, acc) in accs.iter_mut().enumerate() {
                if !acc.seen {
                    continue;
                }
                if op.selects() {
                    for (i, v) in select_members(op, param, input.len(), acc, &input[..]) {
                        if series_slots[i] == usize::MAX {
                            series_slots[i] = out.slot(input[i].labels.clone(), input[i].drop_name);
                        }
                        out.push(series_slots[i], t, v)?;
                    }
                    continue;
                }
                let value = finish(op, param, acc);
                if group_slots[g] == usize::MAX {
                    group_slots[g] = out.slot(group_labels[g].clone(), group_drop[g]);
                }
                out.push(group_slots[g], t, value)?;
            }
        }
        let result = out.finish();
        Ok(Val::Vector(result))
    }

    /// Validates the parameter of `topk`-like and `quantile` aggregations over all steps, adding warnings.
    /// Returns false when the aggregation yields nothing at any step.
    fn check_params(&mut self, op: AggOp, params: &[f64]) -> Result<bool, QueryError> {
        let max = params.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = params.iter().copied().fold(f64::INFINITY, f64::min);
        let any_nan = params.iter().any(|p| p.is_nan());
        match op {
            AggOp::TopK | AggOp::BottomK | AggOp::LimitK => {
                if max < 1.0 && !any_nan {
                    return Ok(false);
                }
                if any_nan {
                    return Err(QueryError::Execution("Parameter value is NaN".into()));
                }
                if min <= i64::MIN as f64 {
                    return Err(QueryError::Execution(format!("Scalar value {} underflows int64", go_float(min))));
                }
                if max >= (i64::MAX - 1023) as f64 {
                    return Err(QueryError::Execution(format!("Scalar value {} overflows int64", go_float(max))));
                }
            }
            AggOp::LimitRatio => {
                if max == 0.0 && min == 0.0 {
                    return Ok(false);
                }
                if any_nan {
                    return Err(QueryError::Execution("Ratio value is NaN".into()));
                }
                if max > 1.0 {
                    self.annotations
                        .warn(format!("ratio value should be between -1 and 1, got {}, capping to 1", go_float(max)));
                }
                if min < -1.0 {
                    self.annotations
                        .warn(format!("ratio value should be between -1 and 1, got {}, capping to -1", go_float(min)));
                }
            }
            AggOp::Quantile => {
                if any_nan {
                    self.annotations.warn("quantile value should be between 0 and 1, got NaN".into());
                }
                if max > 1.0 {
                    self.annotations.warn(format!("quantile value should be between 0 and 1, got {}", go_float(max)));
                }
                if min < 0.0 {
                    self.annotations.warn(format!("quantile value should be between 0 and 1, got {}", go_float(min)));
                }
            }
            _ => {}
        }
        Ok(true)
    }

    fn count_values(
        &mut self,
        grouping: &Grouping,
        label: &str,
        input: Vec<EvalSeries>,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let grouping = if grouping.without {
            Grouping { without: true, labels: grouping.labels.clone() }
        } else {
            let mut labels = grouping.labels.clone();
            labels.push(label.to_string());
            labels.sort();
            labels.dedup();
            Grouping { without: false, labels }
        };
        let mut out = OutBuilder::default();
        let walker = StepWalker::new(&input, grid);
        let mut counts: Vec<(Labels, f64)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for t in grid.times() {
            self.limits.tick()?;
            counts.clear();
            index.clear();
            for &(i, v) in walker.at(t) {
                let mut labels = input[i].labels.clone();
                labels.set(label, &go_float_plain(v));
                let group = grouping.group_labels(&labels);
                match index.get(&group) {
                    Some(&g) => counts[g].1 += 1.0,
                    None => {
                        index.insert(group.clone(), counts.len());
                        counts.push((group, 1.0));
                    }
                }
            }
            for (labels, n) in counts.drain(..) {
                let slot = out.slot(labels, false);
                out.push(slot, t, n)?;
            }
        }
        Ok(out.finish())
    }
}

fn accumulate(op: AggOp, acc: &mut Acc, series: usize, v: f64) {
    if !acc.seen {
        *acc = Acc {
            seen: true,
            count: 1.0,
            value: v,
            values: std::mem::take(&mut acc.values),
            members: std::mem::take(&mut acc.members),
            ..Acc::default()
        };
        acc.values.clear();
        acc.members.clear();
        match op {
            AggOp::Sum => acc.kahan.add(v),
            AggOp::Avg => acc.mean.add(v),
            AggOp::Stddev | AggOp::Stdvar => acc.variance.add(v),
            AggOp::Quantile => acc.values.push(v),
            AggOp::Group => acc.value = 1.0,
            _ if op.selects() => acc.members.push((series, v)),
            _ => {}
        }
        return;
    }
    acc.count += 1.0;
    match op {
        AggOp::Sum => acc.kahan.add(v),
        AggOp::Avg => acc.mean.add(v),
        AggOp::Max => {
            if acc.value < v || acc.value.is_nan() {
                acc.value = v;
            }
        }
        AggOp::Min => {
            if acc.value > v || acc.value.is_nan() {
                acc.value = v;
            }
        }
        AggOp::Stddev | AggOp::Stdvar => acc.variance.add(v),
        AggOp::Quantile => acc.values.push(v),
        AggOp::Count | AggOp::Group | AggOp::CountValues => {}
        _ => acc.members.push((series, v)),
    }
}

fn finish(op: AggOp, param: f64, acc: &mut Acc) -> f64 {
    match op {
        AggOp::Sum => acc.kahan.value(),
        AggOp::Avg => acc.mean.value(),
        AggOp::Count => acc.count,
        AggOp::Stddev => acc.variance.stddev(),
        AggOp::Stdvar => acc.variance.stdvar(),
        AggOp::Quantile => quantile(param, &mut acc.values),
        _ => acc.value,
    }
}

/// The members a selecting aggregation keeps from one group at one step, in output order.
fn select_members(
    op: AggOp,
    param: f64,
    total_series: usize,
    acc: &mut Acc,
    input: &[EvalSeries],
) -> Vec<(usize, f64)> {
    let members = &mut acc.members;
    match op {
        AggOp::TopK | AggOp::BottomK | AggOp::LimitK => {
            let k = (param as i64).min(total_series as i64);
            if k < 1 {
                return Vec::new();
            }
            let k = k as usize;
            match op {
                AggOp::TopK => members.sort_by(|a, b| cmp_nan_last(b.1, a.1, true)),
                AggOp::BottomK => members.sort_by(|a, b| cmp_nan_last(a.1, b.1, false)),
                _ => {}
            }
            members.truncate(k);
            members.clone()
        }
        _ => {
            let r = param.clamp(-1.0, 1.0);
            if r == 0.0 {
                return Vec::new();
            }
            members
                .iter()
                .copied()
                .filter(|&(i, _)| {
                    let offset = label_hash(&input[i].labels) as f64 / u64::MAX as f64;
                    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                })
                .collect()
        }
    }
}

/// Orders `a` before `b` by value (for topk the arguments come swapped), NaN always last.
fn cmp_nan_last(a: f64, b: f64, swapped: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if swapped {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if swapped {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A stable 64-bit FNV-1a hash of a label set, for `limit_ratio`'s deterministic sampling.
fn label_hash(labels: &Labels) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in labels.iter() {
        for b in l.name.bytes().chain([0xff]).chain(l.value.bytes()).chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // FNV's low bits mix poorly into the high ones; a final avalanche spreads them over the whole range.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// A float formatted as Go's `%g` / `%v` does for the common cases (`+Inf`, `NaN`, shortest digits).
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        let abs = v.abs();
        if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
            let s = format!("{v:e}");
            // Go writes the exponent with a sign and at least two digits: 1e+21, 1e-05.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        } else {
            format!("{v}")
        }
    }
}

/// A float formatted as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: no exponent.
pub(crate) fn go_float_plain(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}
