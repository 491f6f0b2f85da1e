//! The PromQL engine: parses a query, evaluates it over a [`Storage`] and enforces the query limits.
//!
//! Every expression is evaluated over the whole grid of steps at once (one storage selection per selector for a
//! range query), as Prometheus' engine does; see `eval.rs` for the dispatch.

mod aggregate;
mod binary;
mod call;
mod downsampled;
mod durations;
mod escapes;
mod eval;
mod histogram_quantile;
mod labels_fns;
mod limits;
mod parallel;
mod parse;
mod selector;
mod subquery;
mod types;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::storage::{Storage, StorageError};
use crate::value::{Sample, Series, Value};
use eval::Evaluator;
use types::{drop_pending_names, Grid, Val};

/// The most points a range query may return per series, as Prometheus' HTTP API allows.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Limits and defaults of the engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample.
    pub lookback_delta_ms: i64,
    /// Wall-clock time a query may take.
    pub timeout: Duration,
    /// Samples a query may hold in memory at once.
    pub max_samples: usize,
    /// Queries that may run at the same time; more are refused.
    pub max_concurrent: usize,
    /// Threads one query may use to read and evaluate the series of a selector (at least one). By default, as
    /// many as the machine has cores.
    pub threads_per_query: usize,
    /// Resolution of subqueries written without a step (`x[5m:]`). Prometheus uses the global
    /// `evaluation_interval`, 1m by default.
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta_ms: 300_000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_concurrent: 20,
            threads_per_query: std::thread::available_parallelism().map_or(1, |n| n.get()),
            default_subquery_step_ms: subquery::DEFAULT_SUBQUERY_STEP_MS,
        }
    }
}

/// Settings of one query.
#[derive(Clone, Copy, Debug)]
pub struct QueryOptions {
    /// Wall-clock time the query may take, capped by the engine's timeout.
    pub timeout: Duration,
    /// The coarsest downsampled resolution (bucket width in ms) a range query may read; 0 reads raw samples
    /// only. Within it, each selector uses the coarsest resolution its step and window allow (see
    /// `engine/downsampled.rs`).
    pub max_resolution_ms: i64,
}

/// The outcome of a successful query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    /// Annotations such as `PromQL warning: ...`.
    pub warnings: Vec<String>,
    /// Annotations such as `PromQL info: ...`.
    pub infos: Vec<String>,
}

/// Why a query failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("parse error: {0}")]
    Parse(String),
    #[error("query timed out in expression evaluation")]
    Timeout,
    #[error("query processing would load too many samples into memory in query execution (limit {limit})")]
    TooManySamples { limit: usize },
    #[error("too many concurrent queries")]
    TooManyConcurrent,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Execution(String),
    #[error("{0}")]
    BadRequest(String),
}

/// A PromQL engine. Cheap to share between threads (`Arc<Engine>`); each query runs on the calling thread.
#[derive(Debug)]
pub struct Engine {
    opts: EngineOptions,
    running: AtomicUsize,
}

/// A slot among the concurrently running queries, released on drop.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine { opts, running: AtomicUsize::new(0) }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    fn deadline(&self, timeout: Duration) -> Instant {
        Instant::now() + timeout.min(self.opts.timeout)
    }

    fn acquire(&self) -> Result<Slot<'_>, QueryError> {
        let before = self.running.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(&self.running);
        if before >= self.opts.max_concurrent {
            return Err(QueryError::TooManyConcurrent);
        }
        Ok(slot)
    }

    /// Evaluates `query` at `t_ms`. The value has the expression's own type.
    pub fn instant_query(&self, storage: &dyn Storage, query: &str, t_ms: i64) -> Result<QueryResult, QueryError> {
        self.instant_query_within(storage, query, t_ms, self.opts.timeout)
    }

    /// [`Engine::instant_query`] with a timeout of its own, capped by the engine's (Prometheus' `timeout`).
    pub fn instant_query_within(
        &self,
        storage: &dyn Storage,
        query: &str,
        t_ms: i64,
        timeout: Duration,
    ) -> Result<QueryResult, QueryError> {
        let _slot = self.acquire()?;
        let expr = parse::parse_query(query)?;
        let mut ev = Evaluator::new(storage, &self.opts, self.deadline(timeout), t_ms, t_ms);
        let value = match ev.eval(&expr, Grid::instant(t_ms))? {
            Val::Scalar(v) => Value::Scalar { t: t_ms, v: v.first().copied().unwrap_or(f64::NAN) },
            Val::String(s) => Value::String { t: t_ms, s },
            Val::Vector(series) => Value::Vector(
                drop_pending_names(series)?
                    .into_iter()
                    .filter_map(|s| s.points.first().map(|p| Sample { labels: s.labels, t: t_ms, v: p.1 }))
                    .collect(),
            ),
            Val::Matrix(series) => Value::Matrix(to_matrix(series)?),
        };
        Ok(QueryResult { value, warnings: ev.annotations.warnings, infos: ev.annotations.infos })
    }

    /// Evaluates `query` at every `step_ms` from `start_ms` to `end_ms` inclusive. The value is always a matrix,
    /// sorted by labels.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.range_query_within(storage, query, (start_ms, end_ms, step_ms), self.opts.timeout)
    }

    /// [`Engine::range_query`] over `(start_ms, end_ms, step_ms)` with a timeout of its own, capped by the
    /// engine's (Prometheus' `timeout`).
    pub fn range_query_within(
        &self,
        storage: &dyn Storage,
        query: &str,
        grid: (i64, i64, i64),
        timeout: Duration,
    ) -> Result<QueryResult, QueryError> {
        self.range_query_with(storage, query, grid, QueryOptions { timeout, max_resolution_ms: i64::MAX })
    }

    /// [`Engine::range_query`] over `(start_ms, end_ms, step_ms)` with settings of its own.
    pub fn range_query_with(
        &self,
        storage: &dyn Storage,
        query: &str,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
        options: QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadRequest(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadRequest("end timestamp must not be before start time".into()));
        }
        if end_ms.checked_sub(start_ms).is_none_or(|span| span / step_ms >= MAX_POINTS_PER_SERIES) {
            return Err(QueryError::BadRequest(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution \
                 (?step=XX)"
                    .into(),
            ));
        }
        let _slot = self.acquire()?;
        let expr = parse::parse_query(query)?;
        let kind = parse::value_type(&expr);
        if !matches!(kind, "scalar" | "vector") {
            let name = if kind == "matrix" { "range vector" } else { kind };
            return Err(QueryError::BadRequest(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let grid = Grid { start: start_ms, end: end_ms, step: step_ms };
        let mut ev = Evaluator::new(storage, &self.opts, self.deadline(options.timeout), start_ms, end_ms);
        ev.max_resolution = options.max_resolution_ms;
        let series = match ev.eval(&expr, grid)? {
            Val::Scalar(v) => vec![Series { labels: Default::default(), points: grid.times().zip(v).collect() }],
            Val::Vector(series) => to_matrix(series)?,
            other => {
                return Err(QueryError::BadRequest(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    other.type_name()
                )))
            }
        };
        Ok(QueryResult { value: Value::Matrix(series), warnings: ev.annotations.warnings, infos: ev.annotations.infos })
    }
}

/// Parses `query` exactly as [`Engine::instant_query`] would (the same dialect: duration expressions, renamed
/// Prometheus 2 functions, the same size and depth guards) without evaluating it.
pub fn check_query(query: &str) -> Result<(), QueryError> {
    parse::parse_query(query).map(|_| ())
}

/// Parses `query` as [`check_query`] does and returns its syntax tree (duration expressions already evaluated),
/// for callers that format a query or read a selector's matchers.
pub fn parse_expr(query: &str) -> Result<promql_parser::parser::Expr, QueryError> {
    parse::parse_query(query)
}

fn to_matrix(series: Vec<types::EvalSeries>) -> Result<Vec<Series>, QueryError> {
    let mut out: Vec<Series> = drop_pending_names(series)?
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| Series { labels: s.labels, points: s.points })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}

#[cfg(test)]
mod tests;
