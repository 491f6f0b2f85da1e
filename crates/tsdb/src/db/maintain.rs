//! Maintenance: persisting the head into blocks, checkpointing the log, compacting and downsampling blocks,
//! retention, and taking damaged blocks out of service. Every step is crash-safe: a block is written under a
//! temporary name and renamed into place; a block is deleted by renaming it to `<name>.deleted` first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use vigil_model::Labels;

use super::downsample::{self, Aggregate, Resolution};
use super::{io_err, Counters, Db, DbError, Quarantined};
use crate::backend::{self, Backend};
use crate::block::{Block, BlockError, BlockParams, BlockWriter, ChunkData, ChunkRef, WrittenChunk};
use crate::chunk::ChunkAppender;
use crate::head::{self, RawSample};

/// The WAL is checkpointed when this many bytes were written since the last checkpoint, even if nothing was
/// persisted, to bound replay time.
const CHECKPOINT_AFTER_BYTES: u64 = 256 << 20;

/// Series whose data persisting copies out of the head per read lock: enough that locking costs nothing, few
/// enough that a batch takes about a megabyte and appends wait for it no more than a millisecond or so.
const PERSIST_BATCH_SERIES: usize = 1024;

/// Series a checkpoint snapshots per read lock, for the same reasons.
const CHECKPOINT_BATCH_SERIES: usize = 1024;

/// Label sets merged between releases of the source blocks' pages. Merging reads each source's files about
/// front to back (series are stored in label order), so pages read once are rarely needed again; releasing
/// them keeps compaction and downsampling from growing RSS by the size of their sources.
const MERGE_RELEASE_SERIES: usize = 1024;

/// What one round of maintenance did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Blocks written from the head.
    pub persisted: u64,
    pub checkpointed: bool,
    /// Blocks written by compaction, and by downsampling.
    pub compacted: u64,
    pub downsampled: u64,
    /// Blocks deleted by retention.
    pub deleted: u64,
}

impl Db {
    /// Whether the head holds a block range that can no longer change, which [`Db::maintain`] would persist:
    /// a cheap check to run maintenance early after a burst of appends, as Prometheus compacts its head.
    pub fn head_persistable(&self) -> bool {
        self.head().next_persist_range().is_some()
    }

    /// Runs one round of maintenance: persists what the head can no longer change, checkpoints the log,
    /// compacts and downsamples blocks, and applies retention. Call it periodically (every minute or so).
    pub fn maintain(&self) -> Result<MaintainReport, DbError> {
        let _guard = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = MaintainReport::default();
        self.persist_head(&mut report)?;
        self.compact(&mut report)?;
        self.apply_retention(&mut report)?;
        if report != MaintainReport::default() {
            release_freed_memory();
        }
        Ok(report)
    }

    fn persist_head(&self, report: &mut MaintainReport) -> Result<(), DbError> {
        loop {
            let Some((lo, hi)) = self.head().next_persist_range() else { break };
            let ids = self.head().persist_ids(lo, hi);
            if !ids.is_empty() {
                let name = block_name(Resolution::Raw, lo, hi);
                let new = BlockParams { min_t: lo, max_t: hi, resolution_ms: 0, level: 1, sources: Vec::new() };
                let mut writer = BlockWriter::create(Arc::clone(&self.backend), &self.blocks_dir().join(&name), new)?;
                // The range's data is copied out a batch of series at a time, each under a short read lock. It
                // cannot change in between: the range ends at or before the oldest writable time, and only
                // maintenance (which this holds the lock of) drops series.
                for batch in ids.chunks(PERSIST_BATCH_SERIES) {
                    let data = self.head().persist_data(batch, lo, hi)?;
                    for series in &data {
                        let samples =
                            head::merge_samples(&series.chunks, &series.ooo).map_err(DbError::CorruptRecord)?;
                        writer.add_series_samples(&series.labels, &samples)?;
                    }
                }
                writer.finish()?;
                self.install_block(&name, &[])?;
                report.persisted += 1;
                self.counters.head_persists.fetch_add(1, Ordering::Relaxed);
                // Reading the range's chunks mapped the spilled ones into memory. Label order scatters a batch's
                // chunks over the files, so releasing after every batch would only fault them in again.
                self.head().release_chunk_pages();
            }
            // The block is in service before the head forgets the samples, so queries never miss them.
            let removed = self.head_mut().truncate_before(hi);
            self.counters.series_removed.fetch_add(removed, Ordering::Relaxed);
        }
        let wal_bytes = self.wal.stats().bytes_written;
        let since = wal_bytes - self.counters.checkpoints_at_bytes.load(Ordering::Relaxed);
        if report.persisted > 0 || since > CHECKPOINT_AFTER_BYTES {
            self.checkpoint()?;
            self.counters.checkpoints_at_bytes.store(wal_bytes, Ordering::Relaxed);
            report.checkpointed = true;
        }
        Ok(())
    }

    /// Replaces the log's older segments by a snapshot of the head, streamed a batch of series at a time.
    pub(crate) fn checkpoint(&self) -> Result<(), DbError> {
        // Appends write their records only after applying them under the head's write lock, so with the read
        // lock held every record before the cut is in the head already (some after it may be too, which replay
        // tolerates).
        let segment = {
            let _head = self.head();
            self.wal.cut_segment()?
        };
        if let Some(mut writer) = self.wal.start_checkpoint(segment)? {
            // Each batch is taken under a short read lock. Appends in between may add to the snapshot what the
            // segments from the cut on hold too; replay applies such repeats as no-ops, and the commit waits
            // until those appends are durable in the log. Series are only dropped by maintenance, which this
            // holds the lock of, so every series of the cut is in some batch.
            let mut batch = Vec::new();
            let mut next = Some(0);
            while let Some(from) = next {
                batch.clear();
                next = self.head().snapshot_batch(from, CHECKPOINT_BATCH_SERIES, &mut batch)?;
                writer.write(&batch)?;
                // Writing the batch read its spilled chunks through their memory maps. Consecutive ids were
                // appended together, so their chunks share pages, which later batches rarely need again.
                self.head().release_chunk_pages();
            }
            writer.commit()?;
        }
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn compact(&self, report: &mut MaintainReport) -> Result<(), DbError> {
        let persisted_until = self.head().persisted_until();
        for &range in &self.options.compaction_ranges {
            while let Some(group) = self.next_compaction(range, persisted_until) {
                match self.merge_blocks(&group, range) {
                    Ok(()) => {
                        report.compacted += 1;
                        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        self.counters.compaction_failures.fetch_add(1, Ordering::Relaxed);
                        return Err(err);
                    }
                }
            }
        }
        if self.options.downsample {
            let window = *self.options.compaction_ranges.last().unwrap_or(&self.options.block_range);
            for resolution in [Resolution::FiveMinutes, Resolution::OneHour] {
                while let Some((lo, hi)) = self.next_downsampling(resolution, window, persisted_until) {
                    self.downsample_window(resolution, lo, hi)?;
                    report.downsampled += 1;
                    self.counters.downsamplings.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// The oldest group of two or more raw blocks shorter than `range` that lie in one complete window of
    /// `range` (one the head can no longer add to).
    fn next_compaction(&self, range: i64, persisted_until: i64) -> Option<Vec<Arc<Block>>> {
        let mut blocks: Vec<Arc<Block>> = self
            .blocks()
            .into_iter()
            .filter(|b| b.meta().resolution_ms == 0 && b.meta().max_t - b.meta().min_t < range)
            .collect();
        blocks.sort_by_key(|b| b.meta().min_t);
        let window = |b: &Block| b.meta().min_t.div_euclid(range);
        let mut start = 0;
        while start < blocks.len() {
            let w = window(&blocks[start]);
            let end = start + blocks[start..].iter().take_while(|b| window(b) == w).count();
            let complete = (w + 1).saturating_mul(range) <= persisted_until;
            if complete && end - start >= 2 && blocks[start..end].iter().all(|b| b.meta().max_t <= (w + 1) * range) {
                return Some(blocks[start..end].to_vec());
            }
            start = end;
        }
        None
    }

    /// Writes one block holding every series of `group`, puts it in service and deletes the group.
    fn merge_blocks(&self, group: &[Arc<Block>], range: i64) -> Result<(), DbError> {
        let lo = group[0].meta().min_t.div_euclid(range) * range;
        let min_t = group.iter().map(|b| b.meta().min_t).min().unwrap_or(lo);
        let max_t = group.iter().map(|b| b.meta().max_t).max().unwrap_or(lo + range);
        let name = block_name(Resolution::Raw, min_t, max_t);
        let sources: Vec<String> = group.iter().map(|b| dir_name(b.dir())).collect();
        let level = group.iter().map(|b| b.meta().level).max().unwrap_or(1) + 1;
        let new = BlockParams { min_t, max_t, resolution_ms: 0, level, sources: sources.clone() };
        let mut writer = BlockWriter::create(Arc::clone(&self.backend), &self.blocks_dir().join(&name), new)?;
        merge_series(group, &mut |labels, parts| write_merged(&mut writer, labels, parts))
            .map_err(|e| self.merge_failed(e))?;
        writer.finish()?;
        self.install_block(&name, &sources)?;
        tracing::info!(block = %name, sources = sources.len(), level, "compacted blocks");
        Ok(())
    }

    /// The oldest complete window of `window` ms that has raw data (for 5 minutes) or 5-minute data (for 1
    /// hour) but no block at `resolution` yet.
    fn next_downsampling(&self, resolution: Resolution, window: i64, persisted_until: i64) -> Option<(i64, i64)> {
        let blocks = self.blocks();
        let input = resolution.input().ms();
        let done: HashSet<i64> = blocks
            .iter()
            .filter(|b| b.meta().resolution_ms == resolution.ms())
            .map(|b| b.meta().min_t.div_euclid(window))
            .collect();
        let mut windows: Vec<i64> = blocks
            .iter()
            .filter(|b| b.meta().resolution_ms == input)
            .map(|b| b.meta().min_t.div_euclid(window))
            .filter(|w| !done.contains(w) && (w + 1).saturating_mul(window) <= persisted_until)
            .collect();
        windows.sort_unstable();
        windows.first().map(|&w| (w * window, (w + 1) * window))
    }

    /// Writes the `resolution` block of `[lo, hi)` from the blocks of the next finer resolution in it.
    fn downsample_window(&self, resolution: Resolution, lo: i64, hi: i64) -> Result<(), DbError> {
        let input = resolution.input();
        let group: Vec<Arc<Block>> = self
            .blocks()
            .into_iter()
            .filter(|b| b.meta().resolution_ms == input.ms() && b.meta().min_t >= lo && b.meta().max_t <= hi)
            .collect();
        let name = block_name(resolution, lo, hi);
        let new = BlockParams {
            min_t: lo,
            max_t: hi,
            resolution_ms: resolution.ms(),
            level: 1,
            sources: group.iter().map(|b| dir_name(b.dir())).collect(),
        };
        let mut writer = BlockWriter::create(Arc::clone(&self.backend), &self.blocks_dir().join(&name), new)?;
        let series = if input == Resolution::Raw {
            downsample_raw(&group, resolution, &mut writer)
        } else {
            downsample_downsampled(&group, input, resolution, &mut writer)
        };
        let series = series.map_err(|e| self.merge_failed(e))?;
        writer.finish()?;
        // Downsampled blocks replace nothing; their `sources` are informational.
        self.install_block(&name, &[])?;
        tracing::info!(block = %name, series, "downsampled blocks");
        Ok(())
    }

    fn apply_retention(&self, report: &mut MaintainReport) -> Result<(), DbError> {
        let head_max = self.head().max_t();
        let blocks = self.blocks();
        let newest = blocks.iter().map(|b| b.meta().max_t - 1).chain(head_max).max();
        let Some(newest) = newest else { return Ok(()) };
        let mut doomed: Vec<Arc<Block>> = Vec::new();
        for block in &blocks {
            let meta = block.meta();
            let retention =
                if meta.resolution_ms == 0 { self.options.retention } else { self.options.downsampled_retention };
            let retention = retention.or(self.options.retention);
            if retention.is_some_and(|r| meta.max_t <= newest.saturating_sub(r)) {
                doomed.push(Arc::clone(block));
            }
        }
        if let Some(max_bytes) = self.options.max_bytes {
            let mut total = self.wal_bytes() + blocks.iter().map(|b| b.size_bytes()).sum::<u64>();
            let mut by_age: Vec<&Arc<Block>> = blocks.iter().collect();
            by_age.sort_by_key(|b| (b.meta().max_t, b.meta().resolution_ms));
            for block in by_age {
                if total <= max_bytes {
                    break;
                }
                total = total.saturating_sub(block.size_bytes());
                if !doomed.iter().any(|d| Arc::ptr_eq(d, block)) {
                    doomed.push(Arc::clone(block));
                }
            }
        }
        for block in doomed {
            let name = dir_name(block.dir());
            self.blocks.write().unwrap_or_else(PoisonError::into_inner).retain(|b| !Arc::ptr_eq(b, &block));
            delete_block(&*self.backend, &self.blocks_dir(), &name)?;
            tracing::info!(block = %name, "deleted block by retention");
            report.deleted += 1;
            self.counters.blocks_deleted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Opens the block just renamed into place, puts it in service and deletes the blocks it replaces.
    fn install_block(&self, name: &str, replaces: &[String]) -> Result<(), DbError> {
        let block = Arc::new(Block::open(Arc::clone(&self.backend), &self.blocks_dir().join(name))?);
        {
            let mut blocks = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
            blocks.retain(|b| !replaces.contains(&dir_name(b.dir())));
            blocks.push(block);
            sort_blocks(&mut blocks);
        }
        for old in replaces {
            delete_block(&*self.backend, &self.blocks_dir(), old)?;
        }
        Ok(())
    }

    /// Handles a block error met while reading: a damaged block is taken out of service and moved to
    /// `quarantine/`, so the rest of the database keeps serving. Returns the error for the caller to report.
    pub(crate) fn block_failed(&self, block: &Arc<Block>, err: BlockError) -> DbError {
        if matches!(err, BlockError::Corrupt { .. } | BlockError::UnsupportedVersion { .. }) {
            let removed = {
                let mut blocks = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
                let before = blocks.len();
                blocks.retain(|b| !Arc::ptr_eq(b, block));
                blocks.len() < before
            };
            if removed {
                let name = dir_name(block.dir());
                let reason = err.to_string();
                if let Err(move_err) = quarantine(&*self.backend, &self.dir, &name) {
                    tracing::error!(block = %name, error = %move_err, "could not move damaged block to quarantine");
                }
                self.counters.quarantined.fetch_add(1, Ordering::Relaxed);
                let mut list = self.quarantined.lock().unwrap_or_else(PoisonError::into_inner);
                list.push(Quarantined { name, reason });
            }
        }
        DbError::Block(err)
    }

    pub(crate) fn blocks_dir(&self) -> std::path::PathBuf {
        self.dir.join("blocks")
    }

    pub(crate) fn wal_bytes(&self) -> u64 {
        dir_bytes(&*self.backend, &self.dir.join("wal"))
    }
}

/// Opens every block in `<dir>/blocks`: removes unfinished (`.tmp`) and half-deleted (`.deleted`) ones,
/// quarantines damaged ones, and deletes blocks that a finished compaction replaced but a crash left behind.
pub(super) fn load_blocks(
    shared: &Arc<dyn Backend>,
    dir: &Path,
    counters: &Counters,
    quarantined: &mut Vec<Quarantined>,
) -> Result<Vec<Arc<Block>>, DbError> {
    let backend = &**shared;
    let blocks_dir = dir.join("blocks");
    let mut blocks = Vec::new();
    let mut dirty = false;
    for entry in backend.list_dir(&blocks_dir).map_err(io_err(&blocks_dir))? {
        let path = blocks_dir.join(&entry.name);
        if entry.name.ends_with(".tmp") || entry.name.ends_with(".deleted") {
            tracing::info!(path = %path.display(), "removing unfinished block directory");
            backend::remove_dir_all(backend, &path).map_err(io_err(&path))?;
            dirty = true;
            continue;
        }
        match Block::open(Arc::clone(shared), &path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(err @ (BlockError::Corrupt { .. } | BlockError::UnsupportedVersion { .. })) => {
                tracing::error!(block = %entry.name, error = %err, "quarantining damaged block");
                quarantine(backend, dir, &entry.name)?;
                counters.quarantined.fetch_add(1, Ordering::Relaxed);
                quarantined.push(Quarantined { name: entry.name.clone(), reason: err.to_string() });
            }
            Err(err) => return Err(err.into()),
        }
    }
    if dirty {
        backend.sync_dir(&blocks_dir).map_err(io_err(&blocks_dir))?;
    }
    // Only raw blocks replace their sources; a downsampled block lists its inputs for information.
    let replaced: HashSet<String> =
        blocks.iter().filter(|b| b.meta().resolution_ms == 0).flat_map(|b| b.meta().sources.iter().cloned()).collect();
    let mut kept = Vec::new();
    for block in blocks {
        let name = dir_name(block.dir());
        if block.meta().resolution_ms == 0 && replaced.contains(&name) {
            tracing::info!(block = %name, "deleting block replaced by a compaction before a crash");
            drop(block);
            delete_block(backend, &blocks_dir, &name)?;
        } else {
            kept.push(block);
        }
    }
    sort_blocks(&mut kept);
    Ok(kept)
}

/// Gives the heap memory that a round of maintenance freed back to the operating system. Persisting, checkpoints
/// and compaction allocate and free tens of megabytes within seconds; glibc's malloc keeps freed memory in its
/// arenas and on its own returns only what lies at the top of the main one, so without this the process would
/// keep the RSS of every such peak. `malloc_trim(0)` returns the free pages of every arena. Other allocators
/// are left alone.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers; it only walks glibc's own free lists, under their locks.
        unsafe { malloc_trim(0) };
    }
}

/// Deletes a block atomically: after the rename it no longer exists for a reader, whatever happens next.
fn delete_block(backend: &dyn Backend, blocks_dir: &Path, name: &str) -> Result<(), DbError> {
    let from = blocks_dir.join(name);
    let to = blocks_dir.join(format!("{name}.deleted"));
    backend.rename(&from, &to).map_err(io_err(&from))?;
    backend.sync_dir(blocks_dir).map_err(io_err(blocks_dir))?;
    backend::remove_dir_all(backend, &to).map_err(io_err(&to))?;
    backend.sync_dir(blocks_dir).map_err(io_err(blocks_dir))?;
    Ok(())
}

/// Moves `blocks/<name>` to `quarantine/<name>` (with a numeric suffix if that exists).
fn quarantine(backend: &dyn Backend, dir: &Path, name: &str) -> Result<(), DbError> {
    let target_dir = dir.join("quarantine");
    backend::create_dir_durably(backend, &target_dir).map_err(|(path, source)| DbError::Io { path, source })?;
    let mut target = target_dir.join(name);
    let mut n = 1;
    while backend.exists(&target).map_err(io_err(&target))? {
        target = target_dir.join(format!("{name}.{n}"));
        n += 1;
    }
    let from = dir.join("blocks").join(name);
    backend.rename(&from, &target).map_err(io_err(&from))?;
    backend.sync_dir(&target_dir).map_err(io_err(&target_dir))?;
    let blocks_dir = dir.join("blocks");
    backend.sync_dir(&blocks_dir).map_err(io_err(&blocks_dir))?;
    Ok(())
}

fn sort_blocks(blocks: &mut [Arc<Block>]) {
    blocks.sort_by_key(|b| (b.meta().resolution_ms, b.meta().min_t, b.meta().max_t));
}

/// A block's directory name: resolution, then its time range.
fn block_name(resolution: Resolution, min_t: i64, max_t: i64) -> String {
    format!("{}-{min_t}-{max_t}", resolution.name())
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Total bytes of the files under `dir`; unreadable entries count as zero.
fn dir_bytes(backend: &dyn Backend, dir: &Path) -> u64 {
    let Ok(entries) = backend.list_dir(dir) else { return 0 };
    entries
        .iter()
        .map(|e| {
            let path = dir.join(&e.name);
            if e.is_dir {
                dir_bytes(backend, &path)
            } else {
                backend.file_len(&path).unwrap_or(0)
            }
        })
        .sum()
}

fn chunk_data(chunks: Vec<ChunkAppender>) -> Vec<ChunkData> {
    chunks
        .into_iter()
        .filter(|c| c.num_samples() > 0)
        .map(|c| ChunkData { min_t: c.min_time(), max_t: c.max_time(), bytes: c.bytes().to_vec() })
        .collect()
}

/// A series' chunks in one source block.
type Part = (Arc<Block>, Vec<ChunkRef>);

/// Called by [`merge_series`] with a label set and its chunks in each block.
type SeriesVisitor<'a> = dyn FnMut(&Labels, &[Part]) -> Result<(), MergeError> + 'a;

/// Why merging blocks failed: reading a source block (which may be damaged) or writing the new one.
enum MergeError {
    Source(Arc<Block>, BlockError),
    Output(BlockError),
}

impl Db {
    fn merge_failed(&self, err: MergeError) -> DbError {
        match err {
            MergeError::Source(block, err) => self.block_failed(&block, err),
            MergeError::Output(err) => DbError::Block(err),
        }
    }
}

/// Walks the series of several blocks in label order, calling `f` once per distinct label set with its chunks
/// in each block (in the order of `blocks`). A block error comes back with the block it came from. The pages of
/// `blocks` that reading mapped into this process are released as it goes and at the end, whatever the outcome.
fn merge_series(blocks: &[Arc<Block>], f: &mut SeriesVisitor<'_>) -> Result<(), MergeError> {
    let result = walk_series(blocks, f);
    release_pages(blocks);
    result
}

fn release_pages(blocks: &[Arc<Block>]) {
    for block in blocks {
        block.release_pages();
    }
}

fn walk_series(blocks: &[Arc<Block>], f: &mut SeriesVisitor<'_>) -> Result<(), MergeError> {
    let read = |i: usize, ord: u32| blocks[i].series(ord).map_err(|e| MergeError::Source(Arc::clone(&blocks[i]), e));
    // The current series of each block, and a heap of their labels to find the smallest.
    let mut current: Vec<Option<(u32, Vec<ChunkRef>)>> = vec![None; blocks.len()];
    let mut heap = BinaryHeap::new();
    for (i, block) in blocks.iter().enumerate() {
        if block.num_series() > 0 {
            let (labels, chunks) = read(i, 0)?;
            current[i] = Some((0, chunks));
            heap.push(Reverse((labels, i)));
        }
    }
    let mut merged = 0;
    while let Some(Reverse((labels, first))) = heap.pop() {
        merged += 1;
        if merged % MERGE_RELEASE_SERIES == 0 {
            release_pages(blocks);
        }
        let mut members = vec![first];
        while heap.peek().is_some_and(|Reverse((top, _))| *top == labels) {
            let Some(Reverse((_, j))) = heap.pop() else { break };
            members.push(j);
        }
        members.sort_unstable();
        let mut parts: Vec<Part> = Vec::with_capacity(members.len());
        for &j in &members {
            let Some((ord, chunks)) = current[j].take() else { continue };
            parts.push((Arc::clone(&blocks[j]), chunks));
            if ord + 1 < blocks[j].num_series() {
                let (next_labels, next_chunks) = read(j, ord + 1)?;
                current[j] = Some((ord + 1, next_chunks));
                heap.push(Reverse((next_labels, j)));
            }
        }
        f(&labels, &parts)?;
    }
    Ok(())
}

/// Writes the downsampled series of raw `blocks` and returns how many. Output series sort differently from
/// their inputs (the aggregate label moves them), so chunks are written as inputs are read, and the series are
/// added afterwards in output order: memory holds the input labels and chunk references, not the data.
fn downsample_raw(blocks: &[Arc<Block>], resolution: Resolution, writer: &mut BlockWriter) -> Result<u64, MergeError> {
    let mut inputs: Vec<Labels> = Vec::new();
    let mut outputs: Vec<(u32, Option<Aggregate>, Vec<WrittenChunk>)> = Vec::new();
    merge_series(blocks, &mut |labels, parts| {
        let samples = decode_parts(parts)?;
        for (aggregate, points) in downsample::downsample_series(labels, Resolution::Raw, resolution, &samples) {
            let mut written = Vec::new();
            for chunk in chunk_data(head::encode_samples(&points)) {
                written.push(writer.write_chunk(&chunk).map_err(MergeError::Output)?);
            }
            outputs.push((inputs.len() as u32, aggregate, written));
        }
        inputs.push(labels.clone());
        Ok(())
    })?;
    outputs.sort_by(|a, b| downsample::cmp_output((&inputs[a.0 as usize], a.1), (&inputs[b.0 as usize], b.1)));
    for (input, aggregate, chunks) in &outputs {
        let labels = downsample::output_labels(&inputs[*input as usize], *aggregate);
        writer.add_written_series(&labels, chunks).map_err(MergeError::Output)?;
    }
    Ok(outputs.len() as u64)
}

/// Writes the `resolution` series computed from `blocks`, which hold the finer, already downsampled resolution
/// `input`, and returns how many. An output series has its input's labels, so series are written as they are
/// read, in label order, and nothing is held.
fn downsample_downsampled(
    blocks: &[Arc<Block>],
    input: Resolution,
    resolution: Resolution,
    writer: &mut BlockWriter,
) -> Result<u64, MergeError> {
    let mut series = 0;
    merge_series(blocks, &mut |labels, parts| {
        let samples = decode_parts(parts)?;
        for (aggregate, points) in downsample::downsample_series(labels, input, resolution, &samples) {
            let labels = downsample::output_labels(labels, aggregate);
            writer.add_series(&labels, &chunk_data(head::encode_samples(&points))).map_err(MergeError::Output)?;
            series += 1;
        }
        Ok(())
    })?;
    Ok(series)
}

/// The samples of a series' parts, in the order of `parts`.
fn decode_parts(parts: &[Part]) -> Result<Vec<RawSample>, MergeError> {
    let mut samples = Vec::new();
    for (block, refs) in parts {
        super::query::decode_block_chunks(block, refs, i64::MIN, i64::MAX, &mut samples)
            .map_err(|e| MergeError::Source(Arc::clone(block), e))?;
    }
    Ok(samples)
}

/// Writes one series of several source blocks: when the parts' time ranges are disjoint and ascending (always,
/// unless a crash left overlapping blocks) their chunks are copied as stored; otherwise the samples are
/// merged, de-duplicated by timestamp (the first block wins) and re-encoded.
fn write_merged(writer: &mut BlockWriter, labels: &Labels, parts: &[Part]) -> Result<(), MergeError> {
    let mut last: Option<i64> = None;
    let mut overlapping = false;
    for r in parts.iter().flat_map(|(_, refs)| refs) {
        overlapping |= last.is_some_and(|l| r.min_t <= l);
        last = Some(r.max_t);
    }
    if !overlapping {
        let borrowed: Vec<(&Block, &[ChunkRef])> = parts.iter().map(|(b, refs)| (&**b, &refs[..])).collect();
        return writer.copy_series(labels, &borrowed).map_err(|e| copy_error(parts, e));
    }
    let mut samples = decode_parts(parts)?;
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    writer.add_series_samples(labels, &samples).map_err(MergeError::Output)
}

/// Attributes an error of copying to the source block whose file it names, if any.
fn copy_error(parts: &[Part], err: BlockError) -> MergeError {
    let source = match &err {
        BlockError::Corrupt { path, .. } | BlockError::Io { path, .. } => {
            parts.iter().find(|(b, _)| path.starts_with(b.dir())).map(|(b, _)| Arc::clone(b))
        }
        _ => None,
    };
    match source {
        Some(block) => MergeError::Source(block, err),
        None => MergeError::Output(err),
    }
}
