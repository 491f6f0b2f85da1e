//! Storage backends: the few file-system operations the storage engine needs, on real files or in memory.
//!
//! The engine never calls `std::fs` directly. [`FsBackend`] maps each operation onto the real file system;
//! [`MemBackend`] keeps a durable and a volatile view of every file and directory, so tests can simulate a
//! crash ([`MemBackend::crash`] drops everything that was not fsynced) and inject faults.
//!
//! The durability contract is the same for both: the contents of a file survive a crash only after
//! [`WritableFile::sync`]; a created, renamed or removed directory entry survives a crash only after
//! [`Backend::sync_dir`] on the directory holding it (both directories, for a rename between two).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// The read-only bytes of a whole file, from [`Backend::map`]. Cheap to clone; the bytes stay valid while any
/// clone is alive.
pub type Mapped = Arc<dyn MappedFile>;

/// The bytes behind a [`Mapped`].
pub trait MappedFile: Deref<Target = [u8]> + Send + Sync {
    /// Drops this process's page mappings of the file, which reading faults in and which count towards its RSS
    /// (as file pages). The bytes stay readable and unchanged: the pages stay in the page cache, and the next
    /// read maps them again. For a caller done with a big sequential read, such as compaction. Does nothing
    /// for bytes on the heap.
    fn release_pages(&self) {}
}

impl MappedFile for Vec<u8> {}

impl MappedFile for memmap2::Mmap {
    fn release_pages(&self) {
        // SAFETY: `Mmap::map` makes a read-only shared mapping of a file, so a page read after MADV_DONTNEED is
        // the file's content again, and `Backend::map` maps only files that never change: no borrow of the bytes
        // sees them change. Errors are ignored: this only lowers RSS.
        let _ = unsafe { self.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    }
}

/// A file opened for appending.
pub trait WritableFile: Send + Sync + fmt::Debug {
    /// Appends all of `buf` at the end of the file. A failure may leave part of `buf` written.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;

    /// Makes everything written so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
}

/// The file-system operations of the storage engine. Object-safe, so engines hold an `Arc<dyn Backend>`.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Creates a new empty file for appending; fails if `path` exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Reads a whole file; fails with `InvalidData` if it is longer than `max_len` bytes.
    fn read(&self, path: &Path, max_len: u64) -> io::Result<Vec<u8>>;

    /// Maps a whole file read-only. The file must not change while it is mapped: map only files that are
    /// immutable once written (block files).
    fn map(&self, path: &Path) -> io::Result<Mapped>;

    /// The length of a file in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64>;

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Creates a directory and its missing parents. Make each new entry durable with `sync_dir` on its parent.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;

    /// The entries of a directory, sorted by name. Names that are not UTF-8 are left out.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;

    /// Makes the entries of a directory durable (created, renamed and removed files and directories).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// Renames a file or directory, replacing an existing file at `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;

    /// Sets the length of a file, cutting or zero-extending it. Make it durable with `WritableFile::sync`.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
}

/// Removes a directory and everything below it. Not atomic: a crash may leave part of the tree.
pub fn remove_dir_all(backend: &dyn Backend, path: &Path) -> io::Result<()> {
    for entry in backend.list_dir(path)? {
        let child = path.join(&entry.name);
        if entry.is_dir {
            remove_dir_all(backend, &child)?;
        } else {
            backend.remove_file(&child)?;
        }
    }
    backend.remove_dir(path)
}

/// Creates `dir` and any missing ancestors, fsyncing the parent of each so that a crash cannot lose them.
/// An error names the path it concerns.
pub fn create_dir_durably(backend: &dyn Backend, dir: &Path) -> Result<(), (PathBuf, io::Error)> {
    fn at(path: &Path) -> impl FnOnce(io::Error) -> (PathBuf, io::Error) + '_ {
        move |e| (path.to_path_buf(), e)
    }
    let mut missing = Vec::new();
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || backend.exists(ancestor).map_err(at(ancestor))? {
            break;
        }
        missing.push(ancestor);
    }
    if missing.is_empty() {
        return Ok(());
    }
    backend.create_dir_all(dir).map_err(at(dir))?;
    for created in missing {
        let parent = match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        backend.sync_dir(parent).map_err(at(parent))?;
    }
    Ok(())
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsBackend;

#[derive(Debug)]
struct FsFile {
    file: File,
}

impl WritableFile for FsFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&self.file).write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl Backend for FsBackend {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).create_new(true).open(path)?;
        Ok(Box::new(FsFile { file }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(FsFile { file }))
    }

    fn read(&self, path: &Path, max_len: u64) -> io::Result<Vec<u8>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len > max_len {
            return Err(too_long(len, max_len));
        }
        let mut buf = Vec::with_capacity(len as usize);
        file.take(max_len.saturating_add(1)).read_to_end(&mut buf)?;
        if buf.len() as u64 > max_len {
            return Err(too_long(buf.len() as u64, max_len));
        }
        Ok(buf)
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // mmap refuses zero-length mappings.
            return Ok(Arc::new(Vec::new()));
        }
        // SAFETY: a mapping is only sound while nobody modifies or truncates the file. Callers map only block
        // files, which are written in a temporary directory and never modified once renamed into place; removing
        // a block unlinks its files, which leaves existing mappings intact.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Arc::new(map))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            entries.push(DirEntry { name, is_dir: entry.file_type()?.is_dir() });
        }
        entries.sort();
        Ok(entries)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        OpenOptions::new().write(true).open(path)?.set_len(len)
    }
}

fn too_long(len: u64, max_len: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("file of {len} bytes exceeds the read limit of {max_len} bytes"))
}

/// An in-memory file system with a durable and a volatile view, for crash simulation and fault injection.
///
/// Clones share the same file system, so a test can keep one clone to crash it while the engine holds another.
/// Files and directories are inodes; directories map names to inodes. Writes change the volatile view;
/// `WritableFile::sync` copies a file's volatile contents to its durable contents and `sync_dir` copies a
/// directory's volatile entries to its durable entries. [`MemBackend::crash`] throws the volatile view away.
#[derive(Clone, Debug, Default)]
pub struct MemBackend {
    state: Arc<Mutex<MemState>>,
}

/// Operation counts of a [`MemBackend`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    pub file_syncs: u64,
    pub dir_syncs: u64,
    pub writes: u64,
    pub bytes_written: u64,
}

const ROOT: u64 = 0;

#[derive(Debug)]
struct MemState {
    nodes: HashMap<u64, Node>,
    next_id: u64,
    /// Incremented by every crash; file handles from an older epoch refuse all operations.
    epoch: u64,
    fail_syncs: u32,
    fail_write_after: Option<usize>,
    halt_after: Option<u64>,
    halted: bool,
    sync_delay: Duration,
    stats: MemStats,
}

#[derive(Debug)]
enum Node {
    File { data: Vec<u8>, durable: Vec<u8>, syncs_started: u64, syncs_applied: u64 },
    Dir { entries: BTreeMap<String, u64>, durable: BTreeMap<String, u64> },
}

impl Default for MemState {
    fn default() -> MemState {
        let root = Node::Dir { entries: BTreeMap::new(), durable: BTreeMap::new() };
        MemState {
            nodes: HashMap::from([(ROOT, root)]),
            next_id: ROOT + 1,
            epoch: 0,
            fail_syncs: 0,
            fail_write_after: None,
            halt_after: None,
            halted: false,
            sync_delay: Duration::ZERO,
            stats: MemStats::default(),
        }
    }
}

impl MemBackend {
    pub fn new() -> MemBackend {
        MemBackend::default()
    }

    /// Simulates a power loss: every file keeps only what was fsynced, every directory only its synced entries.
    /// Handles opened before the crash fail from now on; injected faults are cleared.
    pub fn crash(&self) {
        self.crash_torn(0);
    }

    /// Like [`MemBackend::crash`], but each file whose unsynced change was an append also keeps the first
    /// `torn_bytes` bytes of that unsynced tail, as when a write reached the disk only in part.
    pub fn crash_torn(&self, torn_bytes: usize) {
        let mut st = self.lock();
        st.epoch += 1;
        st.fail_syncs = 0;
        st.fail_write_after = None;
        st.halt_after = None;
        st.halted = false;
        for node in st.nodes.values_mut() {
            match node {
                Node::File { data, durable, .. } => {
                    if data.starts_with(durable) {
                        let keep = (durable.len() + torn_bytes).min(data.len());
                        durable.truncate(0);
                        durable.extend_from_slice(&data[..keep]);
                    }
                    data.clone_from(durable);
                }
                Node::Dir { entries, durable } => entries.clone_from(durable),
            }
        }
        // Drops the inodes no durable directory entry reaches any more.
        let mut reachable = vec![ROOT];
        let mut seen = std::collections::HashSet::from([ROOT]);
        while let Some(id) = reachable.pop() {
            if let Some(Node::Dir { entries, .. }) = st.nodes.get(&id) {
                for child in entries.values() {
                    if seen.insert(*child) {
                        reachable.push(*child);
                    }
                }
            }
        }
        st.nodes.retain(|id, _| seen.contains(id));
    }

    /// Makes the next `n` fsyncs (of files or directories) fail.
    pub fn fail_next_syncs(&self, n: u32) {
        self.lock().fail_syncs = n;
    }

    /// Makes the next write store only its first `n` bytes and then fail.
    pub fn fail_next_write_after(&self, n: usize) {
        self.lock().fail_write_after = Some(n);
    }

    /// Lets `n` more mutating operations (write, sync, create, rename, remove, truncate) succeed, then fails
    /// every operation until the next crash, as if the process had died at that point.
    pub fn halt_after(&self, n: u64) {
        let mut st = self.lock();
        st.halt_after = Some(n);
        st.halted = false;
    }

    /// Makes every file fsync take at least `delay`, like a real disk. Writes may proceed meanwhile.
    pub fn set_sync_delay(&self, delay: Duration) {
        self.lock().sync_delay = delay;
    }

    pub fn stats(&self) -> MemStats {
        self.lock().stats
    }

    /// Changes a file's contents in both views, as bit rot on the disk would.
    pub fn corrupt(&self, path: &Path, change: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut st = self.lock();
        let id = st.lookup(path)?;
        match st.nodes.get_mut(&id) {
            Some(Node::File { data, durable, .. }) => {
                change(data);
                durable.clone_from(data);
                Ok(())
            }
            _ => Err(io::Error::other("not a file")),
        }
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(&self, st: &MemState, id: u64) -> Box<dyn WritableFile> {
        Box::new(MemFile { state: Arc::clone(&self.state), id, epoch: st.epoch })
    }
}

fn path_parts(path: &Path) -> io::Result<Vec<&str>> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => {
                let name = name.to_str().ok_or_else(|| invalid_path(path))?;
                parts.push(name);
            }
            Component::ParentDir | Component::Prefix(_) => return Err(invalid_path(path)),
        }
    }
    Ok(parts)
}

fn invalid_path(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("unsupported path {}", path.display()))
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemState {
    /// Fails when halted; counts down towards a halt for mutating operations.
    fn check(&mut self, mutating: bool) -> io::Result<()> {
        if self.halted {
            return Err(io::Error::other("simulated process death"));
        }
        if mutating {
            if let Some(left) = self.halt_after.as_mut() {
                if *left == 0 {
                    self.halted = true;
                    return Err(io::Error::other("simulated process death"));
                }
                *left -= 1;
            }
        }
        Ok(())
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let mut id = ROOT;
        for part in path_parts(path)? {
            match self.nodes.get(&id) {
                Some(Node::Dir { entries, .. }) => id = *entries.get(part).ok_or_else(not_found)?,
                _ => return Err(not_found()),
            }
        }
        Ok(id)
    }

    /// The inode of the directory holding `path`, and the last name of `path`.
    fn parent_of<'p>(&self, path: &'p Path) -> io::Result<(u64, &'p str)> {
        let mut parts = path_parts(path)?;
        let name = parts.pop().ok_or_else(|| invalid_path(path))?;
        let mut id = ROOT;
        for part in parts {
            match self.nodes.get(&id) {
                Some(Node::Dir { entries, .. }) => id = *entries.get(part).ok_or_else(not_found)?,
                _ => return Err(not_found()),
            }
        }
        match self.nodes.get(&id) {
            Some(Node::Dir { .. }) => Ok((id, name)),
            _ => Err(not_found()),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> io::Result<&mut BTreeMap<String, u64>> {
        match self.nodes.get_mut(&dir) {
            Some(Node::Dir { entries, .. }) => Ok(entries),
            _ => Err(not_found()),
        }
    }

    fn add_node(&mut self, node: Node) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.nodes.insert(id, node);
        id
    }

    fn file_mut(&mut self, id: u64) -> io::Result<(&mut Vec<u8>, &mut Vec<u8>)> {
        match self.nodes.get_mut(&id) {
            Some(Node::File { data, durable, .. }) => Ok((data, durable)),
            Some(Node::Dir { .. }) => Err(io::Error::other("is a directory")),
            None => Err(not_found()),
        }
    }
}

#[derive(Debug)]
struct MemFile {
    state: Arc<Mutex<MemState>>,
    id: u64,
    epoch: u64,
}

impl MemFile {
    fn lock(&self) -> io::Result<MutexGuard<'_, MemState>> {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.epoch != self.epoch {
            return Err(io::Error::other("file handle from before a simulated crash"));
        }
        Ok(st)
    }
}

impl WritableFile for MemFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        let mut st = self.lock()?;
        st.check(true)?;
        let fail_after = st.fail_write_after.take();
        let keep = fail_after.map_or(buf.len(), |n| n.min(buf.len()));
        st.stats.writes += 1;
        st.stats.bytes_written += keep as u64;
        let (data, _) = st.file_mut(self.id)?;
        data.extend_from_slice(&buf[..keep]);
        match fail_after {
            Some(_) => Err(io::Error::other("injected write failure")),
            None => Ok(()),
        }
    }

    fn sync(&self) -> io::Result<()> {
        let (snapshot, ticket, delay) = {
            let mut st = self.lock()?;
            st.check(true)?;
            if st.fail_syncs > 0 {
                st.fail_syncs -= 1;
                return Err(io::Error::other("injected fsync failure"));
            }
            st.stats.file_syncs += 1;
            let delay = st.sync_delay;
            match st.nodes.get_mut(&self.id) {
                Some(Node::File { data, syncs_started, .. }) => {
                    *syncs_started += 1;
                    (data.clone(), *syncs_started, delay)
                }
                _ => return Err(not_found()),
            }
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut st = self.lock()?;
        if let Some(Node::File { durable, syncs_applied, .. }) = st.nodes.get_mut(&self.id) {
            // A sync that started later and already finished has made newer contents durable.
            if ticket > *syncs_applied {
                *syncs_applied = ticket;
                *durable = snapshot;
            }
        }
        Ok(())
    }
}

impl Backend for MemBackend {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut st = self.lock();
        st.check(true)?;
        let (dir, name) = st.parent_of(path)?;
        if st.entries_mut(dir)?.contains_key(name) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let id = st.add_node(Node::File { data: Vec::new(), durable: Vec::new(), syncs_started: 0, syncs_applied: 0 });
        st.entries_mut(dir)?.insert(name.to_string(), id);
        Ok(self.handle(&st, id))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut st = self.lock();
        st.check(false)?;
        let id = st.lookup(path)?;
        st.file_mut(id)?;
        Ok(self.handle(&st, id))
    }

    fn read(&self, path: &Path, max_len: u64) -> io::Result<Vec<u8>> {
        let mut st = self.lock();
        st.check(false)?;
        let id = st.lookup(path)?;
        let (data, _) = st.file_mut(id)?;
        if data.len() as u64 > max_len {
            return Err(too_long(data.len() as u64, max_len));
        }
        Ok(data.clone())
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let mut st = self.lock();
        st.check(false)?;
        let id = st.lookup(path)?;
        let (data, _) = st.file_mut(id)?;
        Ok(Arc::new(data.clone()))
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let mut st = self.lock();
        st.check(false)?;
        let id = st.lookup(path)?;
        let (data, _) = st.file_mut(id)?;
        Ok(data.len() as u64)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut st = self.lock();
        st.check(false)?;
        match st.lookup(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        let mut id = ROOT;
        for part in path_parts(path)? {
            let existing = st.entries_mut(id)?.get(part).copied();
            id = match existing {
                Some(child) => child,
                None => {
                    let child = st.add_node(Node::Dir { entries: BTreeMap::new(), durable: BTreeMap::new() });
                    st.entries_mut(id)?.insert(part.to_string(), child);
                    child
                }
            };
        }
        match st.nodes.get(&id) {
            Some(Node::Dir { .. }) => Ok(()),
            _ => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut st = self.lock();
        st.check(false)?;
        let id = st.lookup(path)?;
        let entries = st.entries_mut(id)?.clone();
        Ok(entries
            .into_iter()
            .map(|(name, child)| DirEntry { name, is_dir: matches!(st.nodes.get(&child), Some(Node::Dir { .. })) })
            .collect())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        if st.fail_syncs > 0 {
            st.fail_syncs -= 1;
            return Err(io::Error::other("injected fsync failure"));
        }
        st.stats.dir_syncs += 1;
        let id = st.lookup(path)?;
        match st.nodes.get_mut(&id) {
            Some(Node::Dir { entries, durable }) => {
                durable.clone_from(entries);
                Ok(())
            }
            _ => Err(io::Error::other("not a directory")),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        let (from_dir, from_name) = st.parent_of(from)?;
        let (to_dir, to_name) = st.parent_of(to)?;
        let id = *st.entries_mut(from_dir)?.get(from_name).ok_or_else(not_found)?;
        if let Some(existing) = st.entries_mut(to_dir)?.get(to_name).copied() {
            let both_files = matches!(st.nodes.get(&existing), Some(Node::File { .. }))
                && matches!(st.nodes.get(&id), Some(Node::File { .. }));
            if !both_files {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
        }
        st.entries_mut(from_dir)?.remove(from_name);
        st.entries_mut(to_dir)?.insert(to_name.to_string(), id);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        let (dir, name) = st.parent_of(path)?;
        let id = *st.entries_mut(dir)?.get(name).ok_or_else(not_found)?;
        st.file_mut(id)?;
        st.entries_mut(dir)?.remove(name);
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        let (dir, name) = st.parent_of(path)?;
        let id = *st.entries_mut(dir)?.get(name).ok_or_else(not_found)?;
        if !st.entries_mut(id)?.is_empty() {
            return Err(io::Error::other("directory not empty"));
        }
        st.entries_mut(dir)?.remove(name);
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.lock();
        st.check(true)?;
        let id = st.lookup(path)?;
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let (data, _) = st.file_mut(id)?;
        data.resize(len, 0);
        Ok(())
    }
}
