//! The Gorilla encoding, bit-compatible with a Prometheus XOR chunk: delta-of-delta timestamps in
//! 1/14/17/20/64-bit buckets and XOR-compressed float values with leading/trailing zero windows.

use super::bits::{take, BitReader, BitWriter, WINDOW_BITS};
use super::{ChunkError, NextSample, SampleDecoder};

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

    /// Reads the next value. The control bits and, when they fit, the value's bits come from one window.
    #[inline(always)]
    pub(crate) fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError> {
        let w = r.window();
        if w >> 63 == 0 {
            r.skip(1);
            return Ok(self.prev);
        }
        let header = if (w >> 62) & 1 == 1 {
            let leading = take(w << 2, 5) as u32;
            // 64 significant bits are written as 0.
            let significant = (take(w << 7, 6) as u32).wrapping_sub(1) % 64 + 1;
            if leading + significant > 64 {
                return Err(ChunkError::Corrupt("xor window wider than 64 bits"));
            }
            // At most 31 (5 bits) and at most 63 (`significant` is at least 1).
            self.leading = Some(leading as u8);
            self.trailing = (64 - leading - significant) as u8;
            13
        } else {
            2
        };
        let Some(leading) = self.leading.map(u32::from) else {
            return Err(ChunkError::Corrupt("xor window reused before one was set"));
        };
        let trailing = u32::from(self.trailing);
        let n = 64 - leading - trailing;
        let bits = if header + n <= WINDOW_BITS {
            r.skip(header + n);
            take(w << header, n)
        } else {
            r.skip(header);
            r.read_bits(n)
        };
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

/// Reads a delta of delta from one window, unless it is a 64-bit one. Without branches on the bucket, which
/// varies with scrape jitter.
#[inline(always)]
fn read_dod(r: &mut BitReader) -> i64 {
    let w = r.window();
    let prefix = w.leading_ones();
    if prefix >= 4 {
        r.skip(4);
        return r.read_bits(64) as i64;
    }
    // The buckets after 0 have 14, 17 and 20 bits.
    let bits = if prefix == 0 { 0 } else { 11 + 3 * prefix };
    let raw = take(w << (prefix + 1), bits);
    r.skip(prefix + 1 + bits);
    // Payloads above 2^(bits-1) are negative; exactly 2^(bits-1) is positive.
    if raw > (1 << bits) >> 1 {
        raw as i64 - (1i64 << bits)
    } else {
        raw as i64
    }
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
    pub(crate) fn first(r: &mut BitReader) -> Result<(Decoder, i64, u64), ChunkError> {
        let t = r.read_varint()?;
        let v = r.read_bits(64);
        Ok((Decoder { prev_t: t, prev_delta: 0, values: XorCoder::new(v) }, t, v))
    }

    #[inline(always)]
    fn sample(&mut self, r: &mut BitReader, delta: u64) -> Result<(i64, u64), ChunkError> {
        let t = super::advance(self.prev_t, delta)?;
        self.prev_t = t;
        self.prev_delta = delta;
        Ok((t, self.values.read(r)?))
    }
}

impl SampleDecoder for Decoder {
    fn second(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError> {
        let delta = r.read_uvarint()?;
        self.sample(r, delta)
    }
}

impl NextSample for Decoder {
    #[inline(always)]
    fn next(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError> {
        let delta = self.prev_delta.wrapping_add(read_dod(r) as u64);
        self.sample(r, delta)
    }
}
