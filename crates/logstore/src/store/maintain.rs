//! Maintenance: loading parts at open, persisting the head into parts and truncating the WAL, merging small
//! parts, and retention by age and size.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use vigil_model::{Labels, LogBatch};

use super::metrics::add;
use super::{is_partition_dir_name, partition_dir_name, partition_of, LogStore};
use crate::error::{io_err, Error};
use crate::fsutil;
use crate::head::{Chunk, Head};
use crate::options::duration_ns;
use crate::part::block::Row;
use crate::part::{parse_part_name, Part, PartMeta, PartWriter};

/// What a call of [`LogStore::maintain`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Head records written into parts.
    pub persisted_lines: u64,
    pub parts_written: u64,
    pub wal_segments_removed: u64,
    pub merges: u64,
    /// Merges that failed (the parts stay as they were); the reasons, for a log line.
    pub merge_errors: Vec<String>,
    pub parts_deleted: u64,
    pub partitions_deleted: u64,
}

/// Opens every part under `dir`, removing what a crash left half done: `.tmp` and `.deleted` entries, empty
/// partition directories and parts that a merged part replaces.
pub(crate) fn load_parts(dir: &Path) -> Result<Vec<Arc<Part>>, Error> {
    let mut parts = Vec::new();
    let mut dirty = false;
    for (name, is_dir) in fsutil::list(dir)? {
        let path = dir.join(&name);
        if name.ends_with(".deleted") {
            fsutil::remove_any(&path)?;
            dirty = true;
            continue;
        }
        if !is_dir || !is_partition_dir_name(&name) {
            continue;
        }
        let mut found = 0;
        let mut partition_dirty = false;
        for (file, _) in fsutil::list(&path)? {
            let file_path = path.join(&file);
            if file.ends_with(".tmp") || file.ends_with(".deleted") {
                fsutil::remove_any(&file_path)?;
                partition_dirty = true;
            } else if let Some(id) = parse_part_name(&file) {
                parts.push(Arc::new(Part::open(&file_path, id)?));
                found += 1;
            }
        }
        if partition_dirty {
            fsutil::sync_dir(&path)?;
        }
        if found == 0 && fsutil::list(&path)?.is_empty() {
            std::fs::remove_dir(&path).map_err(io_err(&path))?;
            dirty = true;
        }
    }
    let replaced: HashSet<u64> = parts.iter().flat_map(|p| p.meta.replaces.iter().copied()).collect();
    if !replaced.is_empty() {
        let (gone, kept): (Vec<_>, Vec<_>) = parts.into_iter().partition(|p| replaced.contains(&p.id));
        for p in gone {
            tracing::info!(path = %p.path.display(), "removing part replaced by a merge");
            fsutil::delete_durably(&p.path)?;
        }
        parts = kept;
    }
    if dirty {
        fsutil::sync_dir(dir)?;
    }
    Ok(parts)
}

/// Cuts sorted rows into blocks of at most `max_records` records, ending a block once its lines reach
/// `max_bytes`.
fn for_each_block<'a>(
    rows: &[Row<'a>],
    max_records: usize,
    max_bytes: usize,
    mut f: impl FnMut(&[Row<'a>]) -> Result<(), Error>,
) -> Result<(), Error> {
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in rows.iter().enumerate() {
        bytes += r.line.len();
        if i + 1 - start >= max_records || bytes >= max_bytes {
            f(&rows[start..=i])?;
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < rows.len() {
        f(&rows[start..])?;
    }
    Ok(())
}

/// The rows of some chunks (or decoded blocks), sorted by timestamp; stable, so equal timestamps keep the order
/// they were appended in.
fn sorted_rows<'a>(batches: impl Iterator<Item = &'a LogBatch>) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.len() {
            rows.push(Row { ts: b.ts[i], line: b.line(i), fields: b.row_fields(i) });
        }
    }
    rows.sort_by_key(|r| r.ts);
    rows
}

impl LogStore {
    /// Persists the in-memory head into parts and truncates the WAL, merges small parts and applies retention
    /// relative to `now_ns`. Safe to call concurrently with appends and reads; calls are serialised.
    pub fn maintain(&self, now_ns: i64) -> Result<MaintainReport, Error> {
        let mut report = MaintainReport::default();
        self.persist_head(&mut report)?;
        self.merge_small_parts(&mut report);
        self.apply_retention(now_ns, &mut report)?;
        Ok(report)
    }

    /// Persists everything in memory into parts (for a clean shutdown).
    pub fn flush(&self) -> Result<(), Error> {
        self.persist_head(&mut MaintainReport::default())
    }

    fn persist_head(&self, report: &mut MaintainReport) -> Result<(), Error> {
        let mut maint = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_poisoned()?;
        // Freeze the head unless an earlier, failed persist left one frozen.
        let already = self.state().frozen.clone();
        let (frozen, wal_before) = match (already, *maint) {
            (Some(frozen), Some(before)) => (frozen, before),
            (Some(_), None) => {
                return Err(Error::Poisoned { cause: "an earlier persist failed to cut the wal".to_string() });
            }
            (None, _) => {
                let (frozen, place) = {
                    let mut st = self.state_mut();
                    if st.head.is_empty() {
                        return Ok(());
                    }
                    let frozen = Arc::new(std::mem::take(&mut st.head));
                    st.frozen = Some(Arc::clone(&frozen));
                    (frozen, self.wal.reserve())
                };
                // Every record of the frozen head was reserved before `place`: it lies in a segment below this.
                let before = place.cut()?;
                *maint = Some(before);
                (frozen, before)
            }
        };
        let labels: BTreeMap<u64, Labels> = {
            let st = self.state();
            let mut map = BTreeMap::new();
            for (id, labels) in st.index.select(&[]) {
                if frozen.streams.contains_key(&id) {
                    map.insert(id, labels.clone());
                }
            }
            map
        };
        let parts = self.write_head_parts(&frozen, &labels, wal_before)?;
        report.parts_written += parts.len() as u64;
        report.persisted_lines += frozen.records;
        {
            let mut st = self.state_mut();
            st.parts.extend(parts);
            st.sort_parts();
            st.frozen = None;
        }
        *maint = None;
        report.wal_segments_removed += self.wal.truncate_before(wal_before)?;
        add(&self.counters.head_persists, 1);
        Ok(())
    }

    fn new_part_writer(&self, partition_start: i64) -> Result<PartWriter, Error> {
        let dir = self.dir.join(partition_dir_name(partition_start));
        fsutil::create_dir_durably(&dir)?;
        PartWriter::create(&dir, self.next_part_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes a finished part durable in its directory and opens it; a failed directory fsync poisons the store.
    fn install(&self, path: Option<PathBuf>) -> Result<Option<Arc<Part>>, Error> {
        let Some(path) = path else { return Ok(None) };
        if let Err(err) = crate::part::writer_sync_dir(&path) {
            return Err(self.poison(err));
        }
        let id = path.file_name().and_then(|n| n.to_str()).and_then(parse_part_name).unwrap_or_default();
        match Part::open(&path, id) {
            Ok(part) => {
                add(&self.counters.parts_written, 1);
                Ok(Some(Arc::new(part)))
            }
            Err(err) => {
                // Not in service: it must not reappear at the next open next to a second attempt.
                fsutil::delete_durably(&path).map_err(|e| self.poison(e))?;
                Err(err)
            }
        }
    }

    /// Writes one part per partition the frozen head touches, each holding all of that partition's records.
    fn write_head_parts(
        &self,
        frozen: &Head,
        labels: &BTreeMap<u64, Labels>,
        wal_before: u64,
    ) -> Result<Vec<Arc<Part>>, Error> {
        let pns = self.opts.partition_ns();
        // Partition start -> (stream id, its sorted rows there), streams ascending.
        let mut by_partition: BTreeMap<i64, Vec<(u64, Vec<Row<'_>>)>> = BTreeMap::new();
        for &id in labels.keys() {
            let Some(stream) = frozen.streams.get(&id) else { continue };
            let rows = sorted_rows(stream.chunks().map(|c: &Chunk| &c.rows));
            let mut rest = &rows[..];
            while let Some(first) = rest.first() {
                let (start, end) = partition_of(first.ts, pns);
                let n = rest.partition_point(|r| r.ts < end);
                by_partition.entry(start).or_default().push((id, rest[..n].to_vec()));
                rest = &rest[n..];
            }
        }
        let mut parts = Vec::new();
        for (start, streams) in by_partition {
            let written = self.write_head_part(start, &streams, labels, wal_before);
            match written {
                Ok(part) => parts.extend(part),
                Err(err) => {
                    // The parts written so far are not in service; the retry writes them again.
                    for p in &parts {
                        fsutil::delete_durably(&p.path).map_err(|e| self.poison(e))?;
                    }
                    return Err(err);
                }
            }
        }
        Ok(parts)
    }

    fn write_head_part(
        &self,
        start: i64,
        streams: &[(u64, Vec<Row<'_>>)],
        labels: &BTreeMap<u64, Labels>,
        wal_before: u64,
    ) -> Result<Option<Arc<Part>>, Error> {
        let mut writer = self.new_part_writer(start)?;
        for (id, rows) in streams {
            let Some(l) = labels.get(id) else { continue };
            for_each_block(rows, self.opts.block_max_records, self.opts.block_max_bytes, |block| {
                writer.add_block(*id, l, block)
            })?;
        }
        let (_, end) = partition_of(start, self.opts.partition_ns());
        let meta = PartMeta { partition_start: start, partition_end: end, wal_before, ..PartMeta::default() };
        self.install(writer.finish(meta)?)
    }

    /// Merges, per partition, the parts smaller than `merge_max_part_bytes` once there are `merge_min_parts`.
    fn merge_small_parts(&self, report: &mut MaintainReport) {
        let _maint = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let mut groups: BTreeMap<(i64, i64), Vec<Arc<Part>>> = BTreeMap::new();
        for p in self.state().parts.iter() {
            if p.file_bytes() < self.opts.merge_max_part_bytes {
                groups.entry((p.meta.partition_start, p.meta.partition_end)).or_default().push(Arc::clone(p));
            }
        }
        for ((start, end), inputs) in groups {
            if inputs.len() < self.opts.merge_min_parts {
                continue;
            }
            match self.merge(start, end, &inputs) {
                Ok(()) => {
                    report.merges += 1;
                    add(&self.counters.merges, 1);
                }
                Err(err) => {
                    tracing::warn!(error = %err, partition = %partition_dir_name(start), "log part merge failed");
                    report.merge_errors.push(err.to_string());
                    add(&self.counters.merge_failures, 1);
                }
            }
        }
    }

    fn merge(&self, start: i64, end: i64, inputs: &[Arc<Part>]) -> Result<(), Error> {
        let mut streams: BTreeMap<u64, &Labels> = BTreeMap::new();
        for p in inputs {
            for (id, labels) in &p.streams {
                streams.entry(*id).or_insert(labels);
            }
        }
        let mut writer = self.new_part_writer(start)?;
        for (&id, labels) in &streams {
            let mut batches = Vec::new();
            for p in inputs {
                for b in p.stream_blocks(id) {
                    let mut batch = LogBatch::default();
                    p.read_block(b, &mut batch)?;
                    batches.push(batch);
                }
            }
            let rows = sorted_rows(batches.iter());
            for_each_block(&rows, self.opts.block_max_records, self.opts.block_max_bytes, |block| {
                writer.add_block(id, labels, block)
            })?;
        }
        let meta = PartMeta {
            partition_start: start,
            partition_end: end,
            wal_before: inputs.iter().map(|p| p.meta.wal_before).max().unwrap_or(0),
            replaces: inputs.iter().map(|p| p.id).collect(),
            ..PartMeta::default()
        };
        let merged = self.install(writer.finish(meta)?)?;
        let gone: HashSet<u64> = inputs.iter().map(|p| p.id).collect();
        {
            let mut st = self.state_mut();
            st.parts.retain(|p| !gone.contains(&p.id));
            st.parts.extend(merged);
            st.sort_parts();
        }
        self.delete_parts(inputs)
    }

    fn delete_parts(&self, parts: &[Arc<Part>]) -> Result<(), Error> {
        for p in parts {
            fsutil::delete_durably(&p.path)?;
            add(&self.counters.parts_deleted, 1);
        }
        Ok(())
    }

    /// Drops partitions that ended longer than `retention` before `now_ns`, then the oldest parts while all
    /// parts take more than `max_bytes`.
    fn apply_retention(&self, now_ns: i64, report: &mut MaintainReport) -> Result<(), Error> {
        let _maint = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let mut dropped: Vec<Arc<Part>> = Vec::new();
        {
            let mut st = self.state_mut();
            if let Some(retention) = self.opts.retention {
                let cutoff = now_ns.saturating_sub(duration_ns(retention));
                let (old, kept): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut st.parts).into_iter().partition(|p| p.meta.partition_end <= cutoff);
                st.parts = kept;
                dropped.extend(old);
            }
            if let Some(max) = self.opts.max_bytes {
                let mut total: u64 = st.parts.iter().map(|p| p.file_bytes()).sum();
                let mut order: Vec<Arc<Part>> = st.parts.clone();
                order.sort_by_key(|p| (p.meta.partition_start, p.meta.max_ts, p.id));
                let mut gone = HashSet::new();
                for p in order {
                    if total <= max {
                        break;
                    }
                    total -= p.file_bytes();
                    gone.insert(p.id);
                    dropped.push(p);
                }
                st.parts.retain(|p| !gone.contains(&p.id));
            }
        }
        if dropped.is_empty() {
            return Ok(());
        }
        self.delete_parts(&dropped)?;
        report.parts_deleted += dropped.len() as u64;
        // Partition directories left empty.
        let live: HashSet<i64> = self.state().parts.iter().map(|p| p.meta.partition_start).collect();
        let mut emptied: Vec<i64> =
            dropped.iter().map(|p| p.meta.partition_start).filter(|s| !live.contains(s)).collect();
        emptied.sort_unstable();
        emptied.dedup();
        for start in emptied {
            let path = self.dir.join(partition_dir_name(start));
            if fsutil::list(&path)?.is_empty() {
                std::fs::remove_dir(&path).map_err(io_err(&path))?;
                report.partitions_deleted += 1;
                add(&self.counters.partitions_deleted, 1);
            }
        }
        fsutil::sync_dir(&self.dir)?;
        Ok(())
    }
}
