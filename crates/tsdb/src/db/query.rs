//! Reading: select series by matchers over the blocks and the head, and decode their samples one series at a
//! time.

use std::collections::{btree_map, BTreeMap};
use std::sync::Arc;

use vigil_model::{Labels, Matcher};

use super::{Db, DbError, Sample};
use crate::block::{Block, BlockError, ChunkRef};
use crate::head::RawSample;

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
    Head(Vec<RawSample>),
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
        let mut found: BTreeMap<Labels, Vec<Source>> = BTreeMap::new();
        for block in &self.blocks {
            let result = self.select_block(block, matchers, &mut found);
            if let Err(err) = result {
                return Err(self.db.block_failed(block, err));
            }
        }
        let head = self.db.head();
        for id in &head.select(matchers) {
            let mut samples = Vec::new();
            head.samples(id, self.mint, self.maxt, &mut samples);
            if samples.is_empty() {
                continue;
            }
            if let Some(labels) = head.labels(id) {
                found.entry(labels).or_default().push(Source::Head(samples));
            }
        }
        Ok(SeriesSet { db: self.db, mint: self.mint, maxt: self.maxt, pending: found.into_iter() })
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

    fn select_block(
        &self,
        block: &Arc<Block>,
        matchers: &[Matcher],
        found: &mut BTreeMap<Labels, Vec<Source>>,
    ) -> Result<(), BlockError> {
        for ord in &block.select(matchers)? {
            let (labels, mut chunks) = block.series(ord)?;
            chunks.retain(|c| c.max_t >= self.mint && c.min_t <= self.maxt);
            if !chunks.is_empty() {
                found.entry(labels).or_default().push(Source::Block { block: Arc::clone(block), chunks });
            }
        }
        Ok(())
    }
}

/// Selected series, decoded one at a time as the iterator advances.
#[derive(Debug)]
pub struct SeriesSet<'a> {
    db: &'a Db,
    mint: i64,
    maxt: i64,
    pending: btree_map::IntoIter<Labels, Vec<Source>>,
}

impl SeriesSet<'_> {
    /// How many series are left.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.len() == 0
    }
}

impl Iterator for SeriesSet<'_> {
    type Item = Result<Series, DbError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (labels, sources) = self.pending.next()?;
        let mut raw = Vec::new();
        for source in &sources {
            match source {
                Source::Head(samples) => raw.extend_from_slice(samples),
                Source::Block { block, chunks } => {
                    if let Err(err) = decode_block_chunks(block, chunks, self.mint, self.maxt, &mut raw) {
                        return Some(Err(self.db.block_failed(block, err)));
                    }
                }
            }
        }
        if sources.len() > 1 {
            // Sources hold disjoint time ranges unless a crash left overlapping blocks; keep the first value
            // of a timestamp either way.
            raw.sort_by_key(|s| s.0);
            raw.dedup_by_key(|s| s.0);
        }
        let samples = raw.into_iter().map(|(t, bits)| Sample { t, v: f64::from_bits(bits) }).collect();
        Some(Ok(Series { labels, samples }))
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
