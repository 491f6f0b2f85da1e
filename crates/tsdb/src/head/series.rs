//! One series in the head: its closed chunks (kept by the chunk store), the chunk being appended to, and
//! out-of-order samples.
//!
//! A head holds one of these per active series, so it is kept small: closed chunks are 24-byte references
//! into the [`ChunkStore`], the out-of-order samples (rare) are behind one pointer, and the newest in-order
//! sample is not stored apart, as it is the open chunk's last.

use crate::chunk::{Chunk, ChunkAppender, ChunkBytes, ChunkError};

use super::store::{ChunkLoc, ChunkStore};

/// Samples per head chunk before a new one is started. Bigger chunks compress better; smaller ones cost less
/// to decode when a query or an out-of-order duplicate check needs one sample. Blocks re-encode a series' head
/// chunks into bigger ones anyway.
pub(crate) const SAMPLES_PER_CHUNK: usize = 240;

/// A sample with its value as raw bits, so NaN payloads (the staleness marker) compare and survive exactly.
pub type RawSample = (i64, u64);

/// A chunk that takes no more samples: its time range and where its bytes are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClosedChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub loc: ChunkLoc,
}

/// The head's data of one series.
#[derive(Debug, Default)]
pub(crate) struct MemSeries {
    /// Oldest first. A boxed slice rather than a `Vec`: it changes a few times an hour, and sized exactly it
    /// wastes nothing.
    closed: Box<[ClosedChunk]>,
    open: ChunkAppender,
    /// Samples older than the newest in-order sample, sorted by time, distinct timestamps; `None` when empty.
    /// Boxed so that the (usual) absence costs 8 bytes rather than a 24-byte `Vec` header.
    #[allow(clippy::box_collection)]
    ooo: Option<Box<Vec<RawSample>>>,
}

impl MemSeries {
    /// The time of the newest in-order sample; `None` while the series has none in the head.
    pub fn last_time(&self) -> Option<i64> {
        if self.open.num_samples() > 0 {
            return Some(self.open.max_time());
        }
        // The open chunk is empty only when new or truncated, when all closed chunks are gone too.
        self.closed.last().map(|c| c.max_t)
    }

    /// Reads the memory an in-order append reads first: the open chunk's header and its last byte.
    pub fn touch(&self) -> (Option<i64>, Option<u8>) {
        (self.last_time(), self.open.bytes().last().copied())
    }

    /// Appends a sample newer than `last_time`. A new chunk starts when the open one is full or `t` lies at or
    /// past `chunk_end` of the open chunk, so no chunk spans a block boundary.
    pub fn append_in_order(&mut self, t: i64, bits: u64, block_range: i64, store: &mut ChunkStore) {
        let open = &self.open;
        if open.num_samples() >= SAMPLES_PER_CHUNK
            || (open.num_samples() > 0 && t >= range_end(open.min_time(), block_range))
        {
            self.close_open(store);
        }
        // `t` is after the last sample, which is the open chunk's last, and the chunk has room.
        if let Err(err) = self.open.append(t, f64::from_bits(bits)) {
            unreachable!("in-order append to a chunk with room failed: {err}");
        }
    }

    /// Inserts a sample older than the newest in-order sample, at a timestamp the series does not have yet.
    pub fn insert_ooo(&mut self, t: i64, bits: u64) {
        let ooo = self.ooo.get_or_insert_with(Box::default);
        match ooo.binary_search_by_key(&t, |s| s.0) {
            Ok(i) => ooo[i].1 = bits,
            Err(i) => ooo.insert(i, (t, bits)),
        }
    }

    /// The value the series has at `t`, if any.
    pub fn value_at(&self, t: i64, store: &ChunkStore) -> Result<Option<u64>, ChunkError> {
        if let Ok(i) = self.ooo().binary_search_by_key(&t, |s| s.0) {
            return Ok(Some(self.ooo()[i].1));
        }
        let mut found = None;
        self.for_each_chunk(t, t, store, &mut |bytes| {
            for sample in Chunk::from_bytes(bytes)?.iter() {
                let (st, v) = sample?;
                if st == t {
                    found = Some(v.to_bits());
                }
                if st >= t {
                    break;
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// What a query needs to read the samples in `[mint, maxt]` after the head lock is released: the chunks
    /// overlapping the range (closed ones shared, the open one copied) and the out-of-order samples in it. A
    /// chunk that cannot be read is left out and the first such error returned with the rest.
    pub fn read_view(&self, mint: i64, maxt: i64, store: &ChunkStore) -> (SeriesView, Option<ChunkError>) {
        let mut view = SeriesView::default();
        let mut first_error = None;
        for c in self.closed.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
            match store.shared(c.loc) {
                Ok(bytes) => view.chunks.push(bytes),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        let open = &self.open;
        if open.num_samples() > 0 && open.max_time() >= mint && open.min_time() <= maxt {
            view.chunks.push(ChunkBytes::from(open.bytes()));
        }
        view.ooo = self.ooo().iter().copied().filter(|s| (mint..=maxt).contains(&s.0)).collect();
        (view, first_error)
    }

    /// Drops every sample before `t`, releasing the dropped chunks from `store`. Chunks never span `t` when it
    /// is a block boundary.
    pub fn truncate_before(&mut self, t: i64, store: &mut ChunkStore) {
        if self.closed.iter().any(|c| c.max_t < t) {
            let mut closed = std::mem::take(&mut self.closed).into_vec();
            closed.retain(|c| {
                if c.max_t < t {
                    store.release(c.loc);
                }
                c.max_t >= t
            });
            self.closed = closed.into_boxed_slice();
        }
        if self.open.num_samples() > 0 && self.open.max_time() < t {
            // The newest sample is persisted; later samples are checked against blocks, not this series.
            self.open = ChunkAppender::new();
        }
        if let Some(ooo) = &mut self.ooo {
            ooo.retain(|s| s.0 >= t);
            if ooo.is_empty() {
                self.ooo = None;
            }
        }
    }

    /// Whether the series holds no samples.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.num_samples() == 0 && self.ooo.is_none()
    }

    /// The chunks whose time range `keep(min_t, max_t)` accepts (closed ones shared, the open one copied),
    /// oldest first.
    pub fn chunks(&self, store: &ChunkStore, keep: impl Fn(i64, i64) -> bool) -> Result<Vec<ChunkBytes>, ChunkError> {
        let mut chunks = Vec::new();
        for c in self.closed.iter().filter(|c| keep(c.min_t, c.max_t)) {
            chunks.push(store.shared(c.loc)?);
        }
        let open = &self.open;
        if open.num_samples() > 0 && keep(open.min_time(), open.max_time()) {
            chunks.push(ChunkBytes::from(open.bytes()));
        }
        Ok(chunks)
    }

    /// Whether `chunks` with the same `keep` would return any chunk, without reading one.
    pub fn has_chunks(&self, keep: impl Fn(i64, i64) -> bool) -> bool {
        let open = &self.open;
        self.closed.iter().any(|c| keep(c.min_t, c.max_t))
            || (open.num_samples() > 0 && keep(open.min_time(), open.max_time()))
    }

    /// The out-of-order samples, sorted by time.
    pub fn ooo(&self) -> &[RawSample] {
        self.ooo.as_deref().map_or(&[], |v| &v[..])
    }

    /// Heap bytes held, for self-metrics and the memory benchmark. Closed chunks' bytes are the store's.
    pub fn heap_bytes(&self) -> usize {
        self.closed.len() * size_of::<ClosedChunk>()
            + self.open.heap_bytes()
            + self.ooo.as_ref().map_or(0, |v| size_of::<Vec<RawSample>>() + v.capacity() * size_of::<RawSample>())
    }

    /// Moves the open chunk to `store` and starts an empty one.
    fn close_open(&mut self, store: &mut ChunkStore) {
        let open = std::mem::take(&mut self.open);
        let packed = Chunk::from_bytes(open.bytes()).and_then(|c| c.pack()).ok().flatten();
        let loc = store.put(packed.as_deref().unwrap_or(open.bytes()), open.max_time());
        let mut closed = std::mem::take(&mut self.closed).into_vec();
        closed.reserve_exact(1);
        closed.push(ClosedChunk { min_t: open.min_time(), max_t: open.max_time(), loc });
        self.closed = closed.into_boxed_slice();
    }

    /// Calls `f` with the bytes of each chunk that may hold samples in `[mint, maxt]`, oldest first.
    fn for_each_chunk(
        &self,
        mint: i64,
        maxt: i64,
        store: &ChunkStore,
        f: &mut dyn FnMut(&[u8]) -> Result<(), ChunkError>,
    ) -> Result<(), ChunkError> {
        for c in self.closed.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
            f(store.get(c.loc)?)?;
        }
        let open = &self.open;
        if open.num_samples() > 0 && open.max_time() >= mint && open.min_time() <= maxt {
            f(open.bytes())?;
        }
        Ok(())
    }
}

/// A series' head data as a query reads it, detached from the head: see [`MemSeries::read_view`].
#[derive(Clone, Debug, Default)]
pub struct SeriesView {
    /// Oldest first, disjoint in time.
    chunks: Vec<ChunkBytes>,
    /// Sorted by time, at timestamps the chunks lack.
    ooo: Vec<RawSample>,
}

impl SeriesView {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.ooo.is_empty()
    }

    /// Appends the samples in `[mint, maxt]`, sorted by time, to `out`. On error `out` is left as it was.
    pub fn decode(&self, mint: i64, maxt: i64, out: &mut Vec<RawSample>) -> Result<(), ChunkError> {
        let start = out.len();
        for bytes in &self.chunks {
            if let Err(err) = decode_range(bytes, mint, maxt, out) {
                out.truncate(start);
                return Err(err);
            }
        }
        if !self.ooo.is_empty() {
            out.extend(self.ooo.iter().filter(|s| (mint..=maxt).contains(&s.0)));
            out[start..].sort_unstable_by_key(|s| s.0);
        }
        Ok(())
    }
}

/// Appends the samples of a chunk that lie in `[mint, maxt]` to `out`.
fn decode_range(bytes: &[u8], mint: i64, maxt: i64, out: &mut Vec<RawSample>) -> Result<(), ChunkError> {
    Chunk::from_bytes(bytes)?.decode_into(mint, maxt, out)
}

/// The end (exclusive) of the block range holding `t`: ranges are `[k * range, (k + 1) * range)`.
pub(crate) fn range_end(t: i64, range: i64) -> i64 {
    t.div_euclid(range).saturating_add(1).saturating_mul(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_series_state_stays_small() {
        // The head holds one of each per active series (64-bit targets).
        assert_eq!(size_of::<ClosedChunk>(), 24);
        assert!(size_of::<MemSeries>() <= 192, "{}", size_of::<MemSeries>());
    }

    #[test]
    fn closed_chunks_go_to_the_store_and_are_released_when_dropped() {
        let mut store = ChunkStore::memory();
        let mut series = MemSeries::default();
        for t in 0..1000 {
            series.append_in_order(t * 10, (t as f64).to_bits(), 1 << 40, &mut store);
        }
        series.insert_ooo(5, 7.5f64.to_bits());
        assert_eq!(series.last_time(), Some(9990));
        assert_eq!(store.stats().heap_chunks, 4, "1000 samples make 4 full chunks and an open one");
        let mut out = Vec::new();
        let (view, error) = series.read_view(0, 30, &store);
        assert!(error.is_none());
        view.decode(0, 30, &mut out).unwrap();
        assert_eq!(
            out,
            [(0, 0), (5, 7.5f64.to_bits()), (10, 1f64.to_bits()), (20, 2f64.to_bits()), (30, 3f64.to_bits())]
        );
        assert_eq!(series.value_at(2400, &store), Ok(Some(240f64.to_bits())));
        assert_eq!(series.chunks(&store, |_, _| true).unwrap().len(), 5);
        assert_eq!(series.chunks(&store, |min, max| min >= 2400 && max < 7200).unwrap().len(), 2);
        assert!(series.has_chunks(|min, max| min >= 2400 && max < 7200));
        assert!(series.has_chunks(|min, _| min >= 9600), "the open chunk counts");
        assert!(!series.has_chunks(|min, max| min >= 2401 && max < 4800));
        series.truncate_before(4800, &mut store);
        assert_eq!(store.stats().heap_chunks, 2);
        assert!(series.ooo().is_empty());
        series.truncate_before(i64::MAX, &mut store);
        assert!(series.is_empty());
        assert_eq!(series.last_time(), None);
        assert_eq!(store.stats().heap_chunks, 0);
        assert_eq!(series.heap_bytes(), series.open.heap_bytes());
    }

    #[test]
    fn closed_chunks_with_regular_timestamps_and_decimals_are_packed() {
        use crate::chunk::Encoding;
        let mut store = ChunkStore::memory();
        // On the grid, a counter in hundredths; then the same a few milliseconds late.
        let samples: Vec<(i64, u64)> = (0..2 * SAMPLES_PER_CHUNK as i64)
            .map(|i| {
                let late = if i >= SAMPLES_PER_CHUNK as i64 { i % 3 } else { 0 };
                (i * 10_000 + late, ((i * 37) as f64 / 100.0).to_bits())
            })
            .collect();
        let mut series = MemSeries::default();
        for &(t, bits) in &samples {
            series.append_in_order(t, bits, 1 << 40, &mut store);
        }
        series.append_in_order(1 << 30, 0, 1 << 40, &mut store);
        let encodings: Vec<Encoding> = series
            .chunks(&store, |_, max| max < 1 << 30)
            .unwrap()
            .iter()
            .map(|bytes| Chunk::from_bytes(bytes).unwrap().encoding())
            .collect();
        assert_eq!(encodings, [Encoding::Split, Encoding::Compact]);
        let mut out = Vec::new();
        let (view, error) = series.read_view(i64::MIN, (1 << 30) - 1, &store);
        assert!(error.is_none());
        view.decode(i64::MIN, (1 << 30) - 1, &mut out).unwrap();
        assert_eq!(out, samples);
    }
}
