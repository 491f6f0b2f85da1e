//! WAL records: the two record kinds, their varint payload encoding and the checksummed frame around each.

use vigil_model::Labels;

use super::WalError;
use crate::chunk::ChunkBytes;

/// The largest payload a record may have. A longer length field is treated as damage, never allocated.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Bytes in front of a payload: length (u32 LE), CRC32 (u32 LE) and type (u8).
pub(crate) const FRAME_HEADER_BYTES: usize = 9;

const TYPE_SERIES: u8 = 1;
const TYPE_SAMPLES: u8 = 2;
const TYPE_CHUNK: u8 = 3;

/// One entry of the write-ahead log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A series and its labels; `id` is the reference that samples use.
    Series { id: u64, labels: Labels },
    /// Samples of series announced by earlier `Series` records.
    Samples(Vec<RefSample>),
    /// A compressed chunk of one series' samples, as [`crate::chunk::ChunkAppender::bytes`] makes it. Written
    /// by checkpoints, which carry the head's samples far more compactly this way.
    Chunk { series_id: u64, bytes: ChunkBytes },
}

/// A sample that refers to its series by id. The value is kept as raw bits, so every NaN payload (such as
/// Prometheus' staleness marker `0x7ff0000000000002`) survives unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefSample {
    pub series_id: u64,
    pub t_ms: i64,
    pub value_bits: u64,
}

impl RefSample {
    pub fn new(series_id: u64, t_ms: i64, value: f64) -> RefSample {
        RefSample { series_id, t_ms, value_bits: value.to_bits() }
    }

    pub fn value(&self) -> f64 {
        f64::from_bits(self.value_bits)
    }
}

/// Appends `record`, framed, to `out`. Leaves `out` as it was when the payload exceeds [`MAX_RECORD_BYTES`].
pub(crate) fn encode_frame(record: &Record, out: &mut Vec<u8>) -> Result<(), WalError> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    let kind = encode_payload(record, out);
    let len = out.len() - start - FRAME_HEADER_BYTES;
    if len > MAX_RECORD_BYTES {
        out.truncate(start);
        return Err(WalError::RecordTooLarge { len, limit: MAX_RECORD_BYTES });
    }
    out[start + 8] = kind;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn encode_payload(record: &Record, out: &mut Vec<u8>) -> u8 {
    match record {
        Record::Series { id, labels } => {
            put_varint(out, *id);
            put_varint(out, labels.len() as u64);
            for label in labels.iter() {
                put_bytes(out, label.name.as_bytes());
                put_bytes(out, label.value.as_bytes());
            }
            TYPE_SERIES
        }
        Record::Samples(samples) => {
            put_varint(out, samples.len() as u64);
            let (mut prev_id, mut prev_t) = (0u64, 0i64);
            for s in samples {
                put_varint(out, zigzag(s.series_id.wrapping_sub(prev_id) as i64));
                put_varint(out, zigzag(s.t_ms.wrapping_sub(prev_t)));
                out.extend_from_slice(&s.value_bits.to_le_bytes());
                (prev_id, prev_t) = (s.series_id, s.t_ms);
            }
            TYPE_SAMPLES
        }
        Record::Chunk { series_id, bytes } => {
            put_varint(out, *series_id);
            put_bytes(out, bytes);
            TYPE_CHUNK
        }
    }
}

/// A frame read from a buffer.
pub(crate) struct Frame<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
    pub end: usize,
}

/// Reads the frame starting at `pos`. An error is a framing failure (cut short or checksum mismatch), which at
/// the tail of the last segment is what a crash leaves behind.
pub(crate) fn read_frame(buf: &[u8], pos: usize) -> Result<Frame<'_>, String> {
    let rest = buf.get(pos..).unwrap_or_default();
    let Some(header) = rest.get(..FRAME_HEADER_BYTES) else {
        return Err(format!("record header cut short after {} bytes", rest.len()));
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_RECORD_BYTES {
        return Err(format!("record length {len} exceeds the limit of {MAX_RECORD_BYTES}"));
    }
    let Some(body) = rest.get(8..FRAME_HEADER_BYTES + len) else {
        return Err(format!("record of {len} bytes cut short at end of file"));
    };
    if crc32fast::hash(body) != crc {
        return Err("record checksum mismatch".to_string());
    }
    Ok(Frame { kind: body[0], payload: &body[1..], end: pos + FRAME_HEADER_BYTES + len })
}

/// Decodes a payload whose checksum matched. An error here means a bug or an unknown format, never a torn write.
pub(crate) fn decode_payload(kind: u8, payload: &[u8]) -> Result<Record, String> {
    let mut cur = Cursor { buf: payload };
    let record = match kind {
        TYPE_SERIES => {
            let id = cur.varint()?;
            let count = cur.count(2)?;
            let mut pairs = Vec::with_capacity(count);
            for _ in 0..count {
                pairs.push((cur.string()?, cur.string()?));
            }
            let labels = Labels::from_pairs(pairs).map_err(|e| format!("invalid labels: {e}"))?;
            if labels.len() != count {
                return Err("label with an empty value".to_string());
            }
            Record::Series { id, labels }
        }
        TYPE_SAMPLES => {
            let count = cur.count(10)?;
            let mut samples = Vec::with_capacity(count);
            let (mut prev_id, mut prev_t) = (0u64, 0i64);
            for _ in 0..count {
                let series_id = prev_id.wrapping_add(unzigzag(cur.varint()?) as u64);
                let t_ms = prev_t.wrapping_add(unzigzag(cur.varint()?));
                let value_bits = cur.u64_le()?;
                samples.push(RefSample { series_id, t_ms, value_bits });
                (prev_id, prev_t) = (series_id, t_ms);
            }
            Record::Samples(samples)
        }
        TYPE_CHUNK => {
            let series_id = cur.varint()?;
            let len = cur.count(1)?;
            let bytes = ChunkBytes::from(cur.bytes(len)?);
            Record::Chunk { series_id, bytes }
        }
        other => return Err(format!("unknown record type {other}")),
    };
    if !cur.buf.is_empty() {
        return Err(format!("{} trailing bytes after record", cur.buf.len()));
    }
    Ok(record)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads a payload front to back; every read checks the remaining length first.
struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Result<u64, String> {
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
    fn count(&mut self, min_item_bytes: usize) -> Result<usize, String> {
        let count = self.varint()?;
        let max = (self.buf.len() / min_item_bytes) as u64;
        if count > max {
            return Err(format!("count {count} exceeds what {} bytes can hold", self.buf.len()));
        }
        Ok(count as usize)
    }

    fn bytes(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.buf.len() {
            return Err(format!("field of {len} bytes cut short"));
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, String> {
        let len = self.count(1)?;
        let bytes = self.bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "label is not utf-8".to_string())
    }

    fn u64_le(&mut self) -> Result<u64, String> {
        let bytes = self.bytes(8)?;
        let mut arr = [0u8; 8];
        arr.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(arr))
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
            let mut cur = Cursor { buf: &out };
            assert_eq!(cur.varint(), Ok(v));
            assert!(cur.buf.is_empty());
        }
        for v in [0i64, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut cur = Cursor { buf: &[0xff; 10] };
        assert!(cur.varint().is_err());
    }
}
