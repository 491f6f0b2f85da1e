//! Immutable on-disk blocks: all series and compressed chunks of a time range, written once by
//! [`BlockWriter`] and read through memory maps by [`Block`].
//!
//! A block is a directory holding `chunks` (CRC-checked chunk records), `index` (symbols, series, postings and
//! their tables, one CRC-32 over the file) and `meta.json` (time range, level, statistics), written last. The
//! writer builds the block in `<dir>.tmp` and renames it into place, so a block directory is either complete or
//! absent. Series ordinals run from 0 in label order, so reading ordinals in order yields series sorted by
//! labels, which is what compaction merges. Byte layouts, fsync order and crash behaviour:
//! `docs/format/tsdb.md`, section "Blocks".

mod buffered;
mod chunks;
mod columns;
mod cursor;
mod error;
mod index_writer;
mod json;
mod layout;
mod meta;
mod postings;
mod reader;
mod select;
mod series;
mod view;
mod writer;

use std::path::{Path, PathBuf};

pub use chunks::MAX_CHUNK_BYTES;
pub use error::BlockError;
pub use layout::{CHUNKS_FORMAT_VERSION, FORMAT_VERSION};
pub use meta::{BlockMeta, BlockStats, META_VERSION, RAW_RESOLUTION};
pub use reader::Block;
pub use series::ChunkRef;
pub use writer::{tmp_dir, BlockParams, BlockWriter, ChunkData, WrittenChunk};

use crate::backend::{self, Backend};
use error::io_err;

/// Removes the unfinished blocks (`*.tmp` directories) in `parent`, the directory holding the blocks; for
/// start-up. Returns the directories removed.
pub fn remove_tmp_dirs(backend: &dyn Backend, parent: &Path) -> Result<Vec<PathBuf>, BlockError> {
    let mut removed = Vec::new();
    for entry in backend.list_dir(parent).map_err(io_err(parent))? {
        if entry.is_dir && entry.name.ends_with(".tmp") {
            let path = parent.join(&entry.name);
            backend::remove_dir_all(backend, &path).map_err(io_err(&path))?;
            removed.push(path);
        }
    }
    Ok(removed)
}
