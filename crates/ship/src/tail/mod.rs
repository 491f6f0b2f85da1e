//! Tailing files matched by globs, by polling: new files are picked up, rename and copytruncate rotation are
//! followed, deleted files are read to their end, and every line carries the position to commit after it.
//!
//! A tracked file is held open and known by its (device, inode) while it is open; across restarts it is known by
//! that pair plus the fingerprint of its first bytes (`fingerprint.rs`), or by a full fingerprint alone when it
//! moved to another file system. Two files with identical first bytes are two files (their inodes differ).

mod fingerprint;
mod lines;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fs::{self, File},
    io,
    os::unix::fs::{FileExt as _, MetadataExt as _},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use vigil_model::{log::LogEntry, Labels};

use crate::positions::{FileEntry, FileId, FilePosition, Fingerprint, Position, Positions, FINGERPRINT_BYTES};
use fingerprint::{file_id, fingerprint, prefix_matches};
use lines::{RawLine, Splitter};

/// Truncations remembered for matching copytruncate copies.
const MAX_TRUNCATIONS: usize = 1024;

/// The label naming the file a line was read from (its path when the tailer first found it).
pub const FILENAME_LABEL: &str = "filename";

/// How a [`Tailer`] finds and reads files.
#[derive(Clone, Debug)]
pub struct TailConfig {
    /// Glob patterns (`*`, `?`, `[...]`, `**`) of the files to read.
    pub include: Vec<String>,
    /// Labels of every line; `filename` is added per file.
    pub labels: Labels,
    /// How often the caller should call [`Tailer::poll`].
    pub poll_interval: Duration,
    /// Longer lines are cut to this many bytes and flagged; the rest of the line is skipped.
    pub max_line_bytes: usize,
    /// A last line without newline is emitted once its file has not grown for this long.
    pub partial_timeout: Duration,
    /// A file that was renamed out of the globs or deleted is read until it has not grown for this long, then
    /// closed: writers that still hold it open may append for a while after the rotation.
    pub rotate_wait: Duration,
    /// Bytes read from one file per poll, so that one busy file does not starve the others.
    pub read_budget: usize,
    /// Files tracked at most; more matches are ignored (and counted) until some are closed.
    pub max_files: usize,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            include: Vec::new(),
            labels: Labels::default(),
            poll_interval: Duration::from_millis(250),
            max_line_bytes: 256 << 10,
            partial_timeout: Duration::from_secs(5),
            rotate_wait: Duration::from_secs(5),
            read_budget: 4 << 20,
            max_files: 4096,
        }
    }
}

/// A line read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct TailLine {
    pub labels: Arc<Labels>,
    pub entry: LogEntry,
    /// The position just after this line: commit it once the line is safe.
    pub pos: Position,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("invalid glob {pattern:?}: {reason}")]
    Glob { pattern: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Counters for the agent's self-metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TailStats {
    pub files_open: usize,
    pub lines: u64,
    pub bytes: u64,
    pub truncated_lines: u64,
    /// Truncations seen (copytruncate rotations).
    pub truncations: u64,
    /// I/O errors on single files; the tailer goes on with the others.
    pub errors: u64,
    /// Matching files ignored because `max_files` were open.
    pub skipped_files: u64,
}

struct Tracked {
    id: FileId,
    file: File,
    path: PathBuf,
    path_str: Arc<str>,
    labels: Arc<Labels>,
    fp: Fingerprint,
    splitter: Splitter,
    last_growth: Instant,
    /// Seen by the last glob scan.
    matched: bool,
}

/// The tail of a file that was truncated: a copy of it made by copytruncate starts with these bytes, and the
/// tailer had read it up to `offset`.
struct Truncation {
    fp: Fingerprint,
    offset: u64,
    at: Instant,
}

/// Tails the files matching a set of globs. Call [`Tailer::poll`] every `poll_interval` from one thread.
pub struct Tailer {
    cfg: TailConfig,
    files: Vec<Tracked>,
    /// Committed positions not yet matched to a file (only until the first poll is done).
    saved: BTreeMap<FileId, FileEntry>,
    /// When those positions were committed.
    committed_at: Option<SystemTime>,
    first_poll: bool,
    discovered: Vec<Position>,
    truncations: Vec<Truncation>,
    chunk: Vec<u8>,
    stats: TailStats,
    last_error: Option<TailError>,
}

impl Tailer {
    /// A tailer resuming from `positions` (the committed ones, see [`Positions::load`]).
    pub fn new(cfg: TailConfig, positions: &Positions) -> Result<Tailer, TailError> {
        for p in &cfg.include {
            glob::Pattern::new(p).map_err(|e| TailError::Glob { pattern: p.clone(), reason: e.msg.to_string() })?;
        }
        Ok(Tailer {
            cfg,
            files: Vec::new(),
            saved: positions.files().clone(),
            committed_at: positions.committed_at(),
            first_poll: true,
            discovered: Vec::new(),
            truncations: Vec::new(),
            chunk: vec![0; 64 << 10],
            stats: TailStats::default(),
            last_error: None,
        })
    }

    pub fn stats(&self) -> TailStats {
        TailStats { files_open: self.files.len(), ..self.stats.clone() }
    }

    /// The last per-file error, if any (they are counted in [`TailStats::errors`]).
    pub fn last_error(&self) -> Option<&TailError> {
        self.last_error.as_ref()
    }

    /// Whether the file is still open (for pruning [`Positions`] of closed files).
    pub fn is_tracking(&self, id: &FileId) -> bool {
        self.files.iter().any(|t| t.id == *id)
    }

    /// The start positions of the files opened since the last call, when committing them cannot skip a line
    /// (a new file at offset 0, or a resumed one at its committed offset). Apply and commit them at once: then a
    /// restart finds a file that was renamed out of the globs while the agent was down, even if none of its
    /// lines had been committed.
    pub fn take_discovered(&mut self) -> Vec<Position> {
        std::mem::take(&mut self.discovered)
    }

    /// Scans the globs, reads what was appended to every tracked file and appends the complete lines to `out`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<TailLine>) {
        let found = self.scan();
        let found_ids: HashMap<FileId, &PathBuf> = found.iter().map(|(id, p)| (*id, p)).collect();
        for t in &mut self.files {
            match found_ids.get(&t.id) {
                Some(p) => {
                    t.matched = true;
                    if t.path != **p {
                        t.path = (*p).clone();
                        t.path_str = p.to_string_lossy().into();
                    }
                }
                None => t.matched = false,
            }
        }

        // Files already open first: after a rename rotation the old file is read to its end before the new one.
        let mut files = std::mem::take(&mut self.files);
        files.retain_mut(|t| self.service(t, now, out));
        self.files = files;

        let tracked: HashSet<FileId> = self.files.iter().map(|t| t.id).collect();
        for (id, path) in &found {
            if tracked.contains(id) {
                continue;
            }
            if self.files.len() >= self.cfg.max_files {
                self.stats.skipped_files += 1;
                continue;
            }
            match self.open_new(*id, path, &found_ids, now) {
                Ok(Some(mut t)) => {
                    if self.service(&mut t, now, out) {
                        self.files.push(t);
                    }
                }
                Ok(None) => {}
                Err(e) => self.error(TailError::Io { path: path.clone(), source: e }),
            }
        }

        if self.first_poll {
            self.first_poll = false;
            self.recover_orphans(&found_ids, now, out);
            self.saved.clear();
        }
        let keep_for = self.cfg.rotate_wait.max(Duration::from_secs(60));
        self.truncations.retain(|t| now.duration_since(t.at) < keep_for);
    }

    /// The matching regular files, each once, in glob order.
    fn scan(&mut self) -> Vec<(FileId, PathBuf)> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for pattern in &self.cfg.include {
            let Ok(paths) = glob::glob(pattern) else { continue };
            for path in paths.flatten() {
                let Ok(meta) = fs::metadata(&path) else { continue };
                if !meta.is_file() {
                    continue;
                }
                let id = file_id(&meta);
                if seen.insert(id) {
                    out.push((id, path));
                }
            }
        }
        out
    }

    fn open_new(
        &mut self,
        id: FileId,
        path: &Path,
        found: &HashMap<FileId, &PathBuf>,
        now: Instant,
    ) -> io::Result<Option<Tracked>> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if file_id(&meta) != id {
            // Replaced between the scan and the open: the next scan finds the new one.
            return Ok(None);
        }
        let size = meta.len();
        let (start, committable) = self.start_offset(&file, id, size, found)?;
        let t = self.track(id, file, path, start, now);
        if committable {
            let pos = FilePosition { id, fp: t.fp, offset: start, path: t.path_str.clone() };
            self.discovered.push(Position::File(pos));
        }
        Ok(Some(t))
    }

    fn track(&self, id: FileId, file: File, path: &Path, start: u64, now: Instant) -> Tracked {
        let path_str: Arc<str> = path.to_string_lossy().into();
        let mut labels = self.cfg.labels.clone();
        labels.set(FILENAME_LABEL, &path_str);
        let fp = fingerprint(&file, start).unwrap_or_default();
        Tracked {
            id,
            file,
            path: path.to_path_buf(),
            path_str,
            labels: Arc::new(labels),
            fp,
            splitter: Splitter::new(start, self.cfg.max_line_bytes),
            last_growth: now,
            matched: true,
        }
    }

    /// Where to start reading a file not tracked yet: its committed position (by inode, or by full fingerprint
    /// if it moved to another file system), the offset its truncated original was read to (a copytruncate
    /// copy), or its beginning; and whether that offset may be committed before any line is read.
    fn start_offset(
        &mut self,
        file: &File,
        id: FileId,
        size: u64,
        found: &HashMap<FileId, &PathBuf>,
    ) -> io::Result<(u64, bool)> {
        if let Some(e) = self.saved.remove(&id) {
            if prefix_matches(file, &e.fp)? {
                return Ok((if size < e.offset { 0 } else { e.offset }, true));
            }
        }
        // Moved to another file system: only an unambiguous match is trusted.
        let mut moved = Vec::new();
        for (sid, e) in &self.saved {
            if e.fp.is_full() && !found.contains_key(sid) && prefix_matches(file, &e.fp)? {
                moved.push(*sid);
            }
        }
        if let [sid] = moved[..] {
            if let Some(e) = self.saved.remove(&sid) {
                return Ok((if size < e.offset { 0 } else { e.offset }, true));
            }
        }
        for i in 0..self.truncations.len() {
            let t = &self.truncations[i];
            if t.fp.len > 0 && size >= t.offset && prefix_matches(file, &t.fp)? {
                let offset = t.offset;
                self.truncations.remove(i);
                // The original's lines up to `offset` may not be committed yet.
                return Ok((offset, false));
            }
        }
        Ok((0, true))
    }

    /// A file renamed out of the globs while the agent was down: found by its inode next to its old path, read
    /// to its end, then closed.
    fn recover_orphans(&mut self, found: &HashMap<FileId, &PathBuf>, now: Instant, out: &mut Vec<TailLine>) {
        const MAX_DIR_ENTRIES: usize = 10_000;
        let saved = std::mem::take(&mut self.saved);
        for (id, e) in &saved {
            if found.contains_key(id) || self.is_tracking(id) || self.files.len() >= self.cfg.max_files {
                continue;
            }
            let Some(dir) = Path::new(&e.path).parent() else { continue };
            let Ok(entries) = fs::read_dir(dir) else { continue };
            for entry in entries.flatten().take(MAX_DIR_ENTRIES) {
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() || file_id(&meta) != *id {
                    continue;
                }
                let name = entry.file_name();
                let saved_name = Path::new(&e.path).file_name();
                let sibling = match (name.to_str(), saved_name.and_then(|n| n.to_str())) {
                    (Some(n), Some(base)) => is_rotated_name(n, base) || n == base,
                    _ => false,
                };
                let Ok(file) = File::open(entry.path()) else { break };
                // Truncated or rewritten since (copytruncate, then renamed): its old bytes are gone, read it all;
                // an unrelated file on a reused inode is read only if it is named like a rotation of ours.
                let start = match prefix_matches(&file, &e.fp) {
                    Ok(true) if meta.len() >= e.offset => e.offset,
                    Ok(_) if sibling => 0,
                    _ => break,
                };
                let mut t = self.track(*id, file, Path::new(&e.path), start, now);
                t.path = entry.path();
                t.matched = false;
                if self.service(&mut t, now, out) {
                    self.files.push(t);
                }
                break;
            }
        }
        self.recover_unseen_rotations(found, &saved, now, out);
    }

    /// Files created and rotated away while the agent was down have no committed position: a sibling named like
    /// a known file plus a rotation suffix (`app.log.1`, `app.log-20240101`), out of the globs, unknown, and
    /// modified since the positions were last committed is read from its start (duplicates rather than loss).
    fn recover_unseen_rotations(
        &mut self,
        found: &HashMap<FileId, &PathBuf>,
        saved: &BTreeMap<FileId, FileEntry>,
        now: Instant,
        out: &mut Vec<TailLine>,
    ) {
        const MAX_DIR_ENTRIES: usize = 10_000;
        const COMPRESSED: [&str; 5] = [".gz", ".bz2", ".xz", ".zst", ".lz4"];
        let Some(since) = self.committed_at else { return };
        let mut bases: BTreeMap<PathBuf, HashSet<String>> = BTreeMap::new();
        let known_paths = found.values().map(|p| p.to_path_buf()).chain(saved.values().map(|e| PathBuf::from(&e.path)));
        for p in known_paths {
            if let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) {
                bases.entry(dir.to_path_buf()).or_default().insert(name.to_string());
            }
        }
        for (dir, names) in bases {
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten().take(MAX_DIR_ENTRIES) {
                let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
                let rotated = names.iter().any(|base| is_rotated_name(&name, base));
                if !rotated || COMPRESSED.iter().any(|c| name.ends_with(c)) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                let id = file_id(&meta);
                let fresh = meta.modified().is_ok_and(|m| m >= since);
                if !meta.is_file()
                    || !fresh
                    || found.contains_key(&id)
                    || saved.contains_key(&id)
                    || self.is_tracking(&id)
                {
                    continue;
                }
                if self.files.len() >= self.cfg.max_files {
                    return;
                }
                let Ok(file) = File::open(entry.path()) else { continue };
                let mut t = self.track(id, file, &entry.path(), 0, now);
                t.matched = false;
                if self.service(&mut t, now, out) {
                    self.files.push(t);
                }
            }
        }
    }

    /// Reads what is new in `t`; false once it is to be closed.
    fn service(&mut self, t: &mut Tracked, now: Instant, out: &mut Vec<TailLine>) -> bool {
        match self.read(t, now, out) {
            Ok(keep) => keep,
            Err(e) => {
                self.error(TailError::Io { path: t.path.clone(), source: e });
                true
            }
        }
    }

    fn read(&mut self, t: &mut Tracked, now: Instant, out: &mut Vec<TailLine>) -> io::Result<bool> {
        let meta = t.file.metadata()?;
        let size = meta.len();
        if size < t.splitter.offset() || !prefix_matches(&t.file, &t.fp)? {
            // Truncated (copytruncate) or rewritten in place: what was left before the truncation is gone from
            // this file, start again from 0. A copy that matches the globs is resumed after the last complete
            // line read here: a held partial line is read whole from the copy, not emitted in pieces.
            if self.truncations.len() >= MAX_TRUNCATIONS {
                self.truncations.remove(0);
            }
            self.truncations.push(Truncation { fp: t.fp, offset: t.splitter.line_start(), at: now });
            self.stats.truncations += 1;
            t.splitter = Splitter::new(0, self.cfg.max_line_bytes);
            t.fp = Fingerprint::default();
            t.last_growth = now;
        }

        let mut grew = false;
        let mut budget = self.cfg.read_budget;
        while budget > 0 {
            let off = t.splitter.offset();
            let want = budget.min(self.chunk.len());
            let n = match t.file.read_at(&mut self.chunk[..want], off) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            grew = true;
            budget -= n;
            self.stats.bytes += n as u64;
            let end = off + n as u64;
            if !t.fp.is_full() && end > t.fp.len as u64 {
                t.fp = fingerprint(&t.file, end.min(FINGERPRINT_BYTES as u64))?;
            }
            let ts_ns = now_ns();
            let (fp, id) = (t.fp, t.id);
            let (labels, path) = (&t.labels, &t.path_str);
            let stats = &mut self.stats;
            t.splitter.feed(&self.chunk[..n], &mut |l| out.push(line(labels, path, id, fp, ts_ns, l, stats)));
        }

        if grew {
            t.last_growth = now;
            return Ok(true);
        }
        let idle = now.saturating_duration_since(t.last_growth);
        if t.splitter.has_partial() && idle >= self.cfg.partial_timeout {
            self.flush(t, out);
        }
        let gone = !t.matched || meta.nlink() == 0;
        if gone && idle >= self.cfg.rotate_wait {
            self.flush(t, out);
            return Ok(false);
        }
        Ok(true)
    }

    fn flush(&mut self, t: &mut Tracked, out: &mut Vec<TailLine>) {
        let ts_ns = now_ns();
        let stats = &mut self.stats;
        t.splitter.flush(&mut |l| out.push(line(&t.labels, &t.path_str, t.id, t.fp, ts_ns, l, stats)));
    }

    fn error(&mut self, e: TailError) {
        self.stats.errors += 1;
        self.last_error = Some(e);
    }
}

fn line(
    labels: &Arc<Labels>,
    path: &Arc<str>,
    id: FileId,
    fp: Fingerprint,
    ts_ns: i64,
    l: RawLine,
    stats: &mut TailStats,
) -> TailLine {
    stats.lines += 1;
    stats.truncated_lines += l.truncated as u64;
    TailLine {
        labels: labels.clone(),
        entry: LogEntry { ts_ns, line: l.line, fields: Vec::new() },
        pos: Position::File(FilePosition { id, fp, offset: l.offset, path: path.clone() }),
        truncated: l.truncated,
    }
}

/// Whether `name` looks like a rotation of `base`: `app.log.1`, `app.log-20240101`.
fn is_rotated_name(name: &str, base: &str) -> bool {
    name.strip_prefix(base).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}
