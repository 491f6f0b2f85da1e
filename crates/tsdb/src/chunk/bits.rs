//! Bit-level writer and reader for chunk streams: most significant bit first, plus byte-wise varints.

use super::ChunkError;

/// Bytes a new writer reserves: a chunk header and its first sample.
const INITIAL_CAPACITY: usize = 32;

/// The least a full buffer grows by.
const MIN_GROWTH: usize = 16;

/// Appends bits to a byte buffer, most significant bit first. The last byte is zero-padded.
///
/// The buffer grows by a quarter when full rather than doubling: a head keeps one open chunk per series, and
/// doubling would leave a quarter of those buffers unused on average.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte, 0 when the last byte is full (or there is none).
    used_in_last: u8,
}

impl BitWriter {
    pub(crate) fn new() -> BitWriter {
        BitWriter { bytes: Vec::with_capacity(INITIAL_CAPACITY), used_in_last: 0 }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Appends a whole byte; only valid while the stream is byte-aligned (for headers).
    pub(crate) fn write_byte(&mut self, b: u8) {
        debug_assert_eq!(self.used_in_last, 0);
        self.push(b);
    }

    fn push(&mut self, b: u8) {
        if self.bytes.len() == self.bytes.capacity() {
            self.bytes.reserve_exact((self.bytes.len() / 4).max(MIN_GROWTH));
        }
        self.bytes.push(b);
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Appends the low `n` bits of `value` (`n` ≤ 64), most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut remaining = n;
        while remaining > 0 {
            if self.used_in_last == 0 {
                self.push(0);
            }
            let used = u32::from(self.used_in_last);
            let free = 8 - used;
            let take = free.min(remaining);
            let chunk = (value >> (remaining - take)) & ((1u64 << take) - 1);
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (chunk as u8) << (free - take);
            remaining -= take;
            self.used_in_last = ((used + take) % 8) as u8;
        }
    }

    /// Appends `value` as an unsigned LEB128 varint, 8 bits per byte, at any bit position.
    pub(crate) fn write_uvarint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.write_bits((value & 0x7f) | 0x80, 8);
            value >>= 7;
        }
        self.write_bits(value, 8);
    }

    /// Appends `value` zigzag-encoded as an unsigned varint.
    pub(crate) fn write_varint(&mut self, value: i64) {
        self.write_uvarint(zigzag(value));
    }
}

/// Reads bits written by [`BitWriter`]. Reads past the end of the bytes give zero bits instead of failing, so
/// that decoders need no check per read: they check [`BitReader::overran`] once per sample or once per chunk,
/// and a sample that needed bits past the end is an error then.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position of the next bit to read; past `end` after an overrun.
    pos: usize,
    /// The bit length of `bytes`.
    end: usize,
}

/// Bits that [`BitReader::window`] always holds.
pub(crate) const WINDOW_BITS: u32 = 57;

impl<'a> BitReader<'a> {
    /// A reader over `bytes`, starting at byte `start`.
    pub(crate) fn new(bytes: &'a [u8], start: usize) -> BitReader<'a> {
        BitReader { bytes, pos: start.saturating_mul(8), end: bytes.len().saturating_mul(8) }
    }

    /// Whether reads went past the end of the bytes, that is, the data was truncated.
    #[inline]
    pub(crate) fn overran(&self) -> bool {
        self.pos > self.end
    }

    /// Bits left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// The bits from the next one on, most significant first: at least [`WINDOW_BITS`] of them, then zeros or
    /// later bits.
    #[inline]
    pub(crate) fn window(&self) -> u64 {
        self.peek(0)
    }

    /// [`BitReader::window`] from `offset` bits after the next one, without moving.
    #[inline]
    pub(crate) fn peek(&self, offset: usize) -> u64 {
        let pos = self.pos + offset;
        let i = pos / 8;
        let word = match self.bytes.get(i..i + 8) {
            Some(eight) => u64::from_be_bytes(eight.try_into().unwrap_or_default()),
            None => tail_word(self.bytes, i),
        };
        word << (pos % 8)
    }

    /// Moves past `n` bits, for bits taken from [`BitReader::window`].
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> bool {
        self.read_bits(1) == 1
    }

    /// Reads `n` bits (`n` ≤ 64) as the low bits of the result.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!(n <= 64);
        if n <= WINDOW_BITS {
            self.read_short(n)
        } else {
            let high = self.read_short(n - 32);
            (high << 32) | self.read_short(32)
        }
    }

    /// Reads `n` ≤ [`WINDOW_BITS`] bits.
    #[inline]
    fn read_short(&mut self, n: u32) -> u64 {
        let bits = take(self.window(), n);
        self.skip(n);
        bits
    }

    /// Counts one bits up to a terminating zero, reading at most `limit` (≤ [`WINDOW_BITS`]) ones; returns the
    /// count. A count equal to `limit` means no terminating zero was read.
    #[inline]
    pub(crate) fn read_unary(&mut self, limit: u32) -> u32 {
        debug_assert!(limit <= WINDOW_BITS);
        let ones = self.window().leading_ones().min(limit);
        self.skip(ones + u32::from(ones < limit));
        ones
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.read_bits(8);
            let payload = byte & 0x7f;
            if i == 9 && payload > 1 {
                return Err(ChunkError::Corrupt("varint overflows 64 bits"));
            }
            value |= payload << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ChunkError::Corrupt("varint longer than 10 bytes"))
    }

    /// Reads a zigzag-encoded signed varint.
    pub(crate) fn read_varint(&mut self) -> Result<i64, ChunkError> {
        Ok(unzigzag(self.read_uvarint()?))
    }
}

/// The top `n` bits (`n` < 64) of `word`, as the low bits of the result.
#[inline]
pub(crate) fn take(word: u64, n: u32) -> u64 {
    // Two shifts, so that `n` = 0 gives 0.
    (word >> (63 - n)) >> 1
}

/// The eight bytes from byte `i` on, as a big-endian word; bytes past the end are zero.
#[cold]
fn tail_word(bytes: &[u8], i: usize) -> u64 {
    let tail = bytes.get(i..).unwrap_or_default();
    (0..8).fold(0, |word, k| word << 8 | u64::from(tail.get(k).copied().unwrap_or(0)))
}

/// Maps signed to unsigned so that small magnitudes give small numbers: 0, -1, 1, -2, … → 0, 1, 2, 3, ….
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}
