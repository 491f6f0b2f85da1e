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

/// Walks the series of an instant-vector value step by step, yielding the `(series index, value)` pairs present
/// at each step without allocating per step.
pub(crate) struct StepWalker<'a> {
    series: &'a [EvalSeries],
    cursors: Vec<usize>,
    buf: Vec<(usize, f64)>,
}

impl<'a> StepWalker<'a> {
    pub fn new(series: &'a [EvalSeries]) -> StepWalker<'a> {
        StepWalker { series, cursors: vec![0; series.len()], buf: Vec::with_capacity(series.len()) }
    }

    /// The samples at time `t`; calls must come with increasing `t`.
    pub fn at(&mut self, t: i64) -> &[(usize, f64)] {
        self.buf.clear();
        for (i, s) in self.series.iter().enumerate() {
            let c = &mut self.cursors[i];
            while *c < s.points.len() && s.points[*c].0 < t {
                *c += 1;
            }
            if *c < s.points.len() && s.points[*c].0 == t {
                self.buf.push((i, s.points[*c].1));
            }
        }
        &self.buf
    }
}
