//! The shape every collector has: a name and a `collect` that writes samples or says what went wrong.

use std::path::PathBuf;

use vigil_model::MetricSink;

use crate::Paths;

/// One source of host metrics. A collector keeps whatever scratch buffers it likes between calls so that a
/// steady-state collection allocates little.
pub trait Collector: Send {
    /// The name used in `node_scrape_collector_*{collector="..."}` and in the config.
    fn name(&self) -> &'static str;

    /// Writes this collector's samples. On error, samples already written stay; the set reports failure.
    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError>;
}

/// Why a collection failed. Always names the file involved, so an operator can look at it.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {msg}")]
    Parse { path: PathBuf, line: usize, msg: String },
    /// The source does not exist on this host (no hwmon chips, no conntrack module): not an error worth a warning.
    #[error("no data: {0}")]
    NoData(String),
    #[error("{0}")]
    Other(String),
}

impl CollectError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectError::Io { path: path.into(), source }
    }

    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        CollectError::Parse { path: path.into(), line, msg: msg.into() }
    }
}
