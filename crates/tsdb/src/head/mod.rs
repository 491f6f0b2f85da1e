//! The head: the newest samples of every series, in memory, indexed, until they are persisted into a block.
//!
//! The head is not synchronised; the database wraps it in a lock and logs every change to the write-ahead log
//! before acknowledging it. Acceptance rules (the same for live appends and, without the time window, for
//! replay) are documented on [`Head::add`].

mod series;

use std::collections::BTreeMap;
use std::sync::Arc;

use roaring::RoaringBitmap;
use vigil_model::{Labels, Matcher};

use crate::chunk::{Chunk, ChunkAppender};
use crate::index::{Index, IndexError, SeriesId};
use crate::wal::{Record, RefSample};

pub use series::RawSample;
pub(crate) use series::{range_end, MemSeries};

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
    pub chunks: Vec<Arc<[u8]>>,
    pub ooo: Vec<RawSample>,
}

#[derive(Debug)]
pub struct Head {
    index: Index,
    series: Vec<Option<MemSeries>>,
    limits: HeadLimits,
    /// Newest sample time ever added; `i64::MIN` before the first.
    max_t: i64,
    /// A lower bound of the oldest sample time; `i64::MAX` while empty.
    min_t: i64,
    /// Samples before this time live in blocks; the head accepts none.
    persisted_until: i64,
}

impl Head {
    pub fn new(limits: HeadLimits, persisted_until: i64) -> Head {
        Head { index: Index::new(), series: Vec::new(), limits, max_t: i64::MIN, min_t: i64::MAX, persisted_until }
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

    /// The id of the series with these labels, created if new; `true` when created.
    /// The labels are pairs forming a valid [`Labels`]; see [`Index::get_or_create_pairs`].
    pub fn get_or_create_pairs<'p>(
        &mut self,
        pairs: impl Iterator<Item = (&'p str, &'p str)> + Clone,
    ) -> Result<(SeriesId, bool), IndexError> {
        let (id, created) = self.index.get_or_create_pairs(pairs)?;
        if created {
            self.slot(id).get_or_insert_with(MemSeries::default);
        }
        Ok((id, created))
    }

    /// Restores a series from the log. A repeated record for the same series is harmless.
    pub fn restore_series(&mut self, id: SeriesId, labels: &Labels) -> Result<(), IndexError> {
        match self.index.insert_with_id(id, labels) {
            Ok(()) => {}
            Err(IndexError::SeriesExists { existing, .. }) if existing == id => {}
            Err(err) => return Err(err),
        }
        self.slot(id).get_or_insert_with(MemSeries::default);
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
        let Some(Some(series)) = self.series.get_mut(id as usize) else {
            unreachable!("samples are only added to series the head holds");
        };
        let added = match series.last {
            None => {
                series.append_in_order(t, bits, block_range);
                Added::Appended
            }
            Some((last, _)) if t > last => {
                series.append_in_order(t, bits, block_range);
                Added::Appended
            }
            Some((last, last_bits)) if t == last => {
                return if last_bits == bits { Ok(Added::Unchanged) } else { Err(Rejection::Duplicate) };
            }
            Some((last, _)) => {
                if !replay && t < ooo_min {
                    return Err(Rejection::OutOfOrder { last });
                }
                // Head chunks are made in this process, or validated when replayed, so they decode.
                match series.value_at(t).unwrap_or(None) {
                    Some(existing) if existing == bits => return Ok(Added::Unchanged),
                    Some(_) => return Err(Rejection::Duplicate),
                    None => series.insert_ooo(t, bits),
                }
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

    /// Samples of series `id` in `[mint, maxt]`, sorted by time, appended to `out`.
    pub fn samples(&self, id: SeriesId, mint: i64, maxt: i64, out: &mut Vec<RawSample>) {
        if let Some(Some(series)) = self.series.get(id as usize) {
            // See `add`: head chunks decode.
            let _ = series.samples(mint, maxt, out);
        }
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

    /// Copies out every series' chunks and out-of-order samples in `[lo, hi)`, sorted by labels.
    pub fn persist_data(&self, lo: i64, hi: i64) -> Vec<PersistSeries> {
        let mut out = BTreeMap::new();
        for (id, series) in self.series.iter().enumerate() {
            let Some(series) = series else { continue };
            let mut chunks: Vec<Arc<[u8]>> =
                series.closed.iter().filter(|c| c.min_t >= lo && c.max_t < hi).map(|c| c.bytes.clone()).collect();
            let open = &series.open;
            if open.num_samples() > 0 && open.min_time() >= lo && open.max_time() < hi {
                chunks.push(Arc::from(open.bytes()));
            }
            let ooo: Vec<RawSample> = series.ooo.iter().copied().filter(|s| (lo..hi).contains(&s.0)).collect();
            if chunks.is_empty() && ooo.is_empty() {
                continue;
            }
            let Some(labels) = self.index.labels(id as SeriesId) else { continue };
            out.insert(labels.clone(), PersistSeries { labels, chunks, ooo });
        }
        out.into_values().collect()
    }

    /// Drops every sample before `t` (a block boundary, persisted now) and the series left empty. Returns how
    /// many series were dropped.
    pub fn truncate_before(&mut self, t: i64) -> u64 {
        let mut empty = RoaringBitmap::new();
        for (id, slot) in self.series.iter_mut().enumerate() {
            if let Some(series) = slot {
                series.truncate_before(t);
                if series.is_empty() {
                    empty.insert(id as u32);
                    *slot = None;
                }
            }
        }
        self.persisted_until = self.persisted_until.max(t);
        if self.min_t != i64::MAX {
            self.min_t = self.min_t.max(t);
        }
        if self.index.len() as u64 == empty.len() {
            self.min_t = i64::MAX;
        }
        self.index.remove(&empty)
    }

    /// The records that recreate the head: every series, its chunks and its out-of-order samples.
    pub fn snapshot(&self) -> Vec<Record> {
        let mut records = Vec::new();
        for (id, series) in self.series.iter().enumerate() {
            let Some(series) = series else { continue };
            let Some(labels) = self.index.labels(id as SeriesId) else { continue };
            let series_id = id as u64;
            records.push(Record::Series { id: series_id, labels });
            for bytes in series.chunks() {
                records.push(Record::Chunk { series_id, bytes });
            }
            if !series.ooo.is_empty() {
                let samples = series.ooo.iter().map(|&(t, bits)| RefSample { series_id, t_ms: t, value_bits: bits });
                records.push(Record::Samples(samples.collect()));
            }
        }
        records
    }

    /// Approximate heap bytes of the index and the series' data.
    pub fn heap_bytes(&self) -> usize {
        let series: usize = self.series.iter().flatten().map(MemSeries::heap_bytes).sum();
        self.index.heap_bytes() + series + self.series.capacity() * std::mem::size_of::<Option<MemSeries>>()
    }

    fn slot(&mut self, id: SeriesId) -> &mut Option<MemSeries> {
        let i = id as usize;
        if self.series.len() <= i {
            self.series.resize_with(i + 1, || None);
        }
        &mut self.series[i]
    }
}

/// The samples of a series' head chunks and out-of-order samples, merged in time order, for a block.
pub fn merge_samples(chunks: &[Arc<[u8]>], ooo: &[RawSample]) -> Result<Vec<RawSample>, String> {
    let mut samples: Vec<RawSample> = Vec::new();
    for bytes in chunks {
        let chunk = Chunk::from_bytes(bytes).map_err(|e| e.to_string())?;
        for sample in chunk.iter() {
            let (t, v) = sample.map_err(|e| e.to_string())?;
            samples.push((t, v.to_bits()));
        }
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
