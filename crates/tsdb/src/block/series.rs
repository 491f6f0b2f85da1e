//! Series records of the index: a series' labels as symbol pairs and its chunk references, delta-encoded.
//!
//! ```text
//! uvarint len                      bytes of the record after this field
//! uvarint n                        label count
//! n × (uvarint name symbol, uvarint value symbol)    names strictly increasing
//! uvarint c                        chunk count, at least 1
//! c × (uvarint start, uvarint span, uvarint offset << 1 | shared, [uvarint timestamps offset if shared])
//! ```
//!
//! A chunk's `start` is its `min_t` minus the block's `min_t` for the first chunk, minus the previous chunk's
//! `max_t + 1` for the others; `span` is `max_t - min_t`; `offset` is the record's offset in `chunks` for the
//! first chunk, the difference from the previous chunk's offset for the others. When `shared` is 1 the record
//! holds only the chunk's values and its timestamps are in the timestamp column at the given offset.

use super::cursor::{put_uvarint, Cursor, Malformed};

/// Where a chunk of a series is in the `chunks` file, and the timestamps of its first and last samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChunkRef {
    pub min_t: i64,
    /// The last sample's timestamp (inclusive, unlike the block's `max_t`).
    pub max_t: i64,
    pub offset: u64,
    /// The offset of the shared timestamp column in `chunks` when the record at `offset` holds only values.
    pub timestamps: Option<u64>,
}

/// Appends the chunk count and chunk references of a series record. The references are in time order, do
/// not overlap, start at or after `block_min_t`, and have increasing offsets (the writer checks all of this).
pub(super) fn encode_chunk_refs(out: &mut Vec<u8>, block_min_t: i64, refs: &[ChunkRef]) {
    put_uvarint(out, refs.len() as u64);
    let mut prev: Option<&ChunkRef> = None;
    for r in refs {
        let (start, offset) = match prev {
            None => (r.min_t.abs_diff(block_min_t), r.offset),
            Some(p) => (r.min_t.abs_diff(p.max_t) - 1, r.offset - p.offset),
        };
        put_uvarint(out, start);
        put_uvarint(out, r.max_t.abs_diff(r.min_t));
        put_uvarint(out, offset << 1 | u64::from(r.timestamps.is_some()));
        if let Some(ts) = r.timestamps {
            put_uvarint(out, ts);
        }
        prev = Some(r);
    }
}

/// A series record being decoded: first its labels, then its chunk references.
#[derive(Debug)]
pub(super) struct SeriesRecord<'a> {
    c: Cursor<'a>,
    labels_left: u64,
    prev_name: Option<u32>,
}

impl<'a> SeriesRecord<'a> {
    /// Starts decoding the record at the cursor, which must hold exactly the record after its length.
    pub(super) fn new(mut c: Cursor<'a>) -> Result<SeriesRecord<'a>, Malformed> {
        let labels_left = c.uvarint()?;
        // Each label takes at least two bytes.
        if labels_left > c.remaining() as u64 / 2 {
            return Err(c.error("label count exceeds the record"));
        }
        Ok(SeriesRecord { c, labels_left, prev_name: None })
    }

    pub(super) fn label_count(&self) -> u64 {
        self.labels_left
    }

    /// The next label as (name symbol, value symbol).
    pub(super) fn next_label(&mut self) -> Result<Option<(u32, u32)>, Malformed> {
        if self.labels_left == 0 {
            return Ok(None);
        }
        let at = self.c;
        let name = self.c.uvarint_u32()?;
        let value = self.c.uvarint_u32()?;
        if self.prev_name.is_some_and(|p| p >= name) {
            return Err(at.error("label names not in order"));
        }
        self.prev_name = Some(name);
        self.labels_left -= 1;
        Ok(Some((name, value)))
    }

    /// The chunk references, after the labels; the record must end after them.
    pub(super) fn chunk_refs(mut self, block_min_t: i64) -> Result<Vec<ChunkRef>, Malformed> {
        while self.next_label()?.is_some() {}
        let c = &mut self.c;
        let count = c.uvarint()?;
        // Each reference takes at least three bytes.
        if count == 0 || count > c.remaining() as u64 / 3 {
            return Err(c.error("chunk count is zero or exceeds the record"));
        }
        let mut refs: Vec<ChunkRef> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let at = *c;
            let (start, span, field) = (c.uvarint()?, c.uvarint()?, c.uvarint()?);
            let timestamps = if field & 1 == 1 { Some(c.uvarint()?) } else { None };
            let offset = field >> 1;
            let (base, offset) = match refs.last() {
                None => (Some(block_min_t), Some(offset)),
                Some(p) => (p.max_t.checked_add(1), p.offset.checked_add(offset).filter(|_| offset > 0)),
            };
            let min_t = base.and_then(|b| b.checked_add_unsigned(start));
            let max_t = min_t.and_then(|t| t.checked_add_unsigned(span));
            let (Some(min_t), Some(max_t), Some(offset)) = (min_t, max_t, offset) else {
                return Err(at.error("chunk reference out of range"));
            };
            refs.push(ChunkRef { min_t, max_t, offset, timestamps });
        }
        if !c.is_empty() {
            return Err(c.error("data after the chunk references"));
        }
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_refs_round_trip_at_the_extremes() {
        let refs = [
            ChunkRef { min_t: i64::MIN, max_t: -1, offset: 8, timestamps: None },
            ChunkRef { min_t: 0, max_t: 0, offset: 20, timestamps: Some(8) },
            ChunkRef { min_t: 1, max_t: i64::MAX, offset: u64::MAX >> 1, timestamps: Some(u64::MAX) },
        ];
        let mut out = vec![0];
        encode_chunk_refs(&mut out, i64::MIN, &refs);
        let record = SeriesRecord::new(Cursor::new(&out, 0, out.len() as u64).unwrap()).unwrap();
        assert_eq!(record.chunk_refs(i64::MIN).unwrap(), refs);
    }
}
