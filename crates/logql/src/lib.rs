//! LogQL, Loki 2.9's query language, parsed and evaluated over any log store behind [`LogStorage`].
//!
//! ```
//! use vigil_logql::{evaluate, parse, Limits, MemLogStorage, Params, QueryResult};
//! use vigil_model::Labels;
//!
//! let mut store = MemLogStorage::new();
//! let app = Labels::from_pairs([("app", "web")]).unwrap();
//! store.push(&app, 1_000_000_000, "level=error msg=boom");
//! store.push(&app, 2_000_000_000, "level=info msg=ok");
//!
//! let expr = parse(r#"count_over_time({app="web"} | logfmt | level="error" [1m])"#)?;
//! let result = evaluate(&store, &expr, &Params::instant(60_000_000_000), &Limits::default()).unwrap();
//! let QueryResult::Vector(v) = result else { unreachable!() };
//! assert_eq!(v[0].2, 1.0);
//! # Ok::<(), vigil_logql::ParseError>(())
//! ```
//!
//! The pieces: [`parse`] (lexer, recursive-descent parser, Loki's error wording with positions) builds an
//! [`Expr`]; [`evaluate`] runs it. Log queries merge the selected streams' readers by time and stop at the
//! limit; metric queries read each stream once, turn each record that passes the pipeline into a sample and
//! fold samples over the step windows `(t - range, t]`. `|=` needles are passed to the store, which can skip blocks without them.
//! [`Limits`] cap entries read, samples held, series, steps, streams and time.
//!
//! Not supported: `label_replace`, `ip()` filters, `rate_counter`, `approx_topk`, structured metadata in the
//! pipeline, and the `__timestamp__` template function beyond a `time.Time` value.

pub mod ast;
mod error;
mod eval;
mod lex;
mod parse;
mod pipeline;
mod storage;
mod units;

pub use ast::Expr;
pub use error::{EvalError, ParseError};
pub use eval::{evaluate, Limits, Params, QueryResult, StreamResult};
pub use parse::{parse, parse_pipeline};
pub use pipeline::{LabelsBuilder, Pipeline};
pub use storage::{BatchReader, LogStorage, MemLogStorage, StorageError};
pub use vigil_model::log::Direction;

/// Parses and evaluates `query` in one call.
pub fn query(
    storage: &dyn LogStorage,
    query: &str,
    params: &Params,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    let expr = parse(query)?;
    Ok(evaluate(storage, &expr, params, limits)?)
}

/// Either failure of [`query`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}
