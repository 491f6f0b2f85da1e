//! Unsigned LEB128 varints, and a bounds-checked cursor that decodes them and fixed-width integers from block
//! files, which may be corrupt.

use std::path::Path;

use super::error::{corrupt, BlockError};

/// Appends `v` as an unsigned LEB128 varint (at most 10 bytes).
pub(super) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// How many bytes [`put_uvarint`] writes for `v`.
pub(super) fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Why bytes could not be decoded, and the file offset where decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Malformed {
    pub offset: u64,
    pub reason: &'static str,
}

impl Malformed {
    /// The error naming the file the bytes came from.
    pub(super) fn in_file(self, path: &Path) -> BlockError {
        corrupt(path, Some(self.offset), self.reason)
    }
}

/// A read position in a file's bytes. Positions are file offsets; reads never go past `end`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cursor<'a> {
    /// The file's bytes up to the end of the region being read.
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `file[start..end]`; fails if that range is not inside the file.
    pub(super) fn new(file: &'a [u8], start: u64, end: u64) -> Result<Cursor<'a>, Malformed> {
        let bad = Malformed { offset: start, reason: "region outside the file" };
        let (start, end) = (usize::try_from(start).map_err(|_| bad)?, usize::try_from(end).map_err(|_| bad)?);
        if start > end || end > file.len() {
            return Err(bad);
        }
        Ok(Cursor { data: &file[..end], pos: start })
    }

    /// The file offset of the next byte.
    pub(super) fn pos(&self) -> u64 {
        self.pos as u64
    }

    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(super) fn error(&self, reason: &'static str) -> Malformed {
        Malformed { offset: self.pos as u64, reason }
    }

    pub(super) fn uvarint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.data.get(self.pos + i) else {
                return Err(self.error("varint runs past the end"));
            };
            if i == 9 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    pub(super) fn uvarint_u32(&mut self) -> Result<u32, Malformed> {
        let at = *self;
        let v = self.uvarint()?;
        u32::try_from(v).map_err(|_| at.error("value exceeds 32 bits"))
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], Malformed> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => {
                let bytes = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(self.error("length runs past the end")),
        }
    }

    /// A cursor over the next `n` bytes, keeping file offsets; this cursor moves past them.
    pub(super) fn sub(&mut self, n: u64) -> Result<Cursor<'a>, Malformed> {
        let start = self.pos;
        self.take(n)?;
        Ok(Cursor { data: &self.data[..self.pos], pos: start })
    }

    pub(super) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32_le(&mut self) -> Result<u32, Malformed> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub(super) fn u64_le(&mut self) -> Result<u64, Malformed> {
        let mut buf = [0; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overflow() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, v);
            assert_eq!(buf.len(), uvarint_len(v), "{v}");
            let mut c = Cursor::new(&buf, 0, buf.len() as u64).unwrap();
            assert_eq!(c.uvarint(), Ok(v));
            assert!(c.is_empty());
        }
        let eleven = [0xffu8; 11];
        assert!(Cursor::new(&eleven, 0, 11).unwrap().uvarint().is_err());
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(Cursor::new(&over, 0, 10).unwrap().uvarint().unwrap_err().reason, "varint overflows 64 bits");
        let cut = [0x80u8];
        assert!(Cursor::new(&cut, 0, 1).unwrap().uvarint().is_err());
        assert!(Cursor::new(&cut, 0, 2).is_err());
        assert!(Cursor::new(&cut, 1, 0).is_err());
    }
}
