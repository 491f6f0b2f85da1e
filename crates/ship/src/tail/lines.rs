//! Splits a file's bytes into complete lines: partial last lines are held, over-long lines are cut (the rest
//! skipped up to the newline, never buffered), invalid UTF-8 is replaced.

/// One complete (or flushed) line and the file offset just after it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawLine {
    pub line: String,
    pub offset: u64,
    pub truncated: bool,
}

pub(crate) struct Splitter {
    buf: Vec<u8>,
    max_line: usize,
    /// The line in `buf` was cut at `max_line` bytes; bytes up to its newline are dropped.
    truncated: bool,
    /// File offset of the next byte to be fed.
    end: u64,
    /// File offset where the held partial line starts.
    start: u64,
}

impl Splitter {
    pub fn new(start: u64, max_line: usize) -> Splitter {
        Splitter { buf: Vec::new(), max_line: max_line.max(1), truncated: false, end: start, start }
    }

    /// The offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.end
    }

    /// The offset just after the last complete line: where the held partial line starts.
    pub fn line_start(&self) -> u64 {
        self.start
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.truncated
    }

    /// Feeds the bytes at [`Splitter::offset`], calling `out` for each line they complete.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FnMut(RawLine)) {
        let mut start = 0;
        while let Some(i) = data[start..].iter().position(|&b| b == b'\n') {
            let nl = start + i;
            self.push_bytes(&data[start..nl]);
            let offset = self.end + nl as u64 + 1;
            out(self.take(offset));
            start = nl + 1;
        }
        self.push_bytes(&data[start..]);
        self.end += data.len() as u64;
    }

    /// Emits the held partial line as if its newline had arrived.
    pub fn flush(&mut self, out: &mut impl FnMut(RawLine)) {
        if self.has_partial() {
            let offset = self.end;
            out(self.take(offset));
        }
    }

    fn push_bytes(&mut self, b: &[u8]) {
        let room = self.max_line - self.buf.len();
        if b.len() > room {
            self.buf.extend_from_slice(&b[..room]);
            self.truncated = true;
        } else {
            self.buf.extend_from_slice(b);
        }
    }

    fn take(&mut self, offset: u64) -> RawLine {
        if !self.truncated && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        self.start = offset;
        let truncated = std::mem::take(&mut self.truncated);
        RawLine { line, offset, truncated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(s: &mut Splitter, chunks: &[&[u8]]) -> Vec<RawLine> {
        let mut v = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| v.push(l));
        }
        v
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let mut s = Splitter::new(0, 100);
        let v = feed_all(&mut s, &[b"ab", b"c\nde", b"f\r\n"]);
        assert_eq!(v[0], RawLine { line: "abc".into(), offset: 4, truncated: false });
        assert_eq!(v[1], RawLine { line: "def".into(), offset: 9, truncated: false });
        assert!(!s.has_partial());
        let v = feed_all(&mut s, &[b"tail"]);
        assert!(v.is_empty());
        assert_eq!((s.line_start(), s.offset()), (9, 13));
        let mut v = Vec::new();
        s.flush(&mut |l| v.push(l));
        assert_eq!(v, [RawLine { line: "tail".into(), offset: 13, truncated: false }]);
    }

    #[test]
    fn long_lines_are_cut_and_invalid_utf8_replaced() {
        let mut s = Splitter::new(10, 4);
        let v = feed_all(&mut s, &[b"abcdefgh", b"ij\n\xffok\n"]);
        assert_eq!(v[0], RawLine { line: "abcd".into(), offset: 21, truncated: true });
        assert_eq!(v[1], RawLine { line: "\u{fffd}ok".into(), offset: 25, truncated: false });
        assert!(s.buf.capacity() <= 16);
    }
}
