//! A chunk's bytes shared without copying: a heap buffer, or a range of a read-only memory map whose file is
//! still being appended to (the head's spilled chunks).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// Cheap to clone; dereferences to the chunk's bytes. Equality compares the bytes.
#[derive(Clone)]
pub struct ChunkBytes(Repr);

#[derive(Clone)]
enum Repr {
    Heap(Arc<[u8]>),
    Mapped { map: Arc<Mmap>, start: usize, len: usize },
}

impl ChunkBytes {
    /// The bytes `start..start + len` of `map`, which must lie inside it.
    ///
    /// # Safety
    ///
    /// Those bytes must never change while the map lives: the file may grow and be written beyond them, but
    /// not there, and it must never be truncated below their end.
    pub(crate) unsafe fn mapped(map: Arc<Mmap>, start: usize, len: usize) -> ChunkBytes {
        assert!(start.checked_add(len).is_some_and(|end| end <= map.len()), "mapped range outside the map");
        ChunkBytes(Repr::Mapped { map, start, len })
    }
}

/// The bytes `start..start + len` of `map` without making a reference to the rest of it, which may be being
/// written.
///
/// # Safety
///
/// The range must lie inside the map and its bytes must not change for the lifetime of the result.
pub(crate) unsafe fn map_range(map: &Mmap, start: usize, len: usize) -> &[u8] {
    debug_assert!(start + len <= map.len());
    // SAFETY: in bounds and unchanging for the borrow, by the caller's promise.
    unsafe { std::slice::from_raw_parts(map.as_ptr().add(start), len) }
}

impl Deref for ChunkBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Heap(bytes) => bytes,
            // SAFETY: `mapped` checked the range and its caller promised that the bytes do not change.
            Repr::Mapped { map, start, len } => unsafe { map_range(map, *start, *len) },
        }
    }
}

impl AsRef<[u8]> for ChunkBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Arc<[u8]>> for ChunkBytes {
    fn from(bytes: Arc<[u8]>) -> ChunkBytes {
        ChunkBytes(Repr::Heap(bytes))
    }
}

impl From<&[u8]> for ChunkBytes {
    fn from(bytes: &[u8]) -> ChunkBytes {
        ChunkBytes(Repr::Heap(Arc::from(bytes)))
    }
}

impl From<Vec<u8>> for ChunkBytes {
    fn from(bytes: Vec<u8>) -> ChunkBytes {
        ChunkBytes(Repr::Heap(Arc::from(bytes)))
    }
}

impl PartialEq for ChunkBytes {
    fn eq(&self, other: &ChunkBytes) -> bool {
        **self == **other
    }
}

impl Eq for ChunkBytes {}

impl fmt::Debug for ChunkBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
