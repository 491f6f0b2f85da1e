//! Watched files (`agent.guard.signals.watch_files`), without auditd: a thread of its own stats every match
//! of the globs each `check_interval`, hashes the first bytes of each (SHA-256), and compares with the
//! baseline kept in `guard.db`. A file created, modified (content, size, mode or owner) or deleted becomes a
//! security record (`{job="security", source="watch"}`) and counts in `vigil_watched_file_changes_total`;
//! the record reaches the log outbox before the baseline moves, so a crash reports a change again rather than
//! never. The first check on a host only stores the baseline.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use vigil_guard::event::ecs;
use vigil_model::log::LogEntry;

use super::clock::Clock;
use super::events::stream_labels;
use super::metrics::GuardMetrics;
use super::signal_store::{FileState, SignalStore};
use super::store::StoreError;
use crate::logs::LogAppender;

/// The `source` label of watched-file records.
pub const WATCH_SOURCE: &str = "watch";
/// Not ECS: which kind of file changed (`passwd`, `shadow`, `group`, `sudoers`, `authorized_keys`, `cron`).
pub const WATCH_CLASS_FIELD: &str = "vigil.watch.class";
/// Bytes of a file hashed at most; a larger file's change beyond them shows in its size or time.
pub const MAX_HASH_BYTES: u64 = 1 << 20;
/// Files watched at most; further matches are skipped (and logged).
pub const MAX_WATCHED_FILES: usize = 4096;

/// What the watcher needs.
#[derive(Clone, Debug)]
pub(crate) struct WatchConfig {
    pub patterns: Vec<String>,
    pub rootfs: PathBuf,
    pub interval: Duration,
    pub host: String,
}

/// The running watcher thread; stopped on drop.
pub(crate) struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the file watcher thread: {0}")]
    Thread(std::io::Error),
}

/// Loads the baseline from `dir/guard.db` and starts checking; `None` when no files are to be watched.
pub(crate) fn start(
    cfg: WatchConfig,
    dir: &Path,
    logs: Option<LogAppender>,
    metrics: Arc<GuardMetrics>,
    clock: Clock,
) -> Result<Option<Watcher>, WatchError> {
    if cfg.patterns.is_empty() {
        return Ok(None);
    }
    let store = SignalStore::open(dir)?;
    let baseline = store.watched()?;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let mut w = Watch { cfg, store, baseline, logs, metrics, clock, warned_cap: false };
    let thread = std::thread::Builder::new()
        .name("guard-watch".into())
        .spawn(move || loop {
            w.check();
            if !matches!(stop_rx.recv_timeout(w.cfg.interval), Err(mpsc::RecvTimeoutError::Timeout)) {
                return;
            }
        })
        .map_err(WatchError::Thread)?;
    Ok(Some(Watcher { stop: Some(stop_tx), thread: Some(thread) }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Created,
    Modified,
    Deleted,
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Change::Created => "file-created",
            Change::Modified => "file-modified",
            Change::Deleted => "file-deleted",
        }
    }

    /// ECS `event.type`.
    fn event_type(self) -> &'static str {
        match self {
            Change::Created => "creation",
            Change::Modified => "change",
            Change::Deleted => "deletion",
        }
    }
}

struct Watch {
    cfg: WatchConfig,
    store: SignalStore,
    /// `None` until the first check on this host.
    baseline: Option<HashMap<String, FileState>>,
    logs: Option<LogAppender>,
    metrics: Arc<GuardMetrics>,
    clock: Clock,
    warned_cap: bool,
}

impl Watch {
    /// One check, counted once it is done.
    fn check(&mut self) {
        let files = self.compare();
        self.metrics.signals.watch_checked(files);
    }

    /// Compares the files with the baseline, reports and stores the changes; the number of files found.
    fn compare(&mut self) -> usize {
        let (found, capped) = scan(&self.cfg.patterns, &self.cfg.rootfs);
        let files = found.len();
        if capped && !self.warned_cap {
            self.warned_cap = true;
            tracing::warn!(max = MAX_WATCHED_FILES, "more watched files than the cap, the rest are not checked");
        }
        let Some(baseline) = &self.baseline else {
            let all: Vec<(String, Option<FileState>)> =
                found.iter().map(|(p, s)| (p.clone(), Some(s.clone()))).collect();
            match self.store.update_watched(&all) {
                Ok(()) => self.baseline = Some(found.into_iter().collect()),
                Err(err) => {
                    self.metrics.store_error();
                    tracing::error!(%err, "cannot store the watched files' baseline");
                }
            }
            return files;
        };
        let mut changes: Vec<(Change, String, Option<FileState>)> = Vec::new();
        for (path, state) in &found {
            match baseline.get(path) {
                None => changes.push((Change::Created, path.clone(), Some(state.clone()))),
                Some(old) if differs(old, state) => changes.push((Change::Modified, path.clone(), Some(state.clone()))),
                Some(_) => {}
            }
        }
        let mut gone: Vec<&String> = baseline.keys().filter(|p| !found.contains_key(*p)).collect();
        gone.sort();
        changes.extend(gone.into_iter().map(|p| (Change::Deleted, p.clone(), None)));
        if changes.is_empty() {
            return files;
        }
        let ts_ns = (self.clock)().saturating_mul(1_000_000_000);
        let records: Vec<LogEntry> = changes.iter().map(|(c, p, s)| record(*c, p, s.as_ref(), ts_ns)).collect();
        if let Some(logs) = &self.logs {
            match logs.append(vec![(stream_labels(&self.cfg.host, WATCH_SOURCE), records)]) {
                Ok(()) => {}
                Err(vigil_ship::OutboxError::TooLarge { .. }) => {
                    tracing::error!("watched-file records larger than the log outbox, dropped");
                }
                Err(err) => {
                    // The baseline stays: the changes are reported again at the next check.
                    self.metrics.store_error();
                    tracing::error!(%err, "cannot write watched-file records to the log outbox");
                    return files;
                }
            }
        }
        for (change, path, _) in &changes {
            let class = class(path);
            self.metrics.signals.file_change(class);
            tracing::warn!(path, class, change = change.action(), "watched file changed");
        }
        let updates: Vec<(String, Option<FileState>)> = changes.into_iter().map(|(_, p, s)| (p, s)).collect();
        if let Err(err) = self.store.update_watched(&updates) {
            self.metrics.store_error();
            tracing::error!(%err, "cannot store the watched files' baseline (changes may be reported again)");
        }
        if let Some(baseline) = &mut self.baseline {
            for (path, state) in updates {
                match state {
                    Some(s) => baseline.insert(path, s),
                    None => baseline.remove(&path),
                };
            }
        }
        files
    }
}

/// A change the baseline did not have: content (or, unread, size and time), mode or owner. A file larger
/// than the hashed bytes also changes with its modification time.
fn differs(old: &FileState, new: &FileState) -> bool {
    let content = match (old.sha256, new.sha256) {
        (Some(a), Some(b)) => a != b || (new.size > MAX_HASH_BYTES && old.mtime_ns != new.mtime_ns),
        _ => old.mtime_ns != new.mtime_ns,
    };
    content || old.size != new.size || old.mode != new.mode || old.uid != new.uid || old.gid != new.gid
}

/// The files the patterns match now, by host path (the part under `rootfs`), and whether the cap cut them.
fn scan(patterns: &[String], rootfs: &Path) -> (BTreeMap<String, FileState>, bool) {
    let mut out = BTreeMap::new();
    let root = glob::Pattern::escape(&rootfs.to_string_lossy());
    for pattern in patterns {
        let full = format!("{}/{}", root.trim_end_matches('/'), pattern.trim_start_matches('/'));
        let Ok(paths) = glob::glob(&full) else { continue };
        for path in paths.flatten() {
            if out.len() >= MAX_WATCHED_FILES {
                return (out, true);
            }
            let Some(host) = host_path(&path, rootfs) else { continue };
            if out.contains_key(&host) {
                continue;
            }
            if let Some(state) = file_state(&path) {
                out.insert(host, state);
            }
        }
    }
    (out, false)
}

fn host_path(path: &Path, rootfs: &Path) -> Option<String> {
    let rel = path.strip_prefix(rootfs).ok()?;
    Some(format!("/{}", rel.to_string_lossy()))
}

/// A regular file's or a symbolic link's state (a link's "content" is its target); `None` for anything else
/// or a file that vanished.
fn file_state(path: &Path) -> Option<FileState> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let sha256 = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ok()?;
        Some(digest(&mut target.as_os_str().as_encoded_bytes()))
    } else if meta.is_file() {
        std::fs::File::open(path).ok().map(|f| digest(&mut f.take(MAX_HASH_BYTES)))
    } else {
        return None;
    };
    Some(FileState {
        size: meta.len(),
        mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        sha256,
    })
}

/// SHA-256 of what `r` yields (a read error ends the input early).
fn digest(r: &mut dyn Read) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = [0u8; 16 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => ctx.update(&buf[..n]),
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The class of a watched host path.
pub fn class(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match path {
        "/etc/passwd" => "passwd",
        "/etc/shadow" | "/etc/gshadow" => "shadow",
        "/etc/group" => "group",
        "/etc/sudoers" => "sudoers",
        _ if path.starts_with("/etc/sudoers.d/") => "sudoers",
        _ if name == "authorized_keys" || name == "authorized_keys2" => "authorized_keys",
        "/etc/crontab" | "/etc/anacrontab" => "cron",
        _ if path.starts_with("/etc/cron.") || path.starts_with("/var/spool/cron/") => "cron",
        _ => "other",
    }
}

fn record(change: Change, path: &str, state: Option<&FileState>, ts_ns: i64) -> LogEntry {
    let class = class(path);
    let mut fields = vec![
        (ecs::EVENT_CATEGORY.to_string(), "file".to_string()),
        (ecs::EVENT_ACTION.to_string(), change.action().to_string()),
        ("event.type".to_string(), change.event_type().to_string()),
        (ecs::FILE_PATH.to_string(), path.to_string()),
        (WATCH_CLASS_FIELD.to_string(), class.to_string()),
    ];
    if let Some(s) = state {
        fields.push(("file.size".into(), s.size.to_string()));
        fields.push(("file.mode".into(), format!("{:o}", s.mode & 0o7777)));
        fields.push(("file.uid".into(), s.uid.to_string()));
        fields.push(("file.gid".into(), s.gid.to_string()));
        if let Some(h) = s.sha256 {
            fields.push(("file.hash.sha256".into(), h.iter().map(|b| format!("{b:02x}")).collect()));
        }
    }
    let verb = match change {
        Change::Created => "created",
        Change::Modified => "modified",
        Change::Deleted => "deleted",
    };
    LogEntry { ts_ns, line: format!("watched file {verb}: {path} ({class})"), fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for (path, want) in [
            ("/etc/passwd", "passwd"),
            ("/etc/shadow", "shadow"),
            ("/etc/group", "group"),
            ("/etc/sudoers.d/90-cloud", "sudoers"),
            ("/root/.ssh/authorized_keys", "authorized_keys"),
            ("/home/a b/.ssh/authorized_keys", "authorized_keys"),
            ("/etc/cron.d/job", "cron"),
            ("/var/spool/cron/crontabs/ann", "cron"),
            ("/etc/hosts", "other"),
        ] {
            assert_eq!(class(path), want, "{path}");
        }
    }

    #[test]
    fn scan_finds_files_under_the_root_and_hashes_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/sudoers.d/sub")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("etc/sudoers.d/a"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("etc/sudoers.d/link")).unwrap();
        let patterns: Vec<String> =
            ["/etc/passwd", "/etc/shadow", "/etc/sudoers.d/*", "/etc/passwd"].iter().map(|s| s.to_string()).collect();
        let (found, capped) = scan(&patterns, dir.path());
        assert!(!capped);
        let paths: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(paths, ["/etc/passwd", "/etc/sudoers.d/a", "/etc/sudoers.d/link"]);
        let a = &found["/etc/sudoers.d/a"];
        assert_eq!(a.size, 1);
        // SHA-256 of "x".
        assert_eq!(a.sha256.unwrap()[..4], [0x2d, 0x71, 0x16, 0x42]);
        let mut b = a.clone();
        assert!(!differs(a, &b));
        b.mtime_ns += 1;
        assert!(!differs(a, &b), "a touch alone is not a change");
        b.mode ^= 0o002;
        assert!(differs(a, &b));
    }
}
