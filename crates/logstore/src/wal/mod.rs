//! Write-ahead log: checksummed records in numbered segment files, group commit, replay, truncation.
//!
//! Bytes, fsync order and crash behaviour are in `docs/format/logstore.md` ("Write-ahead log"). As in the
//! tsdb: an append returns only once its bytes are fsynced, appenders at the same time share one fsync,
//! [`Wal::reserve`] fixes where records go before they are written, a failed write or fsync poisons the log,
//! and replay cuts a torn tail off the last segment and reports any other damage as [`Error::Corrupt`].

pub(crate) mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{corrupt, io_err, Error};
use crate::fsutil;

const MAGIC: [u8; 4] = *b"VLWL";
pub(crate) const FORMAT_VERSION: u8 = 1;
const HEADER: [u8; 8] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], FORMAT_VERSION, 0, 0, 0];
const HEADER_BYTES: u64 = HEADER.len() as u64;

/// The most bytes a segment can hold: the largest segment size plus one record that did not fit in it.
const SEGMENT_READ_LIMIT: u64 = (1 << 30) + record::MAX_RECORD_BYTES as u64 + 64;

fn segment_name(n: u64) -> String {
    format!("{n:016}")
}

fn parse_segment(name: &str) -> Option<u64> {
    if name.len() != 16 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// A position in the log: the end of some appended bytes. Ordered by segment, then offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Lsn {
    pub segment: u64,
    pub offset: u64,
}

/// Receives each replayed record: its segment number, type, payload, and the segment's path for errors.
pub(crate) type OnRecord<'a> = dyn FnMut(u64, u8, &[u8], &Path) -> Result<(), Error> + 'a;

/// What a replay read.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplayStats {
    pub records: u64,
    pub truncated_bytes: u64,
}

/// The write-ahead log of one directory.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    max_segment_bytes: u64,
    state: Mutex<State>,
    /// Signalled when `durable` advances, when a group fsync ends and when the log is poisoned.
    synced: Condvar,
    /// The number the next [`Reservation`] gets.
    reserved: AtomicU64,
    /// Signalled when `State::turn` advances.
    turn_passed: Condvar,
    pub fsyncs: AtomicU64,
    pub bytes_written: AtomicU64,
}

#[derive(Debug)]
struct State {
    segment: u64,
    file: Arc<File>,
    offset: u64,
    durable: Lsn,
    syncing: bool,
    poisoned: Option<String>,
    /// The reservation whose records are written next.
    turn: u64,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, handing each replayed record (its segment number, type and
    /// payload) to `on_record` in order. New appends go to a fresh segment numbered at least `min_next`.
    pub fn open(
        dir: &Path,
        max_segment_bytes: u64,
        min_next: u64,
        on_record: &mut OnRecord<'_>,
    ) -> Result<(Wal, ReplayStats), Error> {
        fsutil::create_dir_durably(dir)?;
        let mut segments = Vec::new();
        for (name, is_dir) in fsutil::list(dir)? {
            if let (false, Some(n)) = (is_dir, parse_segment(&name)) {
                segments.push(n);
            }
        }
        for pair in segments.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(Error::MissingSegment { dir: dir.to_path_buf(), missing: pair[0] + 1 });
            }
        }
        let mut stats = ReplayStats::default();
        let mut next = segments.last().map_or(0, |&s| s + 1);
        let mut dirty = false;
        for (i, &n) in segments.iter().enumerate() {
            let path = dir.join(segment_name(n));
            let bytes = read_capped(&path, SEGMENT_READ_LIMIT)?;
            let is_last = i + 1 == segments.len();
            let torn = read_segment(&bytes, &path, n, is_last, &mut stats, on_record)?;
            if let Some((offset, reason)) = torn {
                let dropped = bytes.len() as u64 - offset;
                stats.truncated_bytes += dropped;
                tracing::warn!(path = %path.display(), offset, dropped_bytes = dropped, reason = %reason,
                    "truncating torn wal tail");
                if offset < HEADER_BYTES {
                    std::fs::remove_file(&path).map_err(io_err(&path))?;
                    dirty = true;
                    next = n;
                    continue;
                }
                let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
                file.set_len(offset).map_err(io_err(&path))?;
            }
            if is_last {
                // An earlier process may have written this segment without fsyncing it; it must be durable
                // before the next segment is.
                OpenOptions::new().append(true).open(&path).and_then(|f| f.sync_data()).map_err(io_err(&path))?;
            }
        }
        if dirty {
            fsutil::sync_dir(dir)?;
        }
        let next = next.max(min_next);
        let file = create_segment(dir, next)?;
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
            dir: dir.to_path_buf(),
            max_segment_bytes,
            state: Mutex::new(state),
            synced: Condvar::new(),
            reserved: AtomicU64::new(0),
            turn_passed: Condvar::new(),
            fsyncs: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        };
        Ok((wal, stats))
    }

    /// Takes the next place in the log's order: what is written with it goes after the records of every
    /// earlier reservation and before those of every later one, whenever each is written.
    pub fn reserve(&self) -> Reservation<'_> {
        let seq = self.reserved.fetch_add(1, Ordering::Relaxed);
        Reservation { wal: self, seq, passed: false }
    }

    /// Waits until everything up to `target` is fsynced. The first waiter to find no fsync running leads the
    /// next one for everybody; the others wait for it.
    pub fn wait_durable(&self, target: Lsn) -> Result<(), Error> {
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
            let upto = Lsn { segment: st.segment, offset: st.offset };
            let file = Arc::clone(&st.file);
            drop(st);
            let result = file.sync_data();
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            st = self.lock();
            st.syncing = false;
            match result {
                Ok(()) => st.durable = st.durable.max(upto),
                Err(source) => {
                    let path = self.dir.join(segment_name(upto.segment));
                    return Err(self.poison(&mut st, Error::Io { path, source }));
                }
            }
            self.synced.notify_all();
        }
    }

    /// Deletes the segments numbered below `segment`, oldest first; a crash part-way leaves a contiguous run.
    pub fn truncate_before(&self, segment: u64) -> Result<u64, Error> {
        let mut removed = 0;
        for (name, is_dir) in fsutil::list(&self.dir)? {
            if let (false, Some(n)) = (is_dir, parse_segment(&name)) {
                if n < segment {
                    let path = self.dir.join(name);
                    std::fs::remove_file(&path).map_err(io_err(&path))?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            fsutil::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Bytes of every segment file on disk.
    pub fn disk_bytes(&self) -> u64 {
        let Ok(entries) = fsutil::list(&self.dir) else { return 0 };
        entries
            .iter()
            .filter(|(name, is_dir)| !is_dir && parse_segment(name).is_some())
            .filter_map(|(name, _)| std::fs::metadata(self.dir.join(name)).ok())
            .map(|m| m.len())
            .sum()
    }

    pub fn poisoned(&self) -> Option<String> {
        self.lock().poisoned.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

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

    /// Writes framed records (`ends` holds the end of each in `buf`), rotating between frames when the
    /// segment is full; returns the log's new end.
    fn write_frames(&self, st: &mut State, buf: &[u8], ends: &[usize]) -> Result<Lsn, Error> {
        check_poisoned(st)?;
        let (mut run_start, mut frame_start) = (0, 0);
        for &frame_end in ends {
            let segment_len = st.offset + (frame_start - run_start) as u64;
            if segment_len + (frame_end - frame_start) as u64 > self.max_segment_bytes && segment_len > HEADER_BYTES {
                self.write_locked(st, &buf[run_start..frame_start])?;
                self.rotate(st)?;
                run_start = frame_start;
            }
            frame_start = frame_end;
        }
        self.write_locked(st, &buf[run_start..])?;
        Ok(Lsn { segment: st.segment, offset: st.offset })
    }

    fn write_locked(&self, st: &mut State, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Err(source) = (&*st.file).write_all(bytes) {
            let path = self.dir.join(segment_name(st.segment));
            return Err(self.poison(st, Error::Io { path, source }));
        }
        st.offset += bytes.len() as u64;
        self.bytes_written.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Fsyncs the current segment and starts the next one.
    fn rotate(&self, st: &mut State) -> Result<(), Error> {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let Err(source) = st.file.sync_data() {
            let path = self.dir.join(segment_name(st.segment));
            return Err(self.poison(st, Error::Io { path, source }));
        }
        st.durable = st.durable.max(Lsn { segment: st.segment, offset: st.offset });
        self.synced.notify_all();
        match create_segment(&self.dir, st.segment + 1) {
            Ok(file) => {
                st.segment += 1;
                st.offset = HEADER_BYTES;
                st.file = file;
                Ok(())
            }
            Err(err) => Err(self.poison(st, err)),
        }
    }

    fn poison(&self, st: &mut State, err: Error) -> Error {
        if st.poisoned.is_none() {
            tracing::error!(error = %err, "log store wal poisoned, refusing further writes");
            st.poisoned = Some(err.to_string());
        }
        self.synced.notify_all();
        err
    }
}

/// A place in the log's order, from [`Wal::reserve`]. Using or dropping it first waits until every earlier
/// reservation has been used or dropped: never wait on one while holding a lock an earlier holder may need.
#[must_use = "a reservation holds up every later append until it is used or dropped"]
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    wal: &'a Wal,
    seq: u64,
    passed: bool,
}

impl Reservation<'_> {
    /// Writes framed records at this place without waiting for an fsync; returns the log's end after them.
    pub fn write(mut self, buf: &[u8], ends: &[usize]) -> Result<Lsn, Error> {
        let mut st = self.wal.wait_turn(self.seq);
        let written = self.wal.write_frames(&mut st, buf, ends);
        self.wal.pass_turn(&mut st);
        self.passed = true;
        written
    }

    /// Closes the current segment at this place (unless it is empty) and returns the number of the segment
    /// now active: every record of an earlier reservation lies in a segment with a smaller number.
    pub fn cut(mut self) -> Result<u64, Error> {
        let mut st = self.wal.wait_turn(self.seq);
        let result = check_poisoned(&st).and_then(|()| {
            if st.offset > HEADER_BYTES {
                self.wal.rotate(&mut st)?;
            }
            Ok(st.segment)
        });
        self.wal.pass_turn(&mut st);
        self.passed = true;
        result
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

fn check_poisoned(st: &State) -> Result<(), Error> {
    match &st.poisoned {
        Some(cause) => Err(Error::Poisoned { cause: cause.clone() }),
        None => Ok(()),
    }
}

/// Creates segment `n` with its header and makes its directory entry durable.
fn create_segment(dir: &Path, n: u64) -> Result<Arc<File>, Error> {
    let path = dir.join(segment_name(n));
    let mut file = OpenOptions::new().append(true).create_new(true).open(&path).map_err(io_err(&path))?;
    file.write_all(&HEADER).map_err(io_err(&path))?;
    fsutil::sync_dir(dir)?;
    Ok(Arc::new(file))
}

pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > limit {
        return Err(corrupt(path, format!("file of {len} bytes exceeds the limit of {limit} bytes")));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.take(limit).read_to_end(&mut buf).map_err(io_err(path))?;
    Ok(buf)
}

/// Reads one segment's records. With `tail_may_tear`, a damaged frame (or a header that never reached the
/// disk) ends the segment and is returned as `(offset, reason)`; otherwise it is a `Corrupt` error.
fn read_segment(
    bytes: &[u8],
    path: &Path,
    segment: u64,
    tail_may_tear: bool,
    stats: &mut ReplayStats,
    on_record: &mut OnRecord<'_>,
) -> Result<Option<(u64, String)>, Error> {
    let at = |offset: usize, reason: String| corrupt(path, format!("at offset {offset}: {reason}"));
    let header_ok = bytes.len() >= HEADER.len() && bytes[..4] == MAGIC && bytes[5..8] == [0, 0, 0];
    if !header_ok {
        let reason = "missing or damaged segment header".to_string();
        let never_written = bytes.len() < HEADER.len() || bytes.iter().all(|&b| b == 0);
        if tail_may_tear && never_written {
            return Ok(Some((0, reason)));
        }
        return Err(at(0, reason));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion { path: path.to_path_buf(), version: bytes[4] });
    }
    let mut pos = HEADER.len();
    while pos < bytes.len() {
        let frame = match record::read_frame(bytes, pos) {
            Ok(frame) => frame,
            Err(reason) if tail_may_tear => return Ok(Some((pos as u64, reason))),
            Err(reason) => return Err(at(pos, reason)),
        };
        on_record(segment, frame.kind, frame.payload, path)?;
        stats.records += 1;
        pos = frame.end;
    }
    Ok(None)
}
