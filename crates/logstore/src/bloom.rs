//! Bloom filters over a block's text, so a needle query skips blocks without reading them. Two kinds:
//!
//! - **token** filters hold the tokens (see `vigil_model::log::for_each_token`) of a block's lines and field
//!   values: a needle's interior tokens, which every matching line holds whole, are looked up in them;
//! - **gram** filters hold runs of [`GRAM`] bytes inside the tokens of a block's lines, sampled as minimizers
//!   (see [`gram_hashes`]): a needle token lies inside one token of any line containing it, so the filter
//!   answers for the needle's partial first and last tokens and for single-token needles too.
//!
//! Bits: `words` little-endian u64 words; a key with hash `h` sets `k` bits at `(h1 + i*h2) mod bits` with
//! `h1 = h as u32`, `h2 = (h >> 32) | 1` (double hashing). Tokens get 16 bits and 11 probes each (a
//! false-positive rate near 0.05 %); grams, far more numerous and looked up several at a time (a 23-byte
//! needle token has about 8 minimizers), get 5 bits and 3 probes (about 9 % each).

use vigil_model::log::{for_each_token, needle_tokens};

use crate::hash;

/// Bytes per gram.
pub(crate) const GRAM: usize = 5;
/// Consecutive grams a minimizer is chosen from.
pub(crate) const WINDOW: usize = 4;
/// The shortest token with a whole window of grams.
pub(crate) const MIN_GRAM_TOKEN: usize = GRAM + WINDOW - 1;

/// How a kind of filter is sized and probed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub k: u32,
    pub bits_per_key: usize,
    /// A block's filter never exceeds this many words: beyond it, the false-positive rate rises instead.
    pub max_words: usize,
}

pub(crate) const TOKENS: Params = Params { k: 11, bits_per_key: 16, max_words: 32 * 1024 };
pub(crate) const GRAMS: Params = Params { k: 3, bits_per_key: 5, max_words: 64 * 1024 };

/// The bit positions of a key hash in a filter of `bits` bits.
#[inline]
fn probes(h: u64, k: u32, bits: u64) -> impl Iterator<Item = u64> {
    let h1 = h & 0xffff_ffff;
    let h2 = (h >> 32) | 1;
    (0..u64::from(k)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

/// Builds a filter from key hashes, sorting and deduplicating them in place. No key gives an empty filter.
pub(crate) fn build(hashes: &mut Vec<u64>, p: Params) -> Vec<u64> {
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.is_empty() {
        return Vec::new();
    }
    let words = (hashes.len() * p.bits_per_key).div_ceil(64).clamp(1, p.max_words);
    let mut filter = vec![0u64; words];
    let bits = (words * 64) as u64;
    for &h in hashes.iter() {
        for bit in probes(h, p.k, bits) {
            filter[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    filter
}

/// Whether a filter stored as little-endian words in `bytes` may hold the key hash `h`. An empty filter holds
/// nothing.
pub(crate) fn may_contain(bytes: &[u8], h: u64, p: Params) -> bool {
    let words = bytes.len() / 8;
    if words == 0 {
        return false;
    }
    let bits = (words * 64) as u64;
    probes(h, p.k, bits).all(|bit| {
        let w = (bit / 64) as usize * 8;
        let mut arr = [0u8; 8];
        arr.copy_from_slice(&bytes[w..w + 8]);
        u64::from_le_bytes(arr) & (1 << (bit % 64)) != 0
    })
}

/// Appends the hash of every token of `text`.
pub(crate) fn token_hashes(text: &str, out: &mut Vec<u64>) {
    for_each_token(text, |t| out.push(hash::token(t.as_bytes())));
}

/// Appends the gram hashes a gram filter holds for `text`: in every token of at least [`MIN_GRAM_TOKEN`]
/// bytes, the smallest hash of each [`WINDOW`] consecutive grams (a "minimizer"). A needle token of that
/// length lies inside one token of any line containing it, so the minimizers of its windows are among that
/// token's; shorter tokens are left out, which keeps the filter to about 2 / (WINDOW + 1) of the grams.
pub(crate) fn gram_hashes(text: &str, out: &mut Vec<u64>) {
    for_each_token(text, |t| {
        let b = t.as_bytes();
        if b.len() < MIN_GRAM_TOKEN {
            return;
        }
        // The window as a little-endian integer of GRAM bytes, rolled one byte at a time.
        let mut w = b[..GRAM].iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let mut last = [0u64; WINDOW];
        last[0] = hash::gram(w);
        let mut pushed = None;
        for (i, &x) in b[GRAM..].iter().enumerate() {
            w = (w >> 8) | (u64::from(x) << (8 * (GRAM - 1)));
            let n = i + 1;
            last[n % WINDOW] = hash::gram(w);
            if n + 1 >= WINDOW {
                let min = last.iter().copied().min().unwrap_or(0);
                if pushed != Some(min) {
                    out.push(min);
                    pushed = Some(min);
                }
            }
        }
    });
}

/// What a block's filters must hold for one of its lines to contain every needle.
#[derive(Clone, Debug, Default)]
pub(crate) struct NeedleKeys {
    /// Hashes of the needles' interior tokens (see `needle_tokens`), for the token filter.
    pub tokens: Vec<u64>,
    /// Hashes of the needles' grams, for the gram filter.
    pub grams: Vec<u64>,
}

impl NeedleKeys {
    pub fn new(needles: &[&str]) -> NeedleKeys {
        let mut keys = NeedleKeys::default();
        for n in needles {
            keys.tokens.extend(needle_tokens(n).iter().map(|t| hash::token(t.as_bytes())));
            gram_hashes(n, &mut keys.grams);
        }
        for v in [&mut keys.tokens, &mut keys.grams] {
            v.sort_unstable();
            v.dedup();
        }
        keys
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.grams.is_empty()
    }
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

    fn filter(keys: &mut Vec<u64>, p: Params) -> Vec<u8> {
        let mut bytes = Vec::new();
        to_bytes(&build(keys, p), &mut bytes);
        bytes
    }

    #[test]
    fn token_filters_hold_what_they_were_built_from_and_rarely_more() {
        let tokens: Vec<String> = (0..5000).map(|i| format!("tok{i}")).collect();
        let mut hashes: Vec<u64> = tokens.iter().map(|t| hash::token(t.as_bytes())).collect();
        let bytes = filter(&mut hashes, TOKENS);
        assert!(tokens.iter().all(|t| may_contain(&bytes, hash::token(t.as_bytes()), TOKENS)));
        let false_positives =
            (0..10_000).filter(|i| may_contain(&bytes, hash::token(format!("other{i}").as_bytes()), TOKENS)).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10000");
        assert!(!may_contain(&[], 1, TOKENS));
        assert!(build(&mut Vec::new(), TOKENS).is_empty());
    }

    #[test]
    fn grams_are_sampled_inside_long_tokens_only() {
        let mut a = Vec::new();
        gram_hashes("ab abcdefg.hijklmnop xyz", &mut a);
        // "abcdefg" (7 bytes) and the short tokens give none; "hijklmnop" has 5 grams, 2 windows, and at
        // most 2 minimizers; nothing spans the '.'.
        assert!((1..=2).contains(&a.len()), "{a:?}");
        let mut b = Vec::new();
        gram_hashes("hijklmnop", &mut b);
        assert_eq!(a, b);
        let mut c = Vec::new();
        gram_hashes("abcdefg.hijk", &mut c);
        assert!(c.is_empty());
        let mut d = Vec::new();
        gram_hashes("jörg_xyz", &mut d);
        assert!(!d.is_empty(), "grams are bytes, non-ASCII tokens included");
        let mut e = Vec::new();
        gram_hashes(&"0123456789abcdef".repeat(8), &mut e);
        assert!(e.len() < 128 * 2 / 3, "minimizers keep a fraction of 124 grams: {}", e.len());
    }

    #[test]
    fn a_needle_s_grams_are_in_every_line_holding_it() {
        let line = "GET /api/v1/users?id=needle_0123456789abcdef&x=1 HTTP/1.1";
        let mut keys = Vec::new();
        gram_hashes(line, &mut keys);
        let bytes = filter(&mut keys, GRAMS);
        for needle in ["needle_0123", "e_0123456789abcd", "pi/v1/use", "eedle", "users?id=need", "eedle_0123456789a"] {
            assert!(line.contains(needle));
            let mut g = Vec::new();
            gram_hashes(needle, &mut g);
            assert!(g.iter().all(|&h| may_contain(&bytes, h, GRAMS)), "{needle}");
        }
        let mut g = Vec::new();
        gram_hashes("needle_fedcba9876543210", &mut g);
        assert!(!g.iter().all(|&h| may_contain(&bytes, h, GRAMS)));
    }
}
