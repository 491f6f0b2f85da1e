//! `filesystem`: size, free space and inodes of every mounted filesystem, from `/proc/1/mounts` and statvfs(3).
//!
//! statvfs runs on a worker thread and is given 5 seconds, as node_exporter gives statfs: a mount whose call
//! does not return in time (a dead NFS server) is reported with `node_filesystem_device_error 1` and skipped by
//! later scrapes until the stuck call returns, so one hung mount never hangs a scrape.

use std::collections::HashSet;
use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use regex::Regex;
use vigil_model::{Desc, MetricSink};

use crate::util::read_into;
use crate::{CollectError, Collector, Options, Paths};

const SIZE: Desc<'static> = Desc::gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
const FREE: Desc<'static> = Desc::gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.");
const AVAIL: Desc<'static> =
    Desc::gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.");
const FILES: Desc<'static> = Desc::gauge("node_filesystem_files", "Filesystem total file nodes.");
const FILES_FREE: Desc<'static> = Desc::gauge("node_filesystem_files_free", "Filesystem total free file nodes.");
const READONLY: Desc<'static> = Desc::gauge("node_filesystem_readonly", "Filesystem read-only status.");
const DEVICE_ERROR: Desc<'static> = Desc::gauge(
    "node_filesystem_device_error",
    "Whether an error occurred while getting statistics for the given device.",
);

/// How long a statvfs call may take before its mount is marked stuck (node_exporter's `mount-timeout`).
pub const MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// The mount tables tried in turn: init's, which shows the host's mounts even when the agent runs in its own
/// mount namespace, then the agent's own when /proc/1 is hidden (`hidepid`).
const MOUNT_TABLES: [&str; 3] = ["1/mounts", "mounts", "self/mounts"];

/// One line of the mount table, with the mount point unescaped. Kept between scrapes so its strings are reused.
#[derive(Default)]
struct Mount {
    device: String,
    mount_point: String,
    fs_type: String,
    options: String,
}

impl Mount {
    /// The labels that identify a filesystem's samples.
    fn key(&self) -> (&str, &str, &str) {
        (&self.device, &self.mount_point, &self.fs_type)
    }
}

pub struct FilesystemCollector {
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    buf: String,
    mounts: Vec<Mount>,
    /// How many entries of `mounts` this scrape filled.
    used: usize,
    order: Vec<usize>,
    duplicate: Vec<bool>,
    path: Vec<u8>,
    statter: Statter,
}

impl FilesystemCollector {
    pub fn new(options: &Options) -> Self {
        FilesystemCollector {
            mount_points_exclude: options.fs_mount_points_exclude.clone(),
            fs_types_exclude: options.fs_types_exclude.clone(),
            buf: String::new(),
            mounts: Vec::new(),
            used: 0,
            order: Vec::new(),
            duplicate: Vec::new(),
            path: Vec::new(),
            statter: Statter::new(Arc::new(statvfs), MOUNT_TIMEOUT),
        }
    }

    /// Reads the first mount table that exists into `self.buf` and returns its path.
    fn read_mounts(&mut self, paths: &Paths) -> Result<PathBuf, CollectError> {
        let mut last_err = None;
        for rel in MOUNT_TABLES {
            let path = paths.proc(rel);
            match read_into(&path, &mut self.buf) {
                Ok(()) => return Ok(path),
                Err(CollectError::Io { path, source }) if source.kind() == io::ErrorKind::NotFound => {
                    tracing::debug!(path = %path.display(), "mount table missing, trying the next one");
                    last_err = Some(CollectError::Io { path, source });
                }
                Err(err) => return Err(err),
            }
        }
        Err(last_err.unwrap_or_else(|| CollectError::Other("no mount table".into())))
    }

    /// Parses `self.buf` into `self.mounts`. A line with fewer than four fields fails the whole collection, as
    /// it does in node_exporter.
    fn parse_mounts(&mut self, path: &Path, rootfs: Option<&str>) -> Result<(), CollectError> {
        self.used = 0;
        for (n, line) in self.buf.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let (Some(device), Some(mount_point), Some(fs_type), Some(options)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(CollectError::parse(path, n + 1, format!("malformed mount point information: {line:?}")));
            };
            if self.used == self.mounts.len() {
                self.mounts.push(Mount::default());
            }
            let Some(m) = self.mounts.get_mut(self.used) else { break };
            self.used += 1;
            set(&mut m.device, device);
            set(&mut m.fs_type, fs_type);
            set(&mut m.options, options);
            m.mount_point.clear();
            unescape_into(mount_point, &mut m.mount_point);
            if let Some(rootfs) = rootfs {
                strip_rootfs(&mut m.mount_point, rootfs);
            }
        }
        Ok(())
    }

    /// Marks every mount whose labels equal an earlier mount's: node_exporter reports each label set once, the
    /// first one in mount order.
    fn mark_duplicates(&mut self) {
        let mounts = &self.mounts[..self.used.min(self.mounts.len())];
        self.order.clear();
        self.order.extend(0..mounts.len());
        self.order.sort_unstable_by(|&a, &b| match (mounts.get(a), mounts.get(b)) {
            (Some(ma), Some(mb)) => ma.key().cmp(&mb.key()).then(a.cmp(&b)),
            _ => a.cmp(&b),
        });
        self.duplicate.clear();
        self.duplicate.resize(mounts.len(), false);
        for pair in self.order.windows(2) {
            if let [a, b] = *pair {
                if let (Some(ma), Some(mb)) = (mounts.get(a), mounts.get(b)) {
                    if ma.key() == mb.key() {
                        if let Some(d) = self.duplicate.get_mut(b) {
                            *d = true;
                        }
                    }
                }
            }
        }
    }
}

fn set(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// Decodes the `\ooo` octal escapes of ASCII characters that the kernel writes in /proc mount tables for space,
/// tab, newline and backslash (`\040`, `\011`, `\012`, `\134`); other backslashes are kept as they are.
/// node_exporter 1.5 decodes only `\040` and `\011`, so for a mount point with a newline or backslash it
/// reports the escaped name and a device error where vigil reports the real name and its statistics.
fn unescape_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some((before, after)) = rest.split_once('\\') {
        out.push_str(before);
        let decoded = after.split_at_checked(3).and_then(|(digits, tail)| {
            let v = u32::from_str_radix(digits, 8).ok()?;
            let c = char::from_u32(v).filter(|c| c.is_ascii() && digits.bytes().all(|b| b.is_ascii_digit()))?;
            Some((c, tail))
        });
        match decoded {
            Some((c, tail)) => {
                out.push(c);
                rest = tail;
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Removes the rootfs prefix from a mount point, as node_exporter does when the agent runs in a container with
/// the host's root mounted at `--path.rootfs` and reads a mount table that shows it there.
fn strip_rootfs(mount_point: &mut String, rootfs: &str) {
    if mount_point.starts_with(rootfs) {
        mount_point.drain(..rootfs.len());
        if mount_point.is_empty() {
            mount_point.push('/');
        }
    }
}

/// `Paths::rootfs` as a prefix to strip from mount points; `None` when it is `/` (nothing to strip) or not UTF-8.
fn rootfs_prefix(paths: &Paths) -> Option<&str> {
    let s = paths.rootfs.to_str()?;
    let trimmed = s.trim_end_matches('/');
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Writes `Paths::root(mount_point)` into `out` as bytes, without allocating a new path.
fn root_path_into(paths: &Paths, mount_point: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(paths.rootfs.as_os_str().as_bytes());
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(mount_point.trim_start_matches('/').as_bytes());
}

impl Collector for FilesystemCollector {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = self.read_mounts(paths)?;
        self.parse_mounts(&path, rootfs_prefix(paths))?;
        self.mark_duplicates();
        for (i, m) in self.mounts.iter().take(self.used).enumerate() {
            if self.duplicate.get(i).copied().unwrap_or(false) {
                continue;
            }
            if self.mount_points_exclude.is_match(&m.mount_point) {
                tracing::trace!(mountpoint = %m.mount_point, "ignoring mount point");
                continue;
            }
            if self.fs_types_exclude.is_match(&m.fs_type) {
                tracing::trace!(fstype = %m.fs_type, "ignoring filesystem type");
                continue;
            }
            let labels = [("device", m.device.as_str()), ("fstype", &m.fs_type), ("mountpoint", &m.mount_point)];
            root_path_into(paths, &m.mount_point, &mut self.path);
            let st = match self.statter.stat(&self.path, &m.mount_point) {
                Outcome::Done(st) => st,
                Outcome::Failed(err) => {
                    tracing::debug!(mountpoint = %m.mount_point, %err, "statvfs failed");
                    out.sample(&DEVICE_ERROR, &labels, 1.0);
                    continue;
                }
                Outcome::Stuck => {
                    tracing::debug!(mountpoint = %m.mount_point, "mount point is unresponsive, skipping it");
                    out.sample(&DEVICE_ERROR, &labels, 1.0);
                    continue;
                }
            };
            let ro = if m.options.split(',').any(|o| o == "ro") { 1.0 } else { 0.0 };
            out.sample(&DEVICE_ERROR, &labels, 0.0);
            out.sample(&SIZE, &labels, st.size);
            out.sample(&FREE, &labels, st.free);
            out.sample(&AVAIL, &labels, st.avail);
            out.sample(&FILES, &labels, st.files);
            out.sample(&FILES_FREE, &labels, st.files_free);
            out.sample(&READONLY, &labels, ro);
        }
        Ok(())
    }
}

/// What statvfs says about one filesystem, in node_exporter's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FsStat {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// statvfs(3) on a NUL-terminated path.
fn statvfs(path: &CStr) -> io::Result<FsStat> {
    let mut buf = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated C string and `buf` is writable memory of the size and alignment
    // of `struct statvfs`, which is all statvfs requires.
    let rc = unsafe { libc::statvfs(path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled in the whole struct.
    let st = unsafe { buf.assume_init() };
    // node_exporter multiplies block counts by statfs's f_bsize, which glibc and musl copy into statvfs's
    // f_bsize (f_frsize may differ), so the sizes come out identical.
    let bsize = st.f_bsize as f64;
    Ok(FsStat {
        size: st.f_blocks as f64 * bsize,
        free: st.f_bfree as f64 * bsize,
        avail: st.f_bavail as f64 * bsize,
        files: st.f_files as f64,
        files_free: st.f_ffree as f64,
    })
}

pub(crate) type StatFn = Arc<dyn Fn(&CStr) -> io::Result<FsStat> + Send + Sync>;

/// How a statvfs call ended.
pub(crate) enum Outcome {
    Done(FsStat),
    Failed(io::Error),
    /// The call did not return within the timeout, now or on an earlier scrape, and has not returned since.
    Stuck,
}

/// A request to the worker; its buffers travel back in the reply and are reused.
#[derive(Default)]
struct Request {
    /// The path, NUL-terminated.
    path: Vec<u8>,
    mount_point: String,
}

struct Reply {
    request: Request,
    result: io::Result<FsStat>,
}

/// The statvfs worker thread's end of the channels.
struct Worker {
    requests: SyncSender<Request>,
    replies: Receiver<Reply>,
}

type StuckSet = Arc<Mutex<HashSet<String>>>;

fn lock(stuck: &StuckSet) -> MutexGuard<'_, HashSet<String>> {
    stuck.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs statvfs on a worker thread with a deadline. One long-lived worker serves every call; when a call times
/// out the worker is abandoned to its stuck call (it exits once the call returns) and a fresh one is started
/// for the next mount.
pub(crate) struct Statter {
    stat_fn: StatFn,
    timeout: Duration,
    /// Mount points whose statvfs timed out and has not returned yet.
    stuck: StuckSet,
    worker: Option<Worker>,
    spare: Request,
}

impl Statter {
    pub(crate) fn new(stat_fn: StatFn, timeout: Duration) -> Self {
        Statter { stat_fn, timeout, stuck: Arc::default(), worker: None, spare: Request::default() }
    }

    /// Whether `mount_point` is marked stuck.
    pub(crate) fn is_stuck(&self, mount_point: &str) -> bool {
        lock(&self.stuck).contains(mount_point)
    }

    fn spawn(&self) -> io::Result<Worker> {
        let (requests, request_rx) = mpsc::sync_channel::<Request>(1);
        let (reply_tx, replies) = mpsc::sync_channel::<Reply>(1);
        let stat_fn = Arc::clone(&self.stat_fn);
        let stuck = Arc::clone(&self.stuck);
        std::thread::Builder::new()
            .name("vigil-statvfs".into())
            .spawn(move || worker_loop(&*stat_fn, &stuck, &request_rx, &reply_tx))?;
        Ok(Worker { requests, replies })
    }

    /// statvfs on `path` (not NUL-terminated) for the mount at `mount_point`, waiting at most the timeout.
    pub(crate) fn stat(&mut self, path: &[u8], mount_point: &str) -> Outcome {
        if self.is_stuck(mount_point) {
            return Outcome::Stuck;
        }
        if path.contains(&0) {
            return Outcome::Failed(io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"));
        }
        let worker = match self.worker.take() {
            Some(w) => w,
            None => match self.spawn() {
                Ok(w) => w,
                Err(err) => return Outcome::Failed(err),
            },
        };
        let mut request = std::mem::take(&mut self.spare);
        request.path.clear();
        request.path.extend_from_slice(path);
        request.path.push(0);
        request.mount_point.clear();
        request.mount_point.push_str(mount_point);
        if let Err(mpsc::SendError(request)) = worker.requests.send(request) {
            self.spare = request;
            return Outcome::Failed(io::Error::other("statvfs worker exited"));
        }
        let reply = match worker.replies.recv_timeout(self.timeout) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                // The worker replies while holding the lock, so checking for a reply under it decides for good
                // whether the call returned in time.
                let mut stuck = lock(&self.stuck);
                match worker.replies.try_recv() {
                    Ok(reply) => reply,
                    Err(_) => {
                        stuck.insert(mount_point.to_owned());
                        tracing::debug!(mountpoint = mount_point, "statvfs timed out, marking the mount point stuck");
                        return Outcome::Stuck;
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Outcome::Failed(io::Error::other("statvfs worker exited"));
            }
        };
        self.worker = Some(worker);
        self.spare = reply.request;
        match reply.result {
            Ok(st) => Outcome::Done(st),
            Err(err) => Outcome::Failed(err),
        }
    }
}

fn worker_loop(
    stat_fn: &(dyn Fn(&CStr) -> io::Result<FsStat> + Send + Sync),
    stuck: &StuckSet,
    requests: &Receiver<Request>,
    replies: &SyncSender<Reply>,
) {
    while let Ok(request) = requests.recv() {
        let result = match CStr::from_bytes_with_nul(&request.path) {
            Ok(path) => stat_fn(path),
            Err(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, "path is not NUL-terminated")),
        };
        let mut stuck = lock(stuck);
        if stuck.remove(request.mount_point.as_str()) {
            tracing::debug!(mountpoint = %request.mount_point, "mount point has recovered, monitoring will resume");
        }
        // The channel has room for this one reply; a closed channel means this worker was abandoned after a
        // timeout and nobody is waiting any more.
        if replies.send(Reply { request, result }).is_err() {
            return;
        }
        drop(stuck);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Condvar;
    use std::time::Instant;

    /// A statvfs stand-in that blocks on "/hang" until the gate opens.
    struct Gate {
        open: Mutex<bool>,
        cv: Condvar,
        hang_calls: AtomicUsize,
    }

    const ST: FsStat = FsStat { size: 4096.0, free: 2048.0, avail: 1024.0, files: 10.0, files_free: 5.0 };

    fn gated() -> (Arc<Gate>, StatFn) {
        let gate = Arc::new(Gate { open: Mutex::new(false), cv: Condvar::new(), hang_calls: AtomicUsize::new(0) });
        let g = Arc::clone(&gate);
        let f: StatFn = Arc::new(move |path: &CStr| {
            if path.to_bytes() == b"/hang" {
                g.hang_calls.fetch_add(1, Ordering::SeqCst);
                let mut open = g.open.lock().unwrap();
                while !*open {
                    open = g.cv.wait(open).unwrap();
                }
            }
            if path.to_bytes() == b"/fail" {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            Ok(ST)
        });
        (gate, f)
    }

    #[test]
    fn stuck_mount_is_skipped_until_its_statvfs_returns() {
        let (gate, f) = gated();
        let mut s = Statter::new(f, Duration::from_millis(50));
        assert!(matches!(s.stat(b"/ok", "/ok"), Outcome::Done(st) if st == ST));
        // The call blocks until the gate opens, so it times out whatever the machine's speed.
        assert!(matches!(s.stat(b"/hang", "/hang"), Outcome::Stuck));
        assert!(s.is_stuck("/hang"));
        // Other mounts get a fresh worker; the stuck one is not called again.
        assert!(matches!(s.stat(b"/ok", "/ok"), Outcome::Done(_)));
        assert!(matches!(s.stat(b"/fail", "/fail"), Outcome::Failed(_)));
        assert!(matches!(s.stat(b"/hang", "/hang"), Outcome::Stuck));
        assert_eq!(gate.hang_calls.load(Ordering::SeqCst), 1);

        *gate.open.lock().unwrap() = true;
        gate.cv.notify_all();
        let deadline = Instant::now() + Duration::from_secs(30);
        while s.is_stuck("/hang") {
            assert!(Instant::now() < deadline, "the stuck mark was never cleared");
            std::thread::yield_now();
        }
        assert!(matches!(s.stat(b"/hang", "/hang"), Outcome::Done(_)));
        assert_eq!(gate.hang_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn mount_point_escapes_are_decoded() {
        let mut out = String::new();
        unescape_into(r"/a\040b\011c\012d\134e\\x\0\777\08", &mut out);
        assert_eq!(out, "/a b\tc\nd\\e\\\\x\\0\\777\\08");
    }

    #[test]
    fn rootfs_prefix_is_stripped_like_node_exporter() {
        let mut mp = "/host/data".to_owned();
        strip_rootfs(&mut mp, "/host");
        assert_eq!(mp, "/data");
        let mut mp = "/host".to_owned();
        strip_rootfs(&mut mp, "/host");
        assert_eq!(mp, "/");
        let paths = Paths { rootfs: "/".into(), ..Paths::default() };
        assert_eq!(rootfs_prefix(&paths), None);
        let mut p = Vec::new();
        root_path_into(&paths, "/data", &mut p);
        assert_eq!(p, b"/data");
        root_path_into(&paths, "/", &mut p);
        assert_eq!(p, b"/");
    }
}
