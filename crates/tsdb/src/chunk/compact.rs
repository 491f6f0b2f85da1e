//! The compact encoding: timestamps and values are predicted from the previous samples and the residuals are
//! written as adaptive Rice codes. Values that are decimals with few digits are coded as scaled integers
//! (`m / 10^digits`); other values fall back to Gorilla's XOR floats.

use super::bits::{take, unzigzag, zigzag, BitReader, BitWriter, WINDOW_BITS};
use super::gorilla::XorCoder;
use super::{ChunkError, NextSample, Range, SampleDecoder};

/// The most decimal digits after the point: values are stored as `m / 10^digits` with `digits` at most this.
const MAX_DIGITS: u8 = 18;

const POW10: [f64; MAX_DIGITS as usize + 1] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];

/// The f64 nearest to 10^-n.
const NEG_POW10: [f64; MAX_DIGITS as usize + 1] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17,
    1e-18,
];

/// Scaled integers stay within ±2^53, where every integer is exactly an f64.
const MAX_MANTISSA: i64 = 1 << 53;

/// How an exporter turned an integer count into a float. The results differ in the last bit, and values must
/// round-trip exactly, so the chunk records which one its values match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Method {
    /// `m / 10^digits`, e.g. jiffies / 100, millidegrees / 1000.
    Divide = 0,
    /// `m * 10^-digits`, e.g. node_exporter's disk times (milliseconds * 0.001).
    Multiply = 1,
    /// `m / 1000 / 10^(digits-3)`, e.g. node_exporter's pressure stall times (microseconds / 1000 / 1000).
    DivideTwice = 2,
}

const METHODS: [Method; 3] = [Method::Divide, Method::Multiply, Method::DivideTwice];

/// The decimal representation of a chunk's values: `m` scaled by `digits` with `method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scale {
    digits: u8,
    method: Method,
}

impl Scale {
    /// Integers, the narrowest representation.
    const INTEGER: Scale = Scale { digits: 0, method: Method::Divide };

    /// The float for scaled integer `m`.
    #[inline]
    pub(super) fn float(self, m: i64) -> f64 {
        let d = self.digits as usize;
        match self.method {
            Method::Divide => m as f64 / POW10[d],
            Method::Multiply => m as f64 * NEG_POW10[d],
            Method::DivideTwice if d >= 3 => m as f64 / 1e3 / POW10[d - 3],
            Method::DivideTwice => m as f64 / POW10[d],
        }
    }

    /// Runs `job` with [`Scale::float`] made for this scale's method, so that a loop in the job is compiled once
    /// per method rather than branching on it for every value.
    #[inline(always)]
    pub(super) fn with_float<J: FloatJob>(self, job: J) -> J::Output {
        let d = self.digits as usize;
        match self.method {
            Method::Multiply => {
                let factor = NEG_POW10[d];
                job.run(move |m| m as f64 * factor)
            }
            Method::DivideTwice if d >= 3 => {
                let divisor = POW10[d - 3];
                job.run(move |m| m as f64 / 1e3 / divisor)
            }
            Method::Divide | Method::DivideTwice => {
                let divisor = POW10[d];
                job.run(move |m| m as f64 / divisor)
            }
        }
    }

    /// The scaled integer `m` whose float is `v` bit for bit, if there is one.
    pub(super) fn integer(self, v: f64) -> Option<i64> {
        let m = (v * POW10[self.digits as usize]).round();
        if m.is_nan() || m.abs() > MAX_MANTISSA as f64 {
            return None;
        }
        let m = m as i64;
        (self.float(m).to_bits() == v.to_bits()).then_some(m)
    }

    /// The representation with the fewest digits, no narrower than `self`, in which `v` is a decimal. Methods
    /// are tried in order, and a chunk never goes back to an earlier one.
    fn widen_to(self, v: f64) -> Option<Scale> {
        (self.digits..=MAX_DIGITS).find_map(|digits| {
            METHODS
                .into_iter()
                .filter(|&method| method >= self.method)
                .map(|method| Scale { digits, method })
                .find(|s| s.integer(v).is_some())
        })
    }
}

/// Work that needs a scale's integer-to-float function: see [`Scale::with_float`].
pub(super) trait FloatJob {
    type Output;

    fn run(self, float: impl Fn(i64) -> f64 + Copy) -> Self::Output;
}

/// Values the decimal mode stores raw instead of switching the chunk to XOR: NaNs (the staleness marker among
/// them), infinities and negative zero.
fn is_special(v: f64) -> bool {
    !v.is_finite() || (v == 0.0 && v.is_sign_negative())
}

/// How a compact chunk stores values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Values {
    /// Gorilla XOR floats.
    Xor,
    /// Scaled integers whose differences from the first one are multiples of `2^shift`.
    Decimal { scale: Scale, shift: u8 },
    /// One scaled integer, repeated by every sample.
    Constant { scale: Scale },
}

/// The parameters in a compact chunk's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// Every timestamp delta equals the first one, so timestamps after the second take no bits.
    pub(crate) regular: bool,
    pub(crate) values: Values,
}

impl Params {
    /// The parameters for a chunk whose only sample has value `v`.
    pub(crate) fn initial(v: f64) -> Params {
        let values = match Scale::INTEGER.widen_to(v) {
            Some(scale) => Values::Constant { scale },
            None => Values::Xor,
        };
        Params { regular: true, values }
    }

    /// The two header bytes: `mode:2 regular:1 digits:5` and `method:2 shift:6`.
    pub(crate) fn to_bytes(self) -> [u8; 2] {
        let (mode, scale, shift) = match self.values {
            Values::Xor => (0, Scale::INTEGER, 0),
            Values::Decimal { scale, shift } => (1, scale, shift),
            Values::Constant { scale } => (2, scale, 0),
        };
        [mode << 6 | u8::from(self.regular) << 5 | scale.digits, (scale.method as u8) << 6 | shift]
    }

    pub(crate) fn from_bytes(b: [u8; 2]) -> Result<Params, ChunkError> {
        let digits = b[0] & 0x1f;
        if digits > MAX_DIGITS {
            return Err(ChunkError::Corrupt("decimal digits out of range"));
        }
        let Some(&method) = METHODS.get(usize::from(b[1] >> 6)) else {
            return Err(ChunkError::Corrupt("unknown decimal method"));
        };
        let scale = Scale { digits, method };
        let shift = b[1] & 0x3f;
        let values = match b[0] >> 6 {
            0 if scale == Scale::INTEGER && shift == 0 => Values::Xor,
            1 => Values::Decimal { scale, shift },
            2 if shift == 0 => Values::Constant { scale },
            _ => return Err(ChunkError::Corrupt("invalid value mode")),
        };
        Ok(Params { regular: b[0] & 0x20 != 0, values })
    }

    /// The fewest bits a sample after the first can take, to check a header's count against the data.
    pub(crate) fn min_bits_per_sample(self) -> usize {
        usize::from(!self.regular) + usize::from(!matches!(self.values, Values::Constant { .. }))
    }
}

/// Unary parts this long are escapes: a 7-bit code follows.
pub(super) const RICE_LIMIT: u32 = 12;
/// The mean is taken over roughly this many recent numbers (sum and count are halved when count reaches it).
const RICE_WINDOW: u8 = 16;
/// Escape code for "a raw 64-bit float follows" (values only); codes 0..=63 give a number's bit length minus one.
pub(super) const ESCAPE_RAW: u64 = 64;

/// What a Rice-coded field holds.
#[derive(Clone, Copy, Debug)]
pub(super) enum Coded {
    Number(u64),
    Raw(u64),
}

/// Predictor costs are halved when one exceeds this, so that they follow recent samples.
const COST_WINDOW: u8 = 64;

/// The first of a sequence's two predictors, with what it keeps between integers. The second predictor is
/// always linear: the previous integer plus the previous difference, which suits steady counters and drifting
/// timestamps. On equal costs the first is preferred.
trait Lead: Clone + std::fmt::Debug {
    /// The guess for the integer after `prev`.
    fn prediction(&self, prev: u64) -> u64;

    /// Takes `x` as the next integer, after the costs were updated.
    fn observe(&mut self, x: u64);
}

/// Guesses the previous integer: suits gauges and irregular counters. Used for values.
#[derive(Clone, Debug)]
struct Previous;

impl Lead for Previous {
    #[inline]
    fn prediction(&self, prev: u64) -> u64 {
        prev
    }

    #[inline]
    fn observe(&mut self, _x: u64) {}
}

/// Guesses the next point of a grid: suits scrape timestamps, which are a few milliseconds late on a fixed grid.
/// Used for timestamps. Holds the grid's step (0 while unused), its last point, and how late recent integers
/// were, to center it.
#[derive(Clone, Debug)]
struct Grid {
    step: u64,
    point: u64,
    late_sum: i64,
    /// At most `RICE_WINDOW`.
    late_count: u8,
}

impl Grid {
    fn new(first: u64) -> Grid {
        Grid { step: 0, point: first, late_sum: 0, late_count: 0 }
    }

    /// Starts the grid at `point`, with `step` between points.
    fn start(&mut self, step: u64, point: u64) {
        self.step = step;
        self.point = point;
    }
}

impl Lead for Grid {
    #[inline]
    fn prediction(&self, _prev: u64) -> u64 {
        let late = if self.late_count > 0 { self.late_sum / i64::from(self.late_count) } else { 0 };
        self.point.wrapping_add(self.step).wrapping_add(late as u64)
    }

    #[inline]
    fn observe(&mut self, x: u64) {
        if self.step == 0 {
            return;
        }
        let next = self.point.wrapping_add(self.step);
        let late = x.wrapping_sub(next) as i64;
        if late.unsigned_abs() > self.step / 4 {
            // A gap or a jump: the grid restarts here.
            self.point = x;
            self.late_sum = 0;
            self.late_count = 0;
        } else {
            self.point = next;
            self.late_sum = self.late_sum.saturating_add(late);
            self.late_count += 1;
            if self.late_count >= RICE_WINDOW {
                self.late_sum /= 2;
                self.late_count /= 2;
            }
        }
    }
}

/// A sequence of integers (timestamps or scaled values) coded as Rice-coded, zigzagged residuals of a prediction.
/// Two predictors run side by side and the one with the smallest recent residuals is used; the writer and the
/// reader track the same costs. Arithmetic is modulo 2^64, so any sequence round-trips.
///
/// Residuals are adaptive Rice codes: a number `u` is written as `u >> k` in unary (that many ones and a zero),
/// then the low `k` bits of `u`, where `k` is log2 of the mean of recent numbers, computed alike by the writer
/// and the reader. A unary part of `RICE_LIMIT` ones is an escape instead.
///
/// A head keeps one writer per open chunk, so the small fields are bytes (their bounds are noted) and the Rice
/// state is kept inline rather than as a nested struct, whose padding would cost eight bytes.
#[derive(Clone, Debug)]
struct IntCoder<L> {
    prev: u64,
    prev_delta: u64,
    /// Rice state: the sum of recent numbers.
    sum: u64,
    /// Rice state: how many numbers `sum` holds, plus one; at most `RICE_WINDOW`.
    count: u8,
    /// Rice state: whether a number was coded yet.
    primed: bool,
    /// Rice state: `k` for the next number (at most 63), kept up to date by `rice_update`.
    k: u8,
    /// Recent bit lengths of the first and the linear predictor's residuals; at most twice `COST_WINDOW`.
    costs: [u8; 2],
    /// Residuals are multiples of `2^shift` (at most 63) and are written divided by it.
    shift: u8,
    lead: L,
}

impl<L: Lead> IntCoder<L> {
    fn new(first: u64, shift: u8, lead: L) -> IntCoder<L> {
        IntCoder { prev: first, prev_delta: 0, sum: 0, count: 1, primed: false, k: 0, costs: [0; 2], shift, lead }
    }

    /// The first and the linear predictor's guesses for the next integer.
    #[inline]
    fn predictions(&self) -> [u64; 2] {
        [self.lead.prediction(self.prev), self.prev.wrapping_add(self.prev_delta)]
    }

    /// The guess of the predictor with the smallest recent residuals.
    #[inline]
    fn best(&self, predictions: [u64; 2]) -> u64 {
        predictions[usize::from(self.costs[1] < self.costs[0])]
    }

    /// Takes `x` as the next integer, updating predictor costs and state.
    fn observe(&mut self, x: u64) {
        self.observe_predicted(x, self.predictions());
    }

    /// Like `observe`, given the current `predictions`.
    #[inline]
    fn observe_predicted(&mut self, x: u64, predictions: [u64; 2]) {
        for (cost, prediction) in self.costs.iter_mut().zip(predictions) {
            let miss = x.wrapping_sub(prediction) as i64;
            // At most 64 bits; costs are at most COST_WINDOW before this, so the sum fits a byte.
            *cost += (64 - zigzag(miss).leading_zeros()) as u8;
        }
        // Without a branch: whether the costs are halved varies from number to number.
        let halve = u32::from(self.costs[0].max(self.costs[1]) > COST_WINDOW);
        self.costs = self.costs.map(|c| c >> halve);
        self.lead.observe(x);
        self.prev_delta = x.wrapping_sub(self.prev);
        self.prev = x;
    }

    fn write(&mut self, w: &mut BitWriter, x: u64) {
        let predictions = self.predictions();
        let residual = x.wrapping_sub(self.best(predictions)) as i64 >> self.shift;
        self.rice_write(w, zigzag(residual));
        self.observe_predicted(x, predictions);
    }

    #[inline(always)]
    fn read(&mut self, r: &mut BitReader) -> Result<Coded, ChunkError> {
        let coded = self.rice_read(r)?;
        if let Coded::Number(u) = coded {
            let predictions = self.predictions();
            let x = self.best(predictions).wrapping_add((unzigzag(u) << self.shift) as u64);
            self.observe_predicted(x, predictions);
            return Ok(Coded::Number(x));
        }
        Ok(coded)
    }

    #[inline]
    fn rice_update(&mut self, u: u64) {
        // The first number sets the scale. Later ones count at most as the largest number without an escape, so
        // that one outlier (a gap, a counter reset) does not inflate `k` for the samples after it.
        let k = u32::from(self.k);
        let cap = if self.primed && k <= 60 { u64::from(RICE_LIMIT) << k } else { u64::MAX };
        self.rice_add(u.min(cap));
    }

    /// Takes `u` into the Rice state: `rice_update` for a number known to be within the cap, such as one coded
    /// without an escape.
    #[inline]
    fn rice_add(&mut self, u: u64) {
        self.primed = true;
        self.sum = self.sum.saturating_add(u);
        self.count += 1;
        if self.count >= RICE_WINDOW {
            self.sum /= 2;
            self.count /= 2;
        }
        self.k = log2_quotient(self.sum, u64::from(self.count));
    }

    fn rice_write(&mut self, w: &mut BitWriter, u: u64) {
        write_rice(w, u, u32::from(self.k));
        self.rice_update(u);
    }

    /// Writes a float that is not a decimal; the adaptive state is left as it is.
    fn write_raw(&self, w: &mut BitWriter, bits: u64) {
        write_raw(w, bits);
    }

    /// Reads a number or an escape. A number's unary and binary parts usually come from one window.
    #[inline(always)]
    fn rice_read(&mut self, r: &mut BitReader) -> Result<Coded, ChunkError> {
        let k = u32::from(self.k);
        let w = r.window();
        let q = w.leading_ones();
        let u = if q < RICE_LIMIT && q + 1 + k <= WINDOW_BITS {
            r.skip(q + 1 + k);
            let u = (u64::from(q) << k) | take(w << (q + 1), k);
            // Below `RICE_LIMIT << k`, so within the cap.
            self.rice_add(u);
            u
        } else {
            match rice_read_slow(r, k)? {
                Coded::Number(u) => {
                    self.rice_update(u);
                    u
                }
                raw => return Ok(raw),
            }
        };
        Ok(Coded::Number(u))
    }
}

/// Writes `u` as a Rice field with parameter `k`: `u >> k` in unary and the low `k` bits, or an escape.
pub(super) fn write_rice(w: &mut BitWriter, u: u64, k: u32) {
    match quotient(u, k) {
        Some(q) => {
            write_unary(w, q);
            w.write_bits(u, k);
        }
        None => {
            write_unary(w, RICE_LIMIT);
            write_escape_payload(w, Coded::Number(u));
        }
    }
}

/// The unary part of `u`'s Rice field with parameter `k`: `u >> k` if it is below `RICE_LIMIT`, `None` when the
/// field is an escape.
#[inline]
pub(super) fn quotient(u: u64, k: u32) -> Option<u32> {
    let q = u >> k;
    (q < u64::from(RICE_LIMIT)).then_some(q as u32)
}

/// Writes `q` (at most `RICE_LIMIT`) one bits and, below `RICE_LIMIT`, the terminating zero bit.
pub(super) fn write_unary(w: &mut BitWriter, q: u32) {
    w.write_bits((1 << q) - 1, q);
    if q < RICE_LIMIT {
        w.write_bit(false);
    }
}

/// Writes what follows an escape's `RICE_LIMIT` one bits: the 7-bit code, then the number's significant bits
/// (the number is not 0: it did not fit the unary part) or the raw float's 64.
pub(super) fn write_escape_payload(w: &mut BitWriter, field: Coded) {
    match field {
        Coded::Number(u) => {
            let len = 64 - u.leading_zeros();
            w.write_bits(u64::from(len - 1), 7);
            w.write_bits(u, len);
        }
        Coded::Raw(bits) => {
            w.write_bits(ESCAPE_RAW, 7);
            w.write_bits(bits, 64);
        }
    }
}

/// The bits [`write_rice`] takes for `u` with parameter `k`.
pub(super) fn rice_bits(u: u64, k: u32) -> u32 {
    match quotient(u, k) {
        Some(q) => q + 1 + k,
        None => RICE_LIMIT + 7 + (64 - u.leading_zeros()),
    }
}

/// Writes the escape for a raw float and its bits.
pub(super) fn write_raw(w: &mut BitWriter, bits: u64) {
    write_unary(w, RICE_LIMIT);
    write_escape_payload(w, Coded::Raw(bits));
}

/// Reads a Rice code with parameter `k` bit group by bit group: for escapes and wide codes. Inlined all the
/// same: a call would need the reader in memory, and keep it there in the decoding loop.
#[inline(always)]
pub(super) fn rice_read_slow(r: &mut BitReader, k: u32) -> Result<Coded, ChunkError> {
    let q = r.read_unary(RICE_LIMIT);
    if q < RICE_LIMIT {
        return Ok(Coded::Number((u64::from(q) << k) | r.read_bits(k)));
    }
    read_escape_payload(r)
}

/// Reads what [`write_escape_payload`] wrote.
#[inline(always)]
pub(super) fn read_escape_payload(r: &mut BitReader) -> Result<Coded, ChunkError> {
    match r.read_bits(7) {
        len_minus_one @ 0..=63 => Ok(Coded::Number(r.read_bits(len_minus_one as u32 + 1))),
        ESCAPE_RAW => Ok(Coded::Raw(r.read_bits(64))),
        _ => Err(ChunkError::Corrupt("unknown escape code")),
    }
}

/// `(sum / count).ilog2()`, or 0 when the quotient is 0, without a division (the decoder's critical path runs
/// through it once per number) and without a branch. `count` is at least 1.
#[inline]
fn log2_quotient(sum: u64, count: u64) -> u8 {
    // `count << k` lies in [2^ilog2(sum), 2^(ilog2(sum)+1)), so the quotient's log is k or, if that exceeds `sum`,
    // k - 1. Both saturate at 0 for a quotient of 0. `| 1` changes no log but that of 0.
    let k = (sum | 1).ilog2().saturating_sub((count | 1).ilog2());
    k.saturating_sub(u32::from(count << k > sum)) as u8
}

/// The grid step for a first timestamp delta: scrape intervals are usually whole seconds, so a delta a few
/// milliseconds off one is taken as that second count plus jitter.
fn grid_step(first_delta: u64) -> u64 {
    let rounded = first_delta.saturating_add(500) / 1000 * 1000;
    if rounded > 0 && rounded.abs_diff(first_delta) <= 50 {
        rounded
    } else {
        first_delta
    }
}

/// Timestamp state, alike in the writer and the reader. The first timestamp is a varint, the first delta an
/// unsigned varint; later timestamps take no bits when the chunk is regular, and are Rice-coded otherwise.
/// The previous timestamp and whether the chunk is regular are the caller's: the appender keeps both anyway.
#[derive(Clone, Debug)]
struct Times {
    /// Observes the first two timestamps, then (irregular chunks only) every later one. In a regular chunk its
    /// `prev_delta` therefore stays the first delta.
    coder: IntCoder<Grid>,
}

impl Times {
    fn new(first: i64) -> Times {
        Times { coder: IntCoder::new(first as u64, 0, Grid::new(first as u64)) }
    }

    /// The delta between the first two timestamps; only meaningful while the chunk is regular.
    fn regular_delta(&self) -> u64 {
        self.coder.prev_delta
    }

    fn write(&mut self, w: &mut BitWriter, index: usize, regular: bool, prev: i64, t: i64) {
        if index == 1 {
            let delta = t.wrapping_sub(prev) as u64;
            w.write_uvarint(delta);
            self.coder.observe(t as u64);
            self.coder.lead.start(grid_step(delta), t as u64);
        } else if !regular {
            self.coder.write(w, t as u64);
        }
    }

    /// Reads the second timestamp, after `prev`.
    fn read_second(&mut self, r: &mut BitReader, prev: i64) -> Result<i64, ChunkError> {
        let delta = r.read_uvarint()?;
        let t = super::advance(prev, delta)?;
        self.coder.observe(t as u64);
        self.coder.lead.start(grid_step(delta), t as u64);
        Ok(t)
    }

    /// Reads a timestamp after the second, after `prev`.
    #[inline(always)]
    fn read_next(&mut self, r: &mut BitReader, regular: bool, prev: i64) -> Result<i64, ChunkError> {
        if regular {
            return super::advance(prev, self.regular_delta());
        }
        let Coded::Number(x) = self.coder.read(r)? else {
            return Err(ChunkError::Corrupt("raw escape among timestamps"));
        };
        let t = x as i64;
        if t <= prev {
            return Err(ChunkError::Corrupt("timestamps not increasing"));
        }
        Ok(t)
    }
}

/// Value state, alike in the writer and the reader.
#[derive(Clone, Debug)]
enum ValueCoder {
    Xor(XorCoder),
    /// `first` is the first sample's integer, or 0 when that sample was stored raw.
    Decimal {
        scale: Scale,
        first: i64,
        ints: IntCoder<Previous>,
    },
    /// The value of every sample.
    Constant(f64),
}

impl ValueCoder {
    /// Writes the first value: 64 raw bits (XOR), a flag then a varint or 64 raw bits (decimal), a varint (constant).
    fn write_first(w: &mut BitWriter, values: Values, v: f64) -> ValueCoder {
        match values {
            Values::Xor => {
                w.write_bits(v.to_bits(), 64);
                ValueCoder::Xor(XorCoder::new(v.to_bits()))
            }
            Values::Decimal { scale, shift } => {
                let m = scale.integer(v);
                w.write_bit(m.is_none());
                match m {
                    Some(m) => w.write_varint(m),
                    None => w.write_bits(v.to_bits(), 64),
                }
                let first = m.unwrap_or(0);
                ValueCoder::Decimal { scale, first, ints: IntCoder::new(first as u64, shift, Previous) }
            }
            Values::Constant { scale } => {
                // The parameters were chosen to fit `v`, so it is a decimal at `scale`.
                w.write_varint(scale.integer(v).unwrap_or(0));
                ValueCoder::Constant(v)
            }
        }
    }

    /// Reads the first value, returned as its bits.
    fn read_first(r: &mut BitReader, values: Values) -> Result<(ValueCoder, u64), ChunkError> {
        Ok(match values {
            Values::Xor => {
                let bits = r.read_bits(64);
                (ValueCoder::Xor(XorCoder::new(bits)), bits)
            }
            Values::Decimal { scale, shift } => {
                let (first, v) = if r.read_bit() {
                    (0, f64::from_bits(r.read_bits(64)))
                } else {
                    let m = r.read_varint()?;
                    (m, scale.float(m))
                };
                let ints = IntCoder::new(first as u64, shift, Previous);
                (ValueCoder::Decimal { scale, first, ints }, v.to_bits())
            }
            Values::Constant { scale } => {
                let v = scale.float(r.read_varint()?);
                (ValueCoder::Constant(v), v.to_bits())
            }
        })
    }

    fn write(&mut self, w: &mut BitWriter, v: f64) {
        match self {
            ValueCoder::Xor(xor) => xor.write(w, v.to_bits()),
            ValueCoder::Decimal { scale, ints, .. } => match scale.integer(v) {
                Some(m) => ints.write(w, m as u64),
                None => ints.write_raw(w, v.to_bits()),
            },
            ValueCoder::Constant(_) => {}
        }
    }

    /// Reads a value after the first, returned as its bits.
    #[inline(always)]
    fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError> {
        Ok(match self {
            ValueCoder::Xor(xor) => xor.read(r)?,
            ValueCoder::Decimal { scale, ints, .. } => read_decimal(*scale, ints, r)?,
            ValueCoder::Constant(v) => v.to_bits(),
        })
    }
}

/// Reads a decimal value after the first, returned as its bits.
#[inline(always)]
fn read_decimal(scale: Scale, ints: &mut IntCoder<Previous>, r: &mut BitReader) -> Result<u64, ChunkError> {
    Ok(match ints.read(r)? {
        Coded::Number(m) => scale.float(m as i64).to_bits(),
        Coded::Raw(bits) => bits,
    })
}

/// Streaming encoder of a compact chunk body. The previous timestamp is the caller's (the appender's last).
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    params: Params,
    times: Times,
    values: ValueCoder,
}

impl Encoder {
    /// Writes the first sample with `params` and returns the encoder for the following ones.
    pub(crate) fn first(w: &mut BitWriter, params: Params, t: i64, v: f64) -> Encoder {
        w.write_varint(t);
        let values = ValueCoder::write_first(w, params.values, v);
        Encoder { params, times: Times::new(t), values }
    }

    pub(crate) fn params(&self) -> Params {
        self.params
    }

    /// The parameters needed to also hold sample number `index` (≥ 1) at `t`, after a sample at `prev`: the
    /// current ones when it fits.
    pub(crate) fn widen(&self, index: usize, prev: i64, t: i64, v: f64) -> Params {
        let delta = t.wrapping_sub(prev) as u64;
        let irregular = index >= 2 && delta != self.times.regular_delta();
        Params { regular: self.params.regular && !irregular, values: self.widen_values(v) }
    }

    fn widen_values(&self, v: f64) -> Values {
        // The value coder was made for `params.values`, so the modes match.
        let (scale, shift, first) = match (self.params.values, &self.values) {
            (Values::Xor, _) => return Values::Xor,
            (Values::Constant { scale }, &ValueCoder::Constant(c)) => {
                if v.to_bits() == c.to_bits() {
                    return Values::Constant { scale };
                }
                (scale, 63, scale.integer(c).unwrap_or(0))
            }
            (Values::Decimal { scale, shift }, ValueCoder::Decimal { first, .. }) => (scale, shift, *first),
            (Values::Constant { scale }, _) => (scale, 63, 0),
            (Values::Decimal { scale, shift }, _) => (scale, shift, 0),
        };
        if is_special(v) {
            return Values::Decimal { scale, shift };
        }
        let Some(new_scale) = scale.widen_to(v) else { return Values::Xor };
        // With more digits the first integer must stay exact. Other integers are checked again when the chunk
        // is re-encoded with the new scale.
        let grow = 10i64.pow(u32::from(new_scale.digits - scale.digits));
        let Some(first) = first.checked_mul(grow).filter(|f| f.abs() <= MAX_MANTISSA) else { return Values::Xor };
        let m = new_scale.integer(v).unwrap_or(first);
        let shift = shift.min(m.wrapping_sub(first).trailing_zeros().min(63) as u8);
        Values::Decimal { scale: new_scale, shift }
    }

    /// Writes sample number `index` (≥ 1) at `t`, after a sample at `prev`, for which `widen` returned the
    /// current parameters.
    pub(crate) fn append(&mut self, w: &mut BitWriter, index: usize, prev: i64, t: i64, v: f64) {
        self.times.write(w, index, self.params.regular, prev, t);
        self.values.write(w, v);
    }
}

/// Streaming decoder of a compact chunk body.
#[derive(Clone, Debug)]
pub(crate) struct Decoder {
    regular: bool,
    prev_t: i64,
    times: Times,
    values: ValueCoder,
}

impl Decoder {
    /// Reads the first sample.
    pub(crate) fn first(r: &mut BitReader, params: Params) -> Result<(Decoder, i64, u64), ChunkError> {
        let t = r.read_varint()?;
        let (values, v) = ValueCoder::read_first(r, params.values)?;
        Ok((Decoder { regular: params.regular, prev_t: t, times: Times::new(t), values }, t, v))
    }
}

impl SampleDecoder for Decoder {
    fn second(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError> {
        let t = self.times.read_second(r, self.prev_t)?;
        self.prev_t = t;
        Ok((t, self.values.read(r)?))
    }

    /// Runs a loop made for the chunk's timestamp and value modes: without their branches, and with the decoder
    /// state in registers.
    fn decode_rest(
        self,
        r: &mut BitReader,
        range: Range,
        n: usize,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<bool, ChunkError> {
        let Decoder { regular, prev_t, times, values } = self;
        if let (true, ValueCoder::Constant(v)) = (regular, &values) {
            // No bits left to read: the samples are arithmetic. Timestamps a corrupt chunk overflows take the
            // loop, which fails where the iterator does.
            if let Some(all) = range.fill_regular(prev_t, times.regular_delta(), v.to_bits(), n, out) {
                return Ok(all);
            }
        }
        if regular {
            decode_rest(prev_t, RegularTimes(times.regular_delta()), values, r, range, n, out)
        } else {
            decode_rest(prev_t, times, values, r, range, n, out)
        }
    }
}

impl NextSample for Decoder {
    #[inline]
    fn next(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError> {
        let t = self.times.read_next(r, self.regular, self.prev_t)?;
        self.prev_t = t;
        Ok((t, self.values.read(r)?))
    }
}

/// [`Decoder::decode_rest`] with timestamps read by `times`.
fn decode_rest<T: TimeReader>(
    prev_t: i64,
    times: T,
    values: ValueCoder,
    r: &mut BitReader,
    range: Range,
    n: usize,
    out: &mut Vec<(i64, u64)>,
) -> Result<bool, ChunkError> {
    match values {
        ValueCoder::Xor(values) => range.run(&mut Specialized { prev_t, times, values }, r, n, out),
        ValueCoder::Decimal { scale, ints, .. } => {
            range.run(&mut Specialized { prev_t, times, values: Decimals { scale, ints } }, r, n, out)
        }
        ValueCoder::Constant(v) => {
            range.run(&mut Specialized { prev_t, times, values: Constant(v.to_bits()) }, r, n, out)
        }
    }
}

/// A decoder for one timestamp mode and one value mode, after the second sample.
struct Specialized<T, V> {
    prev_t: i64,
    times: T,
    values: V,
}

impl<T: TimeReader, V: ValueReader> NextSample for Specialized<T, V> {
    #[inline(always)]
    fn next(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError> {
        let t = self.times.read(r, self.prev_t)?;
        self.prev_t = t;
        Ok((t, self.values.read(r)?))
    }
}

/// Reads the timestamp after `prev`, from the third on.
trait TimeReader {
    fn read(&mut self, r: &mut BitReader, prev: i64) -> Result<i64, ChunkError>;
}

/// The timestamps of a regular chunk, which take no bits: every delta is this one.
struct RegularTimes(u64);

impl TimeReader for RegularTimes {
    #[inline(always)]
    fn read(&mut self, _r: &mut BitReader, prev: i64) -> Result<i64, ChunkError> {
        super::advance(prev, self.0)
    }
}

impl TimeReader for Times {
    #[inline(always)]
    fn read(&mut self, r: &mut BitReader, prev: i64) -> Result<i64, ChunkError> {
        self.read_next(r, false, prev)
    }
}

/// Reads a value after the first, returned as its bits.
trait ValueReader {
    fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError>;
}

impl ValueReader for XorCoder {
    #[inline(always)]
    fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError> {
        XorCoder::read(self, r)
    }
}

/// Decimal values.
struct Decimals {
    scale: Scale,
    ints: IntCoder<Previous>,
}

impl ValueReader for Decimals {
    #[inline(always)]
    fn read(&mut self, r: &mut BitReader) -> Result<u64, ChunkError> {
        read_decimal(self.scale, &mut self.ints, r)
    }
}

/// The bits of a constant value.
struct Constant(u64);

impl ValueReader for Constant {
    #[inline(always)]
    fn read(&mut self, _r: &mut BitReader) -> Result<u64, ChunkError> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_made_for_a_method_match_float() {
        struct Floats(Vec<i64>);
        impl FloatJob for Floats {
            type Output = Vec<u64>;
            fn run(self, float: impl Fn(i64) -> f64 + Copy) -> Vec<u64> {
                self.0.into_iter().map(|m| float(m).to_bits()).collect()
            }
        }
        let ints = vec![0, 1, -1, 7, 12345, -987654321, MAX_MANTISSA, -MAX_MANTISSA, i64::MAX, i64::MIN];
        for method in METHODS {
            for digits in 0..=MAX_DIGITS {
                let scale = Scale { digits, method };
                let want: Vec<u64> = ints.iter().map(|&m| scale.float(m).to_bits()).collect();
                assert_eq!(scale.with_float(Floats(ints.clone())), want, "{scale:?}");
            }
        }
    }

    #[test]
    fn log2_quotient_matches_division() {
        let mut sums: Vec<u64> = (0..5000).collect();
        for bit in 0..64 {
            let p = 1u64 << bit;
            sums.extend([p - 1, p, p + 1, p.wrapping_mul(3), p / 3 * 5, u64::MAX - p]);
        }
        sums.push(u64::MAX);
        for count in 1..=u64::from(RICE_WINDOW) {
            for &sum in &sums {
                let want = (sum / count).checked_ilog2().unwrap_or(0) as u8;
                assert_eq!(log2_quotient(sum, count), want, "{sum} / {count}");
            }
        }
    }
}
