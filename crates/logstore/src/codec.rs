//! Little helpers for the byte formats: varints, zigzag, length-prefixed bytes and a bounds-checked cursor.

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads a buffer front to back; every read checks the remaining length first. Errors are short reasons.
pub(crate) struct Cursor<'a> {
    pub buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(i) else { return Err("varint cut short".to_string()) };
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits".to_string());
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".to_string())
    }

    /// Reads an item count, checked against the bytes left given the smallest encoding of one item.
    pub fn count(&mut self, min_item_bytes: usize) -> Result<usize, String> {
        let count = self.varint()?;
        let max = (self.buf.len() / min_item_bytes.max(1)) as u64;
        if count > max {
            return Err(format!("count {count} exceeds what {} bytes can hold", self.buf.len()));
        }
        Ok(count as usize)
    }

    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.buf.len() {
            return Err(format!("field of {len} bytes cut short"));
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    /// A varint length, then that many bytes of UTF-8.
    pub fn str(&mut self) -> Result<&'a str, String> {
        let len = self.count(1)?;
        let bytes = self.bytes(len)?;
        std::str::from_utf8(bytes).map_err(|_| "string is not utf-8".to_string())
    }

    pub fn u64_le(&mut self) -> Result<u64, String> {
        let mut arr = [0u8; 8];
        arr.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_le_bytes(arr))
    }

    pub fn u32_le(&mut self) -> Result<u32, String> {
        let mut arr = [0u8; 4];
        arr.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_le_bytes(arr))
    }

    pub fn i64_le(&mut self) -> Result<i64, String> {
        self.u64_le().map(|v| v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX / 3, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut cur = Cursor::new(&out);
            assert_eq!(cur.varint(), Ok(v));
            assert!(cur.is_empty());
        }
        for v in [0i64, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert!(Cursor::new(&[0xff; 10]).varint().is_err());
        assert!(Cursor::new(&[5, 1]).str().is_err());
    }
}
