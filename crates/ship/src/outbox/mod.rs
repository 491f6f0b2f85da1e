//! The outbox: a bounded on-disk FIFO of batches waiting for the server's acknowledgement.
//!
//! Batches are appended to segment files and fsynced before [`Outbox::push`] returns; acks are appended as small
//! records (not fsynced: a lost ack only resends a batch). Reopening replays the segments, tolerating a torn
//! last record. When `max_bytes` would be exceeded the oldest segments are deleted, acknowledged or not, and
//! what was dropped is counted. Byte layout and crash behaviour: `docs/format/outbox.md`.

mod batch;
mod segment;

use std::{
    collections::VecDeque,
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
};

pub use batch::{Batch, BatchBuilder};

use crate::{
    codec::{CodecError, Reader},
    fsutil,
    positions::Position,
};
use segment::{HEADER_BYTES, KIND_ACK, KIND_BATCH, MAGIC};

#[derive(Clone, Debug)]
pub struct OutboxConfig {
    pub dir: PathBuf,
    /// The most the segment files may hold together; the oldest are dropped beyond it.
    pub max_bytes: u64,
    /// A new segment is started once the current one holds this much.
    pub segment_bytes: u64,
}

impl OutboxConfig {
    pub fn new(dir: impl Into<PathBuf>) -> OutboxConfig {
        OutboxConfig { dir: dir.into(), max_bytes: 1 << 30, segment_bytes: 8 << 20 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("outbox is poisoned by an earlier failed write; reopen it")]
    Poisoned,
    #[error("batch of {bytes} bytes is larger than the outbox's limit of {limit}")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("outbox {path}: record at byte {offset}: {source}")]
    Corrupt { path: PathBuf, offset: u64, source: CodecError },
}

/// Counters for the agent's self-metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending_batches: u64,
    pub pending_lines: u64,
    /// Bytes of all segment files, acknowledged records included.
    pub disk_bytes: u64,
    /// Unacknowledged batches deleted because the outbox was full (or too large to ever fit).
    pub dropped_batches: u64,
    pub dropped_lines: u64,
    pub dropped_bytes: u64,
    /// Torn or corrupt records skipped when reopening or reading.
    pub corrupt_records: u64,
}

struct BatchMeta {
    id: u64,
    offset: u64,
    len: u64,
    lines: u32,
}

struct Segment {
    path: PathBuf,
    bytes: u64,
    batches: Vec<BatchMeta>,
}

/// The outbox; one per agent. Not shared between threads by itself: wrap it in a mutex.
pub struct Outbox {
    cfg: OutboxConfig,
    segments: VecDeque<Segment>,
    /// Sequence number of the last segment.
    head_seq: u64,
    head: File,
    next_id: u64,
    acked: u64,
    total_bytes: u64,
    stats: OutboxStats,
    poisoned: bool,
}

impl Outbox {
    /// Opens (or creates) the outbox in `cfg.dir`, replaying its segments.
    pub fn open(cfg: OutboxConfig) -> Result<Outbox, OutboxError> {
        let dir = cfg.dir.clone();
        let io_err = |source| OutboxError::Io { path: dir.clone(), source };
        fs::create_dir_all(&dir).map_err(io_err)?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            if let Some(seq) = entry.file_name().to_str().and_then(segment::parse_segment_name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();

        let mut stats = OutboxStats::default();
        let mut segments = VecDeque::new();
        let (mut acked, mut max_id) = (0u64, 0u64);
        let scan_cap = cfg.max_bytes.saturating_add(cfg.segment_bytes).saturating_add(1 << 20);
        for (i, &seq) in seqs.iter().enumerate() {
            let path = segment::segment_path(&dir, seq);
            let scan =
                segment::scan(&path, scan_cap).map_err(|source| OutboxError::Io { path: path.clone(), source })?;
            let is_last = i + 1 == seqs.len();
            if scan.valid_end < scan.file_len {
                stats.corrupt_records += 1;
                if is_last {
                    // A torn append: cut it off so that new records follow the last whole one.
                    let keep = if scan.bad_header { 0 } else { scan.valid_end };
                    truncate(&path, keep).map_err(|source| OutboxError::Io { path: path.clone(), source })?;
                }
            }
            if is_last && scan.bad_header {
                segment::remove(&path).map_err(|source| OutboxError::Io { path: path.clone(), source })?;
                continue;
            }
            let mut seg = Segment { path, bytes: scan.valid_end.max(HEADER_BYTES), batches: Vec::new() };
            if !is_last {
                seg.bytes = scan.file_len;
            }
            for r in scan.records {
                match r.kind {
                    KIND_BATCH => {
                        max_id = max_id.max(r.id);
                        seg.batches.push(BatchMeta { id: r.id, offset: r.offset, len: r.len, lines: r.lines });
                    }
                    KIND_ACK => acked = acked.max(r.id),
                    _ => stats.corrupt_records += 1,
                }
            }
            segments.push_back(seg);
        }

        let last_path = seqs.last().map(|&s| segment::segment_path(&dir, s));
        let (head_seq, head) = match seqs.last() {
            Some(&seq) if segments.back().is_some_and(|g| Some(&g.path) == last_path.as_ref()) => {
                let path = segment::segment_path(&dir, seq);
                let f =
                    OpenOptions::new().append(true).open(&path).map_err(|source| OutboxError::Io { path, source })?;
                (seq, f)
            }
            _ => {
                let seq = seqs.last().map_or(1, |s| s + 1);
                let (f, seg) = create_segment(&dir, seq)?;
                segments.push_back(seg);
                (seq, f)
            }
        };
        let total_bytes = segments.iter().map(|s| s.bytes).sum();
        let mut outbox = Outbox {
            cfg,
            segments,
            head_seq,
            head,
            next_id: max_id.max(acked) + 1,
            acked,
            total_bytes,
            stats,
            poisoned: false,
        };
        outbox.remove_acked_segments()?;
        Ok(outbox)
    }

    /// Appends a batch and fsyncs it; returns its id. Once this returns, the batch survives a crash.
    pub fn push(&mut self, batch: &Batch) -> Result<u64, OutboxError> {
        if self.poisoned {
            return Err(OutboxError::Poisoned);
        }
        let id = self.next_id;
        let lines = batch.lines() as u32;
        let record = segment::frame(KIND_BATCH, |w| {
            w.u64(id);
            w.u32(lines);
            batch::encode(batch, w);
        });
        let len = record.len() as u64;
        if len + HEADER_BYTES > self.cfg.max_bytes {
            self.stats.dropped_batches += 1;
            self.stats.dropped_lines += lines as u64;
            self.stats.dropped_bytes += len;
            return Err(OutboxError::TooLarge { bytes: len, limit: self.cfg.max_bytes });
        }
        if self.head_bytes() > HEADER_BYTES && self.head_bytes() + len > self.cfg.segment_bytes {
            self.rotate()?;
        }
        while self.total_bytes + len > self.cfg.max_bytes {
            if self.segments.len() > 1 {
                self.drop_oldest()?;
            } else if self.head_bytes() > HEADER_BYTES {
                self.rotate()?;
            } else {
                break;
            }
        }
        let offset = self.head_bytes();
        self.append(&record, true)?;
        if let Some(head) = self.segments.back_mut() {
            head.batches.push(BatchMeta { id, offset, len, lines });
        }
        self.next_id += 1;
        Ok(id)
    }

    /// The oldest batch not acknowledged yet, with its id. Records that fail their checksum are skipped and
    /// counted.
    pub fn peek(&mut self) -> Result<Option<(u64, Batch)>, OutboxError> {
        loop {
            let Some((path, meta)) = self.oldest_pending() else { return Ok(None) };
            let (id, offset, len) = (meta.id, meta.offset, meta.len);
            let body = segment::read_record(&path, offset, len)
                .map_err(|source| OutboxError::Io { path: path.clone(), source })?;
            let decoded = body.ok_or(CodecError::Invalid("record checksum")).and_then(|b| {
                let mut r = Reader::new(&b);
                r.u64("batch id")?;
                r.u32("line count")?;
                batch::decode(&mut r)
            });
            match decoded {
                Ok(batch) => return Ok(Some((id, batch))),
                Err(_) => {
                    // Bit rot under a record that replayed fine: skip it rather than block the queue forever.
                    self.stats.corrupt_records += 1;
                    self.acked = self.acked.max(id);
                }
            }
        }
    }

    /// The positions of every batch not acknowledged yet, oldest first. The agent applies them to its
    /// positions before it starts its sources: they are durable here even if the positions file was not
    /// committed after the push that stored them.
    pub fn pending_positions(&mut self) -> Result<Vec<Position>, OutboxError> {
        let mut out = Vec::new();
        let pending: Vec<(PathBuf, u64, u64)> = self
            .segments
            .iter()
            .flat_map(|s| s.batches.iter().filter(|b| b.id > self.acked).map(|b| (s.path.clone(), b.offset, b.len)))
            .collect();
        for (path, offset, len) in pending {
            let body = segment::read_record(&path, offset, len)
                .map_err(|source| OutboxError::Io { path: path.clone(), source })?;
            let Some(body) = body else {
                self.stats.corrupt_records += 1;
                continue;
            };
            let mut r = Reader::new(&body);
            let decoded =
                r.u64("batch id").and_then(|_| r.u32("line count")).and_then(|_| batch::decode_positions(&mut r));
            match decoded {
                Ok(p) => out.extend(p),
                Err(source) => return Err(OutboxError::Corrupt { path, offset, source }),
            }
        }
        Ok(out)
    }

    /// Acknowledges every batch up to and including `id` (the server stored them).
    pub fn ack(&mut self, id: u64) -> Result<(), OutboxError> {
        if id <= self.acked {
            return Ok(());
        }
        if self.poisoned {
            return Err(OutboxError::Poisoned);
        }
        self.acked = id;
        let record = segment::frame(KIND_ACK, |w| w.u64(id));
        self.append(&record, false)?;
        self.remove_acked_segments()
    }

    pub fn stats(&self) -> OutboxStats {
        let pending = self.segments.iter().flat_map(|s| &s.batches).filter(|b| b.id > self.acked);
        let (mut batches, mut lines) = (0, 0);
        for b in pending {
            batches += 1;
            lines += b.lines as u64;
        }
        OutboxStats {
            pending_batches: batches,
            pending_lines: lines,
            disk_bytes: self.total_bytes,
            ..self.stats.clone()
        }
    }

    fn oldest_pending(&self) -> Option<(PathBuf, &BatchMeta)> {
        self.segments.iter().find_map(|s| s.batches.iter().find(|b| b.id > self.acked).map(|b| (s.path.clone(), b)))
    }

    fn head_bytes(&self) -> u64 {
        self.segments.back().map_or(0, |s| s.bytes)
    }

    fn append(&mut self, record: &[u8], sync: bool) -> Result<(), OutboxError> {
        let path = self.segments.back().map(|s| s.path.clone()).unwrap_or_default();
        let res = self.head.write_all(record).and_then(|()| if sync { self.head.sync_data() } else { Ok(()) });
        if let Err(source) = res {
            // The file's tail is unknown now: refuse to go on until reopened (replay cuts a torn tail).
            self.poisoned = true;
            return Err(OutboxError::Io { path, source });
        }
        if let Some(head) = self.segments.back_mut() {
            head.bytes += record.len() as u64;
        }
        self.total_bytes += record.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), OutboxError> {
        // Acks written without fsync become durable with the segment they are in before it stops growing.
        let old = self.segments.back().map(|s| s.path.clone()).unwrap_or_default();
        self.head.sync_data().map_err(|source| {
            self.poisoned = true;
            OutboxError::Io { path: old, source }
        })?;
        let seq = self.head_seq + 1;
        let (file, seg) = create_segment(&self.cfg.dir, seq)?;
        self.head = file;
        self.head_seq = seq;
        self.total_bytes += seg.bytes;
        self.segments.push_back(seg);
        Ok(())
    }

    fn drop_oldest(&mut self) -> Result<(), OutboxError> {
        let Some(seg) = self.segments.pop_front() else { return Ok(()) };
        for b in seg.batches.iter().filter(|b| b.id > self.acked) {
            self.stats.dropped_batches += 1;
            self.stats.dropped_lines += b.lines as u64;
            self.stats.dropped_bytes += b.len;
        }
        self.total_bytes -= seg.bytes;
        segment::remove(&seg.path).map_err(|source| OutboxError::Io { path: seg.path.clone(), source })
    }

    /// Deletes the segments before the head whose batches are all acknowledged.
    fn remove_acked_segments(&mut self) -> Result<(), OutboxError> {
        while self.segments.len() > 1 {
            let done = self.segments.front().is_some_and(|s| s.batches.iter().all(|b| b.id <= self.acked));
            if !done {
                break;
            }
            if let Some(seg) = self.segments.pop_front() {
                self.total_bytes -= seg.bytes;
                segment::remove(&seg.path).map_err(|source| OutboxError::Io { path: seg.path.clone(), source })?;
            }
        }
        Ok(())
    }
}

fn create_segment(dir: &Path, seq: u64) -> Result<(File, Segment), OutboxError> {
    let path = segment::segment_path(dir, seq);
    let io_err = |source| OutboxError::Io { path: path.clone(), source };
    let mut f = OpenOptions::new().append(true).create(true).truncate(false).open(&path).map_err(io_err)?;
    f.set_len(0).map_err(io_err)?;
    f.write_all(MAGIC).map_err(io_err)?;
    f.sync_data().map_err(io_err)?;
    fsutil::sync_dir(dir).map_err(io_err)?;
    Ok((f, Segment { path, bytes: HEADER_BYTES, batches: Vec::new() }))
}

fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}
