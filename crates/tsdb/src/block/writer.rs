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
use super::columns::{self, Split};
use super::error::{io_err, BlockError};
use super::index_writer::{write_index, IndexInput};
use super::layout::{header, CHUNKS_FILE, CHUNKS_FORMAT_VERSION, CHUNKS_MAGIC, INDEX_FILE, META_FILE};
use super::meta::{self, BlockMeta, BlockStats, MAX_META_BYTES, META_VERSION};
use super::reader::Block;
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

/// A chunk written ahead of its series by [`BlockWriter::write_chunk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrittenChunk {
    pub chunk_ref: ChunkRef,
    pub samples: u64,
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
    /// Timestamp columns written so far, by a hash of their timestamps, for sharing.
    columns: HashMap<u64, Vec<KnownColumn>>,
    /// Timestamps held in `columns`; beyond a cap new columns are written but not remembered.
    columns_cached: usize,
    /// Offsets of columns copied from a source block, by (source, offset there).
    copied_columns: HashMap<(usize, u64), u64>,
    /// Why a write failed; the writer refuses to go on after one.
    failed: Option<String>,
}

/// A timestamp column already written: its timestamps and offset.
type KnownColumn = (Box<[i64]>, u64);

/// The most timestamps the writer remembers to share columns (8 bytes each): far more than the distinct
/// columns of realistic data (one per scrape target and chunk), and a bound for pathological input.
const MAX_CACHED_TIMESTAMPS: usize = 8 << 20;

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
        chunks.write(&header(CHUNKS_MAGIC, CHUNKS_FORMAT_VERSION))?;
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
            columns: HashMap::new(),
            columns_cached: 0,
            copied_columns: HashMap::new(),
            failed: None,
        })
    }

    /// Adds a series and writes its chunks. Series come in strictly increasing label order; chunks in time
    /// order, not overlapping, inside the block's range. A series without chunks is left out. Refused input
    /// ([`BlockError::InvalidInput`]) changes nothing; after an I/O error the writer refuses everything.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkData]) -> Result<(), BlockError> {
        self.check_usable()?;
        let samples = self.check_series(labels, chunks)?;
        if chunks.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.write_chunks(chunks) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.record_series(labels, samples);
        Ok(())
    }

    /// Adds a series whose chunks are copied as stored from source blocks: `parts` holds, in time order, a
    /// block and the references of the series' chunks in it. Values chunks keep sharing their timestamp
    /// columns, which are copied once per block. The same rules as for [`BlockWriter::add_series`].
    pub fn copy_series(&mut self, labels: &Labels, parts: &[(&Block, &[ChunkRef])]) -> Result<(), BlockError> {
        self.check_usable()?;
        let mut chunks = Vec::new();
        for (source, refs) in parts {
            for r in *refs {
                chunks.push(ChunkData { min_t: r.min_t, max_t: r.max_t, bytes: source.chunk(r)?.to_vec() });
            }
        }
        let samples = self.check_series(labels, &chunks)?;
        if chunks.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.copy_chunks(parts, &chunks) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.record_series(labels, samples);
        Ok(())
    }

    /// Adds a series from its samples, `(timestamp, value bits)` strictly increasing in time and inside the
    /// block: encodes them straight into values chunks over shared timestamp columns (or whole chunks when a
    /// run is short), which costs one encoding pass instead of the two of building chunks for `add_series`.
    pub fn add_series_samples(&mut self, labels: &Labels, samples: &[(i64, u64)]) -> Result<(), BlockError> {
        self.check_usable()?;
        let bad = |reason: String| Err(BlockError::InvalidInput(format!("series {labels}: {reason}")));
        if samples.windows(2).any(|w| w[0].0 >= w[1].0) {
            return bad("sample timestamps do not increase".into());
        }
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            if first.0 < self.params.min_t || last.0 >= self.params.max_t {
                return bad(format!("samples span {}..={}, outside the block", first.0, last.0));
            }
        }
        self.check_series(labels, &[])?;
        if samples.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.write_samples(samples) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.record_series(labels, samples.len() as u64);
        Ok(())
    }

    /// Writes one chunk now, for a series added later with [`BlockWriter::add_written_series`]; for callers that
    /// produce chunks in another order than their series' label order. The chunk must lie inside the block.
    pub fn write_chunk(&mut self, chunk: &ChunkData) -> Result<WrittenChunk, BlockError> {
        self.check_usable()?;
        let samples = self.check_chunks(&Labels::default(), std::slice::from_ref(chunk))?;
        match self.write_chunks(std::slice::from_ref(chunk)) {
            Ok(()) => Ok(WrittenChunk { chunk_ref: self.refs[0], samples }),
            Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Adds a series whose chunks `write_chunk` wrote, in time order and in the order they were written.
    pub fn add_written_series(&mut self, labels: &Labels, chunks: &[WrittenChunk]) -> Result<(), BlockError> {
        self.check_usable()?;
        let bad = |reason: &str| Err(BlockError::InvalidInput(format!("series {labels}: {reason}")));
        for pair in chunks.windows(2) {
            let (a, b) = (pair[0].chunk_ref, pair[1].chunk_ref);
            if b.min_t <= a.max_t || b.offset <= a.offset {
                return bad("written chunks are not in time and write order");
            }
        }
        if chunks.iter().any(|c| c.chunk_ref.offset >= self.chunks.len()) {
            return bad("a chunk was not written by this writer");
        }
        let samples = chunks.iter().map(|c| c.samples).sum();
        self.check_series(labels, &[])?;
        if chunks.is_empty() {
            return Ok(());
        }
        self.refs.clear();
        self.refs.extend(chunks.iter().map(|c| c.chunk_ref));
        self.record_series(labels, samples);
        Ok(())
    }

    /// Checks a series' order and chunks; returns its sample count.
    fn check_series(&mut self, labels: &Labels, chunks: &[ChunkData]) -> Result<u64, BlockError> {
        if let Some(last) = self.last.as_ref().filter(|last| *last >= labels) {
            return Err(BlockError::InvalidInput(format!("series {labels} is not after {last} in label order")));
        }
        let samples = self.check_chunks(labels, chunks)?;
        if self.stats.series >= u64::from(u32::MAX) {
            return Err(BlockError::InvalidInput("a block holds at most 2^32 - 1 series".into()));
        }
        self.last = Some(labels.clone());
        Ok(samples)
    }

    /// Records a series whose chunks were written and are described by `self.refs`.
    fn record_series(&mut self, labels: &Labels, samples: u64) {
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
        self.stats.chunks += self.refs.len() as u64;
        self.stats.samples += samples;
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
            // `check_chunks` validated the header only; damage further in is the caller's bad input.
            let split = columns::split(&c.bytes)
                .map_err(|e| BlockError::InvalidInput(format!("chunk at {} does not decode: {e}", c.min_t)))?;
            let r = match split {
                Some(Split { timestamps, values }) => {
                    let column = self.column_offset(&timestamps)?;
                    ChunkRef {
                        min_t: c.min_t,
                        max_t: c.max_t,
                        offset: self.write_record(&values)?,
                        timestamps: Some(column),
                    }
                }
                None => {
                    ChunkRef { min_t: c.min_t, max_t: c.max_t, offset: self.write_record(&c.bytes)?, timestamps: None }
                }
            };
            self.refs.push(r);
        }
        Ok(())
    }

    fn write_samples(&mut self, samples: &[(i64, u64)]) -> Result<(), BlockError> {
        self.refs.clear();
        for run in samples.chunks(crate::chunk::MAX_SAMPLES) {
            let (min_t, max_t) = (run[0].0, run[run.len() - 1].0);
            let encoded = if run.len() < columns::MIN_SPLIT_SAMPLES {
                columns::whole_chunk(run).map(|bytes| (bytes, None))
            } else {
                let timestamps: Vec<i64> = run.iter().map(|s| s.0).collect();
                let column = self.column_offset(&timestamps)?;
                columns::values_chunk(run).map(|bytes| (bytes, Some(column)))
            };
            let (bytes, timestamps) =
                encoded.map_err(|e| BlockError::InvalidInput(format!("samples at {min_t} do not encode: {e}")))?;
            let offset = self.write_record(&bytes)?;
            self.refs.push(ChunkRef { min_t, max_t, offset, timestamps });
        }
        Ok(())
    }

    fn copy_chunks(&mut self, parts: &[(&Block, &[ChunkRef])], chunks: &[ChunkData]) -> Result<(), BlockError> {
        self.refs.clear();
        let refs = parts.iter().flat_map(|&(source, refs)| refs.iter().map(move |r| (source, r)));
        for ((source, r), c) in refs.zip(chunks) {
            let timestamps = match r.timestamps {
                None => None,
                Some(old) => Some(self.copy_column(source, old)?),
            };
            let offset = self.write_record(&c.bytes)?;
            self.refs.push(ChunkRef { min_t: r.min_t, max_t: r.max_t, offset, timestamps });
        }
        Ok(())
    }

    /// The offset here of the timestamp column at `old` in `source`, copied on first use.
    fn copy_column(&mut self, source: &Block, old: u64) -> Result<u64, BlockError> {
        let key = (source as *const Block as usize, old);
        if let Some(&new) = self.copied_columns.get(&key) {
            return Ok(new);
        }
        let new = self.write_record(source.column(old)?)?;
        self.copied_columns.insert(key, new);
        Ok(new)
    }

    /// The offset of a timestamp column holding exactly `timestamps`, written now unless an equal one was.
    fn column_offset(&mut self, timestamps: &[i64]) -> Result<u64, BlockError> {
        let hash = {
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(timestamps, &mut h);
            std::hash::Hasher::finish(&h)
        };
        if let Some(&(_, offset)) = self.columns.get(&hash).and_then(|c| c.iter().find(|(ts, _)| **ts == *timestamps)) {
            return Ok(offset);
        }
        let column = columns::timestamp_column(timestamps)
            .map_err(|e| BlockError::InvalidInput(format!("timestamps do not form a column: {e}")))?;
        let offset = self.write_record(&column)?;
        if self.columns_cached + timestamps.len() <= MAX_CACHED_TIMESTAMPS {
            self.columns_cached += timestamps.len();
            self.columns.entry(hash).or_default().push((timestamps.into(), offset));
        }
        Ok(offset)
    }

    /// Writes one record to `chunks` and returns its offset.
    fn write_record(&mut self, bytes: &[u8]) -> Result<u64, BlockError> {
        let offset = self.chunks.len();
        let prefix = record_prefix(bytes);
        self.chunks.write(&prefix)?;
        self.chunks.write(bytes)?;
        self.chunks.write(&record_crc(&prefix, bytes))?;
        Ok(offset)
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
