//! Closed head chunks spilled to append-only segment files under `<db dir>/chunks_head/` and read back through
//! read-only memory maps, so that they take no heap. The files are a cache: the WAL holds every sample, so the
//! directory is emptied when the database opens. Layout: `docs/format/tsdb.md`, "Head chunk files".

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memmap2::{Mmap, MmapOptions, UncheckedAdvice};

use crate::chunk::{map_range, ChunkBytes, ChunkError};

/// The size of a segment file; it is created at this size (sparse) and mapped once.
pub(crate) const SEGMENT_BYTES: u32 = 128 << 20;
const MAGIC: [u8; 4] = *b"VGHC";
const VERSION: u8 = 1;
/// Magic, version and three zero bytes.
const HEADER_BYTES: usize = 8;
/// Before each chunk: its length and its CRC32, both u32 little-endian.
const ENTRY_HEADER_BYTES: usize = 8;
/// Chunks are buffered and written in pieces of about this size.
const FLUSH_BYTES: usize = 64 << 10;
/// After a failed write, chunks stay on the heap for this long before a new file is tried.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Segment numbers stay below this, so that a chunk's location fits in 63 bits.
const MAX_SEQ: u32 = 1 << 31;

/// The segment files of one database. Chunks are written with buffered `pwrite`s, never through the map; bytes
/// not written yet are read from the buffer, so a chunk is readable as soon as it is stored.
#[derive(Debug)]
pub(crate) struct SpillFiles {
    dir: PathBuf,
    segment_bytes: u32,
    segments: BTreeMap<u32, Segment>,
    /// The segment new chunks go to.
    active: Option<u32>,
    next_seq: u32,
    /// After a write error, no new segment is started before this instant.
    paused_until: Option<Instant>,
    retry_after: Duration,
    errors: u64,
}

/// One segment file. Its bytes are `flushed` bytes in the file, readable through `map`, then `tail`.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Open while the segment takes chunks.
    file: Option<File>,
    /// The whole file, mapped read-only once at its full size. Only its first `flushed` bytes are ever read;
    /// they never change, and the file is never truncated.
    map: Arc<Mmap>,
    flushed: usize,
    /// Bytes not in the file: the write buffer of the active segment, or, after a failed write, kept for good.
    tail: Vec<u8>,
    /// The newest sample time of its chunks.
    max_t: i64,
}

impl SpillFiles {
    /// Spills into `dir`, created if missing, after deleting everything in it.
    pub fn open(dir: &Path) -> io::Result<SpillFiles> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(SpillFiles::with_limits(dir, SEGMENT_BYTES, RETRY_AFTER))
    }

    /// Spills into `dir`, which must exist, with segments of `segment_bytes` and `retry_after` after an error.
    pub fn with_limits(dir: &Path, segment_bytes: u32, retry_after: Duration) -> SpillFiles {
        SpillFiles {
            dir: dir.to_path_buf(),
            segment_bytes,
            segments: BTreeMap::new(),
            active: None,
            next_seq: 1,
            paused_until: None,
            retry_after,
            errors: 0,
        }
    }

    /// Stores a chunk whose newest sample is at `max_t`; returns its segment and offset, or `None` when it
    /// cannot go to a file now (a write error lately, or a chunk bigger than a segment).
    pub fn put(&mut self, bytes: &[u8], max_t: i64) -> Option<(u32, u32)> {
        let need = ENTRY_HEADER_BYTES + bytes.len();
        if HEADER_BYTES + need > self.segment_bytes as usize {
            return None;
        }
        let seq = self.segment_for(need)?;
        let segment = self.segments.get_mut(&seq)?;
        let offset = segment.end();
        // Below `segment_bytes`, a u32, as is the length.
        segment.tail.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        segment.tail.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
        segment.tail.extend_from_slice(bytes);
        segment.max_t = segment.max_t.max(max_t);
        Some((seq, offset as u32))
    }

    /// The chunk at `offset` of segment `seq`, checked against its length and checksum.
    pub fn get(&self, seq: u32, offset: u32) -> Result<&[u8], ChunkError> {
        self.segment(seq)?.entry(offset as usize).map(|(bytes, _)| bytes)
    }

    /// Like `get`, as bytes that outlive the borrow: a range of the map, or a copy of buffered bytes.
    pub fn shared(&self, seq: u32, offset: u32) -> Result<ChunkBytes, ChunkError> {
        let segment = self.segment(seq)?;
        let (bytes, mapped) = segment.entry(offset as usize)?;
        if !mapped {
            return Ok(ChunkBytes::from(bytes));
        }
        // SAFETY: the chunk lies in the first `flushed` bytes of the file, which never change and which the
        // file is never truncated below.
        Ok(unsafe { ChunkBytes::mapped(Arc::clone(&segment.map), offset as usize + ENTRY_HEADER_BYTES, bytes.len()) })
    }

    /// Deletes the segments, other than the active one, whose chunks all end before `t`. Readers holding a
    /// chunk of one keep its map, which outlives the file.
    pub fn delete_before(&mut self, t: i64) {
        let doomed: Vec<u32> = self
            .segments
            .iter()
            .filter(|&(&seq, s)| Some(seq) != self.active && s.max_t < t)
            .map(|(&seq, _)| seq)
            .collect();
        for seq in doomed {
            let Some(segment) = self.segments.remove(&seq) else { continue };
            if let Err(err) = fs::remove_file(&segment.path) {
                // Harmless: the next open empties the directory.
                tracing::warn!(path = %segment.path.display(), error = %err, "cannot delete head chunk file");
            }
        }
    }

    /// Drops this process's page mappings of the segments, which reading chunks (maintenance reads them all)
    /// faults in and which count towards its RSS. The pages stay in the page cache; a later read maps them
    /// again. Errors are ignored: this only lowers RSS.
    pub fn release_pages(&self) {
        for segment in self.segments.values() {
            // SAFETY: the map is a shared mapping of a file, so a page read after MADV_DONTNEED is the file's
            // content again, which for every byte ever read is unchanged; no borrow sees different bytes.
            let _ = unsafe { segment.map.unchecked_advise_range(UncheckedAdvice::DontNeed, 0, segment.flushed) };
        }
    }

    /// Heap bytes held: buffers and bookkeeping.
    pub fn heap_bytes(&self) -> usize {
        let per_segment = size_of::<Segment>() + size_of::<u32>() + 2 * size_of::<usize>() + size_of::<Mmap>();
        self.segments.values().map(|s| per_segment + s.path.as_os_str().len() + s.tail.capacity()).sum()
    }

    /// Bytes of chunks in the segment files (buffered ones included).
    pub fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.end() as u64).sum()
    }

    /// Failed file operations so far.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn segment(&self, seq: u32) -> Result<&Segment, ChunkError> {
        self.segments.get(&seq).ok_or(ChunkError::Corrupt("spilled chunk's file was deleted"))
    }

    /// The segment the next `need` bytes go to: the active one, its buffer written out first when full, or a new
    /// one. `None` while files fail.
    fn segment_for(&mut self, need: usize) -> Option<u32> {
        if let Some(seq) = self.active {
            let segment = self.segments.get_mut(&seq)?;
            if segment.end() + need <= self.segment_bytes as usize {
                if segment.tail.is_empty() || segment.tail.len() + need <= FLUSH_BYTES {
                    return Some(seq);
                }
                match segment.flush() {
                    Ok(()) => return Some(seq),
                    Err(err) => self.failed(&err),
                }
            }
        }
        self.start_segment()
    }

    /// Seals the active segment and starts the next one.
    fn start_segment(&mut self) -> Option<u32> {
        if let Some(seq) = self.active.take() {
            let result = self.segments.get_mut(&seq).map_or(Ok(()), Segment::flush);
            if let Err(err) = result {
                self.failed(&err);
            }
            if let Some(segment) = self.segments.get_mut(&seq) {
                segment.seal();
            }
        }
        if self.paused_until.is_some_and(|until| Instant::now() < until) || self.next_seq >= MAX_SEQ {
            return None;
        }
        let seq = self.next_seq;
        // A number is never used twice, even when creating its file failed half way.
        self.next_seq += 1;
        match Segment::create(self.dir.join(format!("{seq:06}")), self.segment_bytes) {
            Ok(segment) => {
                self.segments.insert(seq, segment);
                self.active = Some(seq);
                self.paused_until = None;
                Some(seq)
            }
            Err(err) => {
                self.failed(&err);
                None
            }
        }
    }

    /// Counts a failed file operation and keeps chunks on the heap for a while. The active segment, if any, is
    /// sealed with its unwritten bytes kept in memory, so nothing stored is lost.
    fn failed(&mut self, err: &io::Error) {
        self.errors += 1;
        if self.errors == 1 {
            tracing::warn!(
                dir = %self.dir.display(),
                error = %err,
                "cannot write head chunk files; closed head chunks stay in memory until a retry succeeds"
            );
        } else {
            tracing::debug!(dir = %self.dir.display(), error = %err, "cannot write head chunk files");
        }
        if let Some(segment) = self.active.take().and_then(|seq| self.segments.get_mut(&seq)) {
            segment.seal();
        }
        self.paused_until = Some(Instant::now() + self.retry_after);
    }

    /// Makes the next write to the active segment fail, as a full disk would.
    #[cfg(test)]
    pub fn break_active_file(&mut self) {
        let segment = self.active.and_then(|seq| self.segments.get_mut(&seq)).expect("an active segment");
        segment.file = Some(File::open(&segment.path).expect("reopen read-only"));
    }
}

impl Drop for SpillFiles {
    /// The files are a cache of the head, which goes with them; readers keep their maps.
    fn drop(&mut self) {
        for segment in self.segments.values() {
            let _ = fs::remove_file(&segment.path);
        }
    }
}

impl Segment {
    /// Creates the file at its full size, maps it, and buffers its header.
    fn create(path: PathBuf, size: u32) -> io::Result<Segment> {
        let file = File::options().read(true).write(true).create_new(true).open(&path)?;
        let mapped = file.set_len(u64::from(size)).and_then(|()| {
            // SAFETY: the file was just created by this process in a directory only this database uses (it is
            // locked). Its mapped bytes are only read once written, they are never written again, and the file
            // is never truncated; unlinking it leaves the mapping intact.
            unsafe { MmapOptions::new().len(size as usize).map(&file) }
        });
        let map = match mapped {
            Ok(map) => map,
            Err(err) => {
                let _ = fs::remove_file(&path);
                return Err(err);
            }
        };
        let mut tail = Vec::with_capacity(FLUSH_BYTES);
        tail.extend_from_slice(&MAGIC);
        tail.extend_from_slice(&[VERSION, 0, 0, 0]);
        Ok(Segment { path, file: Some(file), map: Arc::new(map), flushed: 0, tail, max_t: i64::MIN })
    }

    fn end(&self) -> usize {
        self.flushed + self.tail.len()
    }

    /// Writes the buffer to the file. On error the buffer is left as it is: the file's bytes past `flushed`
    /// are unknown and never read.
    fn flush(&mut self) -> io::Result<()> {
        if self.tail.is_empty() {
            return Ok(());
        }
        let Some(file) = &self.file else { return Err(io::Error::other("head chunk file is sealed")) };
        file.write_all_at(&self.tail, self.flushed as u64)?;
        self.flushed += self.tail.len();
        self.tail.clear();
        Ok(())
    }

    /// Takes no more chunks: closes the file and keeps only the bytes that did not reach it.
    fn seal(&mut self) {
        self.file = None;
        self.tail.shrink_to_fit();
    }

    /// The chunk whose entry starts at `offset`, and whether it is in the file (rather than the buffer).
    fn entry(&self, offset: usize) -> Result<(&[u8], bool), ChunkError> {
        let (region, start, mapped) = if offset >= self.flushed {
            (&self.tail[..], offset - self.flushed, false)
        } else {
            // SAFETY: the first `flushed` bytes are written, inside the map, and never change.
            (unsafe { map_range(&self.map, 0, self.flushed) }, offset, true)
        };
        let past = ChunkError::Corrupt("spilled chunk lies past the written data");
        let header = region.get(start..start + ENTRY_HEADER_BYTES).ok_or(past.clone())?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let body = start + ENTRY_HEADER_BYTES;
        let bytes = region.get(body..).and_then(|rest| rest.get(..len)).ok_or(past)?;
        if crc32fast::hash(bytes) != crc {
            return Err(ChunkError::Corrupt("spilled chunk fails its checksum"));
        }
        Ok((bytes, mapped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| n.wrapping_add(i as u8)).collect()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn chunks_are_readable_at_once_and_after_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillFiles::open(dir.path()).unwrap();
        let mut stored = Vec::new();
        // Enough to flush the buffer several times.
        for i in 0..1000u32 {
            let bytes = chunk(i as u8, 100 + (i as usize % 200));
            let (seq, offset) = spill.put(&bytes, i64::from(i)).unwrap();
            assert_eq!(spill.get(seq, offset).unwrap(), &bytes[..], "readable right after being stored");
            stored.push((seq, offset, bytes));
        }
        assert!(spill.segments[&1].flushed > 0, "the buffer was written out");
        for (seq, offset, bytes) in &stored {
            assert_eq!(spill.get(*seq, *offset).unwrap(), &bytes[..]);
            assert_eq!(&*spill.shared(*seq, *offset).unwrap(), &bytes[..]);
        }
        assert_eq!(files(dir.path()), ["000001"]);
        let on_disk = fs::read(dir.path().join("000001")).unwrap();
        assert_eq!(&on_disk[..8], b"VGHC\x01\0\0\0");
        assert_eq!(on_disk.len(), SEGMENT_BYTES as usize);
        assert_eq!(spill.errors(), 0);
        let held = spill.shared(stored[0].0, stored[0].1).unwrap();
        drop(spill);
        assert!(files(dir.path()).is_empty(), "dropping deletes the files");
        assert_eq!(&*held, &stored[0].2[..]);
    }

    #[test]
    fn open_empties_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("000001"), b"stale").unwrap();
        fs::create_dir(dir.path().join("junk")).unwrap();
        fs::write(dir.path().join("junk").join("x"), b"x").unwrap();
        let mut spill = SpillFiles::open(dir.path()).unwrap();
        assert!(files(dir.path()).is_empty());
        let (seq, offset) = spill.put(b"abc", 1).unwrap();
        assert_eq!(spill.get(seq, offset).unwrap(), b"abc");
    }

    #[test]
    fn segments_roll_over_and_old_ones_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillFiles::with_limits(dir.path(), 4096, RETRY_AFTER);
        let mut stored = Vec::new();
        for t in 0..100i64 {
            let bytes = chunk(t as u8, 300);
            stored.push((t, spill.put(&bytes, t).unwrap(), bytes));
        }
        // 13 chunks of 308 bytes fit a segment after its header.
        let segments = files(dir.path());
        assert_eq!(segments.len(), 8, "{segments:?}");
        for (_, (seq, offset), bytes) in &stored {
            assert_eq!(spill.get(*seq, *offset).unwrap(), &bytes[..]);
        }
        let held = spill.shared(stored[0].1 .0, stored[0].1 .1).unwrap();
        // Segment 1 holds t 0..=12, segment 2 t 13..=25.
        spill.delete_before(26);
        assert_eq!(files(dir.path())[0], "000003");
        assert!(spill.get(1, stored[0].1 .1).is_err(), "a deleted segment's chunk is an error, not a crash");
        assert_eq!(&*held, &stored[0].2[..], "bytes handed out outlive the file");
        // The active segment stays, even when all its chunks are old.
        spill.delete_before(i64::MAX);
        assert_eq!(files(dir.path()), ["000008"]);
        let (_, (seq, offset), bytes) = stored.last().unwrap();
        assert_eq!(spill.get(*seq, *offset).unwrap(), &bytes[..]);
    }

    #[test]
    fn a_failed_write_keeps_the_chunks_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillFiles::with_limits(dir.path(), SEGMENT_BYTES, RETRY_AFTER);
        let mut stored = Vec::new();
        for i in 0..10u8 {
            let bytes = chunk(i, 1000);
            stored.push((spill.put(&bytes, 0).unwrap(), bytes));
        }
        spill.break_active_file();
        // Filling the buffer makes the write fail; everything stored stays readable from memory.
        let mut i = 10u8;
        while spill.errors() == 0 {
            let bytes = chunk(i, 1000);
            match spill.put(&bytes, 0) {
                Some(at) => stored.push((at, bytes)),
                None => break,
            }
            i = i.wrapping_add(1);
        }
        assert_eq!(spill.errors(), 1);
        assert!(spill.heap_bytes() >= FLUSH_BYTES - 1000, "the unwritten chunks are on the heap");
        for ((seq, offset), bytes) in &stored {
            assert_eq!(spill.get(*seq, *offset).unwrap(), &bytes[..]);
            assert_eq!(&*spill.shared(*seq, *offset).unwrap(), &bytes[..]);
        }
        assert_eq!(spill.put(b"later", 0), None, "no new file before the retry time");
    }

    #[test]
    fn a_missing_directory_is_retried_after_the_pause() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let mut spill = SpillFiles::with_limits(&gone, 4096, Duration::ZERO);
        assert_eq!(spill.put(b"abc", 1), None);
        assert_eq!(spill.errors(), 1);
        fs::create_dir(&gone).unwrap();
        let (seq, offset) = spill.put(b"abc", 1).unwrap();
        assert_eq!(spill.get(seq, offset).unwrap(), b"abc");
        assert_eq!(files(&gone), ["000002"]);
    }

    #[test]
    fn damaged_bytes_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillFiles::with_limits(dir.path(), 1 << 20, RETRY_AFTER);
        let (seq, offset) = spill.put(&chunk(7, 100), 1).unwrap();
        spill.segments.get_mut(&seq).unwrap().tail[offset as usize + 20] ^= 1;
        assert_eq!(spill.get(seq, offset), Err(ChunkError::Corrupt("spilled chunk fails its checksum")));
        assert!(spill.get(seq, offset + 3).is_err());
        assert!(spill.get(seq, 1 << 19).is_err());
    }
}
