//! Writing a part: blocks streamed to a temporary file, then the stream table, block index, meta and footer;
//! fsync, rename into place, fsync the directory.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use vigil_model::Labels;

use super::block::{Encoder, Row};
use super::{part_file_name, PartMeta, Section, FOOTER_BYTES, HEADER, MAGIC};
use crate::codec::{put_bytes, put_varint};
use crate::error::{io_err, Error};
use crate::fsutil;

/// A part being written. Streams must come in ascending id order, a stream's blocks in time order.
pub(crate) struct PartWriter {
    tmp: PathBuf,
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    encoder: Encoder,
    streams: Vec<u8>,
    stream_count: u64,
    last_stream: Option<u64>,
    index: Vec<u8>,
    block_count: u64,
    min_ts: i64,
    max_ts: i64,
    records: u64,
}

impl PartWriter {
    pub fn create(dir: &Path, id: u64) -> Result<PartWriter, Error> {
        let path = dir.join(part_file_name(id));
        let tmp = dir.join(format!("{}.tmp", part_file_name(id)));
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(io_err(&tmp))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&HEADER).map_err(io_err(&tmp))?;
        let encoder = Encoder::new().map_err(io_err(&tmp))?;
        Ok(PartWriter {
            tmp,
            path,
            out,
            offset: HEADER.len() as u64,
            encoder,
            streams: Vec::new(),
            stream_count: 0,
            last_stream: None,
            index: Vec::new(),
            block_count: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            records: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<Section, Error> {
        let section = Section { offset: self.offset, len: bytes.len() as u32, raw_len: 0, crc: crc32fast::hash(bytes) };
        self.out.write_all(bytes).map_err(io_err(&self.tmp))?;
        self.offset += bytes.len() as u64;
        Ok(section)
    }

    /// Writes one block of `stream`: `rows` sorted by timestamp, not empty.
    pub fn add_block(&mut self, stream: u64, labels: &Labels, rows: &[Row<'_>]) -> Result<(), Error> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(()) };
        if self.last_stream != Some(stream) {
            debug_assert!(self.last_stream.is_none_or(|s| s < stream), "streams out of order");
            self.last_stream = Some(stream);
            self.streams.extend_from_slice(&stream.to_le_bytes());
            put_varint(&mut self.streams, labels.len() as u64);
            for l in labels.iter() {
                put_bytes(&mut self.streams, l.name.as_bytes());
                put_bytes(&mut self.streams, l.value.as_bytes());
            }
            self.stream_count += 1;
        }
        let enc = self.encoder.encode(rows).map_err(io_err(&self.tmp))?;
        let ts = self.write(&enc.ts)?;
        let mut lines = self.write(&enc.lines)?;
        lines.raw_len = enc.lines_raw;
        let mut fields = self.write(&enc.fields)?;
        fields.raw_len = enc.fields_raw;

        let ix = &mut self.index;
        ix.extend_from_slice(&stream.to_le_bytes());
        ix.extend_from_slice(&first.ts.to_le_bytes());
        ix.extend_from_slice(&last.ts.to_le_bytes());
        ix.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        ix.extend_from_slice(&enc.line_bytes.to_le_bytes());
        ix.extend_from_slice(&ts.offset.to_le_bytes());
        ix.extend_from_slice(&ts.len.to_le_bytes());
        ix.extend_from_slice(&ts.crc.to_le_bytes());
        for s in [lines, fields] {
            ix.extend_from_slice(&s.offset.to_le_bytes());
            ix.extend_from_slice(&s.len.to_le_bytes());
            ix.extend_from_slice(&s.raw_len.to_le_bytes());
            ix.extend_from_slice(&s.crc.to_le_bytes());
        }
        ix.extend_from_slice(&(enc.bloom.len() as u32).to_le_bytes());
        ix.extend_from_slice(&enc.bloom);
        ix.extend_from_slice(&(enc.grams.len() as u32).to_le_bytes());
        ix.extend_from_slice(&enc.grams);
        self.block_count += 1;
        self.min_ts = self.min_ts.min(first.ts);
        self.max_ts = self.max_ts.max(last.ts);
        self.records += rows.len() as u64;
        Ok(())
    }

    /// Completes the part and makes it durable under its final name; returns that path. `meta`'s time range
    /// and record count are filled in here. A part with no block is discarded (`None`).
    pub fn finish(mut self, mut meta: PartMeta) -> Result<Option<PathBuf>, Error> {
        if self.block_count == 0 {
            drop(self.out);
            std::fs::remove_file(&self.tmp).map_err(io_err(&self.tmp))?;
            return Ok(None);
        }
        meta.min_ts = self.min_ts;
        meta.max_ts = self.max_ts;
        meta.records = self.records;
        let mut meta_bytes = Vec::new();
        for v in [meta.partition_start, meta.partition_end, meta.wal_before as i64, meta.min_ts, meta.max_ts] {
            meta_bytes.extend_from_slice(&v.to_le_bytes());
        }
        meta_bytes.extend_from_slice(&meta.records.to_le_bytes());
        put_varint(&mut meta_bytes, meta.replaces.len() as u64);
        for id in &meta.replaces {
            meta_bytes.extend_from_slice(&id.to_le_bytes());
        }
        let mut streams = Vec::new();
        put_varint(&mut streams, self.stream_count);
        streams.extend_from_slice(&std::mem::take(&mut self.streams));
        let mut index = Vec::new();
        put_varint(&mut index, self.block_count);
        index.extend_from_slice(&std::mem::take(&mut self.index));

        let mut footer = Vec::with_capacity(FOOTER_BYTES);
        for region in [&meta_bytes, &streams, &index] {
            let s = self.write(region)?;
            footer.extend_from_slice(&s.offset.to_le_bytes());
            footer.extend_from_slice(&u64::from(s.len).to_le_bytes());
            footer.extend_from_slice(&s.crc.to_le_bytes());
        }
        let crc = crc32fast::hash(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(&MAGIC);
        self.out.write_all(&footer).map_err(io_err(&self.tmp))?;
        let file = self.out.into_inner().map_err(|e| Error::Io { path: self.tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.tmp))?;
        Ok(Some(self.path))
    }
}

/// Fsyncs the directory a finished part was renamed into; a failure here leaves it unknown whether the part
/// survives a crash, which the caller must treat as fatal for writes.
pub(crate) fn sync_part_dir(path: &Path) -> Result<(), Error> {
    match path.parent() {
        Some(dir) => fsutil::sync_dir(dir),
        None => Ok(()),
    }
}
