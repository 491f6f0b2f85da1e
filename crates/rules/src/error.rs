//! What a rule file or rule test file did wrong, as `file:line:col: message`.

use std::fmt;

use serde_saphyr::Location;

/// A problem in a file. Displays as `file:line:col: message`, or `file: message` when it concerns the whole
/// file (it cannot be read, it is too large).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub origin: String,
    /// 1-based; 0 when the problem has no position.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl FileError {
    pub(crate) fn at(origin: &str, loc: &Location, message: impl Into<String>) -> FileError {
        FileError { origin: origin.to_owned(), line: loc.line(), column: loc.column(), message: message.into() }
    }

    pub(crate) fn whole(origin: &str, message: impl Into<String>) -> FileError {
        FileError { origin: origin.to_owned(), line: 0, column: 0, message: message.into() }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.origin, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for FileError {}

/// The YAML parser's message without its source snippet and its own position (ours is in front).
pub(crate) fn yaml_error(origin: &str, e: &serde_saphyr::Error) -> FileError {
    let loc = e.location().unwrap_or(Location::UNKNOWN);
    let text = e.without_snippet().to_string();
    let msg = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid YAML").trim();
    let msg = match msg.find(": ") {
        Some(i) if msg[..i].contains("line") => &msg[i + 2..],
        _ => msg,
    };
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    };
    FileError::at(origin, &loc, msg)
}

/// Reads a file of at most `max` bytes as text.
pub(crate) fn read_capped(path: &std::path::Path, max: u64) -> Result<String, FileError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| FileError::whole(&origin, format!("cannot open: {e}")))?;
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text).map_err(|e| FileError::whole(&origin, format!("cannot read: {e}")))?;
    if text.len() as u64 > max {
        return Err(FileError::whole(&origin, format!("file is larger than {max} bytes")));
    }
    Ok(text)
}

/// Whether YAML text holds anything but comments, blank lines and document markers.
pub(crate) fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---" && t != "..."
    })
}
