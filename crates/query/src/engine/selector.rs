//! Instant and range vector selectors: one storage selection per selector for the whole grid, then a cursor
//! walk per series. Instant selectors look back `(t - lookback, t]` and stop at a staleness marker; range
//! windows are left-open `(t - range, t]` with staleness markers removed.

use promql_parser::label::MatchOp as ParserOp;
use promql_parser::parser::{MatrixSelector, VectorSelector};
use vigil_model::{MatchOp, Matcher, METRIC_NAME};

use super::eval::{millis, offset_ms, Evaluator};
use super::types::{EvalSeries, Grid};
use super::QueryError;
use crate::storage::StoredSeries;

/// Bit pattern of Prometheus' staleness marker.
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

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

impl Evaluator<'_> {
    /// Selects every series matching `vs` with samples in `[mint, maxt]`, sorted by labels.
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<StoredSeries>, QueryError> {
        let alternatives = selector_matchers(vs)?;
        let mut series = Vec::new();
        for matchers in &alternatives {
            self.limits.tick()?;
            series.extend(self.storage.select(mint, maxt, matchers)?);
        }
        if alternatives.len() > 1 {
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            series.dedup_by(|a, b| a.labels == b.labels);
        }
        let loaded: usize = series.iter().map(|s| s.samples.len()).sum();
        self.limits.check(loaded)?;
        Ok(series)
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
        let mut out = Vec::with_capacity(selected.len());
        let mut produced = 0usize;
        for s in selected {
            self.limits.tick()?;
            let mut cursor = 0;
            let value = |(st, v): (i64, f64)| if with_sample_time { st as f64 / 1000.0 } else { v };
            let points: Vec<(i64, f64)> = match at {
                Some(a) => match lookback_sample(&s.samples, &mut cursor, a.saturating_sub(offset), self.lookback) {
                    Some(sample) => grid.times().map(|t| (t, value(sample))).collect(),
                    None => Vec::new(),
                },
                None => grid
                    .times()
                    .filter_map(|t| {
                        lookback_sample(&s.samples, &mut cursor, t.saturating_sub(offset), self.lookback)
                            .map(|sample| (t, value(sample)))
                    })
                    .collect(),
            };
            if !points.is_empty() {
                produced += points.len();
                self.limits.check(produced)?;
                out.push(EvalSeries { labels: s.labels, drop_name: false, points });
            }
        }
        Ok(out)
    }

    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        self.eval_vector_selector_with(vs, grid, false)
    }

    /// Loads a matrix selector's series for windows ending at every grid step.
    pub(crate) fn load_matrix(&mut self, ms: &MatrixSelector, grid: Grid) -> Result<RangeArg, QueryError> {
        let vs = &ms.vs;
        let offset = offset_ms(&vs.offset)?;
        let at = self.at_ms(&vs.at)?;
        let range = millis(ms.range)?;
        let arg = RangeArg { series: Vec::new(), range, offset, at };
        let first_end = arg.window_end(grid.start);
        let last_end = arg.window_end(grid.end);
        let selected = self.select(vs, first_end.saturating_sub(range).saturating_add(1), last_end)?;
        let mut series = Vec::with_capacity(selected.len());
        let mut held = 0usize;
        for s in selected {
            self.limits.tick()?;
            let points: Vec<(i64, f64)> = s.samples.into_iter().filter(|p| !is_stale(p.1)).collect();
            held += points.len();
            self.limits.check(held)?;
            series.push(EvalSeries { labels: s.labels, drop_name: false, points });
        }
        Ok(RangeArg { series, ..arg })
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
    /// The inclusive end of the window evaluated at step `t`.
    pub fn window_end(&self, t: i64) -> i64 {
        self.at.unwrap_or(t).saturating_sub(self.offset)
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
        while self.hi < points.len() && points[self.hi].0 <= end {
            self.hi += 1;
        }
        while self.lo < self.hi && points[self.lo].0 <= start {
            self.lo += 1;
        }
        &points[self.lo.min(self.hi)..self.hi]
    }
}
