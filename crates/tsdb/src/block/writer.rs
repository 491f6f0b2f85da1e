//! [`BlockWriter`]: writes a block's chunks as series arrive, then its index and `meta.json`, and commits the
//! block by renaming its temporary directory.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roaring::RoaringBitmap;
use vigil_model::Labels;

use super::buffered::BufferedFile;
use super::chunks::{record_crc, record_prefix, MAX_CHUNK_BYTES};
use super::error::{io_err, BlockError};
use super::index_writer::{write_index, IndexInput};
use super::layout::{header, CHUNKS_FILE, CHUNKS_MAGIC, INDEX_FILE, META_FILE};
use super::meta::{self, BlockMeta, BlockStats, MAX_META_BYTES, META_VERSION};
use super::series::{encode_chunk_refs, ChunkRef};
use crate::backend::{self, Backend};
use crate::chunk::Chunk;

/// A chunk to write: its bytes exactly as [`crate::chunk::ChunkAppender::bytes`] produced them, and the
/// timestamps of its first and last samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkData {
    pub min_t: i64,
    /// The last sample's timestamp (inclusive).
    pub max_t: i64,
    pub bytes: Vec<u8>,
}

/// What a new block covers and where it comes from; its statistics are counted while it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockParams {
    pub min_t: i64,
    /// Exclusive.
    pub max_t: i64,
    pub resolution_ms: i64,
    pub level: u32,
    pub sources: Vec<String>,
}

/// The temporary directory a block is written in before it is renamed to `dir`: `dir` with `.tmp` appended.
pub fn tmp_dir(dir: &Path) -> PathBuf {
    let mut name = OsString::from(dir.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// The directory holding `dir`; `.` for a relative path of one component.
fn parent_of(dir: &Path) -> Option<&Path> {
    dir.file_name()?;
    let parent = dir.parent()?;
    Some(if parent.as_os_str().is_empty() { Path::new(".") } else { parent })
}

/// Writes one block. Series must be added in strictly increasing label order; chunks are streamed to the
/// `chunks` file through a 1 MiB buffer, while the symbols, per-series label and chunk references and postings
/// are kept in memory until [`BlockWriter::finish`] writes the index.
///
/// Dropping a writer without finishing leaves `<dir>.tmp` behind; the next writer for `dir` removes it.
#[derive(Debug)]
pub struct BlockWriter {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    tmp: PathBuf,
    params: BlockParams,
    chunks: BufferedFile,
    /// Every label name and value, with a provisional symbol in order of arrival.
    strings: HashMap<Box<str>, u32>,
    /// Per series: label count, provisional (name, value) symbols, the byte length of its chunk references.
    series_labels: Vec<u32>,
    /// Per series: its encoded chunk references (see `series.rs`).
    series_chunks: Vec<u8>,
    /// Provisional (name, value) symbols → series ordinals.
    postings: HashMap<(u32, u32), RoaringBitmap>,
    last: Option<Labels>,
    stats: BlockStats,
    refs: Vec<ChunkRef>,
    /// Why a write failed; the writer refuses to go on after one.
    failed: Option<String>,
}

impl BlockWriter {
    /// Starts writing the block that will be `dir`, in `<dir>.tmp` (a stale one is removed first). `dir` must
    /// not exist; its parent must.
    pub fn create(backend: Arc<dyn Backend>, dir: &Path, params: BlockParams) -> Result<BlockWriter, BlockError> {
        if params.min_t >= params.max_t || params.level == 0 || params.resolution_ms < 0 {
            return Err(BlockError::InvalidInput(format!(
                "block parameters out of range: min_t {} max_t {} level {} resolution_ms {}",
                params.min_t, params.max_t, params.level, params.resolution_ms
            )));
        }
        let longest_meta = BlockMeta {
            version: META_VERSION,
            min_t: params.min_t,
            max_t: params.max_t,
            resolution_ms: params.resolution_ms,
            level: params.level,
            stats: BlockStats { series: u64::MAX, chunks: u64::MAX, samples: u64::MAX },
            sources: params.sources.clone(),
        };
        if meta::encode(&longest_meta).len() as u64 > MAX_META_BYTES {
            return Err(BlockError::InvalidInput(format!("sources make meta.json exceed {MAX_META_BYTES} bytes")));
        }
        let Some(parent) = parent_of(dir) else {
            return Err(BlockError::InvalidInput(format!("block directory {} has no parent", dir.display())));
        };
        if !backend.exists(parent).map_err(io_err(parent))? {
            return Err(BlockError::Io { path: parent.to_path_buf(), source: std::io::ErrorKind::NotFound.into() });
        }
        if backend.exists(dir).map_err(io_err(dir))? {
            return Err(BlockError::InvalidInput(format!("block directory {} exists", dir.display())));
        }
        let tmp = tmp_dir(dir);
        if backend.exists(&tmp).map_err(io_err(&tmp))? {
            backend::remove_dir_all(&*backend, &tmp).map_err(io_err(&tmp))?;
        }
        backend.create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let mut chunks = BufferedFile::create(&*backend, &tmp.join(CHUNKS_FILE))?;
        chunks.write(&header(CHUNKS_MAGIC))?;
        Ok(BlockWriter {
            backend,
            dir: dir.to_path_buf(),
            tmp,
            params,
            chunks,
            strings: HashMap::new(),
            series_labels: Vec::new(),
            series_chunks: Vec::new(),
            postings: HashMap::new(),
            last: None,
            stats: BlockStats::default(),
            refs: Vec::new(),
            failed: None,
        })
    }

    /// Adds a series and writes its chunks. Series come in strictly increasing label order; chunks in time
    /// order, not overlapping, inside the block's range. A series without chunks is left out. Refused input
    /// ([`BlockError::InvalidInput`]) changes nothing; after an I/O error the writer refuses everything.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkData]) -> Result<(), BlockError> {
        self.check_usable()?;
        if let Some(last) = self.last.as_ref().filter(|last| *last >= labels) {
            return Err(BlockError::InvalidInput(format!("series {labels} is not after {last} in label order")));
        }
        let samples = self.check_chunks(labels, chunks)?;
        if self.stats.series >= u64::from(u32::MAX) {
            return Err(BlockError::InvalidInput("a block holds at most 2^32 - 1 series".into()));
        }
        self.last = Some(labels.clone());
        if chunks.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.write_chunks(chunks) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        let ord = self.stats.series as u32;
        self.series_labels.push(labels.len() as u32);
        for label in labels.iter() {
            let pair = (self.intern(&label.name), self.intern(&label.value));
            self.series_labels.extend([pair.0, pair.1]);
            self.postings.entry(pair).or_default().insert(ord);
        }
        let start = self.series_chunks.len();
        encode_chunk_refs(&mut self.series_chunks, self.params.min_t, &self.refs);
        self.series_labels.push((self.series_chunks.len() - start) as u32);
        self.stats.series += 1;
        self.stats.chunks += chunks.len() as u64;
        self.stats.samples += samples;
        Ok(())
    }

    /// Writes the index and `meta.json`, fsyncs every file and the directory, renames `<dir>.tmp` to `dir` and
    /// fsyncs the parent directory. On error, `<dir>.tmp` may remain, and if only the last fsync failed, `dir`
    /// exists but may not survive a crash.
    pub fn finish(mut self) -> Result<BlockMeta, BlockError> {
        self.check_usable()?;
        let backend = Arc::clone(&self.backend);
        self.chunks.sync()?;
        let mut strings: Vec<(Box<str>, u32)> = std::mem::take(&mut self.strings).into_iter().collect();
        strings.sort_unstable();
        write_index(
            &*backend,
            &self.tmp.join(INDEX_FILE),
            IndexInput {
                min_t: self.params.min_t,
                series_count: self.stats.series,
                strings,
                series_labels: self.series_labels,
                series_chunks: self.series_chunks,
                postings: self.postings,
            },
        )?;
        let meta = BlockMeta {
            version: META_VERSION,
            min_t: self.params.min_t,
            max_t: self.params.max_t,
            resolution_ms: self.params.resolution_ms,
            level: self.params.level,
            stats: self.stats,
            sources: self.params.sources,
        };
        let path = self.tmp.join(META_FILE);
        let file = backend.create_new(&path).map_err(io_err(&path))?;
        file.write_all(&meta::encode(&meta)).and_then(|()| file.sync()).map_err(io_err(&path))?;
        backend.sync_dir(&self.tmp).map_err(io_err(&self.tmp))?;
        backend.rename(&self.tmp, &self.dir).map_err(io_err(&self.tmp))?;
        if let Some(parent) = parent_of(&self.dir) {
            backend.sync_dir(parent).map_err(io_err(parent))?;
        }
        Ok(meta)
    }

    fn check_usable(&self) -> Result<(), BlockError> {
        match &self.failed {
            Some(cause) => Err(BlockError::InvalidInput(format!("block writer failed earlier: {cause}"))),
            None => Ok(()),
        }
    }

    /// Checks a series' chunks and returns their total sample count.
    fn check_chunks(&self, labels: &Labels, chunks: &[ChunkData]) -> Result<u64, BlockError> {
        let bad = |reason: String| Err(BlockError::InvalidInput(format!("series {labels}: {reason}")));
        // A chunk reference takes at most 30 bytes, and a series' references are at most 4 GiB.
        if chunks.len() > (u32::MAX as usize - 10) / 30 {
            return bad(format!("{} chunks are too many for one series", chunks.len()));
        }
        let mut samples = 0;
        let mut prev_max: Option<i64> = None;
        for (i, c) in chunks.iter().enumerate() {
            if c.min_t > c.max_t || c.min_t < self.params.min_t || c.max_t >= self.params.max_t {
                return bad(format!("chunk {i} spans {}..={}, outside the block or reversed", c.min_t, c.max_t));
            }
            if prev_max.is_some_and(|p| c.min_t <= p) {
                return bad(format!("chunk {i} starts at {}, not after the previous chunk", c.min_t));
            }
            if c.bytes.len() > MAX_CHUNK_BYTES {
                return bad(format!("chunk {i} has {} bytes, more than {MAX_CHUNK_BYTES}", c.bytes.len()));
            }
            match Chunk::from_bytes(&c.bytes) {
                Ok(chunk) if chunk.num_samples() > 0 => samples += chunk.num_samples() as u64,
                Ok(_) => return bad(format!("chunk {i} has no samples")),
                Err(e) => return bad(format!("chunk {i} is invalid: {e}")),
            }
            prev_max = Some(c.max_t);
        }
        Ok(samples)
    }

    fn write_chunks(&mut self, chunks: &[ChunkData]) -> Result<(), BlockError> {
        self.refs.clear();
        for c in chunks {
            self.refs.push(ChunkRef { min_t: c.min_t, max_t: c.max_t, offset: self.chunks.len() });
            let prefix = record_prefix(&c.bytes);
            self.chunks.write(&prefix)?;
            self.chunks.write(&c.bytes)?;
            self.chunks.write(&record_crc(&prefix, &c.bytes))?;
        }
        Ok(())
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&sym) = self.strings.get(s) {
            return sym;
        }
        let sym = self.strings.len() as u32;
        self.strings.insert(s.into(), sym);
        sym
    }
}
