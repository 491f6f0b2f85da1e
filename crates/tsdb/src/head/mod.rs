//! The head: the newest samples of every series, in memory, indexed, until they are persisted into a block.
//!
//! The head is not synchronised; the database wraps it in a lock and logs every change to the write-ahead log
//! before acknowledging it. Acceptance rules (the same for live appends and, without the time window, for
//! replay) are documented on [`Head::add`]. Closed chunks live in a [`ChunkStore`]: memory-mapped files under
//! `chunks_head/` on the real file system, the heap otherwise.

mod series;
mod slab;
mod slots;
mod spill;
mod store;

use roaring::RoaringBitmap;
use vigil_model::{Labels, Matcher};

use crate::chunk::{Chunk, ChunkAppender, ChunkBytes, ChunkError};
use crate::index::{Fingerprint, Index, IndexError, SeriesId};
use crate::wal::{Record, RefSample};
use slots::SeriesSlots;

pub(crate) use series::{range_end, MemSeries};
pub use series::{RawSample, SeriesView};
pub(crate) use store::ChunkStore;
pub use store::SpillStats;

/// Why the head refused a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Older than the series' newest sample and outside the out-of-order window.
    OutOfOrder { last: i64 },
    /// Older than the oldest time still writable (persisted in a block, or too far behind the newest sample).
    TooOld { min_valid: i64 },
    /// The series has a different value at this timestamp.
    Duplicate,
}

/// What happened to an accepted sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    Appended,
    /// The series already had exactly this sample; nothing changed.
    Unchanged,
}

/// The head's configuration, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    pub block_range: i64,
    pub ooo_window: i64,
}

/// One series' chunks and out-of-order samples in a block range, copied out of the head for persisting.
#[derive(Debug)]
pub struct PersistSeries {
    pub labels: Labels,
    pub chunks: Vec<ChunkBytes>,
    pub ooo: Vec<RawSample>,
}

#[derive(Debug)]
pub struct Head {
    index: Index,
    series: SeriesSlots,
    limits: HeadLimits,
    /// Newest sample time ever added; `i64::MIN` before the first.
    max_t: i64,
    /// A lower bound of the oldest sample time; `i64::MAX` while empty.
    min_t: i64,
    /// Samples before this time live in blocks; the head accepts none.
    persisted_until: i64,
    /// The series' closed chunks.
    store: ChunkStore,
}

impl Head {
    pub fn new(limits: HeadLimits, persisted_until: i64, store: ChunkStore) -> Head {
        Head {
            index: Index::new(),
            series: SeriesSlots::default(),
            limits,
            max_t: i64::MIN,
            min_t: i64::MAX,
            persisted_until,
            store,
        }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn num_series(&self) -> usize {
        self.index.len()
    }

    pub fn max_t(&self) -> Option<i64> {
        (self.max_t != i64::MIN).then_some(self.max_t)
    }

    pub fn min_t(&self) -> Option<i64> {
        (self.min_t != i64::MAX).then_some(self.min_t)
    }

    pub fn persisted_until(&self) -> i64 {
        self.persisted_until
    }

    /// The oldest timestamp a live append may have: not persisted, and no further behind the newest sample
    /// than half a block range or the out-of-order window, whichever is larger.
    pub fn min_valid(&self) -> i64 {
        let lookback = (self.limits.block_range / 2).max(self.limits.ooo_window);
        match self.max_t() {
            Some(max) => self.persisted_until.max(max.saturating_sub(lookback)),
            None => self.persisted_until,
        }
    }

    /// The id of the series with these labels, created if new; `true` when created. `hash` is the pairs'
    /// fingerprint (by this head's [`Index::lookup`]); the pairs form a valid [`Labels`], see
    /// [`Index::get_or_create_pairs`].
    pub fn get_or_create_hashed<'p>(
        &mut self,
        hash: Fingerprint,
        pairs: impl Iterator<Item = (&'p str, &'p str)> + Clone,
    ) -> Result<(SeriesId, bool), IndexError> {
        let (id, created) = self.index.get_or_create_hashed(hash, pairs)?;
        if created {
            self.series.get_or_insert(id);
        }
        Ok((id, created))
    }

    /// Whether series `id` is in the head.
    pub fn has_series(&self, id: SeriesId) -> bool {
        self.series.get(id).is_some()
    }

    /// Reads what appending to each series reads, one series right after another, so that their cache misses
    /// overlap rather than be taken one at a time by the [`Head::add`]s that follow.
    pub fn touch(&self, ids: impl Iterator<Item = SeriesId>) {
        for id in ids {
            std::hint::black_box(self.series.get(id).map(MemSeries::touch));
        }
    }

    /// Restores a series from the log. A repeated record for the same series is harmless.
    pub fn restore_series(&mut self, id: SeriesId, labels: &Labels) -> Result<(), IndexError> {
        match self.index.insert_with_id(id, labels) {
            Ok(()) => {}
            Err(IndexError::SeriesExists { existing, .. }) if existing == id => {}
            Err(err) => return Err(err),
        }
        self.series.get_or_insert(id);
        Ok(())
    }

    /// Adds a sample to series `id`, which must exist. Rules, as in Prometheus, in this order:
    /// 1. before `min_valid()` (for `replay`, before the persisted time only): `TooOld`;
    /// 2. newer than the series' newest sample: appended;
    /// 3. at the newest sample's time: `Unchanged` when the value's bits are equal, `Duplicate` otherwise;
    /// 4. older than the newest sample and more than `ooo_window` behind the newest sample of the whole head:
    ///    `OutOfOrder` (not for `replay`), even if the series has that very sample;
    /// 5. otherwise, at a timestamp the series has: `Unchanged` or `Duplicate` as in 3; else kept as an
    ///    out-of-order sample.
    pub fn add(&mut self, id: SeriesId, t: i64, bits: u64, replay: bool) -> Result<Added, Rejection> {
        let min_valid = if replay { self.persisted_until } else { self.min_valid() };
        if t < min_valid {
            return Err(Rejection::TooOld { min_valid });
        }
        let ooo_min = self.max_t.saturating_sub(self.limits.ooo_window);
        let block_range = self.limits.block_range;
        let Some(series) = self.series.get_mut(id) else {
            unreachable!("samples are only added to series the head holds");
        };
        let store = &mut self.store;
        let added = match series.last_time() {
            Some(last) if t <= last => {
                if t < last && !replay && t < ooo_min {
                    return Err(Rejection::OutOfOrder { last });
                }
                // At `last` the value is in the open chunk, on the heap; older ones may be in a spilled chunk.
                let existing = series.value_at(t, store).unwrap_or_else(|err| {
                    tracing::error!(series = id, t, error = %err, "cannot read a head chunk to check for a duplicate");
                    None
                });
                match existing {
                    Some(existing) if existing == bits => return Ok(Added::Unchanged),
                    Some(_) => return Err(Rejection::Duplicate),
                    None if t == last => return Err(Rejection::Duplicate),
                    None => series.insert_ooo(t, bits),
                }
                Added::Appended
            }
            _ => {
                series.append_in_order(t, bits, block_range, store);
                Added::Appended
            }
        };
        self.max_t = self.max_t.max(t);
        self.min_t = self.min_t.min(t);
        Ok(added)
    }

    /// Replays a chunk record: adds each of its samples as a replayed sample. Returns how many were taken.
    pub fn restore_chunk(&mut self, id: SeriesId, bytes: &[u8]) -> Result<u64, String> {
        if !self.index.contains(id) {
            return Err(format!("chunk for unknown series {id}"));
        }
        let chunk = Chunk::from_bytes(bytes).map_err(|e| e.to_string())?;
        let mut taken = 0;
        for sample in chunk.iter() {
            let (t, v) = sample.map_err(|e| e.to_string())?;
            if self.add(id, t, v.to_bits(), true).is_ok() {
                taken += 1;
            }
        }
        Ok(taken)
    }

    /// The series the matchers select.
    pub fn select(&self, matchers: &[Matcher]) -> RoaringBitmap {
        self.index.select(matchers)
    }

    pub fn labels(&self, id: SeriesId) -> Option<Labels> {
        self.index.labels(id)
    }

    /// Series `id`'s data in `[mint, maxt]`, to be decoded after the head lock is released (see
    /// [`SeriesView`]); `None` when the head has none there. A chunk that cannot be read is left out and logged.
    pub fn read_view(&self, id: SeriesId, mint: i64, maxt: i64) -> Option<SeriesView> {
        let (view, error) = self.series.get(id)?.read_view(mint, maxt, &self.store);
        if let Some(err) = error {
            tracing::error!(series = id, error = %err, "cannot read a head chunk; its samples are left out");
        }
        (!view.is_empty()).then_some(view)
    }

    /// The block range `[lo, hi)` that should be persisted next, if any: the oldest range holding head data
    /// that ends at or before the oldest writable time, so nothing can be added to it any more.
    pub fn next_persist_range(&self) -> Option<(i64, i64)> {
        let (min_t, _) = (self.min_t()?, self.max_t()?);
        let range = self.limits.block_range;
        let lo = min_t.div_euclid(range) * range;
        let hi = range_end(min_t, range);
        (hi <= self.min_valid()).then_some((lo, hi))
    }

    /// The series with chunks or out-of-order samples in `[lo, hi)`, sorted by labels, the order a block takes
    /// them in; [`Head::persist_data`] then reads their data a batch at a time. Ids take 4 bytes each where
    /// label sets and chunk references take a kilobyte or so, so the whole head is never copied at once.
    pub fn persist_ids(&self, lo: i64, hi: i64) -> Vec<SeriesId> {
        let mut ids: Vec<SeriesId> = self
            .series
            .iter()
            .filter(|(_, series)| series.has_chunks(in_range(lo, hi)) || series.ooo().iter().any(|s| in_ooo(lo, hi, s)))
            .map(|(id, _)| id)
            .collect();
        self.index.sort_by_labels(&mut ids);
        ids
    }

    /// The labels, chunks (shared, not copied, where they are closed) and out-of-order samples in `[lo, hi)` of
    /// the series `ids`, in that order; series without any are left out. Fails on a chunk that cannot be read,
    /// so that nothing is persisted without it.
    pub fn persist_data(&self, ids: &[SeriesId], lo: i64, hi: i64) -> Result<Vec<PersistSeries>, ChunkError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let Some(series) = self.series.get(id) else { continue };
            let chunks = series.chunks(&self.store, in_range(lo, hi))?;
            let ooo: Vec<RawSample> = series.ooo().iter().copied().filter(|s| in_ooo(lo, hi, s)).collect();
            if chunks.is_empty() && ooo.is_empty() {
                continue;
            }
            let Some(labels) = self.index.labels(id) else { continue };
            out.push(PersistSeries { labels, chunks, ooo });
        }
        Ok(out)
    }

    /// Drops every sample before `t` (a block boundary, persisted now) and the series left empty. Returns how
    /// many series were dropped.
    pub fn truncate_before(&mut self, t: i64) -> u64 {
        let mut empty = RoaringBitmap::new();
        for (id, series) in self.series.iter_mut() {
            series.truncate_before(t, &mut self.store);
            if series.is_empty() {
                empty.insert(id);
            }
        }
        for id in &empty {
            self.series.remove(id);
        }
        self.store.delete_before(t);
        self.persisted_until = self.persisted_until.max(t);
        if self.min_t != i64::MAX {
            self.min_t = self.min_t.max(t);
        }
        if self.index.len() as u64 == empty.len() {
            self.min_t = i64::MAX;
        }
        self.index.remove(&empty)
    }

    /// The records that recreate the head's series from id `from` on, at most `max_series` of them, appended to
    /// `out`: for each, its `Series` record, a `Chunk` record per chunk (shared, not copied, where it is closed)
    /// and a `Samples` record of its out-of-order samples. Returns the id to continue from, `None` after the
    /// last series. Fails on a chunk that cannot be read, so that a checkpoint never replaces log segments by a
    /// snapshot missing samples.
    pub fn snapshot_batch(
        &self,
        from: SeriesId,
        max_series: usize,
        out: &mut Vec<Record>,
    ) -> Result<Option<SeriesId>, ChunkError> {
        for (taken, (id, series)) in self.series.iter_from(from).enumerate() {
            if taken == max_series {
                return Ok(Some(id));
            }
            let Some(labels) = self.index.labels(id) else { continue };
            let series_id = u64::from(id);
            out.push(Record::Series { id: series_id, labels });
            for bytes in series.chunks(&self.store, |_, _| true)? {
                out.push(Record::Chunk { series_id, bytes });
            }
            if !series.ooo().is_empty() {
                let samples = series.ooo().iter().map(|&(t, bits)| RefSample { series_id, t_ms: t, value_bits: bits });
                out.push(Record::Samples(samples.collect()));
            }
        }
        Ok(None)
    }

    /// Approximate heap bytes of the index, the series' data and the chunk store (not the mapped files).
    pub fn heap_bytes(&self) -> usize {
        let series: usize = self.series.iter().map(|(_, s)| s.heap_bytes()).sum();
        self.index.heap_bytes() + series + self.series.heap_bytes() + self.store.heap_bytes()
    }

    /// Lets go of the pages of chunk files that reading mapped into this process (persisting and checkpoints
    /// read every chunk). They stay in the page cache, and reads map them again.
    pub fn release_chunk_pages(&self) {
        self.store.release_pages();
    }

    /// Where the closed chunks are, for self-metrics.
    pub fn spill_stats(&self) -> SpillStats {
        self.store.stats()
    }
}

/// Which head chunks a block of `[lo, hi)` takes: those inside it (chunks never span a block boundary).
fn in_range(lo: i64, hi: i64) -> impl Fn(i64, i64) -> bool {
    move |min, max| min >= lo && max < hi
}

/// Whether a block of `[lo, hi)` takes an out-of-order sample.
fn in_ooo(lo: i64, hi: i64, sample: &RawSample) -> bool {
    (lo..hi).contains(&sample.0)
}

/// The samples of a series' head chunks and out-of-order samples, merged in time order, for a block.
pub fn merge_samples(chunks: &[ChunkBytes], ooo: &[RawSample]) -> Result<Vec<RawSample>, String> {
    let mut samples: Vec<RawSample> = Vec::new();
    for bytes in chunks {
        let chunk = Chunk::from_bytes(bytes).map_err(|e| e.to_string())?;
        chunk.decode_into(i64::MIN, i64::MAX, &mut samples).map_err(|e| e.to_string())?;
    }
    if !ooo.is_empty() {
        samples.extend_from_slice(ooo);
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
    }
    Ok(samples)
}

/// Encodes time-sorted samples with distinct timestamps into full chunks.
pub fn encode_samples(samples: &[RawSample]) -> Vec<ChunkAppender> {
    let mut out = Vec::new();
    for run in samples.chunks(crate::chunk::MAX_SAMPLES) {
        let mut chunk = ChunkAppender::new();
        for &(t, bits) in run {
            // Sorted, distinct timestamps and at most MAX_SAMPLES per chunk: appending cannot fail.
            let _ = chunk.append(t, f64::from_bits(bits));
        }
        out.push(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: i64 = 1000;

    /// 600 series over three block ranges (ids in the reverse order of their labels, some series only in the
    /// last range, some with an out-of-order sample), added as replayed samples (no time window).
    fn head() -> Head {
        let mut head = Head::new(HeadLimits { block_range: RANGE, ooo_window: 500 }, i64::MIN, ChunkStore::memory());
        for i in 0..600u32 {
            let host = format!("h{:03}", 600 - i);
            let pairs = [("__name__", "m"), ("host", &*host)];
            let hash = head.index().lookup().fingerprint(pairs.into_iter());
            let (id, created) = head.get_or_create_hashed(hash, pairs.into_iter()).unwrap();
            assert!(created && id == i);
            let start = if i % 5 == 0 { 2 * RANGE } else { 0 };
            for t in (start..3 * RANGE).step_by(10) {
                head.add(id, t, (t as f64 + f64::from(i)).to_bits(), true).unwrap();
            }
            if i % 7 == 0 {
                head.add(id, 2 * RANGE + 5, 0.5f64.to_bits(), true).unwrap();
            }
        }
        head
    }

    fn snapshot(head: &Head, max_series: usize) -> Vec<Record> {
        let (mut out, mut next) = (Vec::new(), Some(0));
        while let Some(from) = next {
            let before = out.len();
            next = head.snapshot_batch(from, max_series, &mut out).unwrap();
            let series = out[before..].iter().filter(|r| matches!(r, Record::Series { .. })).count();
            assert!(series <= max_series && (next.is_none() || series == max_series));
        }
        out
    }

    #[test]
    fn snapshot_batches_add_up_to_the_whole_head() {
        let head = head();
        let whole = snapshot(&head, usize::MAX);
        let ids: Vec<u64> =
            whole.iter().filter_map(|r| if let Record::Series { id, .. } = r { Some(*id) } else { None }).collect();
        assert_eq!(ids, (0..600).collect::<Vec<u64>>());
        assert!(whole.iter().any(|r| matches!(r, Record::Samples(s) if s.len() == 1)));
        for max_series in [1, 7, 256, 599, 600] {
            assert_eq!(snapshot(&head, max_series), whole, "batches of {max_series}");
        }
    }

    #[test]
    fn persisting_in_batches_takes_the_range_in_label_order() {
        let head = head();
        let ids = head.persist_ids(0, RANGE);
        assert_eq!(ids.len(), 480, "series starting in the last range have nothing here");
        let labels: Vec<Labels> = ids.iter().map(|&id| head.labels(id).unwrap()).collect();
        assert!(labels.windows(2).all(|w| w[0] < w[1]), "not sorted by labels");
        let whole = head.persist_data(&ids, 0, RANGE).unwrap();
        assert_eq!(whole.iter().map(|s| &s.labels).collect::<Vec<_>>(), labels.iter().collect::<Vec<_>>());
        let batched: Vec<PersistSeries> =
            ids.chunks(100).flat_map(|batch| head.persist_data(batch, 0, RANGE).unwrap()).collect();
        assert_eq!(format!("{batched:?}"), format!("{whole:?}"));
        // Out-of-order samples count on their own.
        let last = head.persist_ids(2 * RANGE, 3 * RANGE);
        assert_eq!(last.len(), 600);
        let data = head.persist_data(&last, 2 * RANGE, 3 * RANGE).unwrap();
        assert_eq!(data.iter().filter(|s| !s.ooo.is_empty()).count(), 86);
        assert!(head.persist_ids(3 * RANGE, 4 * RANGE).is_empty());
    }
}
