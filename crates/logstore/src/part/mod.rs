//! Parts: immutable files of blocks, one stream's records per block, with a block index read at open.
//!
//! Byte layout in `docs/format/logstore.md` ("Parts"). A part is memory-mapped; its stream table, block index
//! (with every block's bloom filter) and meta are checked against their CRCs at open, a block's sections when
//! the block is read. Parts are shared as `Arc<Part>`: a part deleted while a reader holds it stays readable
//! (its file is unlinked, the mapping lives on).

pub(crate) mod block;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};

use vigil_model::{Labels, LogBatch};

use crate::bloom::{self, NeedleKeys};
use crate::codec::Cursor;
use crate::error::{corrupt, io_err, Error};

pub(crate) use writer::{sync_part_dir as writer_sync_dir, PartWriter};

pub(crate) const MAGIC: [u8; 4] = *b"VLPT";
pub(crate) const FORMAT_VERSION: u8 = 1;
pub(crate) const HEADER: [u8; 8] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], FORMAT_VERSION, 0, 0, 0];
/// meta, streams, index: (offset u64, len u64, crc u32) each; footer crc u32; magic.
pub(crate) const FOOTER_BYTES: usize = 3 * 20 + 4 + 4;
const BLOCK_ENTRY_FIXED: usize = 8 + 8 + 8 + 4 + 4 + (8 + 4 + 4) + (8 + 4 + 4 + 4) * 2 + 4 + 4;
/// Caps applied to what a part claims, so damage cannot make a reader allocate without bound.
const MAX_BLOCK_RECORDS: u32 = 1 << 20;
const MAX_SECTION_RAW: u32 = 256 << 20;

pub(crate) const PART_SUFFIX: &str = ".part";

pub(crate) fn part_file_name(id: u64) -> String {
    format!("{id:016x}{PART_SUFFIX}")
}

pub(crate) fn parse_part_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(PART_SUFFIX)?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Facts about a whole part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PartMeta {
    /// The partition's time range, `[start, end)`.
    pub partition_start: i64,
    pub partition_end: i64,
    /// The part holds every record of its partition logged in WAL segments numbered below this (as of the
    /// flush that wrote it, or the newest of the parts it merged).
    pub wal_before: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub records: u64,
    /// Parts this one replaces (a merge); they are deleted at open if a crash left them.
    pub replaces: Vec<u64>,
}

/// Where one section of a block lies in the file.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Section {
    pub offset: u64,
    pub len: u32,
    pub raw_len: u32,
    pub crc: u32,
}

/// A block's entry in the block index.
#[derive(Clone, Debug)]
pub(crate) struct BlockMeta {
    pub stream: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub records: u32,
    pub line_bytes: u32,
    pub ts: Section,
    pub lines: Section,
    pub fields: Section,
    /// The token filter's bytes within the file.
    pub bloom_offset: usize,
    pub bloom_len: usize,
    /// The gram filter's bytes within the file.
    pub grams_offset: usize,
    pub grams_len: usize,
}

/// An open part.
pub(crate) struct Part {
    pub id: u64,
    pub path: PathBuf,
    map: Map,
    pub meta: PartMeta,
    pub streams: Vec<(u64, Labels)>,
    /// Sorted by stream, then `min_ts`.
    pub blocks: Vec<BlockMeta>,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part").field("path", &self.path).field("blocks", &self.blocks.len()).finish()
    }
}

enum Map {
    Mmap(memmap2::Mmap),
    Empty,
}

impl std::ops::Deref for Map {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Map::Mmap(m) => m,
            Map::Empty => &[],
        }
    }
}

impl Part {
    /// Opens and validates the part file at `path`.
    pub fn open(path: &Path, id: u64) -> Result<Part, Error> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let map = if len == 0 {
            Map::Empty
        } else {
            // SAFETY: a mapping is only sound while nobody modifies or truncates the file. Part files are written
            // under a temporary name and never modified once renamed into place; deleting one unlinks it, which
            // leaves existing mappings intact.
            Map::Mmap(unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(path))?)
        };
        let (meta, streams, blocks) = parse(&map).map_err(|reason| corrupt(path, reason))?;
        Ok(Part { id, path: path.to_path_buf(), map, meta, streams, blocks })
    }

    pub fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// The indexes of `stream`'s blocks.
    pub fn stream_blocks(&self, stream: u64) -> std::ops::Range<usize> {
        let start = self.blocks.partition_point(|b| b.stream < stream);
        let end = start + self.blocks[start..].partition_point(|b| b.stream == stream);
        start..end
    }

    /// Whether the block's filters allow a line holding every needle the keys come from.
    pub fn may_match(&self, block: usize, keys: &NeedleKeys) -> bool {
        let b = &self.blocks[block];
        let tokens = &self.map[b.bloom_offset..b.bloom_offset + b.bloom_len];
        if !keys.tokens.iter().all(|&h| bloom::may_contain(tokens, h, bloom::TOKENS)) {
            return false;
        }
        let grams = &self.map[b.grams_offset..b.grams_offset + b.grams_len];
        keys.grams.iter().all(|&h| bloom::may_contain(grams, h, bloom::GRAMS))
    }

    fn section(&self, s: &Section, what: &str) -> Result<&[u8], Error> {
        let start = s.offset as usize;
        let bytes = &self.map[start..start + s.len as usize];
        if crc32fast::hash(bytes) != s.crc {
            return Err(corrupt(&self.path, format!("{what} section at offset {} fails its checksum", s.offset)));
        }
        Ok(bytes)
    }

    /// The timestamps of a block.
    pub fn read_ts(&self, block: usize, out: &mut Vec<i64>) -> Result<(), Error> {
        let b = &self.blocks[block];
        let bytes = self.section(&b.ts, "timestamp")?;
        block::decode_ts(bytes, b.records as usize, out)
            .map_err(|r| corrupt(&self.path, format!("block at offset {}: {r}", b.ts.offset)))
    }

    /// Appends every row of a block to `out`, in timestamp order.
    pub fn read_block(&self, block: usize, out: &mut LogBatch) -> Result<(), Error> {
        let b = &self.blocks[block];
        let at = |r: String| corrupt(&self.path, format!("block at offset {}: {r}", b.ts.offset));
        let mut ts = Vec::with_capacity(b.records as usize);
        self.read_ts(block, &mut ts)?;
        let lines = block::decompress(self.section(&b.lines, "line")?, b.lines.raw_len as usize).map_err(at)?;
        let fields = if b.fields.len == 0 {
            None
        } else {
            Some(block::decompress(self.section(&b.fields, "field")?, b.fields.raw_len as usize).map_err(at)?)
        };
        block::decode_rows(&ts, &lines, fields.as_deref(), out).map_err(at)
    }
}

type Parsed = (PartMeta, Vec<(u64, Labels)>, Vec<BlockMeta>);

fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() < HEADER.len() + FOOTER_BYTES {
        return Err(format!("file of {} bytes is too short for a part", bytes.len()));
    }
    if bytes[..4] != MAGIC || bytes[5..8] != [0, 0, 0] {
        return Err("missing or damaged part header".to_string());
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(format!("unsupported part format version {}", bytes[4]));
    }
    let footer = &bytes[bytes.len() - FOOTER_BYTES..];
    if footer[FOOTER_BYTES - 4..] != MAGIC {
        return Err("missing or damaged part footer".to_string());
    }
    let mut cur = Cursor::new(footer);
    let crc_end = FOOTER_BYTES - 8;
    let footer_crc =
        u32::from_le_bytes([footer[crc_end], footer[crc_end + 1], footer[crc_end + 2], footer[crc_end + 3]]);
    if crc32fast::hash(&footer[..crc_end]) != footer_crc {
        return Err("part footer fails its checksum".to_string());
    }
    let data_end = (bytes.len() - FOOTER_BYTES) as u64;
    let mut region = |what: &str| -> Result<&[u8], String> {
        let (offset, len, crc) = (cur.u64_le()?, cur.u64_le()?, cur.u32_le()?);
        if offset < HEADER.len() as u64 || offset.checked_add(len).is_none_or(|end| end > data_end) {
            return Err(format!("{what} region {offset}+{len} lies outside the file"));
        }
        let region = &bytes[offset as usize..(offset + len) as usize];
        if crc32fast::hash(region) != crc {
            return Err(format!("{what} region at offset {offset} fails its checksum"));
        }
        Ok(region)
    };
    let meta_bytes = region("meta")?;
    let streams_bytes = region("stream table")?;
    let index_bytes = region("block index")?;
    let index_offset = index_bytes.as_ptr() as usize - bytes.as_ptr() as usize;

    let mut c = Cursor::new(meta_bytes);
    let mut meta = PartMeta {
        partition_start: c.i64_le()?,
        partition_end: c.i64_le()?,
        wal_before: c.u64_le()?,
        min_ts: c.i64_le()?,
        max_ts: c.i64_le()?,
        records: c.u64_le()?,
        replaces: Vec::new(),
    };
    let n = c.count(8)?;
    for _ in 0..n {
        meta.replaces.push(c.u64_le()?);
    }
    if !c.is_empty() || meta.partition_start >= meta.partition_end {
        return Err("malformed part meta".to_string());
    }

    let mut c = Cursor::new(streams_bytes);
    let n = c.count(9)?;
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let id = c.u64_le()?;
        let count = c.count(2)?;
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((c.str()?, c.str()?));
        }
        let labels = Labels::from_pairs(pairs).map_err(|e| format!("invalid stream labels: {e}"))?;
        if labels.len() != count || labels.is_empty() {
            return Err("stream with an empty label value or no labels".to_string());
        }
        streams.push((id, labels));
    }
    if !c.is_empty() || streams.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("malformed stream table".to_string());
    }

    let mut c = Cursor::new(index_bytes);
    let n = c.count(BLOCK_ENTRY_FIXED)?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = c.u64_le()?;
        let min_ts = c.i64_le()?;
        let max_ts = c.i64_le()?;
        let records = c.u32_le()?;
        let line_bytes = c.u32_le()?;
        let ts = Section { offset: c.u64_le()?, len: c.u32_le()?, raw_len: 0, crc: c.u32_le()? };
        let mut sec = || -> Result<Section, String> {
            Ok(Section { offset: c.u64_le()?, len: c.u32_le()?, raw_len: c.u32_le()?, crc: c.u32_le()? })
        };
        let lines = sec()?;
        let fields = sec()?;
        let mut filter = |what: &str| -> Result<(usize, usize), String> {
            let len = c.u32_le()? as usize;
            let offset = index_offset + index_bytes.len() - c.buf.len();
            c.bytes(len)?;
            if !len.is_multiple_of(8) {
                return Err(format!("{what} filter of {len} bytes"));
            }
            Ok((offset, len))
        };
        let (bloom_offset, bloom_len) = filter("token")?;
        let (grams_offset, grams_len) = filter("gram")?;
        for s in [&ts, &lines, &fields] {
            if s.offset < HEADER.len() as u64 || s.offset + u64::from(s.len) > data_end {
                return Err(format!("block section {}+{} lies outside the file", s.offset, s.len));
            }
        }
        if records == 0 || records > MAX_BLOCK_RECORDS || min_ts > max_ts {
            return Err(format!("block of stream {stream:016x} claims {records} records over {min_ts}..{max_ts}"));
        }
        if lines.raw_len > MAX_SECTION_RAW || fields.raw_len > MAX_SECTION_RAW {
            return Err("block section claims an oversized raw length".to_string());
        }
        blocks.push(BlockMeta {
            stream,
            min_ts,
            max_ts,
            records,
            line_bytes,
            ts,
            lines,
            fields,
            bloom_offset,
            bloom_len,
            grams_offset,
            grams_len,
        });
    }
    if !c.is_empty() {
        return Err("trailing bytes after the block index".to_string());
    }
    if blocks.windows(2).any(|w| (w[0].stream, w[0].min_ts) > (w[1].stream, w[1].min_ts)) {
        return Err("block index is not sorted".to_string());
    }
    if blocks.iter().any(|b| streams.binary_search_by_key(&b.stream, |s| s.0).is_err()) {
        return Err("block of a stream missing from the stream table".to_string());
    }
    Ok((meta, streams, blocks))
}
