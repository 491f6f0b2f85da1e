//! Interned label strings: each distinct name or value is stored once and referred to by a `u32` symbol.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;
use std::sync::Arc;

/// A symbol: the index of an interned string.
pub(super) type Sym = u32;

/// Interned strings with reference counts, so strings no live series uses are freed and their symbols reused.
#[derive(Debug)]
pub(super) struct Symbols {
    /// The string of each symbol; freed slots hold `empty`.
    strings: Vec<Arc<str>>,
    /// How many uses (label names or values of live series) each symbol has.
    refs: Vec<u32>,
    ids: HashMap<Arc<str>, Sym>,
    free: Vec<Sym>,
    empty: Arc<str>,
}

impl Default for Symbols {
    fn default() -> Symbols {
        Symbols { strings: Vec::new(), refs: Vec::new(), ids: HashMap::new(), free: Vec::new(), empty: Arc::from("") }
    }
}

impl Symbols {
    /// The symbol of `s`, if it is interned.
    pub(super) fn lookup(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// How many more symbols can be created.
    pub(super) fn room(&self) -> usize {
        (Sym::MAX as usize).saturating_sub(self.strings.len()) + self.free.len()
    }

    /// Interns `s` and counts one more use of it. The caller checks [`Symbols::room`] first.
    pub(super) fn acquire(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.ids.get(s) {
            self.refs[sym as usize] += 1;
            return sym;
        }
        let arc: Arc<str> = Arc::from(s);
        let sym = match self.free.pop() {
            Some(sym) => {
                self.strings[sym as usize] = arc.clone();
                self.refs[sym as usize] = 1;
                sym
            }
            None => {
                let sym = self.strings.len() as Sym;
                self.strings.push(arc.clone());
                self.refs.push(1);
                sym
            }
        };
        self.ids.insert(arc, sym);
        sym
    }

    /// Counts one use fewer of `sym`, freeing it when none is left.
    pub(super) fn release(&mut self, sym: Sym) {
        let i = sym as usize;
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            let s = std::mem::replace(&mut self.strings[i], self.empty.clone());
            self.ids.remove(&s);
            self.free.push(sym);
        }
    }

    /// The string of a live symbol.
    pub(super) fn get(&self, sym: Sym) -> &str {
        &self.strings[sym as usize]
    }

    /// The shared string of a live symbol, for handing out without copying.
    pub(super) fn arc(&self, sym: Sym) -> &Arc<str> {
        &self.strings[sym as usize]
    }

    /// Each symbol's rank among the interned strings in byte order, by symbol: comparing two symbols' ranks
    /// compares their strings. Freed symbols rank 0.
    pub(super) fn ranks(&self) -> Vec<u32> {
        let mut live: Vec<Sym> = self.ids.values().copied().collect();
        live.sort_unstable_by_key(|&sym| self.get(sym));
        let mut ranks = vec![0; self.strings.len()];
        for (rank, sym) in live.into_iter().enumerate() {
            ranks[sym as usize] = rank as u32;
        }
        ranks
    }

    /// How many distinct strings are interned.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Approximate heap bytes used, counting each string once.
    pub(super) fn heap_bytes(&self) -> usize {
        let strings: usize = self.ids.keys().map(|s| arc_str_bytes(s)).sum();
        self.strings.capacity() * size_of::<Arc<str>>()
            + self.refs.capacity() * size_of::<u32>()
            + self.free.capacity() * size_of::<Sym>()
            + hash_map_bytes(self.ids.capacity(), size_of::<(Arc<str>, Sym)>())
            + strings
    }
}

/// Heap bytes of an `Arc<str>` allocation: two counters and the bytes, rounded up to the allocator's 16.
pub(super) fn arc_str_bytes(s: &str) -> usize {
    (2 * size_of::<usize>() + s.len()).next_multiple_of(16)
}

/// Approximate heap bytes of a hash map with the given capacity: hashbrown keeps a load factor of 7/8 and one
/// control byte per bucket.
pub(super) fn hash_map_bytes(capacity: usize, entry: usize) -> usize {
    let buckets = if capacity == 0 { 0 } else { (capacity * 8 / 7).next_power_of_two() };
    buckets * (entry + 1)
}

/// A fast hasher for integer keys: series ids (mixed by a multiplication so the high bits hashbrown uses vary)
/// and label-set hashes (already random, from a keyed SipHash).
#[derive(Default)]
pub(super) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only integer keys are hashed with this hasher; FNV-1a keeps other input correct, if slow.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Builds [`IntHasher`]s.
pub(super) type IntHash = BuildHasherDefault<IntHasher>;
