//! Closed head chunks kept on the heap, in slots addressed by index: the whole store when the database runs on a
//! backend without real files, and the fallback for chunks that could not be spilled to a file.

use std::sync::Arc;

/// Heap chunks in numbered slots; freed slots are reused.
#[derive(Debug, Default)]
pub(crate) struct HeapChunks {
    slots: Vec<Option<Arc<[u8]>>>,
    free: Vec<u32>,
    /// Bytes of the live chunks.
    bytes: usize,
    live: usize,
}

impl HeapChunks {
    /// Keeps a copy of `bytes`; returns its slot.
    pub fn put(&mut self, bytes: &[u8]) -> u32 {
        let chunk = Some(Arc::from(bytes));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = chunk;
                slot
            }
            None => {
                // Each chunk takes dozens of bytes, so memory runs out long before 2^32 of them.
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 heap chunks");
                self.slots.push(chunk);
                slot
            }
        };
        self.bytes += bytes.len();
        self.live += 1;
        slot
    }

    pub fn get(&self, slot: u32) -> Option<&Arc<[u8]>> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Frees a slot; a free slot is left as it is.
    pub fn release(&mut self, slot: u32) {
        if let Some(chunk) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.bytes -= chunk.len();
            self.live -= 1;
            self.free.push(slot);
        }
        if self.live == 0 {
            // Give the slot table back once nothing is left (the usual case when chunks spill to files).
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    /// Heap bytes held: the slot table, the free list, and each chunk with its reference counts.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Option<Arc<[u8]>>>()
            + self.free.capacity() * size_of::<u32>()
            + self.bytes
            + self.live * 2 * size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_released() {
        let mut heap = HeapChunks::default();
        let a = heap.put(b"aa");
        let b = heap.put(b"bbb");
        assert_eq!(heap.get(a).map(|c| &c[..]), Some(&b"aa"[..]));
        assert_eq!(heap.len(), 2);
        heap.release(a);
        heap.release(a);
        assert!(heap.get(a).is_none());
        let c = heap.put(b"c");
        assert_eq!(c, a, "a freed slot is reused");
        assert_eq!(heap.get(b).map(|c| &c[..]), Some(&b"bbb"[..]));
        heap.release(b);
        heap.release(c);
        assert_eq!(heap.len(), 0);
        assert_eq!(heap.heap_bytes(), 0);
    }
}
