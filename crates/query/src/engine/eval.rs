//! The evaluator: dispatches on the AST node type and holds the per-query state (storage, limits,
//! annotations, the query's start and end for `@ start()` / `@ end()`).

use std::time::Instant;

use promql_parser::parser::{AtModifier, Expr, Offset};

use super::limits::Limits;
use super::parse::unparen;
use super::types::{Annotations, Grid, Val};
use super::{EngineOptions, QueryError};
use crate::storage::Storage;

pub(crate) struct Evaluator<'a> {
    pub storage: &'a dyn Storage,
    pub lookback: i64,
    pub limits: Limits,
    /// Threads a selector's series may be spread over.
    pub threads: usize,
    pub query_start: i64,
    pub query_end: i64,
    pub annotations: Annotations,
    /// The coarsest downsampled resolution (ms) range functions may read; 0 for raw samples only.
    pub max_resolution: i64,
    /// Step of subqueries written without one.
    pub default_subquery_step: i64,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        storage: &'a dyn Storage,
        opts: &EngineOptions,
        deadline: Instant,
        query_start: i64,
        query_end: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            storage,
            lookback: opts.lookback_delta_ms.max(1),
            limits: Limits::new(deadline, opts.max_samples),
            threads: opts.threads_per_query.max(1),
            query_start,
            query_end,
            annotations: Annotations::default(),
            max_resolution: 0,
            default_subquery_step: opts.default_subquery_step_ms,
        }
    }

    /// Evaluates `expr` at every step of `grid`.
    pub fn eval(&mut self, expr: &Expr, grid: Grid) -> Result<Val, QueryError> {
        self.limits.tick()?;
        let held_before = self.limits.current;
        let val = match expr {
            Expr::NumberLiteral(n) => Val::Scalar(vec![n.val; grid.len()]),
            Expr::StringLiteral(s) => Val::String(s.val.clone()),
            Expr::Paren(p) => return self.eval(&p.expr, grid),
            Expr::Unary(u) => negate(self.eval(&u.expr, grid)?),
            Expr::VectorSelector(vs) => Val::Vector(self.eval_vector_selector(vs, grid)?),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if !grid.is_instant() {
                    return Err(QueryError::Execution(
                        "cannot do range evaluation of a range vector; use it inside a function".into(),
                    ));
                }
                let arg = self.load_range_arg(expr, grid)?;
                Val::Matrix(arg.window_series(grid.start))
            }
            Expr::Binary(b) => self.eval_binary(b, grid)?,
            Expr::Aggregate(a) => self.eval_aggregate(a, grid)?,
            Expr::Call(c) => self.eval_call(c, grid)?,
            Expr::Extension(_) => return Err(QueryError::Execution("extension expressions are not supported".into())),
        };
        // The children's results have been consumed: only this node's result stays in memory.
        self.limits.current = held_before;
        self.limits.add(val.sample_count())?;
        Ok(val)
    }

    /// Evaluates a scalar-typed argument (such as `topk`'s k) over the grid.
    pub fn eval_scalar(&mut self, expr: &Expr, grid: Grid) -> Result<Vec<f64>, QueryError> {
        match unparen(expr) {
            Expr::NumberLiteral(n) => Ok(vec![n.val; grid.len()]),
            e => self.eval(e, grid)?.into_scalar(),
        }
    }

    /// The time an `@` modifier pins evaluation to, in milliseconds.
    pub fn at_ms(&self, at: &Option<AtModifier>) -> Result<Option<i64>, QueryError> {
        Ok(match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => millis(d)?,
                Err(e) => -millis(e.duration())?,
            }),
        })
    }
}

/// Milliseconds in a duration, rejecting durations too long to compute with.
pub(crate) fn millis(d: std::time::Duration) -> Result<i64, QueryError> {
    // A hundred thousand years is far beyond any sensible query and far below i64 overflow.
    const LIMIT_MS: u128 = 100_000 * 366 * 86_400_000;
    let ms = d.as_millis();
    if ms > LIMIT_MS {
        return Err(QueryError::BadRequest(format!("duration {d:?} is out of range")));
    }
    Ok(ms as i64)
}

pub(crate) fn offset_ms(offset: &Option<Offset>) -> Result<i64, QueryError> {
    Ok(match offset {
        None => 0,
        Some(Offset::Pos(d)) => millis(*d)?,
        Some(Offset::Neg(d)) => -millis(*d)?,
    })
}

fn negate(val: Val) -> Val {
    match val {
        Val::Scalar(v) => Val::Scalar(v.into_iter().map(|x| -x).collect()),
        Val::Vector(mut series) => {
            for s in &mut series {
                s.drop_name = true;
                for p in &mut s.points {
                    p.1 = -p.1;
                }
            }
            Val::Vector(series)
        }
        other => other,
    }
}
