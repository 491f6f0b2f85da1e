//! Log records as the log store, LogQL and the shippers exchange them, and the one tokenizer they share.
//!
//! A log stream is a small label set (host, job, unit or file); its records are a timestamp, the line, and
//! fields (Loki's "structured metadata": high-cardinality values such as IPs or request ids that stay
//! searchable but are never labels). The tokenizer defines the tokens the store's bloom filters hold, so a
//! reader can tell from a line filter which tokens every matching line must contain.

/// One log record of a stream, owned: what is appended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub line: String,
    /// Field name and value pairs in the order they were given; usually empty.
    pub fields: Vec<(String, String)>,
}

/// The order in which a reader wants records: oldest first or newest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Forward,
    Backward,
}

/// A run of one stream's records, in the order a read asked for, as columns.
///
/// Row `i` has timestamp `ts[i]`, line `lines[line_ends[i-1]..line_ends[i]]` (from 0 for the first row) and
/// fields `fields[field_ends[i-1]..field_ends[i]]`. Lines are valid UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogBatch {
    pub ts: Vec<i64>,
    pub lines: String,
    pub line_ends: Vec<u32>,
    pub fields: Vec<(String, String)>,
    /// Empty when no row has fields; otherwise one end offset per row.
    pub field_ends: Vec<u32>,
}

impl LogBatch {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Removes every row, keeping the allocations.
    pub fn clear(&mut self) {
        self.ts.clear();
        self.lines.clear();
        self.line_ends.clear();
        self.fields.clear();
        self.field_ends.clear();
    }

    /// Appends one row. Lines beyond 4 GiB in one batch are the caller's to avoid (the store caps lines).
    pub fn push(&mut self, ts_ns: i64, line: &str, fields: &[(String, String)]) {
        // Field ends are kept from the first row with fields on; the rows before it end at 0.
        let track = !fields.is_empty() || !self.field_ends.is_empty();
        if track && self.field_ends.is_empty() {
            self.field_ends.resize(self.ts.len(), 0);
        }
        self.ts.push(ts_ns);
        self.lines.push_str(line);
        self.line_ends.push(self.lines.len() as u32);
        if track {
            self.fields.extend_from_slice(fields);
            self.field_ends.push(self.fields.len() as u32);
        }
    }

    /// The line of row `i`.
    pub fn line(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.line_ends[i - 1] as usize };
        &self.lines[start..self.line_ends[i] as usize]
    }

    /// The fields of row `i`.
    pub fn row_fields(&self, i: usize) -> &[(String, String)] {
        if self.field_ends.is_empty() {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.field_ends[i - 1] as usize };
        &self.fields[start..self.field_ends[i] as usize]
    }
}

/// Whether `b` belongs to a token: ASCII letters, digits and `_`, and every byte of a non-ASCII character.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Calls `f` with every token of `text`, left to right: the maximal runs of token bytes. Tokens are
/// case-sensitive, as `|=` is.
pub fn for_each_token<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        // Runs start and end on character boundaries: non-ASCII characters are all token bytes.
        f(&text[start..i]);
    }
}

/// The tokens every line containing `needle` must hold whole: the needle's tokens, less a first one that
/// starts the needle and a last one that ends it (the line may continue those, `onnect` in `Connection`).
pub fn needle_tokens(needle: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_token(needle, |t| {
        let start = t.as_ptr() as usize - needle.as_ptr() as usize;
        if start != 0 && start + t.len() != needle.len() {
            out.push(t);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<&str> {
        let mut v = Vec::new();
        for_each_token(s, |t| v.push(t));
        v
    }

    #[test]
    fn tokens_split_on_punctuation_and_keep_non_ascii() {
        assert_eq!(
            tokens("Failed password for root from 10.0.0.1 port 22 ssh2"),
            ["Failed", "password", "for", "root", "from", "10", "0", "0", "1", "port", "22", "ssh2"]
        );
        assert_eq!(tokens("  user=jörg,id=a_b-c "), ["user", "jörg", "id", "a_b", "c"]);
        assert!(tokens(" .,;").is_empty());
    }

    #[test]
    fn needle_tokens_leave_out_partial_ends() {
        assert_eq!(needle_tokens("onnection closed by 1.2"), ["closed", "by", "1"]);
        assert_eq!(needle_tokens(" closed by "), ["closed", "by"]);
        assert!(needle_tokens("error").is_empty());
        assert_eq!(needle_tokens("=error "), ["error"]);
    }

    #[test]
    fn batch_rows_round_trip() {
        let mut b = LogBatch::default();
        b.push(1, "a", &[]);
        b.push(2, "bc", &[("ip".into(), "10.0.0.1".into())]);
        b.push(3, "", &[]);
        assert_eq!(b.len(), 3);
        assert_eq!((b.line(0), b.line(1), b.line(2)), ("a", "bc", ""));
        assert!(b.row_fields(0).is_empty());
        assert_eq!(b.row_fields(1), [("ip".to_string(), "10.0.0.1".to_string())]);
        assert!(b.row_fields(2).is_empty());
        b.clear();
        assert!(b.is_empty());
        // Fields on the first row are kept too.
        b.push(1, "x", &[("k".into(), "v".into())]);
        b.push(2, "y", &[]);
        assert_eq!(b.row_fields(0), [("k".to_string(), "v".to_string())]);
        assert!(b.row_fields(1).is_empty());
    }
}
