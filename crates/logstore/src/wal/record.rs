//! WAL records: the entries of one append (or a slice of one), their payload encoding and the checksummed
//! frame around each.

use vigil_model::{Labels, LogEntry};

use crate::codec::{put_bytes, put_varint, unzigzag, zigzag, Cursor};

/// The largest payload a record may have. A longer length field is treated as damage, never allocated.
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;

/// An append is cut into records of about this many payload bytes.
pub(crate) const TARGET_RECORD_BYTES: usize = 4 << 20;

/// Bytes in front of a payload: length (u32 LE), CRC32 (u32 LE) of type and payload, type (u8).
pub(crate) const FRAME_HEADER_BYTES: usize = 9;

const TYPE_ENTRIES: u8 = 1;

/// Encodes the streams of an append as framed records into `out`, cutting a new record whenever one reaches
/// [`TARGET_RECORD_BYTES`]; `ends` receives the end of each frame. `keep(stream, entry)` says which entries to
/// log (the refused ones are not).
pub(crate) fn encode(
    streams: &[(Labels, Vec<LogEntry>)],
    keep: &dyn Fn(usize, usize) -> bool,
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) {
    fn flush(payload: &mut Vec<u8>, stream_count: &mut u64, out: &mut Vec<u8>, ends: &mut Vec<usize>) {
        if *stream_count == 0 {
            return;
        }
        let mut body = Vec::with_capacity(payload.len() + 11);
        body.push(TYPE_ENTRIES);
        put_varint(&mut body, *stream_count);
        body.extend_from_slice(payload);
        out.extend_from_slice(&((body.len() - 1) as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        ends.push(out.len());
        payload.clear();
        *stream_count = 0;
    }
    let mut payload = Vec::new();
    let mut stream_count = 0u64;
    for (s, (labels, entries)) in streams.iter().enumerate() {
        let mut i = 0;
        while i < entries.len() {
            // One run of this stream's kept entries, up to the record target.
            let mut run = Vec::new();
            let mut count = 0u64;
            let mut prev = 0i64;
            while i < entries.len() && payload.len() + run.len() < TARGET_RECORD_BYTES {
                if keep(s, i) {
                    let e = &entries[i];
                    put_varint(&mut run, zigzag(e.ts_ns.wrapping_sub(prev)));
                    prev = e.ts_ns;
                    put_bytes(&mut run, e.line.as_bytes());
                    put_varint(&mut run, e.fields.len() as u64);
                    for (n, v) in &e.fields {
                        put_bytes(&mut run, n.as_bytes());
                        put_bytes(&mut run, v.as_bytes());
                    }
                    count += 1;
                }
                i += 1;
            }
            if count > 0 {
                put_varint(&mut payload, labels.len() as u64);
                for l in labels.iter() {
                    put_bytes(&mut payload, l.name.as_bytes());
                    put_bytes(&mut payload, l.value.as_bytes());
                }
                put_varint(&mut payload, count);
                payload.extend_from_slice(&run);
                stream_count += 1;
            }
            if payload.len() >= TARGET_RECORD_BYTES {
                flush(&mut payload, &mut stream_count, out, ends);
            }
        }
    }
    flush(&mut payload, &mut stream_count, out, ends);
}

/// A frame read from a buffer.
pub(crate) struct Frame<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
    pub end: usize,
}

/// Reads the frame starting at `pos`. An error is a framing failure (cut short or checksum mismatch), which at
/// the tail of the last segment is what a crash leaves behind.
pub(crate) fn read_frame(buf: &[u8], pos: usize) -> Result<Frame<'_>, String> {
    let rest = buf.get(pos..).unwrap_or_default();
    let Some(header) = rest.get(..FRAME_HEADER_BYTES) else {
        return Err(format!("record header cut short after {} bytes", rest.len()));
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_RECORD_BYTES {
        return Err(format!("record length {len} exceeds the limit of {MAX_RECORD_BYTES}"));
    }
    let Some(body) = rest.get(8..FRAME_HEADER_BYTES + len) else {
        return Err(format!("record of {len} bytes cut short at end of file"));
    };
    if crc32fast::hash(body) != crc {
        return Err("record checksum mismatch".to_string());
    }
    Ok(Frame { kind: body[0], payload: &body[1..], end: pos + FRAME_HEADER_BYTES + len })
}

/// Decodes a payload whose checksum matched into its streams. An error means a bug or an unknown format.
pub(crate) fn decode(kind: u8, payload: &[u8]) -> Result<Vec<(Labels, Vec<LogEntry>)>, String> {
    if kind != TYPE_ENTRIES {
        return Err(format!("unknown record type {kind}"));
    }
    let mut cur = Cursor::new(payload);
    let streams = cur.count(2)?;
    let mut out = Vec::with_capacity(streams);
    for _ in 0..streams {
        let label_count = cur.count(2)?;
        let mut pairs = Vec::with_capacity(label_count);
        for _ in 0..label_count {
            pairs.push((cur.str()?, cur.str()?));
        }
        let labels = Labels::from_pairs(pairs).map_err(|e| format!("invalid labels: {e}"))?;
        if labels.len() != label_count {
            return Err("label with an empty value".to_string());
        }
        let count = cur.count(3)?;
        let mut entries = Vec::with_capacity(count);
        let mut prev = 0i64;
        for _ in 0..count {
            let ts_ns = prev.wrapping_add(unzigzag(cur.varint()?));
            prev = ts_ns;
            let line = cur.str()?.to_string();
            let field_count = cur.count(2)?;
            let mut fields = Vec::with_capacity(field_count);
            for _ in 0..field_count {
                fields.push((cur.str()?.to_string(), cur.str()?.to_string()));
            }
            entries.push(LogEntry { ts_ns, line, fields });
        }
        out.push((labels, entries));
    }
    if !cur.is_empty() {
        return Err(format!("{} trailing bytes after record", cur.buf.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_skip_refused_entries() {
        let labels = Labels::from_pairs([("job", "a")]).unwrap();
        let entries = vec![
            LogEntry { ts_ns: 5, line: "x".into(), fields: vec![] },
            LogEntry { ts_ns: 3, line: "skipped".into(), fields: vec![] },
            LogEntry { ts_ns: -2, line: "y".into(), fields: vec![("ip".into(), "1.2.3.4".into())] },
        ];
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        encode(&[(labels.clone(), entries.clone())], &|_, i| i != 1, &mut out, &mut ends);
        assert_eq!(ends, [out.len()]);
        let frame = read_frame(&out, 0).unwrap();
        let decoded = decode(frame.kind, frame.payload).unwrap();
        assert_eq!(decoded, [(labels, vec![entries[0].clone(), entries[2].clone()])]);
        out[12] ^= 1;
        assert!(read_frame(&out, 0).is_err());
    }
}
