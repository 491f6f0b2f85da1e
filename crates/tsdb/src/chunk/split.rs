//! The split arrangement of a grouped chunk's fields (encoding 4): a group holds the unary parts of all its
//! fields, then the low bits of those that are not escapes, then the escapes' payloads; the same bits as in
//! encoding 3, in another order. Without escapes the low bits have a fixed width, so every field's sit at an
//! offset known once the unary parts end, and the unary parts are read a byte at a time through a table: no
//! step waits for the field before it.

use super::bits::{BitReader, BitWriter, WINDOW_BITS};
use super::compact::{self, Coded, RICE_LIMIT};
use super::grouped::GROUP;
use super::ChunkError;

/// Writes a group's fields with Rice parameter `k`: every unary part (an escape's without a terminating zero),
/// then the low `k` bits of every field that is not an escape, then every escape's payload.
pub(super) fn write_group(w: &mut BitWriter, fields: &[Coded], k: u32) {
    let quotients: Vec<Option<u32>> = fields.iter().map(|&field| quotient(field, k)).collect();
    for q in &quotients {
        compact::write_unary(w, q.unwrap_or(RICE_LIMIT));
    }
    for (&field, q) in fields.iter().zip(&quotients) {
        if let (Coded::Number(u), Some(_)) = (field, q) {
            w.write_bits(u, k);
        }
    }
    for (&field, q) in fields.iter().zip(&quotients) {
        if q.is_none() {
            compact::write_escape_payload(w, field);
        }
    }
}

/// A field's unary part with parameter `k`, `None` for an escape.
fn quotient(field: Coded, k: u32) -> Option<u32> {
    match field {
        Coded::Number(u) => compact::quotient(u, k),
        Coded::Raw(_) => None,
    }
}

/// A group's unary section, read: the quotients of the fields that are not escapes, which fields are escapes,
/// and the bits the section takes.
pub(super) struct UnaryParts {
    quotients: Quotients,
    /// Bit `i` set when field `i` is an escape.
    pub(super) escapes: u32,
    bits: u32,
}

/// Room for the quotients [`UnaryParts::read`] writes: a byte of the unary section may end 8 fields.
type Quotients = [u8; GROUP + 8];

/// The ones of an escape, as a `usize`.
const LIMIT: usize = RICE_LIMIT as usize;

impl UnaryParts {
    /// Reads the unary section of a group of `len` (1 to [`GROUP`]) fields, a byte at a time. Reads past the end
    /// of the data as the reader does: the caller checks for that.
    #[inline(always)]
    pub(super) fn read(r: &BitReader, len: usize) -> UnaryParts {
        let mut reader =
            PartReader { quotients: [0; GROUP + 8], escapes: 0, len: len.clamp(1, GROUP), found: 0, carry: 0 };
        // A field takes at most 12 bits of the section, so `GROUP` of them end within 7 windows of 7 bytes.
        for window_index in 0..7 {
            let mut window = r.peek(window_index * 56);
            for byte_index in 0..7 {
                let start = (window_index * 7 + byte_index) * 8;
                if let Some(bits) = reader.take_byte((window >> 56) as usize, start) {
                    return reader.parts(bits);
                }
                window <<= 8;
            }
        }
        // Not reached: every 12 bits end a field.
        let bits = reader.len * LIMIT;
        reader.escapes = !0;
        reader.parts(bits)
    }

    /// The numbers of a group without escapes, with Rice parameter `k` (at most [`WINDOW_BITS`]), and the bits
    /// the group's fields take: the fast path.
    #[inline(always)]
    pub(super) fn numbers<'a>(self, r: &BitReader<'a>, k: u32, len: usize) -> (Numbers<'a>, u32) {
        let numbers = Numbers { r: r.clone(), quotients: self.quotients, next: 0, at: self.bits as usize, k };
        (numbers, self.bits + len as u32 * k)
    }

    /// Reads the fields of a group with escapes, or with `k` wider than a window, into their numbers and raw
    /// floats' bits, and moves the reader past them; returns the mask of the raw floats.
    #[cold]
    pub(super) fn read_with_escapes(&self, r: &mut BitReader, k: u32, fields: &mut [u64]) -> Result<u32, ChunkError> {
        r.skip(self.bits);
        let is_escape = |i: usize| self.escapes & (1 << i) != 0;
        for (i, field) in fields.iter_mut().enumerate().filter(|&(i, _)| !is_escape(i)) {
            *field = (u64::from(self.quotients[i % GROUP]) << k) | r.read_bits(k);
        }
        let mut raw = 0u32;
        for (i, field) in fields.iter_mut().enumerate().filter(|&(i, _)| is_escape(i)) {
            *field = match compact::read_escape_payload(r)? {
                Coded::Number(u) => u,
                Coded::Raw(bits) => {
                    raw |= 1 << i;
                    bits
                }
            };
        }
        Ok(raw)
    }
}

/// Reads a unary section byte by byte: a run of ones up to a zero bit is `run / 12` escapes then a unary part of
/// `run % 12` ones, unless the escapes are as many as the group's fields left.
struct PartReader {
    quotients: Quotients,
    escapes: u32,
    /// The group's fields.
    len: usize,
    /// The fields read.
    found: usize,
    /// The ones at the end of the bytes read so far, which the next byte's first part continues.
    carry: usize,
}

impl PartReader {
    /// Takes the byte of value `byte` that starts `start` bits into the section; returns the section's bits once
    /// the group's last field is read.
    #[inline(always)]
    fn take_byte(&mut self, byte: usize, start: usize) -> Option<usize> {
        let parts = BYTE_PARTS[byte];
        // The first part's ones: 12 or more only after escapes, or in a byte of ones (see `BYTE_PARTS`).
        let first = self.carry + (parts.runs & 0xff) as usize;
        let mut runs = parts.runs;
        if first < LIMIT {
            runs += self.carry as u64;
        } else if parts.zeros == 0 {
            return self.take_ones(start);
        } else {
            let escapes = first / LIMIT;
            if let Some(bits) = self.end_with_escapes(escapes, start - self.carry) {
                return Some(bits);
            }
            self.escapes |= ((1 << escapes) - 1) << self.found;
            self.found += escapes;
            runs = (runs & !0xff) | (first % LIMIT) as u64;
        }
        // Written whole: the parts past the byte's zeros are overwritten by the next byte's.
        self.quotients[self.found % GROUP..self.found % GROUP + 8].copy_from_slice(&runs.to_le_bytes());
        let taken = self.found;
        self.found += usize::from(parts.zeros);
        self.carry = usize::from(parts.carry);
        if self.found < self.len {
            return None;
        }
        Some(start + usize::from(parts.ends.to_le_bytes()[(self.len - taken - 1) % 8]))
    }

    /// Takes a byte of ones that starts `start` bits into the section; returns the section's bits if the run of
    /// ones it continues holds the group's remaining fields, as escapes.
    #[cold]
    fn take_ones(&mut self, start: usize) -> Option<usize> {
        self.carry += 8;
        self.end_with_escapes(self.carry / LIMIT, start + 8 - self.carry)
    }

    /// When `escapes` escapes in a run of ones that starts `run_start` bits into the section are as many as the
    /// group's remaining fields or more, takes those fields as escapes and returns the section's bits.
    fn end_with_escapes(&mut self, escapes: usize, run_start: usize) -> Option<usize> {
        let rest = self.len - self.found;
        if escapes < rest {
            return None;
        }
        self.escapes |= !0 << self.found;
        self.found = self.len;
        Some(run_start + rest * LIMIT)
    }

    fn parts(self, bits: usize) -> UnaryParts {
        let group = if self.len == GROUP { u32::MAX } else { (1 << self.len) - 1 };
        UnaryParts { quotients: self.quotients, escapes: self.escapes & group, bits: bits as u32 }
    }
}

/// A group's numbers, from its unary parts and its low bits, read in batches as the numbers are taken.
pub(super) struct Numbers<'a> {
    r: BitReader<'a>,
    quotients: Quotients,
    /// The number to take next.
    next: usize,
    /// The offset of the next batch's low bits.
    at: usize,
    k: u32,
}

impl Numbers<'_> {
    /// How many fields' low bits a window holds, at least 1.
    pub(super) fn per_window(&self) -> u32 {
        WINDOW_BITS / self.k.max(1)
    }

    /// The next `N` numbers (`N` at most [`Numbers::per_window`]); after the group's last, meaningless numbers.
    /// Their low bits come from one window, rotated by `k` per field to bring the next field's to the bottom.
    #[inline(always)]
    pub(super) fn batch<const N: usize>(&mut self) -> [u64; N] {
        let k = self.k;
        let mut lows = self.r.peek(self.at);
        self.at += N * k as usize;
        let first = self.next;
        self.next += N;
        std::array::from_fn(|i| {
            lows = lows.rotate_left(k);
            let q = self.quotients[(first + i) % GROUP];
            (u64::from(q) << k) | (lows & ((1 << k) - 1))
        })
    }
}

/// What the bits of one byte of a unary section hold, for a byte value.
#[derive(Clone, Copy)]
struct ByteParts {
    /// The ones before the byte's first zero bit, and after each other zero bit up to the next: the unary parts
    /// that end in the byte, but for the ones that earlier bytes carry into the first. Byte `i` is the `i`-th part.
    /// For a byte of ones, 12.
    runs: u64,
    /// Byte `i`: how many of the byte's bits the first `i + 1` unary parts that end in it take.
    ends: u64,
    /// Zero bits, which end unary parts.
    zeros: u8,
    /// The ones after the last zero bit, which the next byte's first part continues; 8 without a zero bit.
    carry: u8,
}

/// [`ByteParts`] for every byte value.
static BYTE_PARTS: [ByteParts; 256] = byte_parts();

const fn byte_parts() -> [ByteParts; 256] {
    let mut table = [ByteParts { runs: 0, zeros: 0, ends: 0, carry: 0 }; 256];
    let mut value = 0;
    while value < 256 {
        let mut parts = ByteParts { runs: 0, zeros: 0, ends: 0, carry: 0 };
        let mut ones = 0u64;
        let mut bit = 8u64;
        while bit > 0 {
            bit -= 1;
            if value & (1 << bit) != 0 {
                ones += 1;
            } else {
                parts.runs |= ones << (8 * parts.zeros);
                parts.ends |= (8 - bit) << (8 * parts.zeros);
                parts.zeros += 1;
                ones = 0;
            }
        }
        parts.carry = ones as u8;
        if parts.zeros == 0 {
            // A first part as long as an escape's, so that the reader checks for a byte of ones only then.
            parts.runs = RICE_LIMIT as u64;
        }
        table[value] = parts;
        value += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields of every shape: small and large numbers for `k`, escapes of numbers and of raw floats.
    fn fields(seed: u64, len: usize, k: u32, escapes: bool) -> Vec<Coded> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = x >> 33;
                match r % 16 {
                    0 if escapes => Coded::Raw(x),
                    1 if escapes => Coded::Number((u64::from(RICE_LIMIT) << k) + (r >> 4)),
                    2 => Coded::Number(u64::from(RICE_LIMIT - 1) << k | ((1 << k) - 1)),
                    _ => Coded::Number(((r % 5) << k) | ((r >> 8) & ((1 << k) - 1))),
                }
            })
            .collect()
    }

    fn round_trip(fields: &[Coded], k: u32, prefix_bits: u32) {
        let mut w = BitWriter::new();
        w.write_bits(0x5a5a, prefix_bits);
        write_group(&mut w, fields, k);
        w.write_bits(0b101, 3);
        let mut r = BitReader::new(w.bytes(), 0);
        r.skip(prefix_bits);
        let parts = UnaryParts::read(&r, fields.len());
        let escapes: u32 = fields.iter().enumerate().map(|(i, &f)| u32::from(quotient(f, k).is_none()) << i).sum();
        assert_eq!(parts.escapes, escapes, "{fields:?}, k {k}");
        if escapes == 0 && k <= WINDOW_BITS {
            let (mut numbers, bits) = UnaryParts::read(&r, fields.len()).numbers(&r, k, fields.len());
            let mut taken = Vec::new();
            while taken.len() < fields.len() {
                match numbers.per_window() {
                    4.. => taken.extend(numbers.batch::<4>()),
                    2..=3 => taken.extend(numbers.batch::<2>()),
                    _ => taken.extend(numbers.batch::<1>()),
                }
            }
            let want: Vec<u64> = fields.iter().map(|&f| if let Coded::Number(u) = f { u } else { 0 }).collect();
            assert_eq!(taken[..fields.len()], want, "{fields:?}, k {k}");
            assert_eq!(bits as usize + prefix_bits as usize, w.bytes().len() * 8 - 3 - padding(&w), "k {k}");
        }
        let mut out = vec![0; fields.len()];
        let raw = parts.read_with_escapes(&mut r, k, &mut out).unwrap();
        for (i, field) in fields.iter().enumerate() {
            match *field {
                Coded::Number(u) => assert_eq!((out[i], raw & 1 << i), (u, 0), "field {i} of {fields:?}, k {k}"),
                Coded::Raw(bits) => assert_eq!((out[i], raw & 1 << i), (bits, 1 << i), "field {i}, k {k}"),
            }
        }
        assert_eq!(r.read_bits(3), 0b101, "{fields:?}, k {k}");
    }

    /// The zero bits that pad the writer's last byte.
    fn padding(w: &BitWriter) -> usize {
        let mut probe = w.clone();
        let before = probe.bytes().len();
        let mut bits = 0;
        while probe.bytes().len() == before {
            probe.write_bit(false);
            bits += 1;
        }
        bits - 1
    }

    #[test]
    fn groups_read_back_as_written() {
        for k in [0, 1, 2, 3, 7, 14, 15, 28, 29, 56, 57, 58, 63] {
            for len in [1, 2, 3, 5, 31, 32] {
                for (seed, escapes) in [(1, false), (2, false), (3, true), (4, true), (5, true), (6, true)] {
                    for prefix_bits in [0, 3, 8] {
                        round_trip(
                            &fields(seed * 1000 + u64::from(k) * 40 + len as u64, len, k, escapes),
                            k,
                            prefix_bits,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn runs_of_escapes_and_long_parts_read_back() {
        let raw = Coded::Raw(0x7ff0_0000_0000_0002);
        for k in [0, 1, 5] {
            let long = Coded::Number((u64::from(RICE_LIMIT) - 1) << k);
            let wide = Coded::Number(u64::MAX);
            let short = Coded::Number(1);
            for fields in [
                vec![raw; 32],
                vec![raw; 5],
                vec![long; 32],
                [vec![short; 20], vec![raw; 12]].concat(),
                [vec![raw, long, wide, long], vec![short; 3], vec![wide; 3], vec![long]].concat(),
                (0..32).map(|i| [raw, long, short][i % 3]).collect(),
            ] {
                for prefix_bits in [0, 5] {
                    round_trip(&fields, k, prefix_bits);
                }
            }
        }
    }

    #[test]
    fn byte_parts_describe_their_byte() {
        assert_eq!(BYTE_PARTS[0b1011_0011].runs.to_le_bytes()[..3], [1, 2, 0]);
        assert_eq!((BYTE_PARTS[0b1011_0011].zeros, BYTE_PARTS[0b1011_0011].carry), (3, 2));
        assert_eq!((BYTE_PARTS[0].runs, BYTE_PARTS[0].zeros, BYTE_PARTS[0].carry), (0, 8, 0));
        assert_eq!((BYTE_PARTS[0xff].runs, BYTE_PARTS[0xff].zeros, BYTE_PARTS[0xff].carry), (12, 0, 8));
        for (value, parts) in BYTE_PARTS.iter().enumerate().take(255) {
            let (runs, ends) = (parts.runs.to_le_bytes(), parts.ends.to_le_bytes());
            let mut bits = 0;
            for i in 0..usize::from(parts.zeros) {
                bits += runs[i] + 1;
                assert_eq!(ends[i], bits, "{value:08b}");
            }
            assert_eq!(bits + parts.carry, 8, "{value:08b}");
        }
    }
}
