//! Where the head's closed chunks live: spilled to memory-mapped files when the database runs on the real file
//! system (`Db::open`), on the heap otherwise, and on the heap as well for any chunk a file write failed for.
//! A series keeps only a [`ChunkLoc`] per closed chunk.

use std::io;
use std::path::Path;

use super::slab::HeapChunks;
use super::spill::SpillFiles;
use crate::chunk::{ChunkBytes, ChunkError};

/// Where a closed chunk is: a heap slot (top bit set, slot in the low 32 bits), or a segment file (its number
/// in bits 32 to 62, the offset in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkLoc(u64);

const HEAP: u64 = 1 << 63;

enum Place {
    Heap(u32),
    File(u32, u32),
}

impl ChunkLoc {
    fn heap(slot: u32) -> ChunkLoc {
        ChunkLoc(HEAP | u64::from(slot))
    }

    /// `seq` is below 2^31 (see `spill::MAX_SEQ`).
    fn file(seq: u32, offset: u32) -> ChunkLoc {
        ChunkLoc(u64::from(seq) << 32 | u64::from(offset))
    }

    fn place(self) -> Place {
        let low = self.0 as u32;
        if self.0 & HEAP != 0 {
            Place::Heap(low)
        } else {
            Place::File((self.0 >> 32) as u32, low)
        }
    }
}

/// Spill figures for self-metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpillStats {
    /// Chunk bytes in head chunk files.
    pub file_bytes: u64,
    /// Closed chunks kept on the heap.
    pub heap_chunks: u64,
    /// Failed writes or creations of head chunk files.
    pub errors: u64,
}

/// The closed chunks of every series in the head.
#[derive(Debug, Default)]
pub(crate) struct ChunkStore {
    heap: HeapChunks,
    files: Option<SpillFiles>,
}

impl ChunkStore {
    /// Keeps every chunk on the heap.
    pub fn memory() -> ChunkStore {
        ChunkStore::default()
    }

    /// Spills chunks into files in `dir`, emptied first.
    pub fn files(dir: &Path) -> io::Result<ChunkStore> {
        Ok(ChunkStore { heap: HeapChunks::default(), files: Some(SpillFiles::open(dir)?) })
    }

    #[cfg(test)]
    pub fn with_files(files: SpillFiles) -> ChunkStore {
        ChunkStore { heap: HeapChunks::default(), files: Some(files) }
    }

    /// Stores a closed chunk whose newest sample is at `max_t`. It goes to a file when there is one that works,
    /// else to the heap.
    pub fn put(&mut self, bytes: &[u8], max_t: i64) -> ChunkLoc {
        match self.files.as_mut().and_then(|f| f.put(bytes, max_t)) {
            Some((seq, offset)) => ChunkLoc::file(seq, offset),
            None => ChunkLoc::heap(self.heap.put(bytes)),
        }
    }

    /// The bytes of a stored chunk. A spilled chunk is checked against its length and checksum.
    pub fn get(&self, loc: ChunkLoc) -> Result<&[u8], ChunkError> {
        match loc.place() {
            Place::Heap(slot) => self.heap.get(slot).map(|c| &c[..]).ok_or(released()),
            Place::File(seq, offset) => self.spill_files()?.get(seq, offset),
        }
    }

    /// Like `get`, as bytes that outlive the borrow, shared rather than copied where possible.
    pub fn shared(&self, loc: ChunkLoc) -> Result<ChunkBytes, ChunkError> {
        match loc.place() {
            Place::Heap(slot) => self.heap.get(slot).map(|c| ChunkBytes::from(c.clone())).ok_or(released()),
            Place::File(seq, offset) => self.spill_files()?.shared(seq, offset),
        }
    }

    /// Forgets a chunk the head dropped. Heap chunks are freed at once; file space when a whole segment is old
    /// enough, see `delete_before`.
    pub fn release(&mut self, loc: ChunkLoc) {
        if let Place::Heap(slot) = loc.place() {
            self.heap.release(slot);
        }
    }

    /// Deletes the files whose chunks all end before `t`; the head has dropped those chunks.
    pub fn delete_before(&mut self, t: i64) {
        if let Some(files) = &mut self.files {
            files.delete_before(t);
        }
    }

    /// See `SpillFiles::release_pages`.
    pub fn release_pages(&self) {
        if let Some(files) = &self.files {
            files.release_pages();
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.heap.heap_bytes() + self.files.as_ref().map_or(0, SpillFiles::heap_bytes)
    }

    pub fn stats(&self) -> SpillStats {
        SpillStats {
            file_bytes: self.files.as_ref().map_or(0, SpillFiles::bytes),
            heap_chunks: self.heap.len() as u64,
            errors: self.files.as_ref().map_or(0, SpillFiles::errors),
        }
    }

    fn spill_files(&self) -> Result<&SpillFiles, ChunkError> {
        self.files.as_ref().ok_or(ChunkError::Corrupt("spilled chunk without head chunk files"))
    }
}

fn released() -> ChunkError {
    ChunkError::Corrupt("head chunk was released")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn memory_store_keeps_chunks_on_the_heap() {
        let mut store = ChunkStore::memory();
        let a = store.put(b"first", 1);
        let b = store.put(b"second", 2);
        assert_eq!(store.get(a).unwrap(), b"first");
        assert_eq!(&*store.shared(b).unwrap(), b"second");
        assert_eq!(store.stats(), SpillStats { file_bytes: 0, heap_chunks: 2, errors: 0 });
        assert!(store.heap_bytes() >= 11);
        store.release(a);
        assert!(store.get(a).is_err());
        store.delete_before(i64::MAX);
        assert_eq!(store.get(b).unwrap(), b"second");
    }

    #[test]
    fn file_store_falls_back_to_the_heap() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let mut store = ChunkStore::with_files(SpillFiles::with_limits(&gone, 1 << 20, Duration::ZERO));
        let on_heap = store.put(b"kept", 5);
        assert_eq!(store.stats(), SpillStats { file_bytes: 0, heap_chunks: 1, errors: 1 });
        std::fs::create_dir(&gone).unwrap();
        let in_file = store.put(b"spilled", 6);
        assert_eq!(store.stats().heap_chunks, 1);
        assert!(store.stats().file_bytes > 0);
        assert_eq!(store.get(on_heap).unwrap(), b"kept");
        assert_eq!(store.get(in_file).unwrap(), b"spilled");
        store.release(on_heap);
        assert_eq!(store.stats().heap_chunks, 0);
    }

    #[test]
    fn locations_round_trip() {
        for (seq, offset) in [(1, 0), ((1 << 31) - 1, u32::MAX), (7, 12345)] {
            match ChunkLoc::file(seq, offset).place() {
                Place::File(s, o) => assert_eq!((s, o), (seq, offset)),
                Place::Heap(_) => panic!("a file location read as a heap slot"),
            }
        }
        assert!(matches!(ChunkLoc::heap(u32::MAX).place(), Place::Heap(u32::MAX)));
    }
}
