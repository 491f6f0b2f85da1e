//! A block's columns: encoding a stream's sorted rows into the timestamp, line and field sections, and back.

use vigil_model::LogBatch;

use crate::bloom;
use crate::codec::{put_bytes, put_varint, unzigzag, zigzag, Cursor};

/// zstd level for lines and fields.
const ZSTD_LEVEL: i32 = 3;

/// One row to write.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    pub ts: i64,
    pub line: &'a str,
    pub fields: &'a [(String, String)],
}

/// The encoded sections of a block, before they are placed in a part.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    pub ts: Vec<u8>,
    pub lines: Vec<u8>,
    pub lines_raw: u32,
    /// Empty when no row has fields.
    pub fields: Vec<u8>,
    pub fields_raw: u32,
    pub line_bytes: u32,
    /// The token filter (lines and field values).
    pub bloom: Vec<u8>,
    /// The gram filter (lines); empty when no line has a token of `bloom::GRAM` bytes or more.
    pub grams: Vec<u8>,
}

/// Reusable buffers and the zstd context for encoding blocks.
pub(crate) struct Encoder {
    zstd: zstd::bulk::Compressor<'static>,
    raw: Vec<u8>,
    tokens: Vec<u64>,
    grams: Vec<u64>,
}

impl Encoder {
    pub fn new() -> std::io::Result<Encoder> {
        Ok(Encoder {
            zstd: zstd::bulk::Compressor::new(ZSTD_LEVEL)?,
            raw: Vec::new(),
            tokens: Vec::new(),
            grams: Vec::new(),
        })
    }

    /// Encodes rows sorted by timestamp.
    pub fn encode(&mut self, rows: &[Row<'_>]) -> std::io::Result<Encoded> {
        let mut out = Encoded::default();
        let mut prev = 0i64;
        for (i, r) in rows.iter().enumerate() {
            if i == 0 {
                put_varint(&mut out.ts, zigzag(r.ts));
            } else {
                put_varint(&mut out.ts, r.ts.wrapping_sub(prev) as u64);
            }
            prev = r.ts;
        }

        self.tokens.clear();
        self.grams.clear();
        self.raw.clear();
        for r in rows {
            put_varint(&mut self.raw, r.line.len() as u64);
        }
        for r in rows {
            self.raw.extend_from_slice(r.line.as_bytes());
            bloom::token_hashes(r.line, &mut self.tokens);
            bloom::gram_hashes(r.line, &mut self.grams);
            out.line_bytes = out.line_bytes.saturating_add(r.line.len() as u32);
        }
        out.lines_raw = self.raw.len() as u32;
        out.lines = self.zstd.compress(&self.raw)?;

        if rows.iter().any(|r| !r.fields.is_empty()) {
            self.raw.clear();
            for r in rows {
                put_varint(&mut self.raw, r.fields.len() as u64);
                for (n, v) in r.fields {
                    put_bytes(&mut self.raw, n.as_bytes());
                    put_bytes(&mut self.raw, v.as_bytes());
                    bloom::token_hashes(v, &mut self.tokens);
                }
            }
            out.fields_raw = self.raw.len() as u32;
            out.fields = self.zstd.compress(&self.raw)?;
        }
        bloom::to_bytes(&bloom::build(&mut self.tokens, bloom::TOKENS), &mut out.bloom);
        bloom::to_bytes(&bloom::build(&mut self.grams, bloom::GRAMS), &mut out.grams);
        Ok(out)
    }
}

/// Decodes the timestamp section of a block of `count` records.
pub(crate) fn decode_ts(bytes: &[u8], count: usize, out: &mut Vec<i64>) -> Result<(), String> {
    let mut cur = Cursor::new(bytes);
    out.clear();
    let mut prev = 0i64;
    for i in 0..count {
        let v = cur.varint()?;
        prev = if i == 0 { unzigzag(v) } else { prev.wrapping_add(v as i64) };
        out.push(prev);
    }
    if !cur.is_empty() {
        return Err(format!("{} trailing bytes after timestamps", cur.buf.len()));
    }
    Ok(())
}

/// Decompresses a section to exactly `raw_len` bytes.
pub(crate) fn decompress(bytes: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
    let out = zstd::bulk::decompress(bytes, raw_len).map_err(|e| format!("zstd: {e}"))?;
    if out.len() != raw_len {
        return Err(format!("section decompressed to {} bytes, expected {raw_len}", out.len()));
    }
    Ok(out)
}

/// Appends `count` rows to `out` from the decoded timestamps and the raw line and field sections.
pub(crate) fn decode_rows(
    ts: &[i64],
    lines_raw: &[u8],
    fields_raw: Option<&[u8]>,
    out: &mut LogBatch,
) -> Result<(), String> {
    let mut lens = Cursor::new(lines_raw);
    let mut ends = Vec::with_capacity(ts.len());
    let mut total = 0usize;
    for _ in 0..ts.len() {
        total = total.checked_add(lens.varint()? as usize).ok_or("line lengths overflow")?;
        ends.push(total);
    }
    if total != lens.buf.len() {
        return Err(format!("line lengths add up to {total} bytes but {} follow", lens.buf.len()));
    }
    let text = std::str::from_utf8(lens.buf).map_err(|_| "lines are not utf-8".to_string())?;
    let mut fields_cur = fields_raw.map(Cursor::new);
    let mut row_fields = Vec::new();
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        let line = text.get(start..end).ok_or("line is not on a character boundary")?;
        start = end;
        row_fields.clear();
        if let Some(cur) = fields_cur.as_mut() {
            let n = cur.count(2)?;
            for _ in 0..n {
                row_fields.push((cur.str()?.to_string(), cur.str()?.to_string()));
            }
        }
        out.push(ts[i], line, &row_fields);
    }
    if let Some(cur) = fields_cur {
        if !cur.is_empty() {
            return Err(format!("{} trailing bytes after fields", cur.buf.len()));
        }
    }
    Ok(())
}
