//! `histogram_quantile` and `histogram_fraction` over classic histograms: `_bucket` series are grouped by
//! their labels without `le`, and each group's buckets at each step go to the bucket math.

use std::collections::HashMap;

use promql_parser::parser::Expr;
use vigil_model::{Labels, METRIC_NAME};

use super::aggregate::go_float;
use super::call::arg;
use super::eval::Evaluator;
use super::types::{EvalSeries, Grid, OutBuilder, StepWalker, Val};
use super::QueryError;
use crate::functions::histogram::{bucket_quantile_with_info, Bucket};

/// Bucket series grouped into histograms.
struct Histograms {
    /// Output labels (without `le` and `__name__`) per histogram.
    labels: Vec<Labels>,
    /// Metric name per histogram, for annotations.
    names: Vec<String>,
    /// Per input series: its histogram and upper bound, or `None` for series without a valid `le`.
    member: Vec<Option<(usize, f64)>>,
}

impl Evaluator<'_> {
    fn group_buckets(&mut self, series: &[EvalSeries]) -> Histograms {
        let mut by_key: HashMap<Labels, usize> = HashMap::new();
        let mut h = Histograms { labels: Vec::new(), names: Vec::new(), member: Vec::with_capacity(series.len()) };
        for s in series {
            let le = s.labels.get("le").unwrap_or("");
            let Some(upper) = parse_go_float(le) else {
                self.annotations.warn(format!(
                    "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {:?}",
                    s.labels.metric_name().unwrap_or("")
                ));
                h.member.push(None);
                continue;
            };
            let mut key = s.labels.clone();
            key.remove("le");
            let n = h.labels.len();
            let idx = *by_key.entry(key.clone()).or_insert_with(|| {
                h.names.push(key.metric_name().unwrap_or("").to_string());
                key.remove(METRIC_NAME);
                h.labels.push(key);
                n
            });
            h.member.push(Some((idx, upper)));
        }
        h
    }

    /// Walks the steps, handing each histogram's buckets to `compute`, and collects the results.
    fn per_histogram(
        &mut self,
        series: &[EvalSeries],
        grid: Grid,
        mut compute: impl FnMut(&mut Self, usize, &mut Vec<Bucket>, &str) -> f64,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let h = self.group_buckets(series);
        let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); h.labels.len()];
        let mut slots = vec![usize::MAX; h.labels.len()];
        let mut out = OutBuilder::default();
        let walker = StepWalker::new(series, grid);
        for (step, t) in grid.times().enumerate() {
            self.limits.tick()?;
            for b in &mut buckets {
                b.clear();
            }
            for &(i, v) in walker.at(t) {
                if let Some((g, upper)) = h.member[i] {
                    buckets[g].push(Bucket { upper_bound: upper, count: v });
                }
            }
            for (g, b) in buckets.iter_mut().enumerate() {
                if b.is_empty() {
                    continue;
                }
                let value = compute(self, step, b, &h.names[g]);
                if slots[g] == usize::MAX {
                    slots[g] = out.slot(h.labels[g].clone(), false);
                }
                out.push(slots[g], t, value)?;
            }
        }
        Ok(out.finish())
    }

    pub(crate) fn eval_histogram_quantile(&mut self, args: &[&Expr], grid: Grid) -> Result<Val, QueryError> {
        let phi = self.eval_scalar(arg(args, 0)?, grid)?;
        let series = self.eval(arg(args, 1)?, grid)?.into_vector()?;
        let mut warned = false;
        let out = self.per_histogram(&series, grid, |ev, step, buckets, name| {
            let q = phi[step];
            if (q.is_nan() || !(0.0..=1.0).contains(&q)) && !warned {
                warned = true;
                ev.annotations.warn(format!("quantile value should be between 0 and 1, got {}", go_float(q)));
            }
            let (value, forced_monotonic) = bucket_quantile_with_info(q, buckets);
            if forced_monotonic {
                ev.annotations.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see \
                     https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric \
                     name {name:?}"
                ));
            }
            value
        })?;
        Ok(Val::Vector(out))
    }

    pub(crate) fn eval_histogram_fraction(&mut self, args: &[&Expr], grid: Grid) -> Result<Val, QueryError> {
        let lower = self.eval_scalar(arg(args, 0)?, grid)?;
        let upper = self.eval_scalar(arg(args, 1)?, grid)?;
        let series = self.eval(arg(args, 2)?, grid)?.into_vector()?;
        let out = self
            .per_histogram(&series, grid, |_, step, buckets, _| bucket_fraction(lower[step], upper[step], buckets))?;
        Ok(Val::Vector(out))
    }
}

/// Go's `strconv.ParseFloat` for the forms bucket bounds use (`+Inf`, `1e3`, `.5`, ...).
fn parse_go_float(s: &str) -> Option<f64> {
    let trimmed = s.strip_prefix('+').unwrap_or(s);
    if trimmed.starts_with(['+', '-']) && s.starts_with('+') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Sorts and merges buckets with equal bounds, as the bucket math does first.
fn coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.drain(..) {
        match out.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => out.push(b),
        }
    }
    *buckets = out;
}

/// The fraction of observations between `lower` and `upper` in classic buckets, interpolating linearly inside
/// buckets as Prometheus' `BucketFraction` does.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    coalesce(buckets);
    let Some(last) = buckets.last() else { return f64::NAN };
    if last.upper_bound != f64::INFINITY {
        return f64::NAN;
    }
    // Force monotonic cumulative counts.
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.count < max {
            b.count = max;
        }
        max = max.max(b.count);
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, b) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].upper_bound
        } else if b.upper_bound > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound);
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = if lower_bound.is_infinite() || upper_bound.is_infinite() { rank } else { interpolate(lower) };
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank =
                if lower_bound.is_infinite() || upper_bound.is_infinite() { b.count } else { interpolate(upper) };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}
