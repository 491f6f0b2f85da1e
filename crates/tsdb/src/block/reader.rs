//! [`Block`]: an opened block, its files mapped read-only and checked up front, read series by series.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_model::Labels;

use super::chunks;
use super::columns;
use super::error::{corrupt, io_err, BlockError};
use super::layout::{
    check_header, Toc, CHUNKS_FILE, CHUNKS_FORMAT_VERSION, CHUNKS_MAGIC, FORMAT_VERSION, HEADER_BYTES, INDEX_FILE,
    INDEX_MAGIC, META_FILE, TRAILER_BYTES,
};
use super::meta::{self, BlockMeta, MAX_META_BYTES};
use super::series::ChunkRef;
use super::view::IndexView;
use crate::backend::{Backend, Mapped};

/// An immutable block opened for reading. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    meta_path: PathBuf,
    index_path: PathBuf,
    chunks_path: PathBuf,
    index: Mapped,
    chunks: Mapped,
    toc: Toc,
    /// How many label pairs (name and value) the block has.
    pairs: u64,
    size_bytes: u64,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block").field("dir", &self.dir).field("meta", &self.meta).finish_non_exhaustive()
    }
}

impl Block {
    /// Opens the block in `dir`: reads `meta.json`, maps `index` and `chunks`, checks their headers, the index's
    /// checksum and table of contents, and that the index agrees with `meta.json`. Chunks are checked as they
    /// are read ([`Block::chunk`]) or all at once by [`Block::verify`].
    pub fn open(backend: Arc<dyn Backend>, dir: &Path) -> Result<Block, BlockError> {
        let meta_path = dir.join(META_FILE);
        let meta_bytes = backend.read(&meta_path, MAX_META_BYTES).map_err(io_err(&meta_path))?;
        let meta = meta::decode(&meta_path, &meta_bytes)?;

        let index_path = dir.join(INDEX_FILE);
        let index = backend.map(&index_path).map_err(io_err(&index_path))?;
        check_header(&index_path, &index, INDEX_MAGIC, FORMAT_VERSION)?;
        let len = index.len() as u64;
        if len < HEADER_BYTES + TRAILER_BYTES {
            return Err(corrupt(&index_path, None, format!("index of {len} bytes is too short")));
        }
        let body = &index[..index.len() - 4];
        let mut stored = [0; 4];
        stored.copy_from_slice(&index[index.len() - 4..]);
        if crc32fast::hash(body) != u32::from_le_bytes(stored) {
            return Err(corrupt(&index_path, Some(len - 4), "index checksum mismatch"));
        }
        let toc = Toc::decode(&index_path, &index)?;
        let view = IndexView { data: &index, toc: &toc, path: &index_path };
        let pairs = view.check_names()?;
        if toc.series_count != meta.stats.series || toc.min_t != meta.min_t {
            return Err(corrupt(&index_path, None, "series count or start time differs from meta.json"));
        }

        let chunks_path = dir.join(CHUNKS_FILE);
        let chunks = backend.map(&chunks_path).map_err(io_err(&chunks_path))?;
        check_header(&chunks_path, &chunks, CHUNKS_MAGIC, CHUNKS_FORMAT_VERSION)?;
        // The checks mapped every page of the index (for its checksum) and the first ones of `chunks` (the kernel
        // maps pages around the one read) into this process; queries need only the parts they select.
        index.release_pages();
        chunks.release_pages();

        let size_bytes = meta_bytes.len() as u64 + len + chunks.len() as u64;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            meta_path,
            index_path,
            chunks_path,
            index,
            chunks,
            toc,
            pairs,
            size_bytes,
        })
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many series the block has; their ordinals are `0..num_series()`, in label order.
    pub fn num_series(&self) -> u32 {
        self.toc.series_count as u32
    }

    /// The bytes of the block's files.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub(super) fn view(&self) -> IndexView<'_> {
        IndexView { data: &self.index, toc: &self.toc, path: &self.index_path }
    }

    pub(super) fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Drops this process's page mappings of the block's files, which reading faults in and which count towards
    /// its RSS; for maintenance, once it has read the block through. The block stays readable: reads map the
    /// pages again from the page cache.
    pub fn release_pages(&self) {
        self.index.release_pages();
        self.chunks.release_pages();
    }

    /// The labels and chunk references of series `ord`.
    pub fn series(&self, ord: u32) -> Result<(Labels, Vec<ChunkRef>), BlockError> {
        let view = self.view();
        let mut record = view.series(ord)?;
        let mut symbols = view.symbol_reader();
        let mut pairs = Vec::with_capacity(record.label_count() as usize);
        while let Some((name, value)) = record.next_label().map_err(|e| e.in_file(&self.index_path))? {
            let (name, value) = (symbols.get(name)?, symbols.get(value)?);
            if name.is_empty() || value.is_empty() {
                return Err(corrupt(&self.index_path, None, format!("series {ord} has an empty label name or value")));
            }
            pairs.push((name, value));
        }
        let labels = Labels::from_pairs(pairs)
            .map_err(|e| corrupt(&self.index_path, None, format!("series {ord} has invalid labels: {e}")))?;
        let refs = record.chunk_refs(self.toc.min_t).map_err(|e| e.in_file(&self.index_path))?;
        Ok((labels, refs))
    }

    /// The stored bytes of a chunk, after checking its record's CRC: the whole chunk, or only its values when
    /// `r.timestamps` names a shared timestamp column. [`Block::decode`] reads either.
    pub fn chunk(&self, r: &ChunkRef) -> Result<&[u8], BlockError> {
        chunks::read_record(&self.chunks_path, &self.chunks, r.offset)
    }

    /// The timestamp column at `offset`, after checking its record's CRC.
    pub fn column(&self, offset: u64) -> Result<&[u8], BlockError> {
        chunks::read_record(&self.chunks_path, &self.chunks, offset)
    }

    /// Appends the samples of chunk `r` in `[mint, maxt]` to `out` as (timestamp, value bits).
    pub fn decode(&self, r: &ChunkRef, mint: i64, maxt: i64, out: &mut Vec<(i64, u64)>) -> Result<(), BlockError> {
        let column = r.timestamps.map(|offset| self.column(offset)).transpose()?;
        columns::decode(self.chunk(r)?, column, mint, maxt, out)
            .map_err(|reason| corrupt(&self.chunks_path, Some(r.offset), reason))
    }

    /// Reads the whole block: every series in label order, every postings list, and every chunk (CRC, header,
    /// samples, and that its first and last timestamps are those of its reference), and compares the counts
    /// with `meta.json`. For scrubbing; it costs a full read.
    pub fn verify(&self) -> Result<(), BlockError> {
        let mut prev: Option<Labels> = None;
        let (mut labels_total, mut chunks_total, mut samples_total) = (0u64, 0u64, 0u64);
        for ord in 0..self.num_series() {
            let (labels, refs) = self.series(ord)?;
            if prev.as_ref().is_some_and(|p| *p >= labels) {
                return Err(corrupt(&self.index_path, None, format!("series {ord} is out of label order")));
            }
            for r in &refs {
                if r.min_t < self.meta.min_t || r.max_t >= self.meta.max_t {
                    return Err(corrupt(&self.index_path, None, format!("series {ord} has a chunk outside the block")));
                }
                samples_total += self.verify_chunk(r)?;
            }
            labels_total += labels.len() as u64;
            chunks_total += refs.len() as u64;
            prev = Some(labels);
        }
        let view = self.view();
        let mut postings_total = 0;
        for name in view.names() {
            let name = name?;
            for i in 0..name.values {
                postings_total += view.postings(&view.value_at(&name, i)?)?.len();
            }
        }
        if postings_total != labels_total {
            return Err(corrupt(&self.index_path, None, "postings do not match the series' labels"));
        }
        let stats = &self.meta.stats;
        if (stats.chunks, stats.samples) != (chunks_total, samples_total) {
            return Err(corrupt(
                &self.meta_path,
                None,
                format!(
                    "stats say {} chunks and {} samples, the block has {chunks_total} and {samples_total}",
                    stats.chunks, stats.samples
                ),
            ));
        }
        Ok(())
    }

    /// Checks one chunk fully and returns its sample count.
    fn verify_chunk(&self, r: &ChunkRef) -> Result<u64, BlockError> {
        let mut samples = Vec::new();
        self.decode(r, i64::MIN, i64::MAX, &mut samples)?;
        let (first, last) = (samples.first().map(|s| s.0), samples.last().map(|s| s.0));
        if first != Some(r.min_t) || last != Some(r.max_t) {
            let reason = format!("samples span {first:?}..={last:?}, the index says {}..={}", r.min_t, r.max_t);
            return Err(corrupt(&self.chunks_path, Some(r.offset), reason));
        }
        if samples.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(corrupt(&self.chunks_path, Some(r.offset), "timestamps do not increase"));
        }
        Ok(samples.len() as u64)
    }
}
