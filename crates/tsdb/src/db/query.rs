//! Reading: select series by matchers over the blocks and the head, and decode their samples one series at a
//! time.

use std::sync::Arc;

use roaring::RoaringBitmap;
use vigil_model::{Labels, Matcher};

use super::{Db, DbError, Sample};
use crate::block::{Block, BlockError, ChunkRef};
use crate::head::{RawSample, SeriesView};

/// One series and its samples in the queried range, sorted by time, one sample per timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Where some of a series' samples are.
#[derive(Debug)]
pub(crate) enum Source {
    Block { block: Arc<Block>, chunks: Vec<ChunkRef> },
    Head(SeriesView),
}

/// A view of the database over `[mint, maxt]`. Blocks stay readable for as long as the querier (or a series
/// set made from it) lives, even if maintenance deletes them meanwhile.
#[derive(Debug)]
pub struct Querier<'a> {
    db: &'a Db,
    mint: i64,
    maxt: i64,
    blocks: Vec<Arc<Block>>,
}

impl<'a> Querier<'a> {
    /// Reads the raw blocks overlapping `[mint, maxt]` except those inside one of the `skip` ranges.
    pub(super) fn new(db: &'a Db, mint: i64, maxt: i64, skip: &[(i64, i64)]) -> Querier<'a> {
        let blocks = db
            .blocks()
            .into_iter()
            .filter(|b| b.meta().resolution_ms == 0 && overlaps(b, mint, maxt))
            .filter(|b| !skip.iter().any(|&(lo, hi)| b.meta().min_t >= lo && b.meta().max_t <= hi))
            .collect();
        Querier { db, mint, maxt, blocks }
    }

    pub fn mint(&self) -> i64 {
        self.mint
    }

    pub fn maxt(&self) -> i64 {
        self.maxt
    }

    /// The series every matcher accepts that have samples in range, sorted by labels. With Prometheus
    /// semantics, a missing label matches as the empty value.
    pub fn select(&self, matchers: &[Matcher]) -> Result<SeriesSet<'a>, DbError> {
        Ok(SeriesSet { selection: self.selection(matchers)?, next: 0 })
    }

    /// Like [`Querier::select`], but leaves the samples to be decoded on demand, from any thread. The head's
    /// lock is held only while the selected series' chunks are gathered (shared, not copied), not while they
    /// are decoded. A series whose chunks overlap the range without holding a sample in it is included, with
    /// no samples.
    pub fn selection(&self, matchers: &[Matcher]) -> Result<Selection<'a>, DbError> {
        let mut found = self.select_blocks(matchers)?;
        let head = self.db.head();
        for id in &head.select(matchers) {
            let Some(view) = head.read_view(id, self.mint, self.maxt) else { continue };
            if let Some(labels) = head.labels(id) {
                found.push((labels, Source::Head(view)));
            }
        }
        drop(head);
        // Stable, so a series' sources stay in the order above: blocks oldest first, then the head.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut series: Vec<(Labels, Vec<Source>)> = Vec::with_capacity(found.len());
        for (labels, source) in found {
            match series.last_mut() {
                Some((last, sources)) if *last == labels => sources.push(source),
                _ => series.push((labels, vec![source])),
            }
        }
        Ok(Selection { db: self.db, mint: self.mint, maxt: self.maxt, series })
    }

    /// The label names of the series the matchers select (all series with no matchers), sorted. Like
    /// Prometheus, the time bounds pick whole blocks and the head, not single samples.
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, DbError> {
        let mut names = Vec::new();
        for block in &self.blocks {
            let result = block.select(matchers).and_then(|ords| block.label_names(&ords));
            names.extend(result.map_err(|err| self.db.block_failed(block, err))?);
        }
        if self.head_overlaps() {
            let head = self.db.head();
            let ids = head.select(matchers);
            names.extend(head.index().label_names(&ids).iter().map(|s| s.to_string()));
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    /// The values label `name` takes in the series the matchers select, sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, DbError> {
        let mut values = Vec::new();
        for block in &self.blocks {
            let result = block.select(matchers).and_then(|ords| block.label_values(name, &ords));
            values.extend(result.map_err(|err| self.db.block_failed(block, err))?);
        }
        if self.head_overlaps() {
            let head = self.db.head();
            let ids = head.select(matchers);
            values.extend(head.index().label_values(name, &ids).iter().map(|s| s.to_string()));
        }
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }

    fn head_overlaps(&self) -> bool {
        let head = self.db.head();
        match (head.min_t(), head.max_t()) {
            (Some(lo), Some(hi)) => lo <= self.maxt && hi >= self.mint,
            _ => false,
        }
    }

    /// The series of every block the matchers select, with their chunks in range, blocks oldest first. When
    /// there are many, blocks are read on several threads: reading labels is most of a wide select's cost.
    fn select_blocks(&self, matchers: &[Matcher]) -> Result<Vec<(Labels, Source)>, DbError> {
        let mut picked = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            picked.push((block, block.select(matchers).map_err(|err| self.db.block_failed(block, err))?));
        }
        let total: u64 = picked.iter().map(|(_, ords)| ords.len()).sum();
        let threads = cores().min(picked.len()).min((total / SERIES_PER_THREAD) as usize).max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((block, ords)) = picked.get(i) else { return done };
                done.push((i, self.read_block_series(block, ords)));
            }
        };
        let mut results = if threads == 1 {
            work()
        } else {
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
                let mut all = work();
                for helper in helpers {
                    all.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
                }
                all
            })
        };
        results.sort_unstable_by_key(|(i, _)| *i);
        let mut found = Vec::with_capacity(total as usize);
        for (i, result) in results {
            found.extend(result.map_err(|err| self.db.block_failed(picked[i].0, err))?);
        }
        Ok(found)
    }

    fn read_block_series(&self, block: &Arc<Block>, ords: &RoaringBitmap) -> Result<Vec<(Labels, Source)>, BlockError> {
        let mut found = Vec::with_capacity(ords.len() as usize);
        for ord in ords {
            let (labels, mut chunks) = block.series(ord)?;
            chunks.retain(|c| c.max_t >= self.mint && c.min_t <= self.maxt);
            if !chunks.is_empty() {
                found.push((labels, Source::Block { block: Arc::clone(block), chunks }));
            }
        }
        Ok(found)
    }
}

/// Below this many selected block series per extra thread, starting the thread costs more than it saves.
const SERIES_PER_THREAD: u64 = 1024;

/// The cores this process may use, found once.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Series a [`Querier::selection`] found, sorted by labels, whose samples are decoded on demand.
#[derive(Debug)]
pub struct Selection<'a> {
    db: &'a Db,
    mint: i64,
    maxt: i64,
    series: Vec<(Labels, Vec<Source>)>,
}

impl Selection<'_> {
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The labels of series `i`; panics if `i >= len()`.
    pub fn labels(&self, i: usize) -> &Labels {
        &self.series[i].0
    }

    /// Every series' labels, in order.
    pub fn into_labels(self) -> Vec<Labels> {
        self.series.into_iter().map(|(labels, _)| labels).collect()
    }

    /// Appends series `i`'s samples in range to `out`, sorted by time, one per timestamp, values as raw bits.
    /// Panics if `i >= len()`.
    pub fn decode(&self, i: usize, out: &mut Vec<RawSample>) -> Result<(), DbError> {
        let sources = &self.series[i].1;
        let start = out.len();
        for source in sources {
            match source {
                Source::Head(view) => {
                    // A damaged head chunk was already logged when the view was taken; one failing here
                    // means bytes changed under us, which is worth a log line but not a failed query.
                    if let Err(err) = view.decode(self.mint, self.maxt, out) {
                        tracing::error!(labels = %self.series[i].0, error = %err, "cannot decode a head chunk");
                    }
                }
                Source::Block { block, chunks } => {
                    if let Err(err) = decode_block_chunks(block, chunks, self.mint, self.maxt, out) {
                        return Err(self.db.block_failed(block, err));
                    }
                }
            }
        }
        // Without an early exit, so that the scan vectorizes: out of order is the rare case.
        let in_order = || out[start..].windows(2).fold(true, |ok, pair| ok & (pair[0].0 < pair[1].0));
        if sources.len() > 1 && !in_order() {
            // Sources hold disjoint time ranges, oldest first, unless a crash left overlapping blocks; keep the
            // first value of a timestamp either way.
            out[start..].sort_by_key(|s| s.0);
            let mut kept = start;
            for j in start..out.len() {
                if kept == start || out[kept - 1].0 != out[j].0 {
                    out[kept] = out[j];
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
        Ok(())
    }
}

/// Selected series, decoded one at a time as the iterator advances; series without samples in range are
/// skipped.
#[derive(Debug)]
pub struct SeriesSet<'a> {
    selection: Selection<'a>,
    next: usize,
}

impl SeriesSet<'_> {
    /// How many series are left, at most: some may turn out to have no samples in range.
    pub fn len(&self) -> usize {
        self.selection.len() - self.next
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Iterator for SeriesSet<'_> {
    type Item = Result<Series, DbError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut raw = Vec::new();
        while self.next < self.selection.len() {
            let i = self.next;
            self.next += 1;
            raw.clear();
            if let Err(err) = self.selection.decode(i, &mut raw) {
                return Some(Err(err));
            }
            if raw.is_empty() {
                continue;
            }
            let samples = raw.iter().map(|&(t, bits)| Sample { t, v: f64::from_bits(bits) }).collect();
            return Some(Ok(Series { labels: self.selection.labels(i).clone(), samples }));
        }
        None
    }
}

/// Decodes the samples in `[mint, maxt]` of some chunks of a block, appending them to `out`.
pub(crate) fn decode_block_chunks(
    block: &Block,
    chunks: &[ChunkRef],
    mint: i64,
    maxt: i64,
    out: &mut Vec<RawSample>,
) -> Result<(), BlockError> {
    for chunk_ref in chunks {
        block.decode(chunk_ref, mint, maxt, out)?;
    }
    Ok(())
}

pub(crate) fn overlaps(block: &Block, mint: i64, maxt: i64) -> bool {
    let meta = block.meta();
    meta.min_t <= maxt && meta.max_t > mint
}
