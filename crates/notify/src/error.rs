//! Why a notification could not be sent, and whether trying again can help.

use std::time::Duration;

/// A failed attempt to deliver a notification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try: a connection error, a timeout, a 5xx answer, or a 429 (with the wait the service
    /// asked for in `Retry-After`, if any).
    #[error("{message}")]
    Retryable { message: String, retry_after: Option<Duration> },
    /// Trying again would fail the same way: a 4xx answer, a bad template, a missing secret.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> SendError {
        SendError::Retryable { message: message.into(), retry_after: None }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError::Permanent(message.into())
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }
}

/// Building a notifier from a configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error("{0}")]
    Tls(String),
}
