//! The grouped encoding, for chunks that no longer grow (those of blocks): regular timestamps, and decimal values
//! whose residuals are Rice-coded in groups of [`GROUP`] with the group's predictor and Rice parameter in a
//! header. Without adaptive state between fields, decoding is a tight parse loop and a prefix sum, several
//! times faster than the compact encoding's, at about the same size.

use super::bits::{take, unzigzag, zigzag, BitReader, BitWriter, WINDOW_BITS};
use super::compact::{self, Coded, Params, Scale, Values, RICE_LIMIT};
use super::ChunkError;

/// Samples per group.
pub(super) const GROUP: usize = 32;

/// The encoding's tag byte.
const TAG: u8 = 3;

/// Bits of a group header: the predictor flag and the 6-bit Rice parameter.
const GROUP_HEADER_BITS: usize = 7;

/// The parameters of a grouped chunk, from its header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    scale: Scale,
    shift: u8,
}

impl Header {
    /// Checks the two parameter bytes: a grouped chunk is always regular and decimal.
    pub(super) fn from_bytes(b: [u8; 2]) -> Result<Header, ChunkError> {
        match Params::from_bytes(b)? {
            Params { regular: true, values: Values::Decimal { scale, shift } } => Ok(Header { scale, shift }),
            _ => Err(ChunkError::Corrupt("grouped chunk is not regular and decimal")),
        }
    }

    /// The fewest bits `count` samples take after the first: one per field and the group headers.
    pub(super) fn min_body_bits(count: usize) -> usize {
        let later = count.saturating_sub(1);
        later + later.div_ceil(GROUP) * GROUP_HEADER_BITS
    }
}

/// Encodes samples at `t0`, `t0 + delta`, … (`delta` ≥ 1; at least two values, at most `MAX_SAMPLES`) whose
/// values are decimals at `scale`; values that are not (the staleness marker, other NaNs) are stored raw.
pub(super) fn encode(t0: i64, delta: u64, values: &[u64], scale: Scale) -> Vec<u8> {
    let ints: Vec<Option<u64>> =
        values.iter().map(|&bits| scale.integer(f64::from_bits(bits)).map(|m| m as u64)).collect();
    let first = ints[0].unwrap_or(0);
    // Residuals are multiples of 2^shift when every integer is congruent to the first modulo 2^shift.
    let shift = ints.iter().flatten().map(|m| m.wrapping_sub(first).trailing_zeros().min(63)).min().unwrap_or(63);
    let params = Params { regular: true, values: Values::Decimal { scale, shift: shift as u8 } };
    let mut w = BitWriter::new();
    w.write_byte(TAG);
    for b in (values.len() as u16).to_be_bytes().into_iter().chain(params.to_bytes()) {
        w.write_byte(b);
    }
    w.write_varint(t0);
    w.write_uvarint(delta);
    w.write_bit(ints[0].is_none());
    match ints[0] {
        Some(m) => w.write_varint(m as i64),
        None => w.write_bits(values[0], 64),
    }
    let mut state = State { prev: first, prev_delta: 0 };
    for (group, raw) in ints[1..].chunks(GROUP).zip(values[1..].chunks(GROUP)) {
        let choice = [false, true].map(|linear| best_parameter(&state.residuals(group, linear, shift)));
        let linear = choice[1].1 < choice[0].1;
        let (k, _) = choice[usize::from(linear)];
        w.write_bit(linear);
        w.write_bits(u64::from(k), 6);
        for (u, &bits) in state.residuals(group, linear, shift).into_iter().zip(raw) {
            match u {
                Some(u) => compact::write_rice(&mut w, u, k),
                None => compact::write_raw(&mut w, bits),
            }
        }
        state.advance(group);
    }
    w.bytes().to_vec()
}

/// The integer sequence's state between groups.
#[derive(Clone, Copy, Debug)]
struct State {
    prev: u64,
    prev_delta: u64,
}

impl State {
    /// The zigzagged residuals of a group's integers (`None` for raw values) with one predictor.
    fn residuals(self, group: &[Option<u64>], linear: bool, shift: u32) -> Vec<Option<u64>> {
        let mut s = self;
        group
            .iter()
            .map(|m| {
                let m = (*m)?;
                let prediction = if linear { s.prev.wrapping_add(s.prev_delta) } else { s.prev };
                s.observe(m);
                Some(zigzag(m.wrapping_sub(prediction) as i64 >> shift))
            })
            .collect()
    }

    fn observe(&mut self, m: u64) {
        self.prev_delta = m.wrapping_sub(self.prev);
        self.prev = m;
    }

    fn advance(&mut self, group: &[Option<u64>]) {
        group.iter().flatten().for_each(|&m| self.observe(m));
    }
}

/// The Rice parameter that codes `residuals` in the fewest bits, and that count. Parameters near the log of the
/// mean are tried: the optimum lies there, or below it when a few outliers inflate the mean.
fn best_parameter(residuals: &[Option<u64>]) -> (u32, u64) {
    let numbers = || residuals.iter().flatten().copied();
    let count = numbers().count().max(1) as u64;
    let mean = numbers().fold(0u64, |a, u| a.saturating_add(u)) / count;
    let center = mean.checked_ilog2().unwrap_or(0);
    (center.saturating_sub(5)..=(center + 1).min(63))
        .map(|k| (k, numbers().map(|u| u64::from(compact::rice_bits(u, k))).sum::<u64>()))
        .min_by_key(|&(k, bits)| (bits, k))
        .unwrap_or((0, 0))
}

/// Reads a grouped chunk's values in order, group by group, from the caller's reader.
#[derive(Clone, Debug)]
pub(super) struct Decoder {
    header: Header,
    pub(super) t0: i64,
    pub(super) delta: u64,
    /// Values not yet decoded.
    left: usize,
    state: State,
}

impl Decoder {
    /// Reads what precedes the groups (`count` ≥ 1): the timestamps, which must all fit an i64, and the first
    /// value, returned as its bits.
    pub(super) fn first(r: &mut BitReader, header: Header, count: usize) -> Result<(Decoder, u64), ChunkError> {
        let t0 = r.read_varint()?;
        let delta = r.read_uvarint()?;
        let last = i128::from(t0) + (count as i128 - 1) * i128::from(delta);
        if delta == 0 || last > i128::from(i64::MAX) {
            return Err(ChunkError::Corrupt("grouped timestamps not increasing within i64"));
        }
        let (first, bits) = if r.read_bit() {
            (0, r.read_bits(64))
        } else {
            let m = r.read_varint()?;
            (m as u64, header.scale.float(m).to_bits())
        };
        let state = State { prev: first, prev_delta: 0 };
        Ok((Decoder { header, t0, delta, left: count - 1, state }, bits))
    }

    /// The timestamp of sample `i` (within the chunk's count, checked by `first`).
    #[inline]
    pub(super) fn time(&self, i: usize) -> i64 {
        self.t0.wrapping_add((i as u64).wrapping_mul(self.delta) as i64)
    }

    /// Decodes the next group's values (as bits) into `out` and returns how many; 0 after the last group.
    #[inline]
    pub(super) fn next_group(&mut self, reader: &mut BitReader, out: &mut [u64; GROUP]) -> Result<usize, ChunkError> {
        let len = self.left.min(GROUP);
        if len == 0 {
            return Ok(0);
        }
        // A copy the compiler can keep in registers.
        let mut r = reader.clone();
        let linear = r.read_bit();
        let k = r.read_bits(6) as u32;
        let mut raw = 0u32;
        // Fields are taken from `buf`, whose first `avail` bits are the stream's next ones, so that the loop
        // reloads from memory only every few fields: its critical path is then a count and a shift.
        let mut buf = r.window();
        let mut avail = WINDOW_BITS;
        for (i, slot) in out[..len].iter_mut().enumerate() {
            let mut q = buf.leading_ones();
            if q >= RICE_LIMIT || q + 1 + k > avail {
                buf = r.window();
                avail = WINDOW_BITS;
                q = buf.leading_ones();
            }
            *slot = if q < RICE_LIMIT && q + 1 + k <= avail {
                let n = q + 1 + k;
                let u = (u64::from(q) << k) | take(buf << (q + 1), k);
                r.skip(n);
                buf <<= n;
                avail -= n;
                u
            } else {
                let field = match compact::rice_read_slow(&mut r, k) {
                    Ok(field) => field,
                    Err(_) if r.overran() => return Err(ChunkError::Truncated),
                    Err(err) => return Err(err),
                };
                buf = r.window();
                avail = WINDOW_BITS;
                match field {
                    Coded::Number(u) => u,
                    Coded::Raw(bits) => {
                        raw |= 1 << i;
                        bits
                    }
                }
            };
        }
        if r.overran() {
            return Err(ChunkError::Truncated);
        }
        *reader = r;
        self.left -= len;
        self.reconstruct(&mut out[..len], linear, raw);
        Ok(len)
    }

    /// Turns a group's residuals into values, in place; `raw` marks the fields that are raw floats.
    #[inline]
    fn reconstruct(&mut self, fields: &mut [u64], linear: bool, raw: u32) {
        let Header { scale, shift } = self.header;
        let keep = if linear { u64::MAX } else { 0 };
        let State { mut prev, mut prev_delta } = self.state;
        if raw == 0 {
            for field in fields.iter_mut() {
                prev_delta = (prev_delta & keep).wrapping_add((unzigzag(*field) << shift) as u64);
                prev = prev.wrapping_add(prev_delta);
                *field = scale.float(prev as i64).to_bits();
            }
        } else {
            for (i, field) in fields.iter_mut().enumerate() {
                if raw & (1 << i) == 0 {
                    prev_delta = (prev_delta & keep).wrapping_add((unzigzag(*field) << shift) as u64);
                    prev = prev.wrapping_add(prev_delta);
                    *field = scale.float(prev as i64).to_bits();
                }
            }
        }
        self.state = State { prev, prev_delta };
    }
}
