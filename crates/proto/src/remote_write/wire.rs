//! The protobuf wire format, read field by field without allocating: what the request parser is built on.

use super::RemoteWriteError;

/// One field's payload. Length-delimited payloads carry their absolute offset in the request, for errors.
#[derive(Clone, Copy, Debug)]
pub(super) enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32,
    Len(&'a [u8], usize),
}

/// Iterates over the fields of one message.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` within the whole request.
    base: usize,
    /// Offset within `buf` of the field returned last.
    field_start: usize,
}

impl<'a> Fields<'a> {
    pub(super) fn new(buf: &'a [u8], base: usize) -> Self {
        Fields { buf, pos: 0, base, field_start: 0 }
    }

    /// The bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// An error at the start of the field returned last.
    pub(super) fn malformed_field(&self, reason: &'static str) -> RemoteWriteError {
        self.malformed_at(self.field_start, reason)
    }

    fn malformed(&self, reason: &'static str) -> RemoteWriteError {
        self.malformed_at(self.pos, reason)
    }

    fn malformed_at(&self, pos: usize, reason: &'static str) -> RemoteWriteError {
        RemoteWriteError::Malformed { offset: self.base + pos, reason }
    }

    fn varint(&mut self) -> Result<u64, RemoteWriteError> {
        let start = self.pos;
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let Some(&byte) = self.buf.get(self.pos) else { return Err(self.malformed_at(start, "truncated varint")) };
            self.pos += 1;
            // The tenth byte holds the 64th bit only.
            if shift == 63 && byte > 1 {
                return Err(self.malformed_at(start, "varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RemoteWriteError> {
        if self.buf.len() - self.pos < n {
            return Err(self.malformed("field runs past the end of its message"));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// The next field's number and payload; `None` at the end of the message.
    pub(super) fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, RemoteWriteError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        self.field_start = self.pos;
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(self.malformed_field("field key beyond 32 bits"));
        }
        let num = key >> 3;
        if num == 0 {
            return Err(self.malformed_field("field number 0"));
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                let bytes = self.take(8)?;
                Field::Fixed64(u64::from_le_bytes(bytes.try_into().expect("took 8 bytes")))
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.malformed("length does not fit in memory"))?;
                let start = self.base + self.pos;
                Field::Len(self.take(len)?, start)
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            _ => return Err(self.malformed_field("unsupported wire type (groups are not used by remote_write)")),
        };
        Ok(Some((num, field)))
    }
}
