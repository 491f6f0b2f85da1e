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

/// Reads bits written by [`BitWriter`]; every read is bounds-checked.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position of the next bit to read.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader over `bytes`, starting at byte `start`.
    pub(crate) fn new(bytes: &'a [u8], start: usize) -> BitReader<'a> {
        BitReader { bytes, pos: start.saturating_mul(8) }
    }

    /// Bits left to read.
    pub(crate) fn remaining(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.pos)
    }

    pub(crate) fn read_bit(&mut self) -> Result<bool, ChunkError> {
        Ok(self.read_bits(1)? == 1)
    }

    /// The next `n` bits (`n` ≤ 64) without consuming them; the caller has checked that they exist.
    fn peek(&self, n: u32) -> u64 {
        // A 72-bit window starting at the byte holding the next bit covers any 64 bits after it.
        let start = self.pos / 8;
        let word = match self.bytes.get(start..start + 16) {
            Some(sixteen) => u128::from_be_bytes(sixteen.try_into().unwrap_or([0; 16])),
            None => {
                let mut padded = [0u8; 16];
                let tail = &self.bytes[start.min(self.bytes.len())..];
                let len = tail.len().min(16);
                padded[..len].copy_from_slice(&tail[..len]);
                u128::from_be_bytes(padded)
            }
        };
        // Keep the top 72 bits, then drop the bits before the position and after the `n` wanted.
        let window = word >> 56;
        let shift = 72 - (self.pos % 8) as u32 - n;
        (window >> shift) as u64 & mask(n)
    }

    /// Reads `n` bits (`n` ≤ 64) as the low bits of the result.
    pub(crate) fn read_bits(&mut self, n: u32) -> Result<u64, ChunkError> {
        debug_assert!(n <= 64);
        if self.remaining() < n as usize {
            return Err(ChunkError::Truncated);
        }
        let bits = self.peek(n);
        self.pos += n as usize;
        Ok(bits)
    }

    /// Counts one bits up to a terminating zero, reading at most `limit` (≤ 64) ones; returns the count.
    /// A count equal to `limit` means no terminating zero was read.
    pub(crate) fn read_unary(&mut self, limit: u32) -> Result<u32, ChunkError> {
        let n = limit.min(self.remaining().min(64) as u32);
        let ones = if n == 0 { 0 } else { (self.peek(n) << (64 - n)).leading_ones().min(n) };
        if ones == limit {
            self.pos += limit as usize;
            return Ok(limit);
        }
        if ones == n {
            // The data ended before the terminating zero.
            return Err(ChunkError::Truncated);
        }
        self.pos += ones as usize + 1;
        Ok(ones)
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.read_bits(8)?;
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

/// The low `n` bits set (`n` ≤ 64).
fn mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Maps signed to unsigned so that small magnitudes give small numbers: 0, -1, 1, -2, … → 0, 1, 2, 3, ….
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}
