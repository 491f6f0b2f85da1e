//! The error type of block writing and reading; every variant but writer misuse names the file at fault.

use std::io;
use std::path::{Path, PathBuf};

/// Why a block could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block i/o error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("corrupt block file {path}{}: {reason}", at(.offset))]
    Corrupt { path: PathBuf, offset: Option<u64>, reason: String },
    #[error("unsupported block format version {version} in {path}")]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error("invalid block writer input: {0}")]
    InvalidInput(String),
}

fn at(offset: &Option<u64>) -> String {
    offset.map_or_else(String::new, |o| format!(" at offset {o}"))
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlockError + '_ {
    move |source| BlockError::Io { path: path.to_path_buf(), source }
}

pub(super) fn corrupt(path: &Path, offset: Option<u64>, reason: impl Into<String>) -> BlockError {
    BlockError::Corrupt { path: path.to_path_buf(), offset, reason: reason.into() }
}
