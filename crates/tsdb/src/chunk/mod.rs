//! Compressed chunks of (timestamp, value) samples: a streaming appender, a bounds-checked reader for untrusted
//! bytes, and four encodings (Gorilla; a denser one for decimal values; and for finished chunks of those, two
//! that decode faster, the second of which replaced the first in the writer). The byte layout is documented in
//! `docs/format/tsdb.md`, section "Chunks".

mod bits;
mod bytes;
mod compact;
mod gorilla;
mod grouped;
mod split;

use bits::{BitReader, BitWriter};
use compact::Params;
use grouped::Arrangement;

pub(crate) use bytes::map_range;
pub use bytes::ChunkBytes;

/// The most samples one chunk holds (its count is a 16-bit field).
pub const MAX_SAMPLES: usize = u16::MAX as usize;

/// A chunk's encoding, stored in its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Delta-of-delta timestamps and XOR floats; the bytes after the tag are a Prometheus XOR chunk.
    Gorilla = 1,
    /// Rice-coded timestamp residuals; values as scaled decimal integers when they are, XOR floats otherwise.
    Compact = 2,
    /// Regular timestamps and decimal values Rice-coded in groups with fixed parameters. Read, no longer
    /// written but by [`Chunk::pack_as`]: [`Encoding::Split`] holds the same bits in an order that decodes faster.
    Grouped = 3,
    /// `Grouped` with each group's fields split into their unary parts, low bits and escapes: written by
    /// [`Chunk::pack`] for chunks that will not grow, never by an appender.
    Split = 4,
}

impl Encoding {
    fn from_tag(tag: u8) -> Result<Encoding, ChunkError> {
        match tag {
            1 => Ok(Encoding::Gorilla),
            2 => Ok(Encoding::Compact),
            3 => Ok(Encoding::Grouped),
            4 => Ok(Encoding::Split),
            other => Err(ChunkError::UnknownEncoding(other)),
        }
    }

    /// Whether chunks in this encoding are only packed from finished ones, never appended to.
    fn is_packed(self) -> bool {
        matches!(self, Encoding::Grouped | Encoding::Split)
    }

    /// Bytes before the bit stream: the tag, the 16-bit count and, but for `Gorilla`, two parameter bytes.
    fn header_len(self) -> usize {
        match self {
            Encoding::Gorilla => 3,
            Encoding::Compact | Encoding::Grouped | Encoding::Split => 5,
        }
    }
}

/// Why a sample could not be appended, or a chunk could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("timestamp {t} is not after the chunk's last timestamp {last}")]
    OutOfOrder { t: i64, last: i64 },
    #[error("chunk is full ({MAX_SAMPLES} samples)")]
    Full,
    #[error("corrupt chunk: data ends early")]
    Truncated,
    #[error("corrupt chunk: unknown encoding {0}")]
    UnknownEncoding(u8),
    #[error("corrupt chunk: {0}")]
    Corrupt(&'static str),
}

/// The timestamp `delta` milliseconds after `t`, which must exist and be later.
#[inline]
fn advance(t: i64, delta: u64) -> Result<i64, ChunkError> {
    // Modulo 2^64 the sum is later exactly when the delta is not 0 and the sum does not overflow: an overflowing
    // sum is `t + delta - 2^64`, before `t`.
    let next = t.wrapping_add_unsigned(delta);
    if next > t {
        Ok(next)
    } else {
        Err(ChunkError::Corrupt("timestamps not increasing"))
    }
}

/// Encoder state after the first sample. `Compact` is the common case and is kept inline: boxing it would cost
/// an allocation per chunk.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum EncoderState {
    Empty,
    Gorilla(gorilla::Encoder),
    Compact(compact::Encoder),
}

/// Builds a chunk sample by sample. Timestamps must strictly increase. With [`Encoding::Compact`] the appender
/// picks the value representation itself and re-encodes the chunk when a new sample needs wider parameters.
///
/// The head keeps one appender per series, so it holds nothing its bytes already say: the encoding and the
/// sample count are read from the chunk header.
#[derive(Clone, Debug)]
pub struct ChunkAppender {
    w: BitWriter,
    min_time: i64,
    max_time: i64,
    state: EncoderState,
}

impl Default for ChunkAppender {
    fn default() -> Self {
        ChunkAppender::new()
    }
}

impl ChunkAppender {
    /// An empty chunk in the densest encoding, [`Encoding::Compact`].
    pub fn new() -> ChunkAppender {
        ChunkAppender::with_encoding(Encoding::Compact)
    }

    /// An empty chunk in `encoding`; grouped chunks are not appended to, so `Grouped` and `Split` give a compact
    /// one.
    pub fn with_encoding(encoding: Encoding) -> ChunkAppender {
        let encoding = if encoding.is_packed() { Encoding::Compact } else { encoding };
        let mut w = BitWriter::new();
        w.write_byte(encoding as u8);
        w.write_byte(0);
        w.write_byte(0);
        if encoding != Encoding::Gorilla {
            w.write_byte(0);
            w.write_byte(0);
        }
        ChunkAppender { w, min_time: 0, max_time: 0, state: EncoderState::Empty }
    }

    /// Reopens a chunk for appending. Its samples are decoded and encoded again, which also validates them.
    pub fn from_bytes(bytes: &[u8]) -> Result<ChunkAppender, ChunkError> {
        let chunk = Chunk::from_bytes(bytes)?;
        let mut appender = ChunkAppender::with_encoding(chunk.encoding());
        for sample in chunk.iter() {
            let (t, v) = sample?;
            appender.append(t, v)?;
        }
        Ok(appender)
    }

    pub fn encoding(&self) -> Encoding {
        match self.w.bytes()[0] {
            1 => Encoding::Gorilla,
            _ => Encoding::Compact,
        }
    }

    pub fn num_samples(&self) -> usize {
        let b = self.w.bytes();
        usize::from(u16::from_be_bytes([b[1], b[2]]))
    }

    /// The first sample's timestamp; 0 while the chunk is empty.
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// The last sample's timestamp; 0 while the chunk is empty.
    pub fn max_time(&self) -> i64 {
        self.max_time
    }

    /// Heap bytes the appender holds (its byte buffer).
    pub fn heap_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// The chunk's bytes as they stand, readable with [`Chunk::from_bytes`].
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Appends a sample. The value's bits are kept exactly, NaN payloads included. On error the chunk is
    /// unchanged.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        let index = self.num_samples();
        if index > 0 && t <= self.max_time {
            return Err(ChunkError::OutOfOrder { t, last: self.max_time });
        }
        if index == MAX_SAMPLES {
            return Err(ChunkError::Full);
        }
        match &mut self.state {
            EncoderState::Empty => self.write_first(t, v, Params::initial(v)),
            EncoderState::Gorilla(enc) => enc.append(&mut self.w, index, t, v),
            EncoderState::Compact(_) => self.append_compact(index, t, v),
        }
        self.set_count(index + 1);
        self.max_time = t;
        Ok(())
    }

    /// Writes the sample count (at most `MAX_SAMPLES`, checked by `append`) into the header.
    fn set_count(&mut self, count: usize) {
        self.w.bytes_mut()[1..3].copy_from_slice(&(count as u16).to_be_bytes());
    }

    /// Writes the first sample; `params` go into the header of a compact chunk.
    fn write_first(&mut self, t: i64, v: f64, params: Params) {
        self.state = match self.encoding() {
            Encoding::Gorilla => EncoderState::Gorilla(gorilla::Encoder::first(&mut self.w, t, v)),
            Encoding::Compact | Encoding::Grouped | Encoding::Split => {
                self.w.bytes_mut()[3..5].copy_from_slice(&params.to_bytes());
                EncoderState::Compact(compact::Encoder::first(&mut self.w, params, t, v))
            }
        };
        self.min_time = t;
    }

    /// Appends a sample after the first to a compact chunk, re-encoding the chunk first until its parameters
    /// fit the sample. Parameters only ever widen, so this ends.
    fn append_compact(&mut self, index: usize, t: i64, v: f64) {
        loop {
            let prev = self.max_time;
            let EncoderState::Compact(enc) = &mut self.state else {
                unreachable!("a compact chunk with samples has a compact encoder")
            };
            let params = enc.widen(index, prev, t, v);
            if params == enc.params() {
                enc.append(&mut self.w, index, prev, t, v);
                return;
            }
            self.reencode(params);
        }
    }

    /// Encodes the samples so far again, starting with `params`; later samples may widen them further.
    fn reencode(&mut self, params: Params) {
        let old = std::mem::replace(self, ChunkAppender::with_encoding(Encoding::Compact));
        // The appender's own bytes always decode, and their samples are in order.
        let chunk = Chunk::from_bytes(old.bytes()).expect("an appender's bytes are a valid chunk");
        for (i, sample) in chunk.iter().enumerate() {
            let (t, v) = sample.expect("an appender's bytes are a valid chunk");
            if i == 0 {
                self.write_first(t, v, params);
                self.set_count(1);
                self.max_time = t;
            } else {
                self.append(t, v).expect("samples of a valid chunk are in order");
            }
        }
    }
}

/// A read-only view of a chunk's bytes, which may be corrupt: reading never panics, and allocates nothing but
/// the output of [`Chunk::decode_into`].
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    bytes: &'a [u8],
    encoding: Encoding,
    count: usize,
    layout: Layout,
}

/// A chunk's encoding with its header parameters.
#[derive(Clone, Copy, Debug)]
enum Layout {
    Gorilla,
    Compact(Params),
    /// Either grouped encoding: the header tells which.
    Grouped(grouped::Header),
}

impl<'a> Chunk<'a> {
    /// Checks the header: a known encoding, valid parameters, and a sample count the data can hold.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Chunk<'a>, ChunkError> {
        let Some(&tag) = bytes.first() else { return Err(ChunkError::Truncated) };
        let encoding = Encoding::from_tag(tag)?;
        let header_len = encoding.header_len();
        if bytes.len() < header_len {
            return Err(ChunkError::Truncated);
        }
        let count = usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
        // Only read for encodings with parameter bytes, whose header length was checked.
        let params = || [bytes[3], bytes[4]];
        let layout = match encoding {
            Encoding::Gorilla => Layout::Gorilla,
            Encoding::Compact => Layout::Compact(Params::from_bytes(params())?),
            Encoding::Grouped => Layout::Grouped(grouped::Header::from_bytes(Arrangement::Interleaved, params())?),
            Encoding::Split => Layout::Grouped(grouped::Header::from_bytes(Arrangement::Split, params())?),
        };
        // The first sample takes at least a varint byte and a value; each later one at least `per_sample` bits.
        let body_bits = (bytes.len() - header_len) * 8;
        let needed = match (count, layout) {
            (0, _) => 0,
            (_, Layout::Gorilla) => 72 + (count - 1) * 2,
            (_, Layout::Compact(p)) => 16 + (count - 1) * p.min_bits_per_sample(),
            (_, Layout::Grouped(_)) => 16 + grouped::Header::min_body_bits(count),
        };
        if needed > body_bits {
            return Err(ChunkError::Corrupt("sample count exceeds the data"));
        }
        if count == 0 && body_bits > 0 {
            return Err(ChunkError::Corrupt("data after an empty header"));
        }
        Ok(Chunk { bytes, encoding, count, layout })
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn num_samples(&self) -> usize {
        self.count
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Appends the samples in `[mint, maxt]` to `out` as (timestamp, value bits), in time order. Much faster
    /// than [`Chunk::iter`], and the same as collecting from it until a sample after `maxt` (the samples after
    /// that one are not decoded), then keeping those from `mint` on. On error `out` is left as it was.
    pub fn decode_into(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, u64)>) -> Result<(), ChunkError> {
        if self.count == 0 {
            return Ok(());
        }
        let start = out.len();
        // What a full decode gives; at most MAX_SAMPLES, whatever the bytes.
        out.reserve(self.count);
        let mut r = BitReader::new(self.bytes, self.encoding.header_len());
        let range = Range { mint, maxt };
        let decoded = match self.layout {
            Layout::Gorilla => range.decode(gorilla::Decoder::first(&mut r), self.count, &mut r, out),
            Layout::Compact(params) => range.decode(compact::Decoder::first(&mut r, params), self.count, &mut r, out),
            Layout::Grouped(header) => {
                let result = self.decode_grouped(header, range, out);
                if result.is_err() {
                    out.truncate(start);
                }
                return result;
            }
        };
        // Samples decoded from past the end of the data may have been pushed: an overrun fails them here.
        let result = match decoded {
            Err(err) => Err(truncation_or(&r, err)),
            Ok(_) if r.overran() => Err(ChunkError::Truncated),
            Ok(true) => check_padding(&mut r),
            Ok(false) => Ok(()),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// [`Chunk::decode_into`] for a grouped chunk: its timestamps are known up front, so only the groups up to
    /// the last sample in range are decoded.
    fn decode_grouped(
        &self,
        header: grouped::Header,
        range: Range,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<(), ChunkError> {
        let mut r = BitReader::new(self.bytes, self.encoding.header_len());
        let result = self.decode_groups(&mut r, header, range, out);
        result.map_err(|err| truncation_or(&r, err))
    }

    fn decode_groups(
        &self,
        r: &mut BitReader,
        header: grouped::Header,
        range: Range,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<(), ChunkError> {
        let (mut dec, first) = grouped::Decoder::first(r, header, self.count)?;
        // Sample numbers `lo..hi` are in range; i128 spares the overflow checks.
        let (t0, delta) = (i128::from(dec.t0), i128::from(dec.delta));
        let index_of = |t: i128| ((t - t0).max(0) + delta - 1) / delta;
        let lo = index_of(i128::from(range.mint)).min(self.count as i128) as usize;
        let hi = index_of(i128::from(range.maxt) + 1).min(self.count as i128) as usize;
        if lo == 0 && hi > 0 {
            out.push((dec.t0, first));
        }
        // Like the other encodings, decoding goes on to the first sample after `maxt`, so that it fails exactly
        // where reading with the iterator would.
        let last = hi.min(self.count - 1);
        let mut values = [0u64; grouped::GROUP];
        let mut next = 1;
        while next <= last {
            let n = dec.next_group(r, &mut values)?;
            let from = lo.saturating_sub(next).min(n);
            let keep = values.get(from..hi.saturating_sub(next).min(n)).unwrap_or_default();
            let mut t = dec.time(next + from);
            out.extend(keep.iter().map(|&v| {
                let sample = (t, v);
                t = t.wrapping_add(dec.delta as i64);
                sample
            }));
            next += n.max(1);
        }
        if last == self.count - 1 {
            check_padding(r)?;
        }
        Ok(())
    }

    /// A chunk with the same samples in the split grouped encoding, which decodes several times faster, for a
    /// chunk that will not grow: `None` unless this one is compact with regular timestamps and decimal values.
    pub fn pack(&self) -> Result<Option<Vec<u8>>, ChunkError> {
        self.pack_as(Encoding::Split)
    }

    /// [`Chunk::pack`] into `encoding`, `Split` or `Grouped`, which releases before `Split` wrote and tests still
    /// write; `None` for the other encodings.
    #[doc(hidden)]
    pub fn pack_as(&self, encoding: Encoding) -> Result<Option<Vec<u8>>, ChunkError> {
        let arrangement = match encoding {
            Encoding::Grouped => Arrangement::Interleaved,
            Encoding::Split => Arrangement::Split,
            Encoding::Gorilla | Encoding::Compact => return Ok(None),
        };
        let Layout::Compact(Params { regular: true, values: compact::Values::Decimal { scale, .. } }) = self.layout
        else {
            return Ok(None);
        };
        if self.count < 2 {
            return Ok(None);
        }
        let mut samples = Vec::with_capacity(self.count);
        self.decode_into(i64::MIN, i64::MAX, &mut samples)?;
        let values: Vec<u64> = samples.iter().map(|s| s.1).collect();
        let delta = samples[1].0.wrapping_sub(samples[0].0) as u64;
        Ok(Some(grouped::encode(arrangement, samples[0].0, delta, &values, scale)))
    }

    /// For a chunk in either grouped encoding whose timestamps are the sample numbers 0, 1, 2, … (a block's values
    /// chunk), writes the values of its first `out.len()` samples into the second field of `out` and returns true;
    /// returns false, writing nothing, for other chunks. A grouped chunk with other timestamps or fewer samples is
    /// an error.
    pub fn decode_numbered_values(&self, out: &mut [(i64, u64)]) -> Result<bool, ChunkError> {
        let Layout::Grouped(header) = self.layout else { return Ok(false) };
        if out.is_empty() {
            return Ok(true);
        }
        let mut r = BitReader::new(self.bytes, self.encoding.header_len());
        let result = self.decode_numbered(&mut r, header, out);
        result.map_err(|err| truncation_or(&r, err))
    }

    fn decode_numbered(
        &self,
        r: &mut BitReader,
        header: grouped::Header,
        out: &mut [(i64, u64)],
    ) -> Result<bool, ChunkError> {
        let (mut dec, first) = grouped::Decoder::first(r, header, self.count)?;
        if (dec.t0, dec.delta) != (0, 1) || out.len() > self.count {
            return Err(ChunkError::Corrupt("grouped values chunk is not numbered from 0"));
        }
        out[0].1 = first;
        let mut values = [0u64; grouped::GROUP];
        let mut next = 1;
        while next < out.len() {
            let n = dec.next_group(r, &mut values)?.min(out.len() - next);
            for (slot, &v) in out[next..next + n].iter_mut().zip(&values) {
                slot.1 = v;
            }
            next += n.max(1);
        }
        if out.len() == self.count {
            check_padding(r)?;
        }
        Ok(true)
    }

    /// The samples in time order. After an error the iterator ends.
    pub fn iter(&self) -> ChunkIter<'a> {
        ChunkIter {
            reader: BitReader::new(self.bytes, self.encoding.header_len()),
            count: self.count,
            index: 0,
            layout: self.layout,
            state: DecoderState::Empty,
        }
    }
}

impl<'a> IntoIterator for &Chunk<'a> {
    type Item = Result<(i64, f64), ChunkError>;
    type IntoIter = ChunkIter<'a>;

    fn into_iter(self) -> ChunkIter<'a> {
        self.iter()
    }
}

/// Reads the samples after a chunk's first one, as (timestamp, value bits). Reads may go past the end of the
/// data (see [`BitReader`]): callers check for that.
trait SampleDecoder: NextSample + Sized {
    /// Reads the second sample.
    fn second(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError>;

    /// Decodes the `n` samples after the second for [`Chunk::decode_into`], like [`Range::run`].
    fn decode_rest(
        mut self,
        r: &mut BitReader,
        range: Range,
        n: usize,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<bool, ChunkError> {
        range.run(&mut self, r, n, out)
    }
}

/// Reads the samples after the second, as (timestamp, value bits).
trait NextSample {
    fn next(&mut self, r: &mut BitReader) -> Result<(i64, u64), ChunkError>;
}

/// The error to report for `err`: a reader that ran past the end met zero bits instead of the data, and whatever
/// they caused is a truncation.
fn truncation_or(r: &BitReader, err: ChunkError) -> ChunkError {
    if r.overran() {
        ChunkError::Truncated
    } else {
        err
    }
}

/// Checks what follows the last sample: the writer pads the last byte with zero bits and writes nothing after it.
fn check_padding(r: &mut BitReader) -> Result<(), ChunkError> {
    let rest = r.remaining();
    if rest >= 8 {
        return Err(ChunkError::Corrupt("data after the last sample"));
    }
    if r.read_bits(rest as u32) != 0 {
        return Err(ChunkError::Corrupt("nonzero padding after the last sample"));
    }
    Ok(())
}

/// The samples [`Chunk::decode_into`] keeps.
#[derive(Clone, Copy)]
struct Range {
    mint: i64,
    maxt: i64,
}

impl Range {
    /// Pushes `sample` if it is in range; returns false if it is past `maxt`, where decoding stops.
    #[inline]
    fn keep(self, sample: (i64, u64), out: &mut Vec<(i64, u64)>) -> bool {
        if sample.0 > self.maxt {
            return false;
        }
        if sample.0 >= self.mint {
            out.push(sample);
        }
        true
    }

    /// Decodes the `count` samples of a chunk, the first of which `first` returned, and pushes those in range.
    /// Returns whether every sample was decoded. The caller checks the reader for an overrun.
    fn decode<D: SampleDecoder>(
        self,
        first: Result<(D, i64, u64), ChunkError>,
        count: usize,
        r: &mut BitReader,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<bool, ChunkError> {
        let (mut dec, t, v) = first?;
        if !self.keep((t, v), out) || count == 1 {
            return Ok(count == 1);
        }
        if !self.keep(dec.second(r)?, out) || count == 2 {
            return Ok(count == 2);
        }
        dec.decode_rest(r, self, count - 2, out)
    }

    /// [`Range::run`] for `n` samples that take no bits, at `prev_t + delta`, `prev_t + 2 * delta`, … with value
    /// `bits`, after a sample at `prev_t` that was kept (so not past `maxt`). `None`, pushing nothing, when the
    /// last timestamp would not fit an i64 or `delta` is 0.
    fn fill_regular(self, prev_t: i64, delta: u64, bits: u64, n: usize, out: &mut Vec<(i64, u64)>) -> Option<bool> {
        let (prev, step, n) = (i128::from(prev_t), i128::from(delta), n as i128);
        if step == 0 || prev + n * step > i128::from(i64::MAX) {
            return None;
        }
        // Samples `lo..=hi` of `1..=n` are in range.
        let lo = ((i128::from(self.mint) - prev).max(0) + step - 1) / step;
        let hi = ((i128::from(self.maxt) - prev) / step).min(n);
        // Exact in wrapping arithmetic, as every timestamp fits an i64.
        let time = |i: usize| prev_t.wrapping_add((i as u64).wrapping_mul(delta) as i64);
        out.extend((lo.max(1) as usize..=hi as usize).map(|i| (time(i), bits)));
        // Like `run`: whether decoding reached the last sample, which it does unless it stopped at an earlier one.
        Some(hi >= n - 1)
    }

    /// Decodes `n` samples with `dec`, pushing those in range, up to the first one past `maxt`. Returns whether
    /// it decoded all `n`.
    #[inline]
    fn run<D: NextSample>(
        self,
        dec: &mut D,
        r: &mut BitReader,
        n: usize,
        out: &mut Vec<(i64, u64)>,
    ) -> Result<bool, ChunkError> {
        // A copy the compiler can keep in registers: through `r`, the position goes to memory at every read.
        let mut reader = r.clone();
        let result = (|| {
            for i in 1..=n {
                if !self.keep(dec.next(&mut reader)?, out) {
                    return Ok(i == n);
                }
            }
            Ok(true)
        })();
        *r = reader;
        result
    }
}

/// Decoder state after the first sample; like [`EncoderState`], kept inline.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum DecoderState {
    Empty,
    Gorilla(gorilla::Decoder),
    Compact(compact::Decoder),
    /// A grouped chunk's decoder and its current group of `len` values.
    Grouped {
        dec: grouped::Decoder,
        values: [u64; grouped::GROUP],
        len: usize,
    },
    Done,
}

/// Iterator over a chunk's samples; see [`Chunk::iter`].
#[derive(Clone, Debug)]
pub struct ChunkIter<'a> {
    reader: BitReader<'a>,
    count: usize,
    index: usize,
    layout: Layout,
    state: DecoderState,
}

impl ChunkIter<'_> {
    fn decode_next(&mut self) -> Result<(i64, f64), ChunkError> {
        let r = &mut self.reader;
        let sample = match &mut self.state {
            DecoderState::Empty => {
                let first = match self.layout {
                    Layout::Gorilla => gorilla::Decoder::first(r).map(|(dec, t, v)| (DecoderState::Gorilla(dec), t, v)),
                    Layout::Compact(params) => {
                        compact::Decoder::first(r, params).map(|(dec, t, v)| (DecoderState::Compact(dec), t, v))
                    }
                    Layout::Grouped(header) => grouped::Decoder::first(r, header, self.count).map(|(dec, v)| {
                        let t = dec.t0;
                        (DecoderState::Grouped { dec, values: [0; grouped::GROUP], len: 0 }, t, v)
                    }),
                };
                first.map(|(state, t, v)| {
                    self.state = state;
                    (t, v)
                })
            }
            DecoderState::Gorilla(dec) if self.index == 1 => dec.second(r),
            DecoderState::Gorilla(dec) => dec.next(r),
            DecoderState::Compact(dec) if self.index == 1 => dec.second(r),
            DecoderState::Compact(dec) => dec.next(r),
            DecoderState::Grouped { dec, values, len } => {
                // Sample `index` is the group's number `(index - 1) % GROUP`; a new group starts at 0.
                let at = (self.index - 1) % grouped::GROUP;
                let group = if at == 0 { dec.next_group(r, values).map(|n| *len = n) } else { Ok(()) };
                group.and_then(|()| match values[..*len].get(at) {
                    Some(&v) => Ok((dec.time(self.index), v)),
                    None => Err(ChunkError::Corrupt("read past the end")),
                })
            }
            DecoderState::Done => return Err(ChunkError::Corrupt("read past the end")),
        };
        let (t, v) = sample.map_err(|err| truncation_or(r, err))?;
        if r.overran() {
            return Err(ChunkError::Truncated);
        }
        self.index += 1;
        if self.index == self.count {
            check_padding(r)?;
        }
        Ok((t, f64::from_bits(v)))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Result<(i64, f64), ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count || matches!(self.state, DecoderState::Done) {
            return None;
        }
        let result = self.decode_next();
        if result.is_err() {
            self.state = DecoderState::Done;
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.count - self.index))
    }
}
