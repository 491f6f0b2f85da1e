//! Range functions over downsampled data. In a range query whose step and window both span at least five
//! buckets of a resolution the storage keeps (Thanos' rule), the functions that per-bucket aggregates answer read
//! those aggregates instead of every raw sample: `sum_over_time` from sums, `count_over_time` as the sum of
//! counts, `min`/`max_over_time` from minima/maxima, `avg_over_time` as summed sums over summed counts, and
//! `rate`, `increase`, `last_over_time`, `present_over_time` from each bucket's last value.
//!
//! The price is the one any downsampling pays: a window takes whole buckets, so its edges move by up to one
//! bucket (at most a fifth of the step), and a counter reset inside a bucket loses the increase before it.
//! Instant queries and every other function read raw samples.

use promql_parser::parser::MatrixSelector;

use super::call::range_points;
use super::eval::{millis, Evaluator};
use super::parallel::map_series;
use super::selector::{with_labels, Source};
use super::types::{EvalSeries, Grid};
use super::QueryError;
use crate::functions::range::RangeFunction;
use crate::storage::Aggregate;

/// A step and a window must each span this many buckets for a resolution to be used.
const BUCKETS_PER_STEP: i64 = 5;

/// How a range function is computed from downsampled aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recipe {
    /// The function `apply` over the points of one aggregate.
    One(Aggregate, RangeFunction),
    /// `avg_over_time`: the summed sums over the summed counts of each window.
    Average,
}

impl Recipe {
    pub fn for_function(f: RangeFunction) -> Option<Recipe> {
        use RangeFunction::*;
        Some(match f {
            SumOverTime => Recipe::One(Aggregate::Sum, SumOverTime),
            CountOverTime => Recipe::One(Aggregate::Count, SumOverTime),
            MinOverTime => Recipe::One(Aggregate::Min, MinOverTime),
            MaxOverTime => Recipe::One(Aggregate::Max, MaxOverTime),
            AvgOverTime => Recipe::Average,
            Rate | Increase | LastOverTime | PresentOverTime => Recipe::One(Aggregate::Last, f),
            _ => return None,
        })
    }
}

/// The coarsest resolution among `available` (bucket widths in ms) that a query with this step and window
/// may read without losing detail it shows, no coarser than `max_ms`.
pub(crate) fn choose_resolution(available: &[i64], step_ms: i64, range_ms: i64, max_ms: i64) -> Option<i64> {
    let limit = (step_ms.min(range_ms) / BUCKETS_PER_STEP).min(max_ms);
    available.iter().copied().filter(|&r| r > 0 && r <= limit).max()
}

impl Evaluator<'_> {
    /// The resolution and recipe to evaluate `f` over `ms` with, when downsampled data serves it.
    pub(crate) fn downsampling(
        &self,
        f: RangeFunction,
        ms: &MatrixSelector,
        grid: Grid,
    ) -> Result<Option<(i64, Recipe)>, QueryError> {
        if grid.is_instant() || self.max_resolution <= 0 {
            return Ok(None);
        }
        let Some(recipe) = Recipe::for_function(f) else { return Ok(None) };
        let range = millis(ms.range)?;
        let resolution = choose_resolution(self.storage.resolutions(), grid.step, range, self.max_resolution);
        Ok(resolution.map(|r| (r, recipe)))
    }

    /// Evaluates a range function over the downsampled series of `ms` as `recipe` says.
    pub(crate) fn eval_downsampled(
        &mut self,
        ms: &MatrixSelector,
        grid: Grid,
        (resolution, recipe): (i64, Recipe),
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let (aggregate, apply) = match recipe {
            Recipe::One(aggregate, apply) => (aggregate, apply),
            Recipe::Average => return self.eval_downsampled_average(ms, grid, resolution),
        };
        let (selected, spec) = self.select_matrix_from(ms, grid, Source::Aggregate(resolution, aggregate))?;
        let budget = self.limits.budget();
        let evaluated = map_series(&selected, &budget, self.threads, |_, points| {
            let out = range_points(apply, spec, grid, &[], points)?;
            budget.take(out.len())?;
            Ok((!out.is_empty()).then_some(out))
        })?;
        Ok(with_labels(selected, evaluated))
    }

    fn eval_downsampled_average(
        &mut self,
        ms: &MatrixSelector,
        grid: Grid,
        resolution: i64,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let (sums, spec) = self.select_matrix_from(ms, grid, Source::Aggregate(resolution, Aggregate::Sum))?;
        let (counts, _) = self.select_matrix_from(ms, grid, Source::Aggregate(resolution, Aggregate::Count))?;
        let budget = self.limits.budget();
        let sum_over_time = RangeFunction::SumOverTime;
        let evaluated = map_series(&sums, &budget, self.threads, |i, points| {
            // Both selections are sorted by labels and hold the same series, so the match is found by search.
            let labels = sums.labels(i);
            let (mut j, mut end) = (0, counts.len());
            while j < end {
                let mid = j + (end - j) / 2;
                if counts.labels(mid) < labels {
                    j = mid + 1;
                } else {
                    end = mid;
                }
            }
            if j == counts.len() || counts.labels(j) != labels {
                return Ok(None);
            }
            let total = range_points(sum_over_time, spec, grid, &[], points)?;
            counts.samples(j, points)?;
            let number = range_points(sum_over_time, spec, grid, &[], points)?;
            let mut out = Vec::with_capacity(total.len());
            let mut n = number.iter().peekable();
            for (t, sum) in total {
                while n.next_if(|c| c.0 < t).is_some() {}
                if let Some(&&(_, count)) = n.peek().filter(|c| c.0 == t && c.1 > 0.0) {
                    out.push((t, sum / count));
                }
            }
            budget.take(out.len())?;
            Ok((!out.is_empty()).then_some(out))
        })?;
        Ok(with_labels(sums, evaluated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn resolution_spans_five_buckets_of_step_and_window() {
        let both = [5 * MIN, 60 * MIN];
        assert_eq!(choose_resolution(&both, 24 * MIN, 60 * MIN, i64::MAX), None);
        assert_eq!(choose_resolution(&both, 25 * MIN, 60 * MIN, i64::MAX), Some(5 * MIN));
        assert_eq!(choose_resolution(&both, 25 * MIN, 24 * MIN, i64::MAX), None);
        assert_eq!(choose_resolution(&both, 300 * MIN, 300 * MIN, i64::MAX), Some(60 * MIN));
        assert_eq!(choose_resolution(&both, 300 * MIN, 300 * MIN, 5 * MIN), Some(5 * MIN));
        assert_eq!(choose_resolution(&both, 300 * MIN, 300 * MIN, 0), None);
        assert_eq!(choose_resolution(&[], 300 * MIN, 300 * MIN, i64::MAX), None);
    }

    #[test]
    fn only_functions_aggregates_answer_have_a_recipe() {
        use RangeFunction::*;
        assert_eq!(Recipe::for_function(CountOverTime), Some(Recipe::One(Aggregate::Count, SumOverTime)));
        assert_eq!(Recipe::for_function(Rate), Some(Recipe::One(Aggregate::Last, Rate)));
        assert_eq!(Recipe::for_function(AvgOverTime), Some(Recipe::Average));
        for f in [Irate, Delta, Deriv, Resets, Changes, QuantileOverTime, StddevOverTime, FirstOverTime] {
            assert_eq!(Recipe::for_function(f), None, "{f:?}");
        }
    }
}
