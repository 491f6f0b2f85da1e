//! The grouped encodings, for chunks that no longer grow (those of blocks): regular timestamps, and decimal
//! values whose residuals are Rice-coded in groups of [`GROUP`] with the group's predictor and Rice parameter in
//! a header. Without adaptive state between fields, decoding is a parse of the group's fields and a prefix sum,
//! several times faster than the compact encoding's, at about the same size. Encoding 3 interleaves each
//! field's parts, so the parse is a serial loop (here); encoding 4 splits them (`split.rs`), so it is not.

use super::bits::{take, unzigzag, zigzag, BitReader, BitWriter, WINDOW_BITS};
use super::compact::{self, Coded, FloatJob, Params, Scale, Values, RICE_LIMIT};
use super::{split, ChunkError, Encoding};

/// Samples per group.
pub(super) const GROUP: usize = 32;

/// How a group's fields are laid out, which the encoding's tag tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arrangement {
    /// Each field whole, one after the other: encoding 3, [`Encoding::Grouped`].
    Interleaved,
    /// The fields' unary parts, then their low bits, then the escapes: encoding 4, [`Encoding::Split`].
    Split,
}

impl Arrangement {
    pub(super) fn encoding(self) -> Encoding {
        match self {
            Arrangement::Interleaved => Encoding::Grouped,
            Arrangement::Split => Encoding::Split,
        }
    }
}

/// Bits of a group header: the predictor flag and the 6-bit Rice parameter.
const GROUP_HEADER_BITS: usize = 7;

/// The parameters of a grouped chunk, from its header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    arrangement: Arrangement,
    scale: Scale,
    shift: u8,
}

impl Header {
    /// Checks the two parameter bytes: a grouped chunk is always regular and decimal.
    pub(super) fn from_bytes(arrangement: Arrangement, b: [u8; 2]) -> Result<Header, ChunkError> {
        match Params::from_bytes(b)? {
            Params { regular: true, values: Values::Decimal { scale, shift } } => {
                Ok(Header { arrangement, scale, shift })
            }
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
pub(super) fn encode(arrangement: Arrangement, t0: i64, delta: u64, values: &[u64], scale: Scale) -> Vec<u8> {
    let ints: Vec<Option<u64>> =
        values.iter().map(|&bits| scale.integer(f64::from_bits(bits)).map(|m| m as u64)).collect();
    let first = ints[0].unwrap_or(0);
    // Residuals are multiples of 2^shift when every integer is congruent to the first modulo 2^shift.
    let shift = ints.iter().flatten().map(|m| m.wrapping_sub(first).trailing_zeros().min(63)).min().unwrap_or(63);
    let params = Params { regular: true, values: Values::Decimal { scale, shift: shift as u8 } };
    let mut w = BitWriter::new();
    w.write_byte(arrangement.encoding() as u8);
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
        let fields = state.residuals(group, linear, shift).into_iter().zip(raw);
        let fields: Vec<Coded> = fields.map(|(u, &bits)| u.map_or(Coded::Raw(bits), Coded::Number)).collect();
        match arrangement {
            Arrangement::Interleaved => write_interleaved(&mut w, &fields, k),
            Arrangement::Split => split::write_group(&mut w, &fields, k),
        }
        state.advance(group);
    }
    w.bytes().to_vec()
}

/// Writes a group's fields one after the other, each a Rice field with parameter `k` or an escape.
fn write_interleaved(w: &mut BitWriter, fields: &[Coded], k: u32) {
    for &field in fields {
        match field {
            Coded::Number(u) => compact::write_rice(w, u, k),
            Coded::Raw(bits) => compact::write_raw(w, bits),
        }
    }
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

    /// Replaces numbers by the values of the integers they give, with the linear predictor or the previous value:
    /// one loop without a branch per field for each predictor, method and batch size. The numbers come in
    /// batches of `N`, `numbers` of the fields' current values (the last batch padded with zeros).
    #[inline(always)]
    fn integrate<const LINEAR: bool, const N: usize>(
        &mut self,
        fields: &mut [u64],
        shift: u8,
        mut numbers: impl FnMut(&[u64; N]) -> [u64; N],
        float: impl Fn(i64) -> f64,
    ) {
        let State { mut prev, mut prev_delta } = *self;
        let mut take = |field: &mut u64, number: u64| {
            let residual = residual(number, shift);
            prev_delta = if LINEAR { prev_delta.wrapping_add(residual) } else { residual };
            prev = prev.wrapping_add(prev_delta);
            *field = float(prev as i64).to_bits();
        };
        let mut chunks = fields.chunks_exact_mut(N);
        for chunk in &mut chunks {
            let mut batch = [0; N];
            batch.copy_from_slice(chunk);
            chunk.iter_mut().zip(numbers(&batch)).for_each(|(field, number)| take(field, number));
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut batch = [0; N];
            batch[..rest.len()].copy_from_slice(rest);
            rest.iter_mut().zip(numbers(&batch)).for_each(|(field, number)| take(field, number));
        }
        *self = State { prev, prev_delta };
    }

    /// Takes the integer that differs from the prediction by `residual`, and returns it.
    #[inline(always)]
    fn advance_by(&mut self, residual: u64, linear: bool) -> u64 {
        let keep = if linear { u64::MAX } else { 0 };
        self.prev_delta = (self.prev_delta & keep).wrapping_add(residual);
        self.prev = self.prev.wrapping_add(self.prev_delta);
        self.prev
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

    /// Decodes the next group's values (as bits) into `out` and returns how many; 0 after the last group. Not
    /// inlined: a group is decoded in one go, and its code would crowd the callers' loops.
    #[inline(never)]
    pub(super) fn next_group(&mut self, reader: &mut BitReader, out: &mut [u64; GROUP]) -> Result<usize, ChunkError> {
        let len = self.left.min(GROUP);
        if len == 0 {
            return Ok(0);
        }
        // A copy the compiler can keep in registers.
        let mut r = reader.clone();
        let group_header = r.peek(0);
        r.skip(GROUP_HEADER_BITS as u32);
        let linear = group_header >> 63 != 0;
        let k = (group_header >> 57) as u32 & 63;
        let fields = &mut out[..len];
        match self.header.arrangement {
            Arrangement::Interleaved => {
                let read = read_interleaved(&mut r, k, fields);
                let raw = checked(&r, read)?;
                self.reconstruct(fields, linear, raw);
            }
            Arrangement::Split => self.split_group(&mut r, linear, k, fields)?,
        }
        *reader = r;
        self.left -= len;
        Ok(len)
    }

    /// [`Decoder::next_group`] in the split arrangement, after the group header.
    #[inline(always)]
    fn split_group(&mut self, r: &mut BitReader, linear: bool, k: u32, fields: &mut [u64]) -> Result<(), ChunkError> {
        let parts = split::UnaryParts::read(r, fields.len());
        if parts.escapes != 0 || k > WINDOW_BITS {
            let read = parts.read_with_escapes(r, k, fields);
            let raw = checked(r, read)?;
            self.reconstruct(fields, linear, raw);
            return Ok(());
        }
        let (mut numbers, bits) = parts.numbers(r, k, fields.len());
        r.skip(bits);
        if r.overran() {
            return Err(ChunkError::Truncated);
        }
        // Batches as large as a window of low bits holds, up to the 4 a loop keeps in registers.
        match numbers.per_window() {
            4.. => self.integrate(fields, linear, |_| numbers.batch::<4>()),
            2..=3 => self.integrate(fields, linear, |_| numbers.batch::<2>()),
            _ => self.integrate(fields, linear, |_| numbers.batch::<1>()),
        }
        Ok(())
    }

    /// Replaces the fields of a group without raw floats by their values, taking the numbers in batches of `N`
    /// from `numbers`: [`State::integrate`] for the group's predictor and the chunk's scale.
    #[inline(always)]
    fn integrate<const N: usize>(
        &mut self,
        fields: &mut [u64],
        linear: bool,
        numbers: impl FnMut(&[u64; N]) -> [u64; N],
    ) {
        let Header { scale, shift, .. } = self.header;
        scale.with_float(Integrate::<_, N> { state: &mut self.state, fields, linear, shift, numbers });
    }

    /// Turns a group's numbers into values, in place; `raw` marks the fields that are raw floats.
    #[inline]
    fn reconstruct(&mut self, fields: &mut [u64], linear: bool, raw: u32) {
        if raw == 0 {
            self.integrate::<4>(fields, linear, |numbers| *numbers);
            return;
        }
        let Header { scale, shift, .. } = self.header;
        for (_, field) in fields.iter_mut().enumerate().filter(|&(i, _)| raw & (1 << i) == 0) {
            let m = self.state.advance_by(residual(*field, shift), linear);
            *field = scale.float(m as i64).to_bits();
        }
    }
}

/// Turns the numbers of a group without raw floats into values: [`State::integrate`] for a scale's method.
struct Integrate<'a, F, const N: usize> {
    state: &'a mut State,
    fields: &'a mut [u64],
    linear: bool,
    shift: u8,
    numbers: F,
}

impl<F: FnMut(&[u64; N]) -> [u64; N], const N: usize> FloatJob for Integrate<'_, F, N> {
    type Output = ();

    #[inline(always)]
    fn run(self, float: impl Fn(i64) -> f64 + Copy) {
        let Integrate { state, fields, linear, shift, numbers } = self;
        if linear {
            state.integrate::<true, N>(fields, shift, numbers, float);
        } else {
            state.integrate::<false, N>(fields, shift, numbers, float);
        }
    }
}

/// `read`, the mask of raw floats among a group's fields, unless the reader ran past the end of the data: the zero
/// bits it met instead may have caused any error, and the group is truncated.
fn checked(r: &BitReader, read: Result<u32, ChunkError>) -> Result<u32, ChunkError> {
    match read {
        _ if r.overran() => Err(ChunkError::Truncated),
        read => read,
    }
}

/// The difference a field's number `u` stands for: its zigzag decoded and multiplied by `2^shift`.
#[inline]
fn residual(u: u64, shift: u8) -> u64 {
    (unzigzag(u) << shift) as u64
}

/// Reads a group's fields (at most [`GROUP`]), laid out one after the other; returns the mask of those that are
/// raw floats. Fields are taken from `buf`, whose first `avail` bits are the stream's next ones,
/// so that the loop reloads from memory only every few fields: its critical path is then a count and a shift.
#[inline(always)]
fn read_interleaved(r: &mut BitReader, k: u32, fields: &mut [u64]) -> Result<u32, ChunkError> {
    let mut raw = 0u32;
    let mut buf = r.window();
    let mut avail = WINDOW_BITS;
    for (i, slot) in fields.iter_mut().enumerate() {
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
            let field = compact::rice_read_slow(r, k)?;
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
    Ok(raw)
}
