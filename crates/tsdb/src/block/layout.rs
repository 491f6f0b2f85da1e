//! The fixed parts of the block files: file names, the 8-byte headers of `index` and `chunks`, and the index's
//! table of contents and checksum trailer.

use std::path::Path;

use super::cursor::Cursor;
use super::error::{corrupt, BlockError};

pub(super) const META_FILE: &str = "meta.json";
pub(super) const INDEX_FILE: &str = "index";
pub(super) const CHUNKS_FILE: &str = "chunks";

/// The format version in the header of `index`.
pub const FORMAT_VERSION: u8 = 1;

/// The format version in the header of `chunks`: 2 since chunks may be in the grouped encoding, 3 since they may
/// be in the split one. Older files are read as well; they only differ in the encodings they hold.
pub const CHUNKS_FORMAT_VERSION: u8 = 3;

pub(super) const INDEX_MAGIC: [u8; 4] = *b"VIDX";
pub(super) const CHUNKS_MAGIC: [u8; 4] = *b"VCHK";
pub(super) const HEADER_BYTES: u64 = 8;

/// Every `STRIDE`-th symbol and series has its offset in a sample table; the others are reached by skipping
/// at most `STRIDE - 1` length-prefixed entries.
pub(super) const STRIDE: u64 = 16;

/// Magic, format version, three reserved zero bytes.
pub(super) fn header(magic: [u8; 4], version: u8) -> [u8; 8] {
    [magic[0], magic[1], magic[2], magic[3], version, 0, 0, 0]
}

/// Checks the header of a block file written by [`header`], of a version from 1 to `newest`.
pub(super) fn check_header(path: &Path, bytes: &[u8], magic: [u8; 4], newest: u8) -> Result<(), BlockError> {
    if bytes.len() < HEADER_BYTES as usize {
        return Err(corrupt(path, Some(0), format!("file of {} bytes is shorter than its header", bytes.len())));
    }
    if bytes[..4] != magic {
        return Err(corrupt(path, Some(0), format!("bad magic {:02x?}", &bytes[..4])));
    }
    if !(1..=newest).contains(&bytes[4]) {
        return Err(BlockError::UnsupportedVersion { path: path.to_path_buf(), version: u32::from(bytes[4]) });
    }
    if bytes[5..8] != [0, 0, 0] {
        return Err(corrupt(path, Some(5), "nonzero reserved header bytes"));
    }
    Ok(())
}

/// Bytes of a value-table entry: value symbol (u32) and postings offset (u32).
pub(super) const VALUE_ENTRY_BYTES: u64 = 8;
/// Bytes of a name-table entry: name symbol (u32), value count (u32), value-table offset (u64).
pub(super) const NAME_ENTRY_BYTES: u64 = 16;

/// The index's table of contents, written after the last section. Offsets are from the start of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Toc {
    pub symbols: u64,
    pub symbol_count: u64,
    pub symbol_samples: u64,
    pub series: u64,
    pub series_count: u64,
    pub series_samples: u64,
    pub postings: u64,
    pub value_tables: u64,
    pub names: u64,
    pub name_count: u64,
    /// The block's start; the first chunk of every series stores its start as a delta from it.
    pub min_t: i64,
}

/// Bytes of the table of contents: eleven 8-byte fields.
pub(super) const TOC_BYTES: u64 = 88;
/// The table of contents and the CRC-32 that ends the index.
pub(super) const TRAILER_BYTES: u64 = TOC_BYTES + 4;

impl Toc {
    pub(super) fn encode(&self) -> [u8; TOC_BYTES as usize] {
        let fields = [
            self.symbols,
            self.symbol_count,
            self.symbol_samples,
            self.series,
            self.series_count,
            self.series_samples,
            self.postings,
            self.value_tables,
            self.names,
            self.name_count,
            self.min_t as u64,
        ];
        let mut out = [0; TOC_BYTES as usize];
        for (slot, field) in out.chunks_exact_mut(8).zip(fields) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
        out
    }

    /// Reads the table of contents of an index whose header and checksum were checked, and checks that the
    /// sections are in order, inside the file, and that the fixed-size tables have exactly their size.
    pub(super) fn decode(path: &Path, index: &[u8]) -> Result<Toc, BlockError> {
        let len = index.len() as u64;
        let start = len - TRAILER_BYTES;
        let mut c = Cursor::new(index, start, start + TOC_BYTES).map_err(|e| e.in_file(path))?;
        let mut next = || c.u64_le().map_err(|e| e.in_file(path));
        let toc = Toc {
            symbols: next()?,
            symbol_count: next()?,
            symbol_samples: next()?,
            series: next()?,
            series_count: next()?,
            series_samples: next()?,
            postings: next()?,
            value_tables: next()?,
            names: next()?,
            name_count: next()?,
            min_t: next()? as i64,
        };
        let bad = |reason: &str| corrupt(path, Some(start), format!("table of contents: {reason}"));
        let order = [
            HEADER_BYTES,
            toc.symbols,
            toc.symbol_samples,
            toc.series,
            toc.series_samples,
            toc.postings,
            toc.value_tables,
            toc.names,
            start,
        ];
        if order.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("sections out of order or outside the file"));
        }
        if toc.symbol_count > u64::from(u32::MAX) || toc.series_count > u64::from(u32::MAX) {
            return Err(bad("count exceeds 32 bits"));
        }
        let sized = |count: u64, entry: u64| count.div_ceil(STRIDE) * entry;
        if toc.series - toc.symbol_samples != sized(toc.symbol_count, 4) {
            return Err(bad("symbol sample table does not match the symbol count"));
        }
        if toc.postings - toc.series_samples != sized(toc.series_count, 8) {
            return Err(bad("series sample table does not match the series count"));
        }
        if Some(start - toc.names) != toc.name_count.checked_mul(NAME_ENTRY_BYTES) {
            return Err(bad("name table does not match the name count"));
        }
        Ok(toc)
    }
}
