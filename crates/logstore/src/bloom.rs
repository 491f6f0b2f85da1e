//! Token bloom filters: which tokens (see `vigil_model::log::for_each_token`) a block's lines and field values
//! hold, so a needle query skips blocks without reading them.
//!
//! Bits: `words` little-endian u64 words; a token with hash `h` sets `K` bits at `(h1 + i*h2) mod bits` with
//! `h1 = h as u32`, `h2 = (h >> 32) | 1` (double hashing). About 16 bits per distinct token and 11 probes give a
//! false-positive rate near 0.05 %: a needle read over a thousand blocks decodes about one block in vain.

use crate::hash;

/// Probes per token.
pub(crate) const K: u32 = 11;
const BITS_PER_TOKEN: usize = 16;
/// A block's filter never exceeds this many words (256 KiB): beyond it, the false-positive rate rises instead.
pub(crate) const MAX_WORDS: usize = 32 * 1024;

/// The bit positions of a token hash in a filter of `bits` bits.
#[inline]
fn probes(h: u64, bits: u64) -> impl Iterator<Item = u64> {
    let h1 = h & 0xffff_ffff;
    let h2 = (h >> 32) | 1;
    (0..u64::from(K)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

/// Builds a filter from token hashes (duplicates welcome).
pub(crate) fn build(hashes: &[u64]) -> Vec<u64> {
    let mut distinct = hashes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let words = (distinct.len() * BITS_PER_TOKEN).div_ceil(64).clamp(1, MAX_WORDS);
    let mut filter = vec![0u64; words];
    let bits = (words * 64) as u64;
    for h in distinct {
        for bit in probes(h, bits) {
            filter[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    filter
}

/// Whether a filter stored as little-endian words in `bytes` may hold `token`. An empty filter holds nothing.
pub(crate) fn may_contain(bytes: &[u8], token: &str) -> bool {
    let words = bytes.len() / 8;
    if words == 0 {
        return false;
    }
    let bits = (words * 64) as u64;
    probes(hash::token(token.as_bytes()), bits).all(|bit| {
        let w = (bit / 64) as usize * 8;
        let mut arr = [0u8; 8];
        arr.copy_from_slice(&bytes[w..w + 8]);
        u64::from_le_bytes(arr) & (1 << (bit % 64)) != 0
    })
}

/// The filter's bytes as stored.
pub(crate) fn to_bytes(filter: &[u64], out: &mut Vec<u8>) {
    for w in filter {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_was_built_from_and_rarely_more() {
        let tokens: Vec<String> = (0..5000).map(|i| format!("tok{i}")).collect();
        let hashes: Vec<u64> = tokens.iter().map(|t| hash::token(t.as_bytes())).collect();
        let mut bytes = Vec::new();
        to_bytes(&build(&hashes), &mut bytes);
        assert!(tokens.iter().all(|t| may_contain(&bytes, t)));
        let false_positives = (0..10_000).filter(|i| may_contain(&bytes, &format!("other{i}"))).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10000");
        assert!(!may_contain(&[], "x"));
    }
}
