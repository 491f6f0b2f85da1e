//! Range aggregations (`rate`, `count_over_time`, `quantile_over_time(... | unwrap x [5m])`...): each stream
//! read once, each record turned into a sample of its final label set, then each series' samples folded over
//! the windows (t - offset - range, t - offset] of the steps.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use vigil_model::log::{Direction, LogBatch};
use vigil_model::{Labels, MatchOp};

use super::{Ctx, Series, Steps};
use crate::ast::{Grouping, LogRange, RangeOp};
use crate::error::EvalError;
use crate::pipeline::{convert, eval_label_filter, LabelsBuilder, Pipeline, ERROR};

/// Samples of the series being built, found by the hash of their label set.
#[derive(Default)]
struct Pending {
    index: HashMap<u64, Vec<usize>>,
    series: Vec<(Labels, Vec<(i64, f64)>)>,
}

fn hash_pairs(pairs: &[(&str, &str)]) -> u64 {
    let mut h = DefaultHasher::new();
    for (n, v) in pairs {
        n.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

/// An empty vector of borrowed pairs in the allocation of `v` (collected in place), so a per-record buffer
/// of borrows costs no allocation.
fn recycle<'a>(mut v: Vec<(&str, &str)>) -> Vec<(&'a str, &'a str)> {
    v.clear();
    v.into_iter().map(|_| ("", "")).collect()
}

impl Pending {
    /// The series of the label set `pairs` (sorted, unique names, no empty values), created if new.
    fn slot(&mut self, pairs: &[(&str, &str)]) -> usize {
        let h = hash_pairs(pairs);
        let candidates = self.index.entry(h).or_default();
        for &i in candidates.iter() {
            let labels = self.series[i].0.as_slice();
            if labels.len() == pairs.len() && labels.iter().zip(pairs).all(|(l, p)| l.name == p.0 && l.value == p.1) {
                return i;
            }
        }
        let labels = Labels::from_pairs(pairs.iter().copied()).unwrap_or_default();
        self.series.push((labels, Vec::new()));
        candidates.push(self.series.len() - 1);
        self.series.len() - 1
    }

    fn clear(&mut self) {
        self.index.clear();
    }
}

pub(super) fn group_labels(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => labels.clone(),
        Some(g) if g.without => labels.filtered(|l| !g.labels.contains(&l.name)),
        Some(g) => labels.filtered(|l| g.labels.contains(&l.name)),
    }
}

pub(super) fn eval(
    ctx: &mut Ctx<'_>,
    op: RangeOp,
    param: Option<f64>,
    range: &LogRange,
    grouping: Option<&Grouping>,
    steps: &Steps,
) -> Result<Vec<Series>, EvalError> {
    let pipeline = Pipeline::new(&range.log.stages).map_err(EvalError::Execution)?;
    let first = steps.start.saturating_sub(range.offset_ns).saturating_sub(range.range_ns).saturating_add(1);
    let last = steps.last().saturating_sub(range.offset_ns);
    let mut streams = ctx.storage.streams(&range.log.matchers, first, last)?;
    ctx.check_streams(streams.len())?;
    streams.sort_by(|a, b| a.1.cmp(&b.1));
    let needles = pipeline.needles();
    // Streams keep their own series unless the pipeline or a grouping can merge them: then each stream's
    // series are folded into steps as soon as it is read, and its samples dropped.
    let flush_per_stream = !pipeline.may_merge_streams && grouping.is_none();

    let mut out: Vec<Series> = Vec::new();
    let mut pending = Pending::default();
    let mut batch = LogBatch::default();
    let mut pairs_buf: Vec<(&'static str, &'static str)> = Vec::new();
    for (id, labels) in streams {
        let mut builder = LabelsBuilder::new(labels);
        let mut own_slot: Option<usize> = None;
        let mut reader = ctx.storage.read(id, first, last, Direction::Forward, &needles)?;
        while reader.next_batch(&mut batch)? {
            for i in 0..batch.len() {
                ctx.tick()?;
                let ts = batch.ts[i];
                builder.reset();
                builder.set_fields(batch.row_fields(i));
                let Some(line) = pipeline.process(ts, batch.line(i), &mut builder) else { continue };
                let value = match &range.unwrap {
                    None if matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) => line.len() as f64,
                    None => 1.0,
                    Some(u) => {
                        // Entries without the label are skipped, as Loki does since 2.7.
                        let v = match builder.get(&u.label).filter(|v| !v.is_empty()).map(|v| convert(v, u.conversion))
                        {
                            None => continue,
                            Some(Ok(v)) => v,
                            Some(Err(e)) => {
                                builder.set_err("SampleExtractionErr", e);
                                0.0
                            }
                        };
                        if !u.post_filters.iter().all(|f| eval_label_filter(f, &mut builder)) {
                            continue;
                        }
                        // The unwrapped label leaves the series unless `by` names it.
                        if grouping.is_none_or(|g| g.without) {
                            builder.delete(&u.label);
                        }
                        v
                    }
                };
                let mut pairs = recycle(std::mem::take(&mut pairs_buf));
                let slot = if builder.unchanged() && grouping.is_none() {
                    match own_slot {
                        Some(s) => s,
                        None => {
                            builder.sorted_pairs(&mut pairs, |_| true);
                            *own_slot.insert(pending.slot(&pairs))
                        }
                    }
                } else {
                    // Grouping would hide the error label, which must fail the query below.
                    let grouping = if builder.has_err() { None } else { grouping };
                    builder.sorted_pairs(&mut pairs, |n| match grouping {
                        None => true,
                        Some(g) => g.labels.iter().any(|l| l == n) != g.without,
                    });
                    pending.slot(&pairs)
                };
                pairs_buf = recycle(pairs);
                ctx.samples += 1;
                if ctx.samples > ctx.limits.max_samples {
                    return Err(EvalError::TooManySamples { limit: ctx.limits.max_samples });
                }
                pending.series[slot].1.push((ts, value));
            }
        }
        if flush_per_stream {
            flush(ctx, &mut pending, op, param, range, steps, &mut out)?;
        }
    }
    flush(ctx, &mut pending, op, param, range, steps, &mut out)?;

    if op == RangeOp::AbsentOverTime {
        return Ok(absent(&out, range, steps));
    }
    Ok(out)
}

/// Folds the pending series into steps, appending those with any point to `out`.
fn flush(
    ctx: &mut Ctx<'_>,
    pending: &mut Pending,
    op: RangeOp,
    param: Option<f64>,
    range: &LogRange,
    steps: &Steps,
    out: &mut Vec<Series>,
) -> Result<(), EvalError> {
    pending.clear();
    for (labels, mut samples) in pending.series.drain(..) {
        ctx.samples = ctx.samples.saturating_sub(samples.len() as u64);
        if let Some(kind) = labels.get(ERROR) {
            return Err(EvalError::Pipeline { error: kind.to_string(), series: labels.to_string() });
        }
        // Merged streams interleave; one stream's samples are already in order and this is then linear.
        samples.sort_by_key(|s| s.0);
        let points = windows(op, param, &samples, range, steps);
        if points.iter().any(Option::is_some) {
            out.push(Series { labels, points });
            ctx.check_series(out.len())?;
        }
    }
    Ok(())
}

fn windows(
    op: RangeOp,
    param: Option<f64>,
    samples: &[(i64, f64)],
    range: &LogRange,
    steps: &Steps,
) -> Vec<Option<f64>> {
    let secs = range.range_ns as f64 / 1e9;
    let (mut lo, mut hi) = (0, 0);
    let mut scratch = Vec::new();
    (0..steps.n)
        .map(|i| {
            let end = steps.at(i).saturating_sub(range.offset_ns);
            let start = end.saturating_sub(range.range_ns);
            while hi < samples.len() && samples[hi].0 <= end {
                hi += 1;
            }
            while lo < hi && samples[lo].0 <= start {
                lo += 1;
            }
            if lo == hi {
                return None;
            }
            Some(fold(op, param, &samples[lo..hi], secs, &mut scratch))
        })
        .collect()
}

fn fold(op: RangeOp, param: Option<f64>, w: &[(i64, f64)], secs: f64, scratch: &mut Vec<f64>) -> f64 {
    let n = w.len() as f64;
    let sum = || w.iter().map(|s| s.1).sum::<f64>();
    match op {
        RangeOp::CountOverTime | RangeOp::AbsentOverTime => n,
        RangeOp::Rate | RangeOp::BytesRate => sum() / secs,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::AvgOverTime => {
            // Incremental mean, as Prometheus does, avoids overflow on huge values.
            let mut mean = 0.0;
            for (i, s) in w.iter().enumerate() {
                mean += (s.1 - mean) / (i + 1) as f64;
            }
            mean
        }
        RangeOp::MinOverTime => w.iter().map(|s| s.1).fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }),
        RangeOp::MaxOverTime => w.iter().map(|s| s.1).fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }),
        RangeOp::StddevOverTime => variance(w.iter().map(|s| s.1)).sqrt(),
        RangeOp::StdvarOverTime => variance(w.iter().map(|s| s.1)),
        RangeOp::QuantileOverTime => {
            scratch.clear();
            scratch.extend(w.iter().map(|s| s.1));
            quantile(param.unwrap_or(f64::NAN), scratch)
        }
        RangeOp::FirstOverTime => w[0].1,
        RangeOp::LastOverTime => w[w.len() - 1].1,
    }
}

/// Population variance by Welford's method.
pub(super) fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in values {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    if n == 0.0 {
        f64::NAN
    } else {
        m2 / n
    }
}

/// Prometheus' quantile: linear interpolation between the closest ranks; ±Inf outside [0, 1].
pub(super) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}

/// `absent_over_time`: 1 at the steps where no series had a sample, labelled with the selector's equality
/// matchers.
fn absent(present: &[Series], range: &LogRange, steps: &Steps) -> Vec<Series> {
    let points: Vec<Option<f64>> =
        (0..steps.n).map(|i| if present.iter().any(|s| s.points[i].is_some()) { None } else { Some(1.0) }).collect();
    if points.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for m in &range.log.matchers {
        if m.op() == MatchOp::Equal && !pairs.iter().any(|(n, _)| *n == m.name()) {
            pairs.push((m.name(), m.value()));
        }
    }
    let labels = Labels::from_pairs(pairs).unwrap_or_default();
    vec![Series { labels, points }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_variance() {
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0]), 2.0);
        assert!((quantile(0.9, &mut [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]) - 9.1).abs() < 1e-9);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        assert_eq!(variance([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter()), 4.0);
    }
}
