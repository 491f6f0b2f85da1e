//! Parse and execution errors, worded as Go's text/template words them so that messages users know still match.

use crate::strconv::quote;

/// An error from parsing or executing a template. Its `Display` is Go's text: `template: NAME:LINE: MESSAGE` for
/// parse errors, `template: NAME:LINE:COL: executing "TEMPLATE" at <NODE>: MESSAGE` for execution errors, where
/// NAME is the name the text was parsed under, TEMPLATE the defined template running, COL a 0-based byte offset
/// into the line and NODE the expression being evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template: {template}:{line}: {message}")]
    Parse { template: String, line: usize, message: String },
    #[error("template: {template}:{line}:{column}: executing {} at <{context}>: {message}", quote(.executing, false))]
    Exec { template: String, line: usize, column: usize, executing: String, context: String, message: String },
    /// An execution error not tied to a place in the text.
    #[error("template: {template}: {message}")]
    Execute { template: String, message: String },
    #[error("template: no template {} associated with template {}", quote(.name, false), quote(.root, false))]
    NoTemplate { name: String, root: String },
}

impl TemplateError {
    /// The message without the location prefix.
    pub fn message(&self) -> String {
        match self {
            TemplateError::Parse { message, .. }
            | TemplateError::Exec { message, .. }
            | TemplateError::Execute { message, .. } => message.clone(),
            TemplateError::NoTemplate { .. } => self.to_string(),
        }
    }
}

/// How a template function or method failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncError {
    /// The function ran and returned an error: reported as `error calling NAME: MESSAGE`.
    Failed(String),
    /// The arguments do not fit the parameters; Go reports these before calling, so the message stands alone.
    BadArgs(String),
}

impl FuncError {
    /// The function failed with this message.
    pub fn new(message: impl Into<String>) -> FuncError {
        FuncError::Failed(message.into())
    }

    /// An argument of the wrong type, in Go's words (`wrong type for value; expected string; got int`).
    pub fn wrong_type(expected: &str, got: &crate::Value) -> FuncError {
        match got {
            crate::Value::Nil => FuncError::BadArgs(format!("invalid value; expected {expected}")),
            _ => FuncError::BadArgs(format!("wrong type for value; expected {expected}; got {}", got.type_name())),
        }
    }

    /// A wrong number of arguments, in Go's words.
    pub fn arity(name: &str, want: usize, got: usize) -> FuncError {
        FuncError::BadArgs(format!("wrong number of args for {name}: want {want} got {got}"))
    }
}
