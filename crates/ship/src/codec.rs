//! The little-endian binary encoding shared by the outbox records and the positions file, decoded under caps.

use vigil_model::{log::LogEntry, Labels};

/// What a decoder found wrong; the caller names the file and offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("truncated: {what} needs {needed} bytes, {left} left")]
    Truncated { what: &'static str, needed: usize, left: usize },
    #[error("invalid utf-8 in {0}")]
    Utf8(&'static str),
    #[error("invalid {0}")]
    Invalid(&'static str),
}

pub(crate) struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Strings longer than 4 GiB cannot occur: lines and labels are capped far below by their producers.
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    pub fn labels(&mut self, labels: &Labels) {
        self.u32(labels.len() as u32);
        for l in labels.iter() {
            self.str(&l.name);
            self.str(&l.value);
        }
    }
    pub fn entry(&mut self, e: &LogEntry) {
        self.i64(e.ts_ns);
        self.str(&e.line);
        self.u32(e.fields.len() as u32);
        for (k, v) in &e.fields {
            self.str(k);
            self.str(v);
        }
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Truncated { what, needed: n, left: self.buf.len() });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, CodecError> {
        Ok(self.u64(what)? as i64)
    }
    pub fn str(&mut self, what: &'static str) -> Result<String, CodecError> {
        let n = self.u32(what)? as usize;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| CodecError::Utf8(what))
    }
    /// A count of items each at least `min_item_bytes` long: checked against what is left, so a hostile count
    /// cannot make the caller reserve more than the buffer could hold.
    pub fn count(&mut self, what: &'static str, min_item_bytes: usize) -> Result<usize, CodecError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item_bytes.max(1)) > self.buf.len() {
            return Err(CodecError::Truncated { what, needed: n * min_item_bytes.max(1), left: self.buf.len() });
        }
        Ok(n)
    }
    pub fn labels(&mut self) -> Result<Labels, CodecError> {
        let n = self.count("label count", 8)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.str("label name")?, self.str("label value")?));
        }
        Labels::from_pairs(pairs).map_err(|_| CodecError::Invalid("label set"))
    }
    pub fn entry(&mut self) -> Result<LogEntry, CodecError> {
        let ts_ns = self.i64("timestamp")?;
        let line = self.str("line")?;
        let n = self.count("field count", 8)?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push((self.str("field name")?, self.str("field value")?));
        }
        Ok(LogEntry { ts_ns, line, fields })
    }
}
