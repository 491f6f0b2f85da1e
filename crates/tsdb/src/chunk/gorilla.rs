//! The Gorilla encoding, bit-compatible with a Prometheus XOR chunk: delta-of-delta timestamps in
//! 1/14/17/20/64-bit buckets and XOR-compressed float values with leading/trailing zero windows.

use super::bits::{BitReader, BitWriter};
use super::ChunkError;

/// The XOR value coder: each value is XORed with the previous one and only the meaningful bits are kept.
#[derive(Clone, Debug)]
pub(crate) struct XorCoder {
    prev: u64,
    /// Leading zeros of the current window (at most 31); `None` before the first window is opened.
    leading: Option<u8>,
    /// Trailing zeros of the current window (at most 63).
    trailing: u8,
}

impl XorCoder {
    /// A coder whose previous value is `first` (written separately, in full).
    pub(crate) fn new(first: u64) -> XorCoder {
        XorCoder { prev: first, leading: None, trailing: 0 }
    }

    pub(crate) fn write(&mut self, w: &mut BitWriter, value: u64) {
        let xor = value ^ self.prev;
        self.prev = value;
        if xor == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        // Leading zeros are clamped to 31 so they fit in 5 bits.
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if let Some(prev_leading) = self.leading.map(u32::from) {
            let prev_trailing = u32::from(self.trailing);
            if leading >= prev_leading && trailing >= prev_trailing {
                // The value fits in the current window.
                w.write_bit(false);
                w.write_bits(xor >> prev_trailing, 64 - prev_leading - prev_trailing);
                return;
            }
        }
        // Both fit in a byte: at most 31 and (the XOR is not 0) at most 63.
        self.leading = Some(leading as u8);
        self.trailing = trailing as u8;
        let significant = 64 - leading - trailing;
        w.write_bit(true);
        w.write_bits(u64::from(leading), 5);
        // 64 significant bits do not fit in 6 bits and are written as 0 (0 never occurs: the XOR is not 0).
        w.write_bits(u64::from(significant % 64), 6);
        w.write_bits(xor >> trailing, significant);
    }

    pub(crate) fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError> {
        if !r.read_bit()? {
            return Ok(self.prev);
        }
        if r.read_bit()? {
            let leading = r.read_bits(5)? as u32;
            let significant = match r.read_bits(6)? as u32 {
                0 => 64,
                n => n,
            };
            if leading + significant > 64 {
                return Err(ChunkError::Corrupt("xor window wider than 64 bits"));
            }
            // At most 31 (5 bits) and at most 63 (`significant` is at least 1).
            self.leading = Some(leading as u8);
            self.trailing = (64 - leading - significant) as u8;
        }
        let Some(leading) = self.leading.map(u32::from) else {
            return Err(ChunkError::Corrupt("xor window reused before one was set"));
        };
        let trailing = u32::from(self.trailing);
        let bits = r.read_bits(64 - leading - trailing)?;
        self.prev ^= bits << trailing;
        Ok(self.prev)
    }
}

/// Delta-of-delta buckets: (prefix, prefix length, payload bits). A dod fits a bucket of `n` bits when it lies in
/// `-(2^(n-1) - 1) ..= 2^(n-1)`, as in Prometheus.
const DOD_BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

fn fits_bucket(dod: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -(half - 1) <= dod && dod <= half
}

/// Streaming encoder state of a Gorilla chunk body.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    prev_t: i64,
    prev_delta: u64,
    values: XorCoder,
}

impl Encoder {
    /// Writes the first sample and returns the encoder for the following ones.
    pub(crate) fn first(w: &mut BitWriter, t: i64, v: f64) -> Encoder {
        w.write_varint(t);
        w.write_bits(v.to_bits(), 64);
        Encoder { prev_t: t, prev_delta: 0, values: XorCoder::new(v.to_bits()) }
    }

    /// Writes a sample after the first; `t` is after the previous timestamp (checked by the caller).
    /// `index` is the sample's position in the chunk.
    pub(crate) fn append(&mut self, w: &mut BitWriter, index: usize, t: i64, v: f64) {
        // Differences are taken modulo 2^64 so that gaps near the i64 limits cannot overflow.
        let delta = t.wrapping_sub(self.prev_t) as u64;
        if index == 1 {
            w.write_uvarint(delta);
        } else {
            write_dod(w, delta.wrapping_sub(self.prev_delta) as i64);
        }
        self.prev_t = t;
        self.prev_delta = delta;
        self.values.write(w, v.to_bits());
    }
}

fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
        return;
    }
    for (prefix, prefix_len, bits) in DOD_BUCKETS {
        if fits_bucket(dod, bits) {
            w.write_bits(prefix, prefix_len);
            w.write_bits(dod as u64, bits);
            return;
        }
    }
    w.write_bits(0b1111, 4);
    w.write_bits(dod as u64, 64);
}

fn read_dod(r: &mut BitReader) -> Result<i64, ChunkError> {
    let bits = match r.read_unary(4)? {
        0 => return Ok(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Ok(r.read_bits(64)? as i64),
    };
    let raw = r.read_bits(bits)?;
    // Payloads above 2^(bits-1) are negative; exactly 2^(bits-1) is positive.
    let dod = if raw > 1 << (bits - 1) { raw as i64 - (1i64 << bits) } else { raw as i64 };
    Ok(dod)
}

/// Streaming decoder state of a Gorilla chunk body.
#[derive(Clone, Debug)]
pub(crate) struct Decoder {
    prev_t: i64,
    prev_delta: u64,
    values: XorCoder,
}

impl Decoder {
    /// Reads the first sample.
    pub(crate) fn first(r: &mut BitReader) -> Result<(Decoder, i64, f64), ChunkError> {
        let t = r.read_varint()?;
        let v = r.read_bits(64)?;
        Ok((Decoder { prev_t: t, prev_delta: 0, values: XorCoder::new(v) }, t, f64::from_bits(v)))
    }

    /// Reads the sample at `index` (≥ 1).
    pub(crate) fn next(&mut self, r: &mut BitReader, index: usize) -> Result<(i64, f64), ChunkError> {
        let delta = if index == 1 { r.read_uvarint()? } else { self.prev_delta.wrapping_add(read_dod(r)? as u64) };
        let t = super::advance(self.prev_t, delta)?;
        self.prev_t = t;
        self.prev_delta = delta;
        let v = self.values.read(r)?;
        Ok((t, f64::from_bits(v)))
    }
}
