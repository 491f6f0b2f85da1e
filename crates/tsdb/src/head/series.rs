//! One series in the head: its closed chunks, the chunk being appended to, and out-of-order samples.

use std::sync::Arc;

use crate::chunk::{Chunk, ChunkAppender, ChunkError};

/// Samples per head chunk before a new one is started. Bigger chunks compress better; smaller ones cost less
/// to decode when a query or an out-of-order duplicate check needs one sample. Blocks re-encode a series' head
/// chunks into bigger ones anyway.
pub(crate) const SAMPLES_PER_CHUNK: usize = 240;

/// A sample with its value as raw bits, so NaN payloads (the staleness marker) compare and survive exactly.
pub type RawSample = (i64, u64);

/// A chunk that takes no more samples.
#[derive(Debug)]
pub(crate) struct ClosedChunk {
    pub min_t: i64,
    pub max_t: i64,
    /// Shared with checkpoints and block writing, which take the head's chunks without copying them.
    pub bytes: Arc<[u8]>,
}

/// The head's data of one series.
#[derive(Debug, Default)]
pub(crate) struct MemSeries {
    pub closed: Vec<ClosedChunk>,
    pub open: ChunkAppender,
    /// Samples older than the newest in-order sample, sorted by time, distinct timestamps.
    pub ooo: Vec<RawSample>,
    /// The newest in-order sample; `None` while the series has none in the head.
    pub last: Option<RawSample>,
}

impl MemSeries {
    /// Appends a sample newer than `last`. A new chunk starts when the open one is full or `t` lies at or past
    /// `chunk_end` of the open chunk, so no chunk spans a block boundary.
    pub fn append_in_order(&mut self, t: i64, bits: u64, block_range: i64) {
        let open = &self.open;
        if open.num_samples() >= SAMPLES_PER_CHUNK
            || (open.num_samples() > 0 && t >= range_end(open.min_time(), block_range))
        {
            self.close_open();
        }
        // `t` is after `last`, which is the open chunk's last sample, and the chunk has room.
        if let Err(err) = self.open.append(t, f64::from_bits(bits)) {
            unreachable!("in-order append to a chunk with room failed: {err}");
        }
        self.last = Some((t, bits));
    }

    /// Inserts a sample older than `last` whose timestamp the series does not have yet.
    pub fn insert_ooo(&mut self, t: i64, bits: u64) {
        match self.ooo.binary_search_by_key(&t, |s| s.0) {
            Ok(i) => self.ooo[i].1 = bits,
            Err(i) => self.ooo.insert(i, (t, bits)),
        }
    }

    /// The value the series has at `t`, if any.
    pub fn value_at(&self, t: i64) -> Result<Option<u64>, ChunkError> {
        if let Ok(i) = self.ooo.binary_search_by_key(&t, |s| s.0) {
            return Ok(Some(self.ooo[i].1));
        }
        let mut found = None;
        self.for_each_chunk(t, t, &mut |bytes| {
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

    /// Every sample in `[mint, maxt]`, sorted by time.
    pub fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<RawSample>) -> Result<(), ChunkError> {
        let start = out.len();
        self.for_each_chunk(mint, maxt, &mut |bytes| {
            for sample in Chunk::from_bytes(bytes)?.iter() {
                let (t, v) = sample?;
                if t > maxt {
                    break;
                }
                if t >= mint {
                    out.push((t, v.to_bits()));
                }
            }
            Ok(())
        })?;
        let ooo = self.ooo.iter().filter(|s| (mint..=maxt).contains(&s.0));
        if self.ooo.is_empty() {
            return Ok(());
        }
        out.extend(ooo);
        // Timestamps are distinct: an out-of-order sample is only taken for a timestamp the chunks lack.
        out[start..].sort_unstable_by_key(|s| s.0);
        Ok(())
    }

    /// Drops every sample before `t`. Chunks never span `t` when it is a block boundary.
    pub fn truncate_before(&mut self, t: i64) {
        self.closed.retain(|c| c.max_t >= t);
        if self.open.num_samples() > 0 && self.open.max_time() < t {
            self.open = ChunkAppender::new();
        }
        self.ooo.retain(|s| s.0 >= t);
        if self.last.is_some_and(|(lt, _)| lt < t) {
            // The newest sample is persisted; later samples are checked against blocks, not this series.
            self.last = None;
        }
    }

    /// Whether the series holds no samples.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.num_samples() == 0 && self.ooo.is_empty()
    }

    /// Every chunk, closed ones first (shared), then a copy of the open one; what a checkpoint needs besides
    /// `ooo`.
    pub fn chunks(&self) -> impl Iterator<Item = Arc<[u8]>> + '_ {
        let open = (self.open.num_samples() > 0).then(|| Arc::from(self.open.bytes()));
        self.closed.iter().map(|c| Arc::clone(&c.bytes)).chain(open)
    }

    /// Heap bytes held, for self-metrics and the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.bytes.len()).sum::<usize>()
            + self.open.heap_bytes()
            + self.ooo.capacity() * std::mem::size_of::<RawSample>()
    }

    fn close_open(&mut self) {
        let open = std::mem::take(&mut self.open);
        self.closed.push(ClosedChunk { min_t: open.min_time(), max_t: open.max_time(), bytes: open.bytes().into() });
    }

    /// Calls `f` with the bytes of each chunk that may hold samples in `[mint, maxt]`, oldest first.
    fn for_each_chunk(
        &self,
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&[u8]) -> Result<(), ChunkError>,
    ) -> Result<(), ChunkError> {
        for c in self.closed.iter().filter(|c| c.max_t >= mint && c.min_t <= maxt) {
            f(&c.bytes)?;
        }
        let open = &self.open;
        if open.num_samples() > 0 && open.max_time() >= mint && open.min_time() <= maxt {
            f(open.bytes())?;
        }
        Ok(())
    }
}

/// The end (exclusive) of the block range holding `t`: ranges are `[k * range, (k + 1) * range)`.
pub(crate) fn range_end(t: i64, range: i64) -> i64 {
    t.div_euclid(range).saturating_add(1).saturating_mul(range)
}
