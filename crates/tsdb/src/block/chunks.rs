//! The `chunks` file: a header, then one record per chunk: `uvarint len | chunk bytes | crc32`.

use std::path::Path;

use super::cursor::{put_uvarint, Cursor};
use super::error::{corrupt, BlockError};
use super::layout::HEADER_BYTES;

/// The largest chunk the writer accepts. A chunk of 65535 samples stays far below it.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;

/// The bytes of a record that come before the chunk: its length as a uvarint.
pub(super) fn record_prefix(chunk: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(10);
    put_uvarint(&mut prefix, chunk.len() as u64);
    prefix
}

/// The CRC-32 that ends a record: over the length prefix and the chunk bytes.
pub(super) fn record_crc(prefix: &[u8], chunk: &[u8]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new();
    h.update(prefix);
    h.update(chunk);
    h.finalize().to_le_bytes()
}

/// The chunk of the record at `offset` in the `chunks` file `file`, after checking its CRC.
pub(super) fn read_record<'a>(path: &Path, file: &'a [u8], offset: u64) -> Result<&'a [u8], BlockError> {
    if offset < HEADER_BYTES {
        return Err(corrupt(path, Some(offset), "chunk offset inside the file header"));
    }
    let mut c = Cursor::new(file, offset, file.len() as u64).map_err(|e| e.in_file(path))?;
    let len = c.uvarint().map_err(|e| e.in_file(path))?;
    let prefix_end = c.pos();
    let chunk = c.take(len).map_err(|e| e.in_file(path))?;
    let stored = c.take(4).map_err(|e| e.in_file(path))?;
    let prefix = &file[offset as usize..prefix_end as usize];
    if record_crc(prefix, chunk) != stored {
        return Err(corrupt(path, Some(offset), "chunk checksum mismatch"));
    }
    Ok(chunk)
}
