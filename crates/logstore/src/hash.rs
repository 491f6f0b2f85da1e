//! A fixed-key 64-bit hash (wyhash-like folding multiplies) for stream ids and bloom filter keys.
//!
//! Unlike the tsdb's per-process seeded fingerprint, these hashes are persisted (stream ids in parts and
//! blooms), so the keys are constants and must never change without a format version bump.

const K: [u64; 4] = [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db, 0x8ebc_6af0_9c88_c6e3, 0x5899_65cc_7537_4cc3];

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a).wrapping_mul(u128::from(b));
    (r as u64) ^ ((r >> 64) as u64)
}

/// Up to 8 bytes as a little-endian word, zero-padded.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

/// Mixes `bytes` (and its length, so that concatenations differ) into `state`.
#[inline]
fn mix(mut state: u64, bytes: &[u8]) -> u64 {
    state = fold(state ^ K[0], (bytes.len() as u64) ^ K[1]);
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        state = fold(state ^ word(&chunk[..8]) ^ K[2], word(&chunk[8..]) ^ K[3]);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let (x, y) = tail.split_at(tail.len().min(8));
        state = fold(state ^ word(x) ^ K[2], word(y) ^ K[3]);
    }
    state
}

#[inline]
fn finish(state: u64) -> u64 {
    fold(state ^ K[1], K[0] ^ 0x9e37_79b9_7f4a_7c15)
}

/// The hash of one token, as bloom filters store it.
#[inline]
pub(crate) fn token(bytes: &[u8]) -> u64 {
    finish(mix(0x1b87_3593_cc9e_2d51, bytes))
}

/// The hash of a gram: up to 8 bytes as a little-endian word.
#[inline]
pub(crate) fn gram(word: u64) -> u64 {
    fold(word ^ K[2], K[3] ^ 0x9e37_79b9_7f4a_7c15)
}

/// The hash of a label set given as pairs in order: a stream's preferred id.
pub(crate) fn labels<'p>(pairs: impl Iterator<Item = (&'p str, &'p str)>) -> u64 {
    let mut state = 0x2545_f491_4f6c_dd1d;
    for (name, value) in pairs {
        state = mix(state, name.as_bytes());
        state = mix(state, value.as_bytes());
    }
    finish(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_fixed_and_tell_apart_concatenations() {
        // Persisted values: a change here is a format change.
        assert_eq!(token(b"error"), token(b"error"));
        assert_ne!(token(b"error"), token(b"errors"));
        assert_ne!(labels([("ab", "c")].into_iter()), labels([("a", "bc")].into_iter()));
        assert_ne!(token(b""), token(b"\0"));
        assert_ne!(gram(u64::from_le_bytes(*b"abcde\0\0\0")), gram(u64::from_le_bytes(*b"abcdf\0\0\0")));
    }
}
