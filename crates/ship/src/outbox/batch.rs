//! Batches: streams of entries plus the source positions they cover, gathered by [`BatchBuilder`] and encoded
//! for the outbox.

use std::collections::HashMap;

use vigil_model::{log::LogEntry, Labels};

use crate::{
    codec::{CodecError, Reader, Writer},
    positions::{FileId, FilePosition, Fingerprint, Position},
};

/// What the agent sends in one push: entries grouped by stream, and the last position of every source whose
/// lines they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub streams: Vec<(Labels, Vec<LogEntry>)>,
    pub positions: Vec<Position>,
}

impl Batch {
    pub fn lines(&self) -> usize {
        self.streams.iter().map(|(_, e)| e.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.positions.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    File(FileId),
    Journal,
}

/// Gathers lines into a [`Batch`], one stream per label set, keeping only the last position of each source.
#[derive(Default)]
pub struct BatchBuilder {
    batch: Batch,
    streams: HashMap<Labels, usize>,
    sources: HashMap<Source, usize>,
    bytes: usize,
}

impl BatchBuilder {
    /// Adds one entry of stream `labels` read up to `pos`. Entries of a source must be added in read order.
    pub fn add(&mut self, labels: &Labels, entry: LogEntry, pos: Position) {
        self.bytes += 24 + entry.line.len() + entry.fields.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>();
        let i = match self.streams.get(labels) {
            Some(&i) => i,
            None => {
                self.bytes += labels.iter().map(|l| l.name.len() + l.value.len() + 8).sum::<usize>();
                self.batch.streams.push((labels.clone(), Vec::new()));
                self.streams.insert(labels.clone(), self.batch.streams.len() - 1);
                self.batch.streams.len() - 1
            }
        };
        self.batch.streams[i].1.push(entry);
        self.set_position(pos);
    }

    /// Records a position without an entry (e.g. lines a filter dropped: they need no resend either).
    pub fn set_position(&mut self, pos: Position) {
        let key = match &pos {
            Position::File(f) => Source::File(f.id),
            Position::Journal(_) => Source::Journal,
        };
        match self.sources.get(&key) {
            Some(&i) => self.batch.positions[i] = pos,
            None => {
                self.sources.insert(key, self.batch.positions.len());
                self.batch.positions.push(pos);
            }
        }
    }

    /// The approximate encoded size of the batch so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn lines(&self) -> usize {
        self.batch.lines()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The batch so far; the builder starts over.
    pub fn take(&mut self) -> Batch {
        self.streams.clear();
        self.sources.clear();
        self.bytes = 0;
        std::mem::take(&mut self.batch)
    }
}

const POS_FILE: u8 = 1;
const POS_JOURNAL: u8 = 2;

pub(crate) fn encode(batch: &Batch, w: &mut Writer<'_>) {
    encode_positions(&batch.positions, w);
    w.u32(batch.streams.len() as u32);
    for (labels, entries) in &batch.streams {
        w.labels(labels);
        w.u32(entries.len() as u32);
        for e in entries {
            w.entry(e);
        }
    }
}

fn encode_positions(positions: &[Position], w: &mut Writer<'_>) {
    w.u32(positions.len() as u32);
    for p in positions {
        match p {
            Position::File(f) => {
                w.u8(POS_FILE);
                w.u64(f.id.dev);
                w.u64(f.id.ino);
                w.u32(f.fp.len);
                w.u32(f.fp.crc);
                w.u64(f.offset);
                w.str(&f.path);
            }
            Position::Journal(c) => {
                w.u8(POS_JOURNAL);
                w.str(c);
            }
        }
    }
}

pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Batch, CodecError> {
    let positions = decode_positions(r)?;
    let n = r.count("stream count", 8)?;
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let labels = r.labels()?;
        let m = r.count("entry count", 16)?;
        let mut entries = Vec::with_capacity(m);
        for _ in 0..m {
            entries.push(r.entry()?);
        }
        streams.push((labels, entries));
    }
    Ok(Batch { streams, positions })
}

/// The positions at the start of an encoded batch, without decoding its entries.
pub(crate) fn decode_positions(r: &mut Reader<'_>) -> Result<Vec<Position>, CodecError> {
    let n = r.count("position count", 5)?;
    let mut positions = Vec::with_capacity(n);
    for _ in 0..n {
        positions.push(match r.u8("position kind")? {
            POS_FILE => {
                let id = FileId { dev: r.u64("dev")?, ino: r.u64("inode")? };
                let fp = Fingerprint { len: r.u32("fingerprint length")?, crc: r.u32("fingerprint crc")? };
                let offset = r.u64("offset")?;
                let path = r.str("path")?.into();
                Position::File(FilePosition { id, fp, offset, path })
            }
            POS_JOURNAL => Position::Journal(r.str("cursor")?),
            _ => return Err(CodecError::Invalid("position kind")),
        });
    }
    Ok(positions)
}
