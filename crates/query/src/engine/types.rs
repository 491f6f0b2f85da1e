//! Intermediate values of an evaluation: every expression is evaluated over a whole grid of steps at once.

use std::collections::HashMap;

use vigil_model::{Labels, METRIC_NAME};

use super::QueryError;

/// The evaluation times of a node: `start`, `start + step`, ..., up to and including `end`. An instant
/// evaluation is a grid with one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    /// Always positive.
    pub step: i64,
}

impl Grid {
    pub fn instant(t: i64) -> Grid {
        Grid { start: t, end: t, step: 1 }
    }

    /// Number of steps (at least one; callers never build a grid with `end < start`).
    pub fn len(&self) -> usize {
        ((i128::from(self.end) - i128::from(self.start)) / i128::from(self.step)) as usize + 1
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn times(&self) -> impl Iterator<Item = i64> {
        let g = *self;
        (0..g.len()).map(move |i| g.ts(i))
    }

    pub fn is_instant(&self) -> bool {
        self.start == self.end
    }
}

/// One series of an intermediate result. For instant-vector results the points sit on grid times; for
/// range-vector results (matrix selectors and subqueries at the top level) they are raw samples.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EvalSeries {
    pub labels: Labels,
    /// Prometheus 3 removes `__name__` only at the end of the evaluation ("delayed name removal"), so that
    /// `label_replace` and `by (__name__)` still see it; this marks series whose name is to be removed.
    pub drop_name: bool,
    pub points: Vec<(i64, f64)>,
}

/// The value of an expression over a grid.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    /// One value per grid step.
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<EvalSeries>),
    Matrix(Vec<EvalSeries>),
}

impl Val {
    /// Samples held by the value, for the max-samples limit.
    pub fn sample_count(&self) -> usize {
        match self {
            Val::Scalar(v) => v.len(),
            Val::String(_) => 0,
            Val::Vector(s) | Val::Matrix(s) => s.iter().map(|s| s.points.len()).sum(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::String(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }

    pub fn into_vector(self) -> Result<Vec<EvalSeries>, QueryError> {
        match self {
            Val::Vector(v) => Ok(v),
            other => Err(QueryError::Execution(format!("expected instant vector, got {}", other.type_name()))),
        }
    }

    pub fn into_scalar(self) -> Result<Vec<f64>, QueryError> {
        match self {
            Val::Scalar(v) => Ok(v),
            other => Err(QueryError::Execution(format!("expected scalar, got {}", other.type_name()))),
        }
    }
}

/// Collects output series by label set while walking the steps of a grid in order, rejecting two samples
/// with the same labels at the same step, as Prometheus does.
#[derive(Default)]
pub(crate) struct OutBuilder {
    series: Vec<EvalSeries>,
    by_labels: HashMap<Labels, usize>,
}

impl OutBuilder {
    /// The output slot for `labels`, created (with `drop_name`) on first use.
    pub fn slot(&mut self, labels: Labels, drop_name: bool) -> usize {
        if let Some(&i) = self.by_labels.get(&labels) {
            return i;
        }
        let i = self.series.len();
        self.by_labels.insert(labels.clone(), i);
        self.series.push(EvalSeries { labels, drop_name, points: Vec::new() });
        i
    }

    /// Appends a sample at `t` to a slot; `t` must not decrease between calls for the same slot.
    pub fn push(&mut self, slot: usize, t: i64, v: f64) -> Result<(), QueryError> {
        let points = &mut self.series[slot].points;
        if points.last().is_some_and(|p| p.0 == t) {
            return Err(duplicate_labelset());
        }
        points.push((t, v));
        Ok(())
    }

    pub fn finish(self) -> Vec<EvalSeries> {
        self.series.into_iter().filter(|s| !s.points.is_empty()).collect()
    }
}

/// Labels describing what a sample means (name, type, unit); operations that change the meaning drop them all.
pub(crate) const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

pub(crate) fn drop_metadata(labels: &mut Labels) {
    for name in METADATA_LABELS {
        labels.remove(name);
    }
}

pub(crate) fn duplicate_labelset() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Removes `__name__` from series marked for it and merges series whose labels became equal; two samples at the
/// same time with the same labels are an error.
pub(crate) fn drop_pending_names(series: Vec<EvalSeries>) -> Result<Vec<EvalSeries>, QueryError> {
    let mut out: Vec<EvalSeries> = Vec::with_capacity(series.len());
    let mut by_labels: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut merged = Vec::new();
    for mut s in series {
        if s.drop_name {
            drop_metadata(&mut s.labels);
            s.drop_name = false;
        }
        match by_labels.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged.push(i);
            }
            None => {
                by_labels.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    merged.sort_unstable();
    merged.dedup();
    for i in merged {
        let points = &mut out[i].points;
        points.sort_by_key(|p| p.0);
        if points.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(duplicate_labelset());
        }
    }
    Ok(out)
}

/// Warnings and infos gathered during an evaluation, without duplicates, in order of appearance.
#[derive(Default, Debug)]
pub(crate) struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub fn warn(&mut self, msg: String) {
        let msg = format!("PromQL warning: {msg}");
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        let msg = format!("PromQL info: {msg}");
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }
}

/// The samples of an instant-vector value regrouped by step, so that a step's `(series index, value)` pairs
/// are one contiguous slice: built in two passes over the points, then read without chasing every series.
pub(crate) struct StepWalker {
    grid: Grid,
    /// Step `k`'s pairs are `pairs[starts[k]..starts[k + 1]]`, by ascending series index.
    starts: Vec<usize>,
    pairs: Vec<(usize, f64)>,
}

impl StepWalker {
    /// Points not on a time of `grid` are left out.
    pub fn new(series: &[EvalSeries], grid: Grid) -> StepWalker {
        let steps = grid.len();
        let mut starts = vec![0usize; steps + 1];
        for s in series {
            for_each_step(&s.points, grid, |k, _| starts[k + 1] += 1);
        }
        for k in 0..steps {
            starts[k + 1] += starts[k];
        }
        let mut pairs = vec![(0usize, 0.0); starts[steps]];
        let mut fill = starts.clone();
        for (i, s) in series.iter().enumerate() {
            for_each_step(&s.points, grid, |k, v| {
                pairs[fill[k]] = (i, v);
                fill[k] += 1;
            });
        }
        StepWalker { grid, starts, pairs }
    }

    /// The samples at time `t` of the grid.
    pub fn at(&self, t: i64) -> &[(usize, f64)] {
        let k = ((t - self.grid.start) / self.grid.step) as usize;
        match (self.starts.get(k), self.starts.get(k + 1)) {
            (Some(&lo), Some(&hi)) => &self.pairs[lo..hi],
            _ => &[],
        }
    }
}

/// Calls `f(step index, value)` for each point lying on a time of `grid`. Points usually fill consecutive steps,
/// which are found without a division.
pub(crate) fn for_each_step(points: &[(i64, f64)], grid: Grid, mut f: impl FnMut(usize, f64)) {
    let steps = grid.len();
    let mut prev: Option<(i64, usize)> = None;
    for &(t, v) in points {
        let k = match prev {
            Some((pt, pk)) if t.checked_sub(pt) == Some(grid.step) => pk + 1,
            _ => match t.checked_sub(grid.start) {
                Some(offset) if offset >= 0 && offset % grid.step == 0 => (offset / grid.step) as usize,
                _ => continue,
            },
        };
        if k >= steps {
            continue;
        }
        prev = Some((t, k));
        f(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_walker_groups_points_by_step_and_skips_points_off_the_grid() {
        let grid = Grid { start: 100, end: 160, step: 20 };
        let series =
            |points: &[(i64, f64)]| EvalSeries { labels: Labels::default(), drop_name: false, points: points.to_vec() };
        let input = [
            series(&[(100, 1.0), (120, 2.0), (140, 3.0), (160, 4.0)]),
            series(&[(80, 9.0), (110, 9.0), (140, 5.0), (180, 9.0)]),
            series(&[(160, 6.0)]),
        ];
        let walker = StepWalker::new(&input, grid);
        assert_eq!(walker.at(100), &[(0, 1.0)]);
        assert_eq!(walker.at(120), &[(0, 2.0)]);
        assert_eq!(walker.at(140), &[(0, 3.0), (1, 5.0)]);
        assert_eq!(walker.at(160), &[(0, 4.0), (2, 6.0)]);
        assert_eq!(walker.at(180), &[]);
    }
}
