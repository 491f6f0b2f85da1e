//! Small helpers shared by collectors: capped file reads into reused buffers, and number parsing that
//! reports the file and line at fault.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::CollectError;

/// The largest pseudo-file a collector reads whole. /proc files are small; a bigger one is hostile or broken.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` into `buf` (cleared first), refusing files over [`MAX_FILE_BYTES`].
pub fn read_into(path: &Path, buf: &mut String) -> Result<(), CollectError> {
    buf.clear();
    let file = File::open(path).map_err(|e| CollectError::io(path, e))?;
    let n = file.take(MAX_FILE_BYTES + 1).read_to_string(buf).map_err(|e| CollectError::io(path, e))?;
    if n as u64 > MAX_FILE_BYTES {
        return Err(CollectError::parse(path, 0, format!("file larger than {MAX_FILE_BYTES} bytes")));
    }
    Ok(())
}

/// Reads a one-value sysfs attribute, trimmed. `None` when the file is missing or unreadable
/// (many attributes are absent or return EINVAL for some devices).
pub fn read_attr(path: &Path, buf: &mut String) -> Option<()> {
    read_into(path, buf).ok()?;
    let trimmed_len = buf.trim_end().len();
    buf.truncate(trimmed_len);
    Some(())
}

/// Parses an unsigned integer field, naming the file and line when it is not one.
pub fn parse_u64(s: &str, path: &Path, line: usize) -> Result<u64, CollectError> {
    s.parse::<u64>().map_err(|_| CollectError::parse(path, line, format!("expected an unsigned integer, got {s:?}")))
}

/// Parses a float field, naming the file and line when it is not one.
pub fn parse_f64(s: &str, path: &Path, line: usize) -> Result<f64, CollectError> {
    s.parse::<f64>().map_err(|_| CollectError::parse(path, line, format!("expected a number, got {s:?}")))
}

/// Clock ticks per second (USER_HZ), used to turn /proc jiffies into seconds.
pub fn user_hz() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// Clears `scratch` and writes `parts` into it; for family names built from a field, without a new allocation.
pub fn join_into<'a>(scratch: &'a mut String, parts: &[&str]) -> &'a str {
    scratch.clear();
    for p in parts {
        scratch.push_str(p);
    }
    scratch.as_str()
}
