//! The store's typed errors, and why an appended record was refused.

use std::path::{Path, PathBuf};

use vigil_model::Labels;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("unsupported format version {version} in {path}")]
    UnsupportedVersion { path: PathBuf, version: u8 },
    #[error("wal segment {missing} is missing from {dir}")]
    MissingSegment { dir: PathBuf, missing: u64 },
    #[error("log store directory {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("invalid log store options: {0}")]
    InvalidOptions(String),
    #[error("log store is poisoned by an earlier failure and refuses writes: {cause}")]
    Poisoned { cause: String },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Corrupt { path: path.to_path_buf(), reason: reason.into() }
}

/// Why one record (or a whole stream of an append) was refused. Refused records are not stored; the others of
/// the same append are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("log line of {len} bytes exceeds the limit of {limit} bytes")]
    LineTooLong { len: usize, limit: usize },
    #[error("{count} fields exceed the limit of {limit}")]
    TooManyFields { count: usize, limit: usize },
    #[error("fields of {bytes} bytes exceed the limit of {limit} bytes")]
    FieldsTooLarge { bytes: usize, limit: usize },
    #[error("field with an empty name")]
    EmptyFieldName,
    #[error("timestamp {ts_ns} ns is more than {max_future_ns} ns ahead of the clock")]
    TooFarInFuture { ts_ns: i64, max_future_ns: i64 },
    #[error("timestamp {ts_ns} ns is before the unix epoch")]
    BeforeEpoch { ts_ns: i64 },
    #[error("empty label set")]
    NoLabels,
    #[error("{count} labels exceed the limit of {limit}")]
    TooManyLabels { count: usize, limit: usize },
    #[error("label {name:?} of {len} bytes exceeds the limit of {limit} bytes")]
    LabelTooLong { name: String, len: usize, limit: usize },
}

/// A refused record with the stream it was for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("log entry for {labels} at {ts_ns} refused: {reason}")]
pub struct Rejected {
    pub labels: Labels,
    pub ts_ns: i64,
    pub reason: Rejection,
}
