//! The stream index: stream id to labels, and per label pair a bitmap of streams, for label selectors.
//!
//! Built at open from the stream tables of the parts and from the replayed WAL, kept in memory (streams are
//! few: host, job, unit). Ordinals (positions in `streams`) key the bitmaps; ids are what the parts store.
//!
//! A stream's id is the fixed 64-bit hash of its labels ([`crate::hash::labels`]); when that id is taken by
//! another label set, the next free one is used (linear probing). Ids are persisted with the labels, so a
//! stream keeps its id across restarts.

use std::collections::{BTreeMap, HashMap};

use roaring::RoaringBitmap;
use vigil_model::{Labels, Matcher};

use crate::hash;

#[derive(Debug, Default)]
pub(crate) struct StreamIndex {
    /// By ordinal: id and labels.
    streams: Vec<(u64, Labels)>,
    by_labels: HashMap<Labels, u32>,
    by_id: HashMap<u64, u32>,
    /// Label name to value to the streams having that pair.
    postings: BTreeMap<String, BTreeMap<String, RoaringBitmap>>,
    all: RoaringBitmap,
    /// Persisted ids found with two label sets (damage or a hash collision across a retention gap).
    pub conflicts: u64,
}

impl StreamIndex {
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// The id of a stream, creating it if new; `true` when created.
    pub fn get_or_create(&mut self, labels: &Labels) -> (u64, bool) {
        if let Some(&ord) = self.by_labels.get(labels) {
            return (self.streams[ord as usize].0, false);
        }
        let mut id = hash::labels(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        while self.by_id.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.add(id, labels.clone());
        (id, true)
    }

    /// Registers a persisted stream; the first id seen for a label set wins.
    pub fn insert(&mut self, id: u64, labels: &Labels) {
        match (self.by_labels.get(labels), self.by_id.get(&id)) {
            (Some(&ord), _) if self.streams[ord as usize].0 == id => {}
            (None, None) => self.add(id, labels.clone()),
            _ => self.conflicts += 1,
        }
    }

    /// The id recorded for a label set, if any.
    pub fn id_of(&self, labels: &Labels) -> Option<u64> {
        self.by_labels.get(labels).map(|&ord| self.streams[ord as usize].0)
    }

    fn add(&mut self, id: u64, labels: Labels) {
        let ord = self.streams.len() as u32;
        for l in labels.iter() {
            let values = self.postings.entry(l.name.clone()).or_default();
            values.entry(l.value.clone()).or_default().insert(ord);
        }
        self.all.insert(ord);
        self.by_id.insert(id, ord);
        self.by_labels.insert(labels.clone(), ord);
        self.streams.push((id, labels));
    }

    /// The streams matching every matcher, as `(id, labels)`.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<(u64, &Labels)> {
        let mut set = self.all.clone();
        for m in matchers {
            if set.is_empty() {
                break;
            }
            let values = self.postings.get(m.name());
            if m.matches_empty() {
                // Streams without the label match too: remove those whose value does not match.
                for (value, bitmap) in values.into_iter().flatten() {
                    if !m.matches(value) {
                        set -= bitmap;
                    }
                }
            } else {
                let mut matched = RoaringBitmap::new();
                if let Some(alternatives) = m.literal_alternatives().filter(|_| !m.op().is_negative()) {
                    for value in alternatives {
                        if let Some(bitmap) = values.and_then(|v| v.get(value.as_str())) {
                            matched |= bitmap;
                        }
                    }
                } else {
                    for (value, bitmap) in values.into_iter().flatten() {
                        if m.matches(value) {
                            matched |= bitmap;
                        }
                    }
                }
                set &= matched;
            }
        }
        set.iter()
            .map(|ord| {
                let (id, labels) = &self.streams[ord as usize];
                (*id, labels)
            })
            .collect()
    }
}
