//! Parse and evaluation errors, worded as Loki words them where users may know the text.

use crate::storage::StorageError;

/// A query that does not parse. Displays as Loki does: `parse error at line 1, col 12: syntax error: ...`, or
/// `parse error : ...` for errors not tied to a place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 1-based line and column (in characters); `None` for errors about the query as a whole.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "parse error at line {line}, col {col}: {}", self.message),
            None => write!(f, "parse error : {}", self.message),
        }
    }
}

impl ParseError {
    pub(crate) fn at(line: usize, col: usize, message: impl Into<String>) -> ParseError {
        ParseError { position: Some((line, col)), message: message.into() }
    }

    pub(crate) fn plain(message: impl Into<String>) -> ParseError {
        ParseError { position: None, message: message.into() }
    }
}

/// Why an evaluation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("query timed out")]
    Timeout,
    #[error("the query would read more than {limit} log entries (max_entries_scanned)")]
    TooManyEntries { limit: u64 },
    #[error("maximum of series ({limit}) reached for a single query")]
    TooManySeries { limit: usize },
    #[error("the query would hold more than {limit} samples in memory (max_samples)")]
    TooManySamples { limit: u64 },
    #[error(
        "exceeded maximum resolution of {limit} points per timeseries. Try increasing the value of the step parameter"
    )]
    TooManySteps { limit: usize },
    #[error("log queries are not supported as an instant query type, please change your query to a range query type")]
    InstantLogQuery,
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// A metric query whose pipeline failed on some lines: Loki refuses to return those series.
    #[error(
        "pipeline error: '{error}' for series: '{series}'. Use a label filter to intentionally skip this error. \
         (e.g | __error__!=\"{error}\"). To skip all potential errors you can match empty errors. \
         (e.g __error__=\"\") The label filter can also be specified after unwrap. \
         (e.g | unwrap latency | __error__=\"\" )"
    )]
    Pipeline { error: String, series: String },
    /// Vector matching found several series for one group, or other invalid data at evaluation time.
    #[error("{0}")]
    Execution(String),
}
