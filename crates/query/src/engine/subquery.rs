//! Subqueries: the inner expression is evaluated over its own grid, aligned to absolute multiples of the
//! subquery step as Prometheus does, and the result is then windowed like a matrix selector.

use promql_parser::parser::{Expr, SubqueryExpr};

use super::eval::{millis, offset_ms, Evaluator};
use super::parse::unparen;
use super::selector::RangeArg;
use super::types::{EvalSeries, Grid, Val};
use super::QueryError;

/// Resolution of a subquery without an explicit step (Prometheus uses the global evaluation interval).
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

impl Evaluator<'_> {
    /// The series of a range-vector argument: a matrix selector or a subquery (parentheses allowed).
    pub(crate) fn load_range_arg(&mut self, expr: &Expr, grid: Grid) -> Result<RangeArg, QueryError> {
        match unparen(expr) {
            Expr::MatrixSelector(ms) => self.load_matrix(ms, grid),
            Expr::Subquery(sq) => self.eval_subquery(sq, grid),
            other => Err(QueryError::Execution(format!("expected a range vector, got {other}"))),
        }
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr, grid: Grid) -> Result<RangeArg, QueryError> {
        let offset = offset_ms(&sq.offset)?;
        let at = self.at_ms(&sq.at)?;
        let range = millis(sq.range)?;
        let step = match sq.step {
            Some(d) => millis(d)?,
            None => self.default_subquery_step,
        };
        if step <= 0 {
            return Err(QueryError::BadRequest("subquery step must be positive".into()));
        }
        let arg = RangeArg { series: Vec::new(), range, offset, at };
        let end = arg.window_end(grid.end);
        let bound = arg.window_end(grid.start).saturating_sub(range);
        let mut start = bound.div_euclid(step).saturating_mul(step);
        if start <= bound {
            start = start.saturating_add(step);
        }
        if start > end {
            return Ok(arg);
        }
        let steps = Grid { start, end, step }.len();
        // Every step of the inner evaluation holds at least one value in memory.
        self.limits.check(steps)?;
        let inner = Grid { start, end, step };
        let series = match self.eval(&sq.expr, inner)? {
            Val::Vector(v) => v,
            Val::Scalar(v) => {
                vec![EvalSeries {
                    labels: Default::default(),
                    drop_name: false,
                    points: inner.times().zip(v).collect(),
                }]
            }
            other => {
                return Err(QueryError::Execution(format!(
                    "subquery is only allowed on instant vector, got {}",
                    other.type_name()
                )))
            }
        };
        Ok(RangeArg { series, ..arg })
    }
}
