//! What a rule file or rule test file did wrong: the configuration's `file:line:col: message` error, and the
//! configuration crate's readers, so that every YAML file vigil reads reports problems alike.

pub use vigil_config::ConfigError as FileError;
pub(crate) use vigil_config::{has_content, read_capped};

/// A YAML parser error as a [`FileError`].
pub(crate) fn yaml_error(origin: &str, e: &serde_saphyr::Error) -> FileError {
    FileError::yaml(origin, e)
}
