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

/// Files kept open between scrapes and re-read from offset 0: opening a sysfs or procfs file costs several
/// times more than reading it, and the kernel regenerates the content on every read from the start.
/// At most `limit` files are kept; past that, files are opened for each read as usual.
pub struct OpenFiles {
    files: std::collections::HashMap<std::path::PathBuf, File>,
    bytes: Vec<u8>,
    limit: usize,
}

impl OpenFiles {
    pub fn new(limit: usize) -> Self {
        OpenFiles { files: std::collections::HashMap::new(), bytes: Vec::new(), limit }
    }

    /// Closes every kept file, e.g. when the set of devices changed.
    pub fn clear(&mut self) {
        self.files.clear();
    }

    /// Reads `path` into `buf` (cleared first), refusing files over [`MAX_FILE_BYTES`] and non-UTF-8 content.
    pub fn read(&mut self, path: &Path, buf: &mut String) -> std::io::Result<()> {
        if let Some(file) = self.files.get(path) {
            match read_from_start(file, &mut self.bytes) {
                Ok(()) => return bytes_to_string(&self.bytes, buf),
                // The file's object went away (a device was removed and maybe re-created): open it afresh.
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                    self.files.remove(path);
                }
                Err(e) => return Err(e),
            }
        }
        let file = File::open(path)?;
        let result = read_from_start(&file, &mut self.bytes);
        if self.files.len() < self.limit {
            self.files.insert(path.to_owned(), file);
        }
        result?;
        bytes_to_string(&self.bytes, buf)
    }
}

fn read_from_start(file: &File, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    bytes.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match file.read_at(&mut chunk, bytes.len() as u64) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        if (bytes.len() + n) as u64 > MAX_FILE_BYTES {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "file too large"));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

fn bytes_to_string(bytes: &[u8], buf: &mut String) -> std::io::Result<()> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "file is not utf-8"))?;
    buf.clear();
    buf.push_str(text);
    Ok(())
}

/// A regex over field names whose answers are remembered: /proc files repeat the same few hundred names on
/// every scrape, and a hash lookup is much cheaper than a regex search.
pub struct CachedMatcher {
    regex: regex::Regex,
    seen: std::collections::HashMap<String, bool>,
}

impl CachedMatcher {
    /// More distinct names than this are not remembered (a kernel never has this many; a fixture might).
    const MAX_REMEMBERED: usize = 4096;

    pub fn new(regex: regex::Regex) -> Self {
        CachedMatcher { regex, seen: std::collections::HashMap::new() }
    }

    pub fn is_match(&mut self, name: &str) -> bool {
        if let Some(&m) = self.seen.get(name) {
            return m;
        }
        let m = self.regex.is_match(name);
        if self.seen.len() < Self::MAX_REMEMBERED {
            self.seen.insert(name.to_owned(), m);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_matcher_answers_like_its_regex() {
        let mut m = CachedMatcher::new(regex::Regex::new("^pg.*fault").unwrap());
        for _ in 0..2 {
            assert!(m.is_match("pgfault"));
            assert!(m.is_match("pgmajfault"));
            assert!(!m.is_match("nr_free_pages"));
        }
    }

    #[test]
    fn open_files_reread_changed_content_and_respect_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, "1500\n").unwrap();
        std::fs::write(&b, "x").unwrap();
        let mut files = OpenFiles::new(1);
        let mut buf = String::from("stale");
        files.read(&a, &mut buf).unwrap();
        assert_eq!(buf, "1500\n");
        // Rewritten in place, as the kernel regenerates an attribute: the kept file sees the new content.
        std::fs::OpenOptions::new().write(true).truncate(true).open(&a).unwrap();
        std::fs::write(&a, "9000\n").unwrap();
        files.read(&a, &mut buf).unwrap();
        assert_eq!(buf, "9000\n");
        files.read(&b, &mut buf).unwrap();
        assert_eq!(buf, "x");
        assert_eq!(files.files.len(), 1, "the limit holds");
        let missing = files.read(&tmp.path().join("speed"), &mut buf).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        std::fs::write(&b, [0xff, 0xfe]).unwrap();
        assert_eq!(files.read(&b, &mut buf).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }
}
