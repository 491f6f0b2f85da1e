//! Evaluation of a parsed query over a [`LogStorage`]: the parameters, the limits a hostile query meets, the
//! result shapes, and the dispatch from expression to the log, range, aggregation and binary evaluators.

mod aggregate;
mod binary;
mod logs;
mod range;

use std::time::Instant;

use vigil_model::log::Direction;
use vigil_model::Labels;

use crate::ast::{Expr, MetricExpr, VectorOp};
use crate::error::EvalError;
use crate::storage::LogStorage;

/// What a query is evaluated over. A query with `start_ns == end_ns` is an instant query.
#[derive(Clone, Debug)]
pub struct Params {
    pub start_ns: i64,
    pub end_ns: i64,
    /// Distance between the steps of a metric range query; ignored for instant queries.
    pub step_ns: i64,
    /// Most entries a log query returns, over all streams (0: no limit besides [`Limits`]).
    pub limit: usize,
    /// Order of a log query's entries: oldest first, or newest first (`Backward`, Loki's default).
    pub direction: Direction,
}

impl Params {
    pub fn instant(ts_ns: i64) -> Params {
        Params { start_ns: ts_ns, end_ns: ts_ns, step_ns: 0, limit: 100, direction: Direction::Backward }
    }

    pub fn range(start_ns: i64, end_ns: i64, step_ns: i64) -> Params {
        Params { start_ns, end_ns, step_ns, limit: 100, direction: Direction::Backward }
    }

    pub fn is_instant(&self) -> bool {
        self.start_ns == self.end_ns
    }
}

/// Caps checked during evaluation, so that a hostile query fails fast instead of exhausting the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most log records read from storage by one query.
    pub max_entries_scanned: u64,
    /// Most series in a metric query's result and in any intermediate result.
    pub max_series: usize,
    /// Most samples (one per record that passed the pipeline) held at once by a metric query.
    pub max_samples: u64,
    /// Most steps of a range query.
    pub max_steps: usize,
    /// Most streams one selector may open.
    pub max_streams: usize,
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries_scanned: 100_000_000,
            max_series: 500,
            max_samples: 20_000_000,
            max_steps: 11_000,
            max_streams: 20_000,
            deadline: None,
        }
    }
}

/// One stream of a log query's result: its final labels and its entries in the query's direction.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamResult {
    pub labels: Labels,
    pub entries: Vec<(i64, String)>,
}

/// A query's result, in the shapes of Loki's `resultType`s.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    Streams(Vec<StreamResult>),
    /// An instant metric query: one value per series at the query time.
    Vector(Vec<(Labels, i64, f64)>),
    /// A range metric query: each series' points, ascending by time; series sorted by labels.
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    Scalar(i64, f64),
}

/// Parses nothing: evaluates an already parsed query.
pub fn evaluate(
    storage: &dyn LogStorage,
    expr: &Expr,
    params: &Params,
    limits: &Limits,
) -> Result<QueryResult, EvalError> {
    if params.end_ns < params.start_ns {
        return Err(EvalError::InvalidParams("end is before start".to_string()));
    }
    let mut ctx = Ctx::new(storage, params, limits);
    match expr {
        Expr::Log(log) => {
            if params.is_instant() {
                return Err(EvalError::InstantLogQuery);
            }
            logs::eval(&mut ctx, log).map(QueryResult::Streams)
        }
        Expr::Metric(m) => {
            let steps = Steps::new(params, limits)?;
            let value = eval_metric(&mut ctx, m, &steps)?;
            Ok(into_result(value, &steps, params.is_instant(), sort_order(m)))
        }
    }
}

/// The time grid of a metric query.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Steps {
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl Steps {
    fn new(params: &Params, limits: &Limits) -> Result<Steps, EvalError> {
        if params.is_instant() {
            return Ok(Steps { start: params.start_ns, step: 1, n: 1 });
        }
        if params.step_ns <= 0 {
            return Err(EvalError::InvalidParams(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".to_string(),
            ));
        }
        let n = ((params.end_ns - params.start_ns) / params.step_ns) as u64 + 1;
        if n > limits.max_steps as u64 {
            return Err(EvalError::TooManySteps { limit: limits.max_steps });
        }
        Ok(Steps { start: params.start_ns, step: params.step_ns, n: n as usize })
    }

    pub fn at(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }

    pub fn last(&self) -> i64 {
        self.at(self.n - 1)
    }
}

/// One series of an intermediate result: a value (or none) per step.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub labels: Labels,
    pub points: Vec<Option<f64>>,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// One value per step.
    Scalar(Vec<f64>),
    Vector(Vec<Series>),
}

/// Evaluation state: storage, parameters, limits and what has been used of them.
pub(crate) struct Ctx<'a> {
    pub storage: &'a dyn LogStorage,
    pub params: &'a Params,
    pub limits: &'a Limits,
    scanned: u64,
    pub samples: u64,
}

impl<'a> Ctx<'a> {
    fn new(storage: &'a dyn LogStorage, params: &'a Params, limits: &'a Limits) -> Ctx<'a> {
        Ctx { storage, params, limits, scanned: 0, samples: 0 }
    }

    /// Accounts for one record read; checks the entry budget, and the deadline every 1024 records.
    pub fn tick(&mut self) -> Result<(), EvalError> {
        self.scanned += 1;
        if self.scanned > self.limits.max_entries_scanned {
            return Err(EvalError::TooManyEntries { limit: self.limits.max_entries_scanned });
        }
        if self.scanned.is_multiple_of(1024) {
            self.check_deadline()?;
        }
        Ok(())
    }

    pub fn check_deadline(&self) -> Result<(), EvalError> {
        match self.limits.deadline {
            Some(d) if Instant::now() >= d => Err(EvalError::Timeout),
            _ => Ok(()),
        }
    }

    pub fn check_series(&self, n: usize) -> Result<(), EvalError> {
        if n > self.limits.max_series {
            return Err(EvalError::TooManySeries { limit: self.limits.max_series });
        }
        Ok(())
    }

    pub fn check_streams(&self, n: usize) -> Result<(), EvalError> {
        if n > self.limits.max_streams {
            return Err(EvalError::Execution(format!(
                "the query selects {n} streams, more than the {} allowed (max_streams)",
                self.limits.max_streams
            )));
        }
        Ok(())
    }
}

fn eval_metric(ctx: &mut Ctx<'_>, expr: &MetricExpr, steps: &Steps) -> Result<Value, EvalError> {
    ctx.check_deadline()?;
    let value = match expr {
        MetricExpr::Number(n) => Value::Scalar(vec![*n; steps.n]),
        MetricExpr::Vector1(n) => {
            Value::Vector(vec![Series { labels: Labels::default(), points: vec![Some(*n); steps.n] }])
        }
        MetricExpr::Range { op, param, range, grouping } => {
            Value::Vector(range::eval(ctx, *op, *param, range, grouping.as_ref(), steps)?)
        }
        MetricExpr::Vector { op, param, expr, grouping } => {
            let inner = match eval_metric(ctx, expr, steps)? {
                Value::Vector(v) => v,
                Value::Scalar(_) => {
                    return Err(EvalError::Execution("vector aggregations need a vector, not a scalar".to_string()))
                }
            };
            Value::Vector(aggregate::eval(*op, *param, grouping.as_ref(), inner, steps.n))
        }
        MetricExpr::Binary { op, lhs, rhs, return_bool, matching } => {
            let l = eval_metric(ctx, lhs, steps)?;
            let r = eval_metric(ctx, rhs, steps)?;
            binary::eval(*op, l, r, *return_bool, matching, steps.n)?
        }
    };
    if let Value::Vector(v) = &value {
        ctx.check_series(v.len())?;
    }
    Ok(value)
}

/// `Some(descending)` when the query's outermost operation is `sort` or `sort_desc`.
fn sort_order(expr: &MetricExpr) -> Option<bool> {
    match expr {
        MetricExpr::Vector { op: VectorOp::Sort, .. } => Some(false),
        MetricExpr::Vector { op: VectorOp::SortDesc, .. } => Some(true),
        _ => None,
    }
}

fn into_result(value: Value, steps: &Steps, instant: bool, sort: Option<bool>) -> QueryResult {
    match (value, instant) {
        (Value::Scalar(v), true) => QueryResult::Scalar(steps.start, v[0]),
        (Value::Scalar(v), false) => {
            let points = v.into_iter().enumerate().map(|(i, v)| (steps.at(i), v)).collect();
            QueryResult::Matrix(vec![(Labels::default(), points)])
        }
        (Value::Vector(series), true) => {
            let mut out: Vec<(Labels, i64, f64)> =
                series.into_iter().filter_map(|s| s.points[0].map(|v| (s.labels, steps.start, v))).collect();
            match sort {
                Some(desc) => out.sort_by(|a, b| {
                    let o = a.2.total_cmp(&b.2);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                }),
                None => out.sort_by(|a, b| a.0.cmp(&b.0)),
            }
            QueryResult::Vector(out)
        }
        (Value::Vector(series), false) => {
            let mut out: Vec<(Labels, Vec<(i64, f64)>)> = series
                .into_iter()
                .map(|s| {
                    let points = s.points.iter().enumerate().filter_map(|(i, p)| p.map(|v| (steps.at(i), v))).collect();
                    (s.labels, points)
                })
                .filter(|(_, p): &(Labels, Vec<(i64, f64)>)| !p.is_empty())
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryResult::Matrix(out)
        }
    }
}
