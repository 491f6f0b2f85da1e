//! The index's fingerprint table, behind its own lock so that appenders can hash their label sets and find the
//! series they already know before taking the head's lock, which then covers only applying the samples.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::hash::{Fingerprint, LabelHasher};
use super::symbols::{hash_map_bytes, IntHash};
use super::SeriesId;

/// A series in the fingerprint table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub check: u64,
    pub id: SeriesId,
}

/// Finds series by the fingerprint of their labels. Shared between the index, which changes it (under the head's
/// write lock), and appenders, which read it without that lock.
#[derive(Debug, Default)]
pub struct SeriesLookup {
    hasher: LabelHasher,
    table: RwLock<Table>,
}

/// Fingerprint bucket → the series with it; series whose bucket is already taken go to `collisions`. Equal
/// fingerprints mean equal label sets (see `hash.rs`).
#[derive(Debug, Default)]
pub(super) struct Table {
    pub by_hash: HashMap<u64, Slot, IntHash>,
    pub collisions: HashMap<u64, Vec<Slot>, IntHash>,
}

impl SeriesLookup {
    /// The fingerprint of a label set given as `(name, value)` pairs in order; fixed for the life of the index.
    pub fn fingerprint<'p>(&self, pairs: impl Iterator<Item = (&'p str, &'p str)>) -> Fingerprint {
        self.hasher.hash(pairs)
    }

    /// The series of each fingerprint, as the index holds them now, into `out` (cleared first). Without the
    /// head's lock a series found here may be removed before the caller takes it, and one missing may be added:
    /// check the first under the lock. A removed series' id is never given to another series (ids are not
    /// reused), so a found id that is still live is that label set's.
    pub fn find_all(&self, fingerprints: &[Fingerprint], out: &mut Vec<Option<SeriesId>>) {
        let table = self.read();
        out.clear();
        // One lookup after another, with nothing in between, lets the processor overlap their cache misses.
        out.extend(fingerprints.iter().map(|&fp| table.find(fp)));
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Table {
    /// The series with this fingerprint.
    pub fn find(&self, hash: Fingerprint) -> Option<SeriesId> {
        let first = self.by_hash.get(&hash.bucket)?;
        if first.check == hash.check {
            return Some(first.id);
        }
        let rest = self.collisions.get(&hash.bucket)?;
        rest.iter().find(|slot| slot.check == hash.check).map(|slot| slot.id)
    }

    pub fn insert(&mut self, hash: Fingerprint, id: SeriesId) {
        let slot = Slot { check: hash.check, id };
        match self.by_hash.entry(hash.bucket) {
            Entry::Vacant(e) => {
                e.insert(slot);
            }
            Entry::Occupied(_) => self.collisions.entry(hash.bucket).or_default().push(slot),
        }
    }

    pub fn forget(&mut self, hash: Fingerprint, id: SeriesId) {
        let slot = Slot { check: hash.check, id };
        if self.by_hash.get(&hash.bucket) == Some(&slot) {
            match self.collisions.get_mut(&hash.bucket).and_then(Vec::pop) {
                Some(other) => {
                    self.by_hash.insert(hash.bucket, other);
                }
                None => {
                    self.by_hash.remove(&hash.bucket);
                }
            }
        } else if let Some(slots) = self.collisions.get_mut(&hash.bucket) {
            slots.retain(|&other| other != slot);
        }
        if self.collisions.get(&hash.bucket).is_some_and(Vec::is_empty) {
            self.collisions.remove(&hash.bucket);
        }
    }

    pub fn shrink_to_fit(&mut self) {
        self.by_hash.shrink_to_fit();
        self.collisions.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        let collisions: usize = self.collisions.values().map(|v| v.capacity() * size_of::<Slot>()).sum();
        hash_map_bytes(self.by_hash.capacity(), size_of::<(u64, Slot)>())
            + hash_map_bytes(self.collisions.capacity(), size_of::<(u64, Vec<Slot>)>())
            + collisions
    }
}
