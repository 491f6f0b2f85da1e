//! Instant and range vector selectors: one storage selection per selector for the whole grid, then a cursor
//! walk per series. Instant selectors look back `(t - lookback, t]` and stop at a staleness marker; range
//! windows are left-open `(t - range, t]` with staleness markers removed.

use promql_parser::label::MatchOp as ParserOp;
use promql_parser::parser::{MatrixSelector, VectorSelector};
use vigil_model::{Labels, MatchOp, Matcher, METRIC_NAME};

use super::eval::{millis, offset_ms, Evaluator};
use super::parallel::map_series;
use super::types::{EvalSeries, Grid};
use super::QueryError;
use crate::storage::{Aggregate, SeriesSet, StorageError, STALE_NAN_BITS};

pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The matcher sets of a selector: usually one; several for the `{a="1" or b="2"}` extension.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let convert = |list: &[promql_parser::label::Matcher]| -> Result<Vec<Matcher>, QueryError> {
        let mut out = Vec::with_capacity(list.len() + 1);
        if let Some(name) = &vs.name {
            out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.as_str()).map_err(matcher_error)?);
        }
        for m in list {
            let op = match m.op {
                ParserOp::Equal => MatchOp::Equal,
                ParserOp::NotEqual => MatchOp::NotEqual,
                ParserOp::Re(_) => MatchOp::Regex,
                ParserOp::NotRe(_) => MatchOp::NotRegex,
            };
            out.push(Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(matcher_error)?);
        }
        Ok(out)
    };
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![convert(&vs.matchers.matchers)?]);
    }
    let mut alternatives: Vec<Vec<Matcher>> =
        vs.matchers.or_matchers.iter().map(|alt| convert(alt)).collect::<Result<_, _>>()?;
    if !vs.matchers.matchers.is_empty() {
        alternatives.push(convert(&vs.matchers.matchers)?);
    }
    Ok(alternatives)
}

fn matcher_error(e: vigil_model::MatcherError) -> QueryError {
    QueryError::BadRequest(e.to_string())
}

/// The samples of one series at one step: the latest sample in `(t - lookback, t]`, unless it is a staleness
/// marker. `cursor` is the index of the first sample after the previous, earlier `t`.
fn lookback_sample(samples: &[(i64, f64)], cursor: &mut usize, t: i64, lookback: i64) -> Option<(i64, f64)> {
    while *cursor < samples.len() && samples[*cursor].0 <= t {
        *cursor += 1;
    }
    let (st, v) = *samples.get(cursor.checked_sub(1)?)?;
    (st > t.saturating_sub(lookback) && !is_stale(v)).then_some((st, v))
}

/// What a selection reads: raw samples, or one aggregate of buckets this many milliseconds wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Raw,
    Aggregate(i64, Aggregate),
}

/// The series a selector found, sorted by labels: one storage selection, or several merged for the
/// `{a="1" or b="2"}` extension.
pub(crate) struct Selected<'s> {
    sets: Vec<Box<dyn SeriesSet + 's>>,
    /// `(set, series)` in label order without duplicates, when there are several sets.
    merged: Option<Vec<(usize, usize)>>,
    /// Whether samples are read without staleness markers, as range windows take them.
    without_stale: bool,
}

impl Selected<'_> {
    pub fn len(&self) -> usize {
        match &self.merged {
            Some(order) => order.len(),
            None => self.sets.first().map_or(0, |s| s.len()),
        }
    }

    /// The labels of series `k`.
    pub fn labels(&self, k: usize) -> &Labels {
        let (set, i) = self.at(k);
        set.labels(i)
    }

    fn at(&self, k: usize) -> (&dyn SeriesSet, usize) {
        match &self.merged {
            Some(order) => (&*self.sets[order[k].0], order[k].1),
            None => (&*self.sets[0], k),
        }
    }

    /// Every series' labels, in order, moved out.
    pub fn into_labels(self) -> Vec<Labels> {
        let Some(order) = self.merged else {
            return self.sets.into_iter().next().map_or_else(Vec::new, |set| set.into_labels());
        };
        let mut per_set: Vec<Vec<Labels>> = self.sets.into_iter().map(|set| set.into_labels()).collect();
        order.iter().map(|&(s, i)| std::mem::take(&mut per_set[s][i])).collect()
    }

    /// Replaces `out` with series `k`'s samples (without staleness markers for a range selection).
    pub fn samples(&self, k: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError> {
        let (set, i) = self.at(k);
        if self.without_stale {
            set.samples_without_stale(i, out)
        } else {
            set.samples(i, out)
        }
    }
}

impl<'a> Evaluator<'a> {
    /// Selects every series matching `vs` with samples in `[mint, maxt]`, sorted by labels.
    pub(crate) fn select(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) -> Result<Selected<'a>, QueryError> {
        self.select_from(vs, mint, maxt, Source::Raw)
    }

    /// [`Evaluator::select`] of raw samples or of downsampled aggregates.
    pub(crate) fn select_from(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        source: Source,
    ) -> Result<Selected<'a>, QueryError> {
        let alternatives = selector_matchers(vs)?;
        let mut sets = Vec::with_capacity(alternatives.len());
        for matchers in &alternatives {
            self.limits.tick()?;
            sets.push(match source {
                Source::Raw => self.storage.select(mint, maxt, matchers)?,
                Source::Aggregate(resolution, aggregate) => {
                    self.storage.select_aggregate(mint, maxt, matchers, resolution, aggregate)?
                }
            });
        }
        let merged = (sets.len() > 1).then(|| {
            let mut order: Vec<(usize, usize)> =
                sets.iter().enumerate().flat_map(|(s, set)| (0..set.len()).map(move |i| (s, i))).collect();
            order.sort_by(|a, b| sets[a.0].labels(a.1).cmp(sets[b.0].labels(b.1)));
            order.dedup_by(|a, b| sets[a.0].labels(a.1) == sets[b.0].labels(b.1));
            order
        });
        Ok(Selected { sets, merged, without_stale: false })
    }

    /// An instant vector selector over the grid. With `with_sample_time`, the value of each point is the
    /// timestamp of the selected sample in seconds (for `timestamp()`).
    pub(crate) fn eval_vector_selector_with(
        &mut self,
        vs: &VectorSelector,
        grid: Grid,
        with_sample_time: bool,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let offset = offset_ms(&vs.offset)?;
        let at = self.at_ms(&vs.at)?;
        let (first, last) = match at {
            Some(a) => (a, a),
            None => (grid.start, grid.end),
        };
        let mint = first.saturating_sub(offset).saturating_sub(self.lookback).saturating_add(1);
        let maxt = last.saturating_sub(offset);
        let selected = self.select(vs, mint, maxt)?;
        let lookback = self.lookback;
        let budget = self.limits.budget();
        let points = map_series(&selected, &budget, self.threads, |_, samples| {
            let mut cursor = 0;
            let value = |(st, v): (i64, f64)| if with_sample_time { st as f64 / 1000.0 } else { v };
            let points: Vec<(i64, f64)> = match at {
                Some(a) => match lookback_sample(samples, &mut cursor, a.saturating_sub(offset), lookback) {
                    Some(sample) => grid.times().map(|t| (t, value(sample))).collect(),
                    None => Vec::new(),
                },
                None => grid
                    .times()
                    .filter_map(|t| {
                        lookback_sample(samples, &mut cursor, t.saturating_sub(offset), lookback)
                            .map(|sample| (t, value(sample)))
                    })
                    .collect(),
            };
            if points.is_empty() {
                return Ok(None);
            }
            budget.take(points.len())?;
            Ok(Some(points))
        })?;
        Ok(with_labels(selected, points))
    }

    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        self.eval_vector_selector_with(vs, grid, false)
    }

    /// Selects a matrix selector's series for windows ending at every grid step, without reading samples.
    pub(crate) fn select_matrix(
        &mut self,
        ms: &MatrixSelector,
        grid: Grid,
    ) -> Result<(Selected<'a>, WindowSpec), QueryError> {
        self.select_matrix_from(ms, grid, Source::Raw)
    }

    /// [`Evaluator::select_matrix`] of raw samples or of downsampled aggregates.
    pub(crate) fn select_matrix_from(
        &mut self,
        ms: &MatrixSelector,
        grid: Grid,
        source: Source,
    ) -> Result<(Selected<'a>, WindowSpec), QueryError> {
        let vs = &ms.vs;
        let spec = WindowSpec { range: millis(ms.range)?, offset: offset_ms(&vs.offset)?, at: self.at_ms(&vs.at)? };
        let first_end = spec.window_end(grid.start);
        let last_end = spec.window_end(grid.end);
        let mint = first_end.saturating_sub(spec.range).saturating_add(1);
        let selected = Selected { without_stale: true, ..self.select_from(vs, mint, last_end, source)? };
        Ok((selected, spec))
    }

    /// Loads a matrix selector's series for windows ending at every grid step.
    pub(crate) fn load_matrix(&mut self, ms: &MatrixSelector, grid: Grid) -> Result<RangeArg, QueryError> {
        let (selected, spec) = self.select_matrix(ms, grid)?;
        let budget = self.limits.budget();
        let loaded = map_series(&selected, &budget, self.threads, |_, samples| {
            budget.take(samples.len())?;
            Ok(Some(std::mem::take(samples)))
        })?;
        let series = with_labels(selected, loaded);
        Ok(RangeArg { series, range: spec.range, offset: spec.offset, at: spec.at })
    }
}

/// Series made of the points computed for some of the selected series (by index, ascending) and their labels.
pub(crate) fn with_labels(selected: Selected<'_>, points: Vec<(usize, Vec<(i64, f64)>)>) -> Vec<EvalSeries> {
    let mut labels = selected.into_labels();
    points
        .into_iter()
        .map(|(i, points)| EvalSeries { labels: std::mem::take(&mut labels[i]), drop_name: false, points })
        .collect()
}

/// Where the windows of a range-vector argument lie relative to the evaluation times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowSpec {
    pub range: i64,
    pub offset: i64,
    /// The `@` time, which pins every window.
    pub at: Option<i64>,
}

impl WindowSpec {
    /// The inclusive end of the window evaluated at step `t`.
    pub fn window_end(&self, t: i64) -> i64 {
        self.at.unwrap_or(t).saturating_sub(self.offset)
    }
}

/// The series behind a range-vector argument (a matrix selector or a subquery), with how windows are placed.
pub(crate) struct RangeArg {
    pub series: Vec<EvalSeries>,
    pub range: i64,
    pub offset: i64,
    /// The `@` time, which pins every window.
    pub at: Option<i64>,
}

impl RangeArg {
    pub fn spec(&self) -> WindowSpec {
        WindowSpec { range: self.range, offset: self.offset, at: self.at }
    }

    /// The inclusive end of the window evaluated at step `t`.
    pub fn window_end(&self, t: i64) -> i64 {
        self.spec().window_end(t)
    }

    /// The windows at `t` as a matrix (for a range vector at the top level of an instant query).
    pub fn window_series(self, t: i64) -> Vec<EvalSeries> {
        let end = self.window_end(t);
        let start = end.saturating_sub(self.range);
        self.series
            .into_iter()
            .filter_map(|mut s| {
                s.points.retain(|p| p.0 > start && p.0 <= end);
                (!s.points.is_empty()).then_some(s)
            })
            .collect()
    }
}

/// Walks the windows of one series for increasing window ends.
#[derive(Default)]
pub(crate) struct WindowCursor {
    lo: usize,
    hi: usize,
}

impl WindowCursor {
    /// The samples in `(start, end]`; both bounds must not decrease between calls.
    pub fn window<'s>(&mut self, points: &'s [(i64, f64)], start: i64, end: i64) -> &'s [(i64, f64)] {
        &points[self.window_range(points, start, end)]
    }

    /// Like [`WindowCursor::window`], as a range of indices into `points`.
    pub fn window_range(&mut self, points: &[(i64, f64)], start: i64, end: i64) -> std::ops::Range<usize> {
        self.hi = skip_until_after(points, self.hi, end);
        self.lo = skip_until_after(&points[..self.hi], self.lo, start);
        self.lo.min(self.hi)..self.hi
    }
}

/// The first index at or after `from` whose time is after `t` (`points` ascending): a galloping search, so
/// that a window many samples long costs a few comparisons rather than one per sample.
fn skip_until_after(points: &[(i64, f64)], from: usize, t: i64) -> usize {
    if points.get(from).is_none_or(|p| p.0 > t) {
        return from;
    }
    // points[lo].0 <= t; find hi with points[hi].0 > t (or the end), doubling the step.
    let (mut lo, mut step) = (from, 1);
    let mut hi = loop {
        let probe = lo + step;
        if probe >= points.len() {
            break points.len();
        }
        if points[probe].0 > t {
            break probe;
        }
        lo = probe;
        step *= 2;
    };
    // Invariant: points[lo].0 <= t < points[hi].0 (hi may be the end).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if points[mid].0 <= t {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galloping_skip_agrees_with_a_linear_scan() {
        for len in 0..40usize {
            let points: Vec<(i64, f64)> = (0..len).map(|i| (i as i64 * 3, 0.0)).collect();
            for from in 0..=len {
                for t in -2..(len as i64 * 3 + 2) {
                    let mut linear = from;
                    while linear < len && points[linear].0 <= t {
                        linear += 1;
                    }
                    assert_eq!(skip_until_after(&points, from, t), linear, "len {len} from {from} t {t}");
                }
            }
        }
    }
}
