//! In-memory inverted index of the head: series ids and their label sets, and postings (label pair → series ids).
//!
//! Series ids are `u32`s allocated densely from 0 and never reused by [`Index::get_or_create`]. Every label name
//! and value is interned once ([`symbols`]); a series stores its labels as symbol pairs. Postings are roaring
//! bitmaps kept per name in a `BTreeMap` ordered by value, so a literal prefix is a cheap range.

mod hash;
mod lookup;
mod symbols;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::mem::size_of;
use std::ops::Bound;
use std::sync::Arc;

use roaring::{MultiOps, RoaringBitmap};
use vigil_model::{Labels, Matcher};

use crate::matching::{self, Filter, Plan, Postings};

pub use self::hash::Fingerprint;
pub use self::lookup::SeriesLookup;
use self::symbols::{hash_map_bytes, IntHash, Sym, Symbols};

/// The id of a series in the head.
pub type SeriesId = u32;

/// The largest series id; `u32::MAX` itself is never used.
pub const MAX_SERIES_ID: SeriesId = u32::MAX - 1;

/// Why the index refused to add a series.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("series ids are exhausted")]
    IdsExhausted,
    #[error("label symbols are exhausted")]
    SymbolsExhausted,
    #[error("series id {0} is out of range")]
    IdOutOfRange(SeriesId),
    #[error("series id {id} already belongs to {existing}")]
    IdInUse { id: SeriesId, existing: String },
    #[error("labels {0} are not sorted by name, unique and non-empty")]
    NotCanonical(String),
    #[error("series {labels} already has id {existing}")]
    SeriesExists { labels: String, existing: SeriesId },
}

/// Postings of one label name: value → ids of the series with that pair, ordered by value.
type Values = BTreeMap<Arc<str>, RoaringBitmap>;

/// The in-memory inverted index. Not synchronised, but for its fingerprint table ([`SeriesLookup`]); the head
/// wraps it in a lock.
#[derive(Debug, Default)]
pub struct Index {
    symbols: Symbols,
    /// Each live series' labels as `[name, value, name, value, ...]` symbols, sorted by name.
    series: HashMap<SeriesId, Box<[Sym]>, IntHash>,
    /// Fingerprint → series, shared with appenders that find known series without the head's lock.
    lookup: Arc<SeriesLookup>,
    /// Label name → value → series ids. Names and values without live series are removed.
    postings: BTreeMap<Arc<str>, Values>,
    /// Every live series.
    all: RoaringBitmap,
    next_id: SeriesId,
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    /// How many series are live.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every live series.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// The id the next new series gets.
    pub fn next_id(&self) -> SeriesId {
        self.next_id
    }

    /// Whether `id` is a live series.
    pub fn contains(&self, id: SeriesId) -> bool {
        self.series.contains_key(&id)
    }

    /// The fingerprint table, to find series without a lock on the index (see [`SeriesLookup::find_all`]).
    pub fn lookup(&self) -> &Arc<SeriesLookup> {
        &self.lookup
    }

    /// The id of the series with exactly these labels.
    pub fn get(&self, labels: &Labels) -> Option<SeriesId> {
        self.find(self.lookup.fingerprint(pairs(labels)))
    }

    /// The id of the series with these labels, adding it with a new id if needed; `true` when it was added.
    pub fn get_or_create(&mut self, labels: &Labels) -> Result<(SeriesId, bool), IndexError> {
        self.get_or_create_pairs(pairs(labels))
    }

    /// [`Index::get_or_create`] for labels given as `(name, value)` pairs, which must form a valid [`Labels`]:
    /// sorted by name, names unique and not empty, values not empty. Nothing is allocated for a known series.
    pub fn get_or_create_pairs<'p, I>(&mut self, pairs: I) -> Result<(SeriesId, bool), IndexError>
    where
        I: Iterator<Item = (&'p str, &'p str)> + Clone,
    {
        let hash = self.lookup.fingerprint(pairs.clone());
        self.get_or_create_hashed(hash, pairs)
    }

    /// [`Index::get_or_create_pairs`] with the pairs' fingerprint computed already by this index's
    /// [`SeriesLookup::fingerprint`].
    pub fn get_or_create_hashed<'p, I>(&mut self, hash: Fingerprint, pairs: I) -> Result<(SeriesId, bool), IndexError>
    where
        I: Iterator<Item = (&'p str, &'p str)> + Clone,
    {
        if let Some(id) = self.find(hash) {
            return Ok((id, false));
        }
        // Checked only for a new series: one found is equal to a stored, checked one.
        if !is_canonical(pairs.clone()) {
            let shown: Vec<String> = pairs.map(|(n, v)| format!("{n}={v:?}")).collect();
            return Err(IndexError::NotCanonical(shown.join(", ")));
        }
        if self.next_id > MAX_SERIES_ID {
            return Err(IndexError::IdsExhausted);
        }
        let id = self.next_id;
        self.insert(id, hash, pairs)?;
        self.next_id = id + 1;
        Ok((id, true))
    }

    /// Adds a series under a given id, for replaying a write-ahead log. Adding the same pair again does nothing;
    /// later new series get ids above every id added here. Reusing the id of a removed series is the caller's
    /// choice.
    pub fn insert_with_id(&mut self, id: SeriesId, labels: &Labels) -> Result<(), IndexError> {
        if id > MAX_SERIES_ID {
            return Err(IndexError::IdOutOfRange(id));
        }
        let hash = self.lookup.fingerprint(pairs(labels));
        if let Some(existing) = self.find(hash) {
            if existing == id {
                return Ok(());
            }
            return Err(IndexError::SeriesExists { labels: labels.to_string(), existing });
        }
        if let Some(existing) = self.labels(id) {
            return Err(IndexError::IdInUse { id, existing: existing.to_string() });
        }
        self.insert(id, hash, pairs(labels))?;
        self.next_id = self.next_id.max(id + 1);
        Ok(())
    }

    /// The labels of a live series.
    pub fn labels(&self, id: SeriesId) -> Option<Labels> {
        let syms = self.series.get(&id)?;
        Labels::from_pairs(syms.chunks_exact(2).map(|p| (self.symbols.get(p[0]), self.symbols.get(p[1])))).ok()
    }

    /// Sorts series ids by their label sets, in the order of [`Labels`], without building them; ids that are not
    /// live sort first. Label strings are compared by their rank among all strings, and a series' labels by
    /// their `[name, value, name, value, ...]` ranks, which orders them as comparing the strings would.
    pub fn sort_by_labels(&self, ids: &mut [SeriesId]) {
        let ranks = self.symbols.ranks();
        let mut keyed: Vec<(&[Sym], SeriesId)> =
            ids.iter().map(|&id| (self.series.get(&id).map_or(&[][..], |syms| &syms[..]), id)).collect();
        keyed.sort_unstable_by(|(a, _), (b, _)| {
            a.iter().map(|&s| ranks[s as usize]).cmp(b.iter().map(|&s| ranks[s as usize]))
        });
        for (slot, (_, id)) in ids.iter_mut().zip(keyed) {
            *slot = id;
        }
    }

    /// The value of label `name` of a live series, if it has that label.
    pub fn label_value(&self, id: SeriesId, name: &str) -> Option<&str> {
        let name = self.symbols.lookup(name)?;
        let value = self.value_sym(id, name)?;
        Some(self.symbols.get(value))
    }

    /// The series with label pair `name="value"`.
    pub fn postings(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        self.postings.get(name)?.get(value)
    }

    /// Removes series (those head compaction dropped); ids that are not live are ignored. Returns how many
    /// were removed.
    pub fn remove(&mut self, ids: &RoaringBitmap) -> u64 {
        let mut removed = 0;
        let mut hashes = Vec::new();
        for id in ids {
            let Some(syms) = self.series.remove(&id) else { continue };
            removed += 1;
            self.all.remove(id);
            hashes.push((self.hash_syms(&syms), id));
            for pair in syms.chunks_exact(2) {
                let (name, value) = (self.symbols.get(pair[0]), self.symbols.get(pair[1]));
                if let Some(values) = self.postings.get_mut(name) {
                    if let Some(ids) = values.get_mut(value) {
                        ids.remove(id);
                        if ids.is_empty() {
                            values.remove(value);
                        }
                    }
                    if values.is_empty() {
                        self.postings.remove(name);
                    }
                }
                self.symbols.release(pair[0]);
                self.symbols.release(pair[1]);
            }
        }
        let mut table = self.lookup.write();
        for (hash, id) in hashes {
            table.forget(hash, id);
        }
        // Hash maps never shrink by themselves; give memory back once most of it is unused.
        if self.series.capacity() > 4 * self.series.len() + 1024 {
            self.series.shrink_to_fit();
            table.shrink_to_fit();
        }
        removed
    }

    /// The live series every matcher accepts, with Prometheus semantics: a series lacking a label is matched as
    /// if its value were empty. With no matchers, every series. Rejecting selectors whose matchers all match
    /// the empty string is the caller's job; they still get a correct answer here.
    pub fn select(&self, matchers: &[Matcher]) -> RoaringBitmap {
        let Ok(ids) = matching::select(self, matchers, Filter::Auto);
        ids
    }

    /// The label names used by the given series, sorted.
    pub fn label_names(&self, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        if ids.is_superset(&self.all) {
            return self.postings.keys().cloned().collect();
        }
        let pairs: usize = self.postings.values().map(BTreeMap::len).sum();
        if ids.len() < pairs as u64 {
            self.label_names_by_series(ids)
        } else {
            self.label_names_by_postings(ids)
        }
    }

    /// The values label `name` takes in the given series, sorted, without the empty value of series lacking it.
    pub fn label_values(&self, name: &str, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        let Some(values) = self.postings.get(name) else { return Vec::new() };
        if ids.is_superset(&self.all) {
            return values.keys().cloned().collect();
        }
        // Looking up a series' value is many times cheaper than testing a value's postings against `ids`.
        if ids.len() < 16 * values.len() as u64 {
            self.label_values_by_series(name, ids)
        } else {
            self.label_values_by_postings(name, ids)
        }
    }

    /// Approximate heap bytes used by the index, for self-metrics and the memory budget.
    pub fn heap_bytes(&self) -> usize {
        let series: usize = self.series.values().map(|s| (s.len() * size_of::<Sym>()).next_multiple_of(16)).sum();
        // A B-tree node holds up to 11 entries; count each entry with a share of its node's overhead.
        let btree_entry = (size_of::<Arc<str>>() + size_of::<RoaringBitmap>()) * 3 / 2;
        let postings: usize = self
            .postings
            .values()
            .map(|values| btree_entry + values.values().map(|ids| btree_entry + bitmap_bytes(ids)).sum::<usize>())
            .sum();
        self.symbols.heap_bytes()
            + hash_map_bytes(self.series.capacity(), size_of::<(SeriesId, Box<[Sym]>)>())
            + series
            + self.lookup.read().heap_bytes()
            + postings
            + bitmap_bytes(&self.all)
    }

    /// How many distinct label strings are interned.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    fn insert<'p>(
        &mut self,
        id: SeriesId,
        hash: Fingerprint,
        pairs: impl Iterator<Item = (&'p str, &'p str)> + Clone,
    ) -> Result<(), IndexError> {
        let count = pairs.clone().count();
        if self.symbols.room() < 2 * count {
            return Err(IndexError::SymbolsExhausted);
        }
        let mut syms = Vec::with_capacity(2 * count);
        for (name, value) in pairs {
            let name = self.symbols.acquire(name);
            let value = self.symbols.acquire(value);
            syms.extend([name, value]);
            let values = self.postings.entry(self.symbols.arc(name).clone()).or_default();
            values.entry(self.symbols.arc(value).clone()).or_default().insert(id);
        }
        self.series.insert(id, syms.into_boxed_slice());
        self.all.insert(id);
        self.lookup.write().insert(hash, id);
        Ok(())
    }

    /// The series with this fingerprint.
    fn find(&self, hash: Fingerprint) -> Option<SeriesId> {
        self.lookup.read().find(hash)
    }

    /// The fingerprint of a stored series, as computed from its labels when it was added.
    fn hash_syms(&self, syms: &[Sym]) -> Fingerprint {
        self.lookup.fingerprint(syms.chunks_exact(2).map(|p| (self.symbols.get(p[0]), self.symbols.get(p[1]))))
    }

    /// The value symbol of label `name` of series `id`.
    fn value_sym(&self, id: SeriesId, name: Sym) -> Option<Sym> {
        let syms = self.series.get(&id)?;
        syms.chunks_exact(2).find(|pair| pair[0] == name).map(|pair| pair[1])
    }

    fn label_names_by_series(&self, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        let mut syms: Vec<Sym> =
            ids.iter().filter_map(|id| self.series.get(&id)).flat_map(|s| s.iter().step_by(2).copied()).collect();
        self.sorted_strings(&mut syms)
    }

    fn label_names_by_postings(&self, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        self.postings
            .iter()
            .filter(|(_, values)| values.values().any(|v| !v.is_disjoint(ids)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn label_values_by_series(&self, name: &str, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        let Some(name) = self.symbols.lookup(name) else { return Vec::new() };
        let mut syms: Vec<Sym> = ids.iter().filter_map(|id| self.value_sym(id, name)).collect();
        self.sorted_strings(&mut syms)
    }

    fn label_values_by_postings(&self, name: &str, ids: &RoaringBitmap) -> Vec<Arc<str>> {
        let Some(values) = self.postings.get(name) else { return Vec::new() };
        values.iter().filter(|(_, v)| !v.is_disjoint(ids)).map(|(value, _)| value.clone()).collect()
    }

    /// The distinct strings of some symbols, sorted.
    fn sorted_strings(&self, syms: &mut Vec<Sym>) -> Vec<Arc<str>> {
        syms.sort_unstable();
        syms.dedup();
        let mut strings: Vec<Arc<str>> = syms.iter().map(|&s| self.symbols.arc(s).clone()).collect();
        strings.sort_unstable();
        strings
    }
}

impl Postings for Index {
    type Error = Infallible;

    fn all(&self) -> RoaringBitmap {
        self.all.clone()
    }

    fn value_count(&self, name: &str) -> Result<u64, Infallible> {
        Ok(self.postings.get(name).map_or(0, BTreeMap::len) as u64)
    }

    /// Keeps the candidates whose value of the matcher's label (empty if absent) the matcher accepts.
    fn filter_series(&self, candidates: RoaringBitmap, m: &Matcher) -> Result<RoaringBitmap, Infallible> {
        let Some(name) = self.symbols.lookup(m.name()) else {
            // No series has the label, so every candidate is matched against the empty string.
            return Ok(if m.matches_empty() { candidates } else { RoaringBitmap::new() });
        };
        let keep = |&id: &SeriesId| m.matches(self.value_sym(id, name).map_or("", |v| self.symbols.get(v)));
        Ok(RoaringBitmap::from_sorted_iter(candidates.iter().filter(keep)).unwrap_or_default())
    }

    /// The union of the postings of the values `v` of the matcher's label with `m.matches(v) == want`.
    fn values_where(&self, m: &Matcher, want: bool, plan: Plan) -> Result<RoaringBitmap, Infallible> {
        let Some(values) = self.postings.get(m.name()) else { return Ok(RoaringBitmap::new()) };
        Ok(match plan {
            Plan::Lookup(literals) => literals.iter().filter_map(|v| values.get(v.as_str())).union(),
            Plan::Prefix(prefix) => values
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(v, _)| v.starts_with(prefix))
                .filter(|(v, _)| m.matches(v) == want)
                .map(|(_, ids)| ids)
                .union(),
            Plan::Scan => values.iter().filter(|(v, _)| m.matches(v) == want).map(|(_, ids)| ids).union(),
        })
    }
}

/// Approximate heap bytes of a roaring bitmap: its container vector plus each container's store.
fn bitmap_bytes(ids: &RoaringBitmap) -> usize {
    let stats = ids.statistics();
    // A container is a 16-bit key and a 32-byte store handle. The statistics count array capacity in 4-byte
    // units although arrays hold 2-byte values, and bitmap containers in bits; both are corrected here.
    stats.n_containers as usize * 40
        + stats.n_bytes_array_containers as usize / 2
        + stats.n_bitset_containers as usize * 8192
        + stats.n_bytes_run_containers as usize
}

/// A label set as `(name, value)` pairs.
fn pairs(labels: &Labels) -> impl Iterator<Item = (&str, &str)> + Clone {
    labels.as_slice().iter().map(|l| (l.name.as_str(), l.value.as_str()))
}

/// Whether pairs form a valid [`Labels`]: sorted by name, names unique and not empty, values not empty.
fn is_canonical<'p>(pairs: impl Iterator<Item = (&'p str, &'p str)>) -> bool {
    let mut previous: Option<&str> = None;
    for (name, value) in pairs {
        if name.is_empty() || value.is_empty() || previous.is_some_and(|p| p >= name) {
            return false;
        }
        previous = Some(name);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::lookup::Slot;
    use super::*;
    use vigil_model::MatchOp;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn sample_index() -> Index {
        let mut index = Index::new();
        let names = ["up", "node_cpu_seconds_total", "node_load1"];
        for i in 0..60u32 {
            let name = names[i as usize % 3];
            let cpu = (i % 4).to_string();
            let mode = ["idle", "user", "system", ""][i as usize % 4];
            let instance = format!("host{}", i % 7);
            let l = Labels::from_pairs([("__name__", name), ("cpu", &cpu), ("mode", mode), ("instance", &instance)])
                .unwrap();
            index.get_or_create(&l).unwrap();
        }
        index
    }

    #[test]
    fn filter_and_postings_paths_agree() {
        let index = sample_index();
        let selectors: [&[(MatchOp, &str, &str)]; 6] = [
            &[(MatchOp::Equal, "__name__", "up"), (MatchOp::Regex, "mode", "i.*")],
            &[(MatchOp::Equal, "__name__", "up"), (MatchOp::NotRegex, "mode", "i.*|")],
            &[(MatchOp::Regex, "instance", "host[12]"), (MatchOp::NotEqual, "mode", "")],
            &[(MatchOp::Regex, "cpu", ".*"), (MatchOp::Equal, "mode", "")],
            &[(MatchOp::Equal, "cpu", "1"), (MatchOp::Regex, "nope", ".*")],
            &[(MatchOp::Equal, "cpu", "1"), (MatchOp::Regex, "nope", ".+")],
        ];
        for selector in selectors {
            let matchers: Vec<Matcher> = selector.iter().map(|&(op, n, v)| Matcher::new(op, n, v).unwrap()).collect();
            let Ok(never) = matching::select(&index, &matchers, Filter::Never);
            let Ok(always) = matching::select(&index, &matchers, Filter::Always);
            assert_eq!(always, never, "{selector:?}");
            assert_eq!(index.select(&matchers), never, "{selector:?}");
        }
    }

    #[test]
    fn sorting_by_labels_orders_as_labels_do() {
        let mut index = sample_index();
        // Label sets that are prefixes of others, strings that are prefixes of others, a string used both as a
        // name and as a value, and bytes beyond ASCII.
        let extra = [
            labels(&[("__name__", "up")]),
            labels(&[("__name__", "up"), ("a", "b")]),
            labels(&[("__name__", "upx")]),
            labels(&[("__name__", "u"), ("up", "__name__")]),
            labels(&[("__name__", "é"), ("cpu", "1")]),
            labels(&[("cpu", "up")]),
        ];
        for l in &extra {
            index.get_or_create(l).unwrap();
        }
        index.remove(&[7, 8].into_iter().collect());
        let mut ids: Vec<SeriesId> = (0..index.next_id()).rev().filter(|id| index.contains(*id)).collect();
        let mut expected = ids.clone();
        expected.sort_by_key(|&id| index.labels(id).unwrap());
        index.sort_by_labels(&mut ids);
        assert_eq!(ids, expected);
        // Ids that are not live sort first.
        let mut with_gone = vec![40, 8, 3];
        index.sort_by_labels(&mut with_gone);
        assert_eq!(with_gone[0], 8);
    }

    #[test]
    fn label_paths_agree() {
        let index = sample_index();
        for ids in [RoaringBitmap::new(), (0..5).collect(), (10..50).step_by(3).collect(), (0..60).collect()] {
            assert_eq!(index.label_names_by_series(&ids), index.label_names_by_postings(&ids));
            for name in ["mode", "cpu", "nope"] {
                assert_eq!(index.label_values_by_series(name, &ids), index.label_values_by_postings(name, &ids));
            }
        }
    }

    #[test]
    fn removal_forgets_every_hash_and_string() {
        let mut index = sample_index();
        assert_eq!(index.lookup.read().by_hash.len(), 60);
        let all = index.all().clone();
        index.remove(&all);
        let table = index.lookup.read();
        assert!(table.by_hash.is_empty() && table.collisions.is_empty() && index.series.is_empty());
        assert!(index.postings.is_empty() && index.symbols.len() == 0);
    }

    #[test]
    fn series_sharing_a_bucket_are_told_apart_by_their_check() {
        let mut index = sample_index();
        let a = labels(&[("x", "1")]);
        let b = labels(&[("x", "2")]);
        // Force b into a's bucket, as a 64-bit collision would.
        let (ia, _) = index.get_or_create(&a).unwrap();
        let fa = index.lookup.fingerprint(pairs(&a));
        let fb = Fingerprint { bucket: fa.bucket, check: index.lookup.fingerprint(pairs(&b)).check };
        index.insert(1000, fb, pairs(&b)).unwrap();
        assert_eq!((index.find(fa), index.find(fb)), (Some(ia), Some(1000)));
        assert_eq!(index.lookup.read().collisions[&fa.bucket], [Slot { check: fb.check, id: 1000 }]);
        index.remove(&[ia].into_iter().collect());
        assert_eq!((index.find(fa), index.find(fb)), (None, Some(1000)));
        assert!(index.lookup.read().collisions.is_empty());
    }
}
