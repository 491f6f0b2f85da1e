//! Write-ahead log: checksummed records in numbered segment files, group commit, replay and checkpoints.
//!
//! The bytes on disk, the order of writes and fsyncs and what a crash at each step leaves behind are documented
//! in `docs/format/tsdb.md` ("Write-ahead log"). In short: [`Wal::append`] returns only once its bytes are
//! fsynced, and threads appending at the same time share one fsync; [`Wal::reserve`] fixes where records go in
//! the log before they are encoded and written; a failed write or fsync poisons the log; replay cuts a torn
//! tail off the last segment and reports any other damage as [`WalError::Corrupt`].

mod checkpoint;
mod record;
mod segment;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use checkpoint::CheckpointWriter;
pub use record::{Record, RefSample, MAX_RECORD_BYTES};
pub use segment::FORMAT_VERSION;

use crate::backend::{self, Backend, WritableFile};
use segment::{checkpoint_name, checkpoint_tmp_name, segment_name, Listing, HEADER, HEADER_BYTES};

/// The default size at which a segment is closed and the next one started.
pub const DEFAULT_MAX_SEGMENT_BYTES: u64 = 128 << 20;

const MIN_SEGMENT_BYTES: u64 = 64;
const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// The most bytes a segment can hold: the largest segment size plus one record that did not fit in it.
const SEGMENT_READ_LIMIT: u64 = MAX_SEGMENT_BYTES + MAX_RECORD_BYTES as u64 + 64;

/// Why a WAL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("wal i/o error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("corrupt wal file {path} at offset {offset}: {reason}")]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error("unsupported wal format version {version} in {path}")]
    UnsupportedVersion { path: PathBuf, version: u8 },
    #[error("wal segment {missing} is missing from {dir}")]
    MissingSegment { dir: PathBuf, missing: u64 },
    #[error("wal record of {len} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge { len: usize, limit: usize },
    #[error("wal is poisoned by an earlier failure and refuses writes: {cause}")]
    Poisoned { cause: String },
    #[error("invalid wal argument: {0}")]
    InvalidArgument(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io { path: path.to_path_buf(), source }
}

/// How a [`Wal`] writes.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// A segment is closed, and the next started, before a record that would make it larger than this.
    /// Between 64 bytes and 1 GiB; default [`DEFAULT_MAX_SEGMENT_BYTES`].
    pub max_segment_bytes: u64,
    /// How long the thread leading a group commit waits for more appenders before it fsyncs. Zero fsyncs at
    /// once; appenders arriving while an fsync runs still share the next one.
    pub sync_interval: Duration,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions { max_segment_bytes: DEFAULT_MAX_SEGMENT_BYTES, sync_interval: Duration::ZERO }
    }
}

impl WalOptions {
    fn validate(&self) -> Result<(), WalError> {
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.max_segment_bytes) {
            return Err(WalError::InvalidArgument(format!(
                "max_segment_bytes {} is outside {MIN_SEGMENT_BYTES}..={MAX_SEGMENT_BYTES}",
                self.max_segment_bytes
            )));
        }
        Ok(())
    }
}

/// A position in the log: the end of some appended bytes. Ordered by segment, then offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn {
    pub segment: u64,
    pub offset: u64,
}

/// What a replay read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// The checkpoint replayed first, named by the first segment it does not cover.
    pub checkpoint: Option<u64>,
    pub segments: u64,
    pub records: u64,
    pub bytes: u64,
    /// Bytes of a torn tail cut off the last segment.
    pub truncated_bytes: u64,
}

/// What a checkpoint did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The first segment the checkpoint does not replace.
    pub before: u64,
    /// False when a checkpoint with the same number existed already and was kept.
    pub written: bool,
    pub records: u64,
    pub bytes: u64,
    pub removed_segments: u64,
    pub removed_checkpoints: u64,
}

/// Counters of a [`Wal`] since it was opened, for self-metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Calls of `append` and `append_nosync` with at least one record.
    pub appends: u64,
    pub records: u64,
    pub bytes_written: u64,
    /// Fsyncs of log segments (group commits and segment rotations; checkpoints are not counted).
    pub fsyncs: u64,
    pub fsync_time: Duration,
    pub segments_created: u64,
}

#[derive(Debug, Default)]
struct Counters {
    appends: AtomicU64,
    records: AtomicU64,
    bytes_written: AtomicU64,
    fsyncs: AtomicU64,
    fsync_nanos: AtomicU64,
    segments_created: AtomicU64,
}

/// The write-ahead log of one directory. Share it between threads behind an `Arc`; one process at a time.
#[derive(Debug)]
pub struct Wal {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Signalled when `durable` advances, when a group fsync ends and when the log is poisoned.
    synced: Condvar,
    /// The number the next [`Reservation`] gets.
    reserved: AtomicU64,
    /// Signalled when `State::turn` advances.
    turn_passed: Condvar,
    /// Serialises checkpoints and truncation.
    maintenance: Mutex<()>,
    counters: Counters,
}

#[derive(Debug)]
struct State {
    /// The segment being appended to, and its length so far.
    segment: u64,
    file: Arc<dyn WritableFile>,
    offset: u64,
    /// Everything up to here is fsynced.
    durable: Lsn,
    /// Whether some thread is leading a group fsync.
    syncing: bool,
    poisoned: Option<String>,
    /// The reservation whose records are written next.
    turn: u64,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, replays it and returns its records in order.
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: impl Into<PathBuf>,
        options: WalOptions,
    ) -> Result<(Wal, Vec<Record>), WalError> {
        let mut records = Vec::new();
        let (wal, _) = Wal::open_with(backend, dir, options, &mut |r| records.push(r))?;
        Ok((wal, records))
    }

    /// Opens (or creates) the log in `dir`, handing each replayed record to `on_record` in order: first the
    /// newest checkpoint, then the segments after it. Records of a checkpoint may repeat in the segments that
    /// follow it, so applying them must be idempotent. New appends go to a fresh segment.
    pub fn open_with(
        backend: Arc<dyn Backend>,
        dir: impl Into<PathBuf>,
        options: WalOptions,
        on_record: &mut dyn FnMut(Record),
    ) -> Result<(Wal, ReplayStats), WalError> {
        let dir = dir.into();
        options.validate()?;
        create_dir_durably(&*backend, &dir)?;
        let listing = segment::list(&*backend, &dir)?;
        let mut dirty = false;
        for name in &listing.tmp {
            let path = dir.join(name);
            tracing::info!(path = %path.display(), "removing unfinished wal checkpoint");
            backend::remove_dir_all(&*backend, &path).map_err(io_err(&path))?;
            dirty = true;
        }

        let mut stats = ReplayStats::default();
        let checkpoint = listing.checkpoints.last().copied();
        if let Some(n) = checkpoint {
            replay_checkpoint(&*backend, &dir, n, on_record, &mut stats)?;
        }
        let first = checkpoint.unwrap_or(0);
        let live: Vec<u64> = listing.segments.iter().copied().filter(|&s| s >= first).collect();
        for pair in live.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(WalError::MissingSegment { dir, missing: pair[0] + 1 });
            }
        }
        let mut next = live.last().map_or(first, |&s| s + 1);
        for (i, &n) in live.iter().enumerate() {
            let path = dir.join(segment_name(n));
            let bytes = backend.read(&path, SEGMENT_READ_LIMIT).map_err(io_err(&path))?;
            let is_last = i + 1 == live.len();
            let read = segment::read(&bytes, &path, is_last, on_record)?;
            stats.segments += 1;
            stats.records += read.records;
            stats.bytes += bytes.len() as u64;
            tracing::info!(segment = n, records = read.records, bytes = bytes.len(), "replayed wal segment");
            if let Some(torn) = read.torn {
                let dropped = bytes.len() as u64 - torn.offset;
                stats.truncated_bytes += dropped;
                tracing::warn!(
                    path = %path.display(),
                    offset = torn.offset,
                    dropped_bytes = dropped,
                    reason = %torn.reason,
                    "truncating torn wal tail"
                );
                if torn.offset < HEADER_BYTES {
                    // Not even the header reached the disk: the segment was just created. Its number is reused.
                    backend.remove_file(&path).map_err(io_err(&path))?;
                    dirty = true;
                    next = n;
                    continue;
                }
                backend.truncate(&path, torn.offset).map_err(io_err(&path))?;
            }
            if is_last {
                // An earlier process may have written this segment without fsyncing it; it must be durable
                // before the next segment is, or a power loss could leave a damaged segment in the middle.
                backend.open_append(&path).and_then(|f| f.sync()).map_err(io_err(&path))?;
            }
        }

        // Leftovers of a checkpoint that a crash interrupted: what the newest checkpoint replaces.
        for &n in listing.segments.iter().filter(|&&s| s < first) {
            let path = dir.join(segment_name(n));
            backend.remove_file(&path).map_err(io_err(&path))?;
            dirty = true;
        }
        for &n in listing.checkpoints.iter().filter(|&&c| c < first) {
            let path = dir.join(checkpoint_name(n));
            backend::remove_dir_all(&*backend, &path).map_err(io_err(&path))?;
            dirty = true;
        }
        if dirty {
            backend.sync_dir(&dir).map_err(io_err(&dir))?;
        }

        let file = create_segment(&*backend, &dir, next)?;
        tracing::info!(
            dir = %dir.display(),
            checkpoint = ?stats.checkpoint,
            segments = stats.segments,
            records = stats.records,
            truncated_bytes = stats.truncated_bytes,
            next_segment = next,
            "wal replayed"
        );
        let state = State {
            segment: next,
            file,
            offset: HEADER_BYTES,
            durable: Lsn { segment: next, offset: HEADER_BYTES },
            syncing: false,
            poisoned: None,
            turn: 0,
        };
        let wal = Wal {
            backend,
            dir,
            options,
            state: Mutex::new(state),
            synced: Condvar::new(),
            reserved: AtomicU64::new(0),
            turn_passed: Condvar::new(),
            maintenance: Mutex::new(()),
            counters: Counters::default(),
        };
        wal.counters.segments_created.store(1, Ordering::Relaxed);
        Ok((wal, stats))
    }

    /// Appends records and returns once they are fsynced, together with those of concurrent appenders.
    /// The returned position is the end of these records.
    pub fn append(&self, records: &[Record]) -> Result<Lsn, WalError> {
        let lsn = self.append_nosync(records)?;
        self.wait_durable(lsn)?;
        Ok(lsn)
    }

    /// Appends records without waiting for an fsync: they are not acknowledged until a later `sync` (or
    /// `append`) returns. A record never spans two segments; a batch may.
    pub fn append_nosync(&self, records: &[Record]) -> Result<Lsn, WalError> {
        self.reserve().append_nosync(records)
    }

    /// Takes the next place in the log's order: the records appended with it go after those of every earlier
    /// reservation and before those of every later one, whenever each is appended. So a caller can take its
    /// place under its own lock and encode and write its records after releasing that lock.
    pub fn reserve(&self) -> Reservation<'_> {
        // Callers order their reservations by their own locks, which the counter's modification order follows.
        let seq = self.reserved.fetch_add(1, Ordering::Relaxed);
        Reservation { wal: self, seq, passed: false }
    }

    /// Writes encoded frames (`ends` holds the end of each in `buf`) at the end of the log, rotating between
    /// frames when the segment is full; returns the log's new end.
    fn write_frames(&self, st: &mut State, buf: &[u8], ends: &[usize]) -> Result<Lsn, WalError> {
        check_poisoned(st)?;
        let max = self.options.max_segment_bytes;
        let (mut run_start, mut frame_start) = (0, 0);
        for &frame_end in ends {
            let segment_len = st.offset + (frame_start - run_start) as u64;
            if segment_len + (frame_end - frame_start) as u64 > max && segment_len > HEADER_BYTES {
                self.write_locked(st, &buf[run_start..frame_start])?;
                self.rotate(st)?;
                run_start = frame_start;
            }
            frame_start = frame_end;
        }
        self.write_locked(st, &buf[run_start..])?;
        if !ends.is_empty() {
            self.counters.appends.fetch_add(1, Ordering::Relaxed);
            self.counters.records.fetch_add(ends.len() as u64, Ordering::Relaxed);
        }
        Ok(Lsn { segment: st.segment, offset: st.offset })
    }

    /// Locks the state once it is reservation `seq`'s turn to write.
    fn wait_turn(&self, seq: u64) -> MutexGuard<'_, State> {
        let mut st = self.lock();
        while st.turn != seq {
            st = self.turn_passed.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st
    }

    fn pass_turn(&self, st: &mut State) {
        st.turn += 1;
        self.turn_passed.notify_all();
    }

    /// Fsyncs everything appended so far and returns the position it reached.
    pub fn sync(&self) -> Result<Lsn, WalError> {
        let target = {
            let st = self.lock();
            check_poisoned(&st)?;
            Lsn { segment: st.segment, offset: st.offset }
        };
        self.wait_durable(target)?;
        Ok(target)
    }

    /// Fsyncs everything appended and closes the log.
    pub fn close(self) -> Result<(), WalError> {
        self.sync().map(|_| ())
    }

    /// Closes the current segment unless it is empty and returns the number of the segment now active: every
    /// record appended before this call lies in a segment with a smaller number. Use it before `checkpoint`.
    pub fn cut_segment(&self) -> Result<u64, WalError> {
        let mut st = self.lock();
        check_poisoned(&st)?;
        if st.offset > HEADER_BYTES {
            self.rotate(&mut st)?;
        }
        Ok(st.segment)
    }

    /// Deletes the segments numbered below `segment`, oldest first, for a caller that has made their contents
    /// durable elsewhere. A crash part-way leaves a contiguous run of segments, which replays fine.
    pub fn truncate_before(&self, segment: u64) -> Result<u64, WalError> {
        let _guard = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let active = self.active_segment()?;
        if segment > active {
            return Err(WalError::InvalidArgument(format!(
                "cannot truncate before segment {segment}: the active segment is {active}"
            )));
        }
        let listing = segment::list(&*self.backend, &self.dir)?;
        let removed = self.remove_segments_before(&listing, segment)?;
        if removed > 0 {
            self.sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Writes `records` as the checkpoint replacing every segment numbered below `before`, then deletes those
    /// segments and older checkpoints. `records` must carry all that is still live in those segments (the
    /// series and the samples the caller still needs); replay will start with them. The same as
    /// [`Wal::start_checkpoint`], one [`CheckpointWriter::write`] and [`CheckpointWriter::commit`].
    pub fn checkpoint(&self, before: u64, records: &[Record]) -> Result<CheckpointStats, WalError> {
        match self.start_checkpoint(before)? {
            Some(mut writer) => {
                writer.write(records)?;
                writer.commit()
            }
            None => Ok(CheckpointStats { before, ..CheckpointStats::default() }),
        }
    }

    /// Starts the checkpoint replacing every segment numbered below `before` (see `cut_segment`), for a caller
    /// that streams its records in batches. `None` when a checkpoint with that number exists already: it
    /// covers the same segments, and what came after them is still in the log. A checkpoint older than the
    /// newest, or `before` past the active segment, is refused. Other checkpoints and truncations wait until
    /// the writer is committed or dropped.
    ///
    /// Crash-safe: the checkpoint is written to `checkpoint.NNNNNNNN.tmp/`, fsynced file by file, its directory
    /// fsynced, renamed to `checkpoint.NNNNNNNN/` and the WAL directory fsynced before anything is deleted.
    pub fn start_checkpoint(&self, before: u64) -> Result<Option<CheckpointWriter<'_>>, WalError> {
        let guard = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let active = self.active_segment()?;
        if before > active {
            return Err(WalError::InvalidArgument(format!(
                "cannot checkpoint before segment {before}: the active segment is {active}"
            )));
        }
        let listing = segment::list(&*self.backend, &self.dir)?;
        match listing.checkpoints.last() {
            Some(&latest) if latest > before => {
                return Err(WalError::InvalidArgument(format!(
                    "cannot checkpoint before segment {before}: checkpoint {latest} is newer"
                )));
            }
            Some(&latest) if latest == before => return Ok(None),
            _ => {}
        }
        let tmp = self.dir.join(checkpoint_tmp_name(before));
        if self.backend.exists(&tmp).map_err(io_err(&tmp))? {
            backend::remove_dir_all(&*self.backend, &tmp).map_err(io_err(&tmp))?;
        }
        self.backend.create_dir_all(&tmp).map_err(io_err(&tmp))?;
        CheckpointWriter::start(self, guard, listing, tmp, before).map(Some)
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The end of everything appended so far.
    pub fn written_lsn(&self) -> Lsn {
        let st = self.lock();
        Lsn { segment: st.segment, offset: st.offset }
    }

    /// The end of everything known to be fsynced.
    pub fn durable_lsn(&self) -> Lsn {
        self.lock().durable
    }

    /// Whether an earlier failure poisoned the log.
    pub fn is_poisoned(&self) -> bool {
        self.lock().poisoned.is_some()
    }

    pub fn stats(&self) -> WalStats {
        let c = &self.counters;
        WalStats {
            appends: c.appends.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            fsync_time: Duration::from_nanos(c.fsync_nanos.load(Ordering::Relaxed)),
            segments_created: c.segments_created.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn active_segment(&self) -> Result<u64, WalError> {
        let st = self.lock();
        check_poisoned(&st)?;
        Ok(st.segment)
    }

    fn segment_path(&self, n: u64) -> PathBuf {
        self.dir.join(segment_name(n))
    }

    /// Waits until everything up to `target` (a position `append_nosync` returned) is fsynced. The first waiter
    /// to find no fsync running leads the next one for everybody; the others wait for it.
    pub fn wait_durable(&self, target: Lsn) -> Result<(), WalError> {
        let mut st = self.lock();
        loop {
            check_poisoned(&st)?;
            if st.durable >= target {
                return Ok(());
            }
            if st.syncing {
                st = self.synced.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.syncing = true;
            if !self.options.sync_interval.is_zero() {
                drop(st);
                // Gives other appenders time to join this fsync.
                std::thread::sleep(self.options.sync_interval);
                st = self.lock();
            }
            let upto = Lsn { segment: st.segment, offset: st.offset };
            let file = Arc::clone(&st.file);
            drop(st);
            let result = self.timed_sync(&*file);
            st = self.lock();
            st.syncing = false;
            match result {
                Ok(()) => st.durable = st.durable.max(upto),
                Err(source) => {
                    let path = self.segment_path(upto.segment);
                    return Err(self.poison(&mut st, WalError::Io { path, source }));
                }
            }
            self.synced.notify_all();
        }
    }

    fn write_locked(&self, st: &mut State, bytes: &[u8]) -> Result<(), WalError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Err(source) = st.file.write_all(bytes) {
            let path = self.segment_path(st.segment);
            return Err(self.poison(st, WalError::Io { path, source }));
        }
        st.offset += bytes.len() as u64;
        self.counters.bytes_written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Fsyncs the current segment and starts the next one.
    fn rotate(&self, st: &mut State) -> Result<(), WalError> {
        if let Err(source) = self.timed_sync(&*st.file) {
            let path = self.segment_path(st.segment);
            return Err(self.poison(st, WalError::Io { path, source }));
        }
        st.durable = st.durable.max(Lsn { segment: st.segment, offset: st.offset });
        self.synced.notify_all();
        let next = st.segment + 1;
        match create_segment(&*self.backend, &self.dir, next) {
            Ok(file) => {
                st.segment = next;
                st.offset = HEADER_BYTES;
                st.file = file;
                self.counters.segments_created.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(err) => Err(self.poison(st, err)),
        }
    }

    fn timed_sync(&self, file: &dyn WritableFile) -> io::Result<()> {
        let start = Instant::now();
        let result = file.sync();
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.counters.fsync_nanos.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    /// Marks the log poisoned by `err`, wakes every waiter and hands `err` back.
    fn poison(&self, st: &mut State, err: WalError) -> WalError {
        if st.poisoned.is_none() {
            tracing::error!(error = %err, "wal poisoned, refusing further writes");
            st.poisoned = Some(err.to_string());
        }
        self.synced.notify_all();
        err
    }

    fn poison_unlocked(&self, err: WalError) -> WalError {
        let mut st = self.lock();
        self.poison(&mut st, err)
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), WalError> {
        self.backend.sync_dir(dir).map_err(|source| self.poison_unlocked(WalError::Io { path: dir.into(), source }))
    }

    fn remove_segments_before(&self, listing: &Listing, before: u64) -> Result<u64, WalError> {
        let mut removed = 0;
        for &n in listing.segments.iter().filter(|&&s| s < before) {
            let path = self.segment_path(n);
            self.backend.remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// A place in the log's order, from [`Wal::reserve`]. Appending with it, or dropping it unused, first waits
/// until every earlier reservation has been appended or dropped: never wait on one while holding a lock that
/// the holder of an earlier one may need.
#[must_use = "a reservation holds up every later append until it is used or dropped"]
#[derive(Debug)]
pub struct Reservation<'a> {
    wal: &'a Wal,
    seq: u64,
    passed: bool,
}

impl Reservation<'_> {
    /// [`Wal::append_nosync`] at this reservation's place. The records are encoded before it waits for its turn.
    pub fn append_nosync(mut self, records: &[Record]) -> Result<Lsn, WalError> {
        let encoded = encode_frames(records);
        let mut st = self.wal.wait_turn(self.seq);
        let written = encoded.and_then(|(buf, ends)| self.wal.write_frames(&mut st, &buf, &ends));
        self.wal.pass_turn(&mut st);
        self.passed = true;
        written
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.passed {
            let mut st = self.wal.wait_turn(self.seq);
            self.wal.pass_turn(&mut st);
        }
    }
}

/// The framed bytes of `records` and the end of each frame in them. An oversized record fails the whole batch.
fn encode_frames(records: &[Record]) -> Result<(Vec<u8>, Vec<usize>), WalError> {
    let mut buf = Vec::new();
    let mut ends = Vec::with_capacity(records.len());
    for record in records {
        record::encode_frame(record, &mut buf)?;
        ends.push(buf.len());
    }
    Ok((buf, ends))
}

fn check_poisoned(st: &State) -> Result<(), WalError> {
    match &st.poisoned {
        Some(cause) => Err(WalError::Poisoned { cause: cause.clone() }),
        None => Ok(()),
    }
}

/// Creates segment `n` with its header and makes its directory entry durable. The header itself becomes
/// durable with the first fsync of the segment.
fn create_segment(backend: &dyn Backend, dir: &Path, n: u64) -> Result<Arc<dyn WritableFile>, WalError> {
    let path = dir.join(segment_name(n));
    let file = backend.create_new(&path).map_err(io_err(&path))?;
    file.write_all(&HEADER).map_err(io_err(&path))?;
    backend.sync_dir(dir).map_err(io_err(dir))?;
    Ok(Arc::from(file))
}

/// Creates `dir` and its missing parents, fsyncing the parent of each directory created.
fn create_dir_durably(backend: &dyn Backend, dir: &Path) -> Result<(), WalError> {
    backend::create_dir_durably(backend, dir).map_err(|(path, source)| WalError::Io { path, source })
}

/// Replays checkpoint `n`: its segments must run `00000000`, `00000001`... without a gap or any damage.
fn replay_checkpoint(
    backend: &dyn Backend,
    dir: &Path,
    n: u64,
    on_record: &mut dyn FnMut(Record),
    stats: &mut ReplayStats,
) -> Result<(), WalError> {
    let cp_dir = dir.join(checkpoint_name(n));
    let listing = segment::list(backend, &cp_dir)?;
    let mut records = 0;
    for (i, &s) in listing.segments.iter().enumerate() {
        if s != i as u64 {
            return Err(WalError::MissingSegment { dir: cp_dir, missing: i as u64 });
        }
        let path = cp_dir.join(segment_name(s));
        let bytes = backend.read(&path, SEGMENT_READ_LIMIT).map_err(io_err(&path))?;
        records += segment::read(&bytes, &path, false, on_record)?.records;
        stats.bytes += bytes.len() as u64;
    }
    stats.checkpoint = Some(n);
    stats.records += records;
    tracing::info!(checkpoint = n, segments = listing.segments.len(), records, "replayed wal checkpoint");
    Ok(())
}
