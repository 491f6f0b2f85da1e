//! A walk over the protobuf wire of a `PushRequest` that counts streams and entries without allocating, so that
//! limits hold before prost decodes (a 2-byte empty entry decodes into a struct of about 80 bytes).

use super::{LokiError, PushLimits};

pub(super) fn check_counts(buf: &[u8], limits: &PushLimits) -> Result<(), LokiError> {
    let (mut streams, mut entries) = (0usize, 0usize);
    let mut top = Walker { buf, pos: 0, base: 0 };
    while let Some((field, payload)) = top.next()? {
        let (1, Some((stream, base))) = (field, payload) else { continue };
        streams += 1;
        if streams > limits.max_streams {
            return Err(LokiError::TooMany { what: "streams", limit: limits.max_streams });
        }
        let mut inner = Walker { buf: stream, pos: 0, base };
        while let Some((field, payload)) = inner.next()? {
            if field == 2 && payload.is_some() {
                entries += 1;
                if entries > limits.max_entries {
                    return Err(LokiError::TooMany { what: "entries", limit: limits.max_entries });
                }
            }
        }
    }
    Ok(())
}

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole body, for errors.
    base: usize,
}

impl<'a> Walker<'a> {
    fn err(&self, reason: &'static str) -> LokiError {
        LokiError::Malformed { offset: self.base + self.pos, reason }
    }

    fn varint(&mut self) -> Result<u64, LokiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else { return Err(self.err("truncated varint")) };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn skip(&mut self, n: u64) -> Result<(), LokiError> {
        let n = usize::try_from(n).map_err(|_| self.err("length overflows"))?;
        if self.buf.len() - self.pos < n {
            return Err(self.err("field runs past the end of its message"));
        }
        self.pos += n;
        Ok(())
    }

    /// The next field's number, and its payload (with its offset) if it is length-delimited.
    #[allow(clippy::type_complexity)]
    fn next(&mut self) -> Result<Option<(u64, Option<(&'a [u8], usize)>)>, LokiError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.err("field number 0"));
        }
        match key & 7 {
            0 => {
                self.varint()?;
                Ok(Some((field, None)))
            }
            1 => self.skip(8).map(|()| Some((field, None))),
            5 => self.skip(4).map(|()| Some((field, None))),
            2 => {
                let len = self.varint()?;
                let start = self.pos;
                self.skip(len)?;
                Ok(Some((field, Some((&self.buf[start..self.pos], self.base + start)))))
            }
            _ => Err(self.err("unsupported wire type")),
        }
    }
}
