//! Downsampling: 5-minute and 1-hour aggregates (min, max, sum, count, last) of raw series, written by
//! compaction and read back for long-range queries, with aggregates computed on the fly where no downsampled
//! block exists yet.
//!
//! In a downsampled block each aggregate is its own series: the raw labels plus `__aggr__="min"` (etc.). A
//! bucket is `[k * resolution, (k + 1) * resolution)` since the epoch; its point carries the timestamp of the
//! bucket's last raw sample. Staleness markers are not aggregated.

use std::collections::BTreeMap;

use vigil_model::{Labels, MatchOp, Matcher};

use super::query::Series;
use super::{Db, DbError, Sample, HOUR_MS, MINUTE_MS};
use crate::head::RawSample;

/// The label that names the aggregate of a series in a downsampled block.
pub const AGGREGATE_LABEL: &str = "__aggr__";

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The resolution of stored samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    Raw,
    FiveMinutes,
    OneHour,
}

impl Resolution {
    /// Bucket width in milliseconds; 0 for raw.
    pub fn ms(self) -> i64 {
        match self {
            Resolution::Raw => 0,
            Resolution::FiveMinutes => 5 * MINUTE_MS,
            Resolution::OneHour => HOUR_MS,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::FiveMinutes => "5m",
            Resolution::OneHour => "1h",
        }
    }

    /// The resolution this one is computed from.
    pub(crate) fn input(self) -> Resolution {
        match self {
            Resolution::Raw | Resolution::FiveMinutes => Resolution::Raw,
            Resolution::OneHour => Resolution::FiveMinutes,
        }
    }

    /// The coarsest resolution a query with this step can use without losing detail it would show: buckets
    /// at most a fifth of the step, as Thanos does.
    pub fn for_step(step_ms: i64) -> Resolution {
        if step_ms >= 5 * HOUR_MS {
            Resolution::OneHour
        } else if step_ms >= 25 * MINUTE_MS {
            Resolution::FiveMinutes
        } else {
            Resolution::Raw
        }
    }
}

/// One of the aggregates kept per bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Min,
    Max,
    Sum,
    Count,
    Last,
}

impl Aggregate {
    pub const ALL: [Aggregate; 5] = [Aggregate::Min, Aggregate::Max, Aggregate::Sum, Aggregate::Count, Aggregate::Last];

    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::Last => "last",
        }
    }

    fn from_name(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Folds the next (later) value into an aggregate of earlier ones.
    fn fold(self, acc: f64, next: f64) -> f64 {
        match self {
            Aggregate::Min => acc.min(next),
            Aggregate::Max => acc.max(next),
            Aggregate::Sum | Aggregate::Count => acc + next,
            Aggregate::Last => next,
        }
    }
}

/// The aggregates of one bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bucket {
    t: i64,
    min: f64,
    max: f64,
    sum: f64,
    count: f64,
    last: f64,
}

impl Bucket {
    fn get(&self, aggregate: Aggregate) -> f64 {
        match aggregate {
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Sum => self.sum,
            Aggregate::Count => self.count,
            Aggregate::Last => self.last,
        }
    }
}

/// Aggregates time-sorted raw samples into buckets of `width` ms, skipping staleness markers.
fn buckets(samples: &[RawSample], width: i64) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    let mut current = i64::MIN;
    for &(t, bits) in samples {
        if bits == STALE_NAN_BITS {
            continue;
        }
        let v = f64::from_bits(bits);
        let k = t.div_euclid(width);
        match out.last_mut() {
            Some(b) if k == current => {
                b.t = t;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
                b.sum += v;
                b.count += 1.0;
                b.last = v;
            }
            _ => {
                current = k;
                out.push(Bucket { t, min: v, max: v, sum: v, count: 1.0, last: v });
            }
        }
    }
    out
}

/// Folds time-sorted points of one aggregate into buckets of `width` ms.
fn fold_points(points: &[RawSample], width: i64, aggregate: Aggregate) -> Vec<RawSample> {
    let mut out: Vec<RawSample> = Vec::new();
    let mut current = i64::MIN;
    for &(t, bits) in points {
        let k = t.div_euclid(width);
        match out.last_mut() {
            Some(last) if k == current => {
                *last = (t, aggregate.fold(f64::from_bits(last.1), f64::from_bits(bits)).to_bits());
            }
            _ => {
                current = k;
                out.push((t, bits));
            }
        }
    }
    out
}

/// Downsamples one input series into the series of a block at `resolution`: from raw, one point list per
/// aggregate, for series named by the input's labels plus the aggregate label; from 5-minute data, the same
/// aggregate at the coarser width, for a series with the input's labels (`None`).
pub(crate) fn downsample_series(
    labels: &Labels,
    input: Resolution,
    resolution: Resolution,
    samples: &[RawSample],
) -> Vec<(Option<Aggregate>, Vec<RawSample>)> {
    if input == Resolution::Raw {
        let buckets = buckets(samples, resolution.ms());
        // A raw series carrying the reserved aggregate label cannot be told from its aggregates; skip it.
        if buckets.is_empty() || labels.get(AGGREGATE_LABEL).is_some() {
            return Vec::new();
        }
        return Aggregate::ALL
            .into_iter()
            .map(|a| (Some(a), buckets.iter().map(|b| (b.t, b.get(a).to_bits())).collect()))
            .collect();
    }
    let Some(aggregate) = labels.get(AGGREGATE_LABEL).and_then(Aggregate::from_name) else {
        return Vec::new();
    };
    vec![(None, fold_points(samples, resolution.ms(), aggregate))]
}

/// The labels of a downsampled series: the input's, plus the aggregate label when there is one.
pub(crate) fn output_labels(labels: &Labels, aggregate: Option<Aggregate>) -> Labels {
    match aggregate {
        Some(a) => with_aggregate(labels, a),
        None => labels.clone(),
    }
}

/// Compares the labels `output_labels` would build, without building them, in `Labels` order.
pub(crate) fn cmp_output(a: (&Labels, Option<Aggregate>), b: (&Labels, Option<Aggregate>)) -> std::cmp::Ordering {
    fn pairs(labels: &Labels, aggregate: Option<Aggregate>) -> impl Iterator<Item = (&str, &str)> {
        let extra = aggregate.map(|a| (AGGREGATE_LABEL, a.name()));
        let mut inserted = extra.is_none();
        let mut rest = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).peekable();
        std::iter::from_fn(move || {
            if !inserted && rest.peek().is_none_or(|next| next.0 > AGGREGATE_LABEL) {
                inserted = true;
                return extra;
            }
            rest.next()
        })
    }
    pairs(a.0, a.1).cmp(pairs(b.0, b.1))
}

/// The points of `aggregate` at `resolution` computed from raw samples, exactly as compaction computes them.
fn aggregate_raw(samples: &[RawSample], resolution: Resolution, aggregate: Aggregate) -> Vec<RawSample> {
    let five = buckets(samples, Resolution::FiveMinutes.ms());
    let points: Vec<RawSample> = five.iter().map(|b| (b.t, b.get(aggregate).to_bits())).collect();
    match resolution {
        Resolution::OneHour => fold_points(&points, HOUR_MS, aggregate),
        _ => points,
    }
}

fn with_aggregate(labels: &Labels, aggregate: Aggregate) -> Labels {
    let pairs = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).chain([(AGGREGATE_LABEL, aggregate.name())]);
    // Raw series never carry the aggregate label (it is reserved), so the pairs stay unique.
    Labels::from_pairs(pairs).unwrap_or_else(|_| labels.clone())
}

fn without_aggregate(labels: &Labels) -> Labels {
    let pairs = labels.iter().filter(|l| l.name != AGGREGATE_LABEL).map(|l| (l.name.as_str(), l.value.as_str()));
    Labels::from_pairs(pairs).unwrap_or_default()
}

impl Db {
    /// The points of `aggregate` at `resolution` for the series the matchers select, with point timestamps in
    /// `[mint, maxt]`, sorted by labels. Stored downsampled blocks are used where they exist; elsewhere the
    /// points are computed from raw samples the same way. `Resolution::Raw` returns raw samples.
    pub fn select_downsampled(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        resolution: Resolution,
        aggregate: Aggregate,
    ) -> Result<Vec<Series>, DbError> {
        if resolution == Resolution::Raw {
            return self.querier(mint, maxt).select(matchers)?.collect();
        }
        let width = resolution.ms();
        let stored: Vec<_> = self
            .blocks()
            .into_iter()
            .filter(|b| b.meta().resolution_ms == width && b.meta().min_t <= maxt && b.meta().max_t > mint)
            .collect();
        let covered: Vec<(i64, i64)> = stored.iter().map(|b| (b.meta().min_t, b.meta().max_t)).collect();
        let in_covered = |t: i64| covered.iter().any(|&(lo, hi)| (lo..hi).contains(&t));
        let mut found: BTreeMap<Labels, Vec<RawSample>> = BTreeMap::new();

        let mut with_aggr = matchers.to_vec();
        let aggregate_matcher = Matcher::new(MatchOp::Equal, AGGREGATE_LABEL, aggregate.name());
        with_aggr.push(aggregate_matcher.expect("the aggregate label's name is not empty"));
        for block in &stored {
            let result = (|| {
                for ord in &block.select(&with_aggr)? {
                    let (labels, chunks) = block.series(ord)?;
                    let points = found.entry(without_aggregate(&labels)).or_default();
                    super::query::decode_block_chunks(block, &chunks, mint, maxt, points)?;
                }
                Ok(())
            })();
            if let Err(err) = result {
                return Err(self.block_failed(block, err));
            }
        }

        // Whole buckets, so partial ones at the edges are aggregated like stored ones.
        let lo = mint.div_euclid(width).saturating_mul(width);
        let hi = maxt.saturating_add(1).div_euclid(width).saturating_add(1).saturating_mul(width).saturating_sub(1);
        for series in self.querier_excluding(lo, hi, &covered).select(matchers)? {
            let series = series?;
            let raw: Vec<RawSample> =
                series.samples.iter().filter(|s| !in_covered(s.t)).map(|s| (s.t, s.v.to_bits())).collect();
            let points = aggregate_raw(&raw, resolution, aggregate);
            let kept = points.into_iter().filter(|p| (mint..=maxt).contains(&p.0));
            found.entry(series.labels).or_default().extend(kept);
        }

        Ok(found
            .into_iter()
            .filter(|(_, points)| !points.is_empty())
            .map(|(labels, mut points)| {
                points.sort_by_key(|p| p.0);
                points.dedup_by_key(|p| p.0);
                let samples = points.into_iter().map(|(t, bits)| Sample { t, v: f64::from_bits(bits) }).collect();
                Series { labels, samples }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_order_matches_the_built_labels() {
        let sets = [
            vec![("__name__", "up")],
            vec![("A", "x"), ("__name__", "up")],
            vec![("_", "1")],
            vec![("__aggr", "y"), ("job", "j")],
            vec![("__name__", "up"), ("zone", "a")],
            vec![],
        ];
        let mut keys = Vec::new();
        for pairs in &sets {
            let labels = Labels::from_pairs(pairs.iter().copied()).unwrap();
            keys.push((labels.clone(), None));
            for a in Aggregate::ALL {
                keys.push((labels.clone(), Some(a)));
            }
        }
        for x in &keys {
            for y in &keys {
                let built = output_labels(&x.0, x.1).cmp(&output_labels(&y.0, y.1));
                assert_eq!(cmp_output((&x.0, x.1), (&y.0, y.1)), built, "{x:?} vs {y:?}");
            }
        }
    }
}
