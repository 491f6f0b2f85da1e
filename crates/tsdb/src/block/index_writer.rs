//! Writes the `index` file of a block from what [`super::BlockWriter`] collected: symbols, series records,
//! postings, value and name tables, table of contents and CRC-32, in one pass through a write buffer.

use std::collections::HashMap;
use std::path::Path;

use roaring::RoaringBitmap;

use super::buffered::BufferedFile;
use super::cursor::put_uvarint;
use super::error::BlockError;
use super::layout::{header, Toc, FORMAT_VERSION, INDEX_MAGIC, STRIDE};
use super::postings;
use crate::backend::Backend;

/// What the block writer collected. Symbols are provisional until the strings are sorted.
#[derive(Debug)]
pub(super) struct IndexInput {
    pub min_t: i64,
    pub series_count: u64,
    /// Every distinct string, sorted, with its provisional symbol.
    pub strings: Vec<(Box<str>, u32)>,
    /// Per series: label count n, n provisional (name, value) pairs, the byte length of its chunk references.
    pub series_labels: Vec<u32>,
    /// Per series: its encoded chunk references.
    pub series_chunks: Vec<u8>,
    pub postings: HashMap<(u32, u32), RoaringBitmap>,
}

/// Writes and fsyncs the index at `path`.
pub(super) fn write_index(backend: &dyn Backend, path: &Path, input: IndexInput) -> Result<(), BlockError> {
    let mut f = BufferedFile::create(backend, path)?.with_crc();
    f.write(&header(INDEX_MAGIC, FORMAT_VERSION))?;
    let mut toc = Toc { min_t: input.min_t, series_count: input.series_count, ..Toc::default() };
    let mut buf = Vec::new();

    toc.symbols = f.len();
    toc.symbol_count = input.strings.len() as u64;
    let mut remap = vec![0u32; input.strings.len()];
    let mut samples = Vec::new();
    for (sym, (s, provisional)) in input.strings.iter().enumerate() {
        if (sym as u64).is_multiple_of(STRIDE) {
            samples.extend_from_slice(&relative(f.len() - toc.symbols)?.to_le_bytes());
        }
        remap[*provisional as usize] = sym as u32;
        buf.clear();
        put_uvarint(&mut buf, s.len() as u64);
        buf.extend_from_slice(s.as_bytes());
        f.write(&buf)?;
    }
    drop(input.strings);
    toc.symbol_samples = f.len();
    f.write(&samples)?;

    toc.series = f.len();
    samples.clear();
    let (labels, chunks) = (&input.series_labels, &input.series_chunks);
    let (mut li, mut ci) = (0, 0);
    let mut record = Vec::new();
    for ord in 0..input.series_count {
        if ord.is_multiple_of(STRIDE) {
            samples.extend_from_slice(&f.len().to_le_bytes());
        }
        let n = labels[li] as usize;
        record.clear();
        put_uvarint(&mut record, n as u64);
        for &provisional in &labels[li + 1..li + 1 + 2 * n] {
            put_uvarint(&mut record, u64::from(remap[provisional as usize]));
        }
        li += 1 + 2 * n;
        let chunks_len = labels[li] as usize;
        li += 1;
        record.extend_from_slice(&chunks[ci..ci + chunks_len]);
        ci += chunks_len;
        buf.clear();
        put_uvarint(&mut buf, record.len() as u64);
        f.write(&buf)?;
        f.write(&record)?;
    }
    drop(input.series_labels);
    drop(input.series_chunks);
    toc.series_samples = f.len();
    f.write(&samples)?;

    toc.postings = f.len();
    let mut pairs: Vec<((u32, u32), RoaringBitmap)> =
        input.postings.into_iter().map(|((n, v), ids)| ((remap[n as usize], remap[v as usize]), ids)).collect();
    pairs.sort_unstable_by_key(|&(pair, _)| pair);
    let mut table = Vec::with_capacity(pairs.len());
    for (pair, mut ids) in pairs {
        table.push((pair, relative(f.len() - toc.postings)?));
        buf.clear();
        postings::encode(&mut ids, &mut buf);
        f.write(&buf)?;
    }

    toc.value_tables = f.len();
    let mut names: Vec<(u32, u32, u64)> = Vec::new();
    for &((name, value), offset) in &table {
        match names.last_mut() {
            Some((last, count, _)) if *last == name => *count += 1,
            _ => names.push((name, 1, f.len())),
        }
        f.write(&value.to_le_bytes())?;
        f.write(&offset.to_le_bytes())?;
    }

    toc.names = f.len();
    toc.name_count = names.len() as u64;
    for (name, count, offset) in names {
        f.write(&name.to_le_bytes())?;
        f.write(&count.to_le_bytes())?;
        f.write(&offset.to_le_bytes())?;
    }
    f.write(&toc.encode())?;
    let crc = f.crc();
    f.write(&crc.to_le_bytes())?;
    f.sync()
}

/// An offset within a section, which the format stores in 32 bits.
fn relative(offset: u64) -> Result<u32, BlockError> {
    u32::try_from(offset).map_err(|_| BlockError::InvalidInput("an index section exceeds 4 GiB".into()))
}
