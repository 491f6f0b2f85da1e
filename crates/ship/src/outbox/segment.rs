//! Outbox segment files: a magic header, then records framed as length, CRC-32 and kind; scanning stops at the
//! first torn or corrupt record.

use std::{
    fs::{self, File},
    io::{self, Read as _},
    path::{Path, PathBuf},
};

use crate::codec::{Reader, Writer};

pub(crate) const MAGIC: &[u8; 8] = b"VIGOBX1\n";
pub(crate) const HEADER_BYTES: u64 = MAGIC.len() as u64;
/// Length and CRC before every record's kind and body.
pub(crate) const FRAME_BYTES: u64 = 8;
pub(crate) const KIND_BATCH: u8 = 1;
pub(crate) const KIND_ACK: u8 = 2;

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.seg"))
}

/// The sequence number of a segment file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Frames one record: `len u32 | crc u32 | kind u8 | body`, `len` counting kind and body, the CRC over both.
pub(crate) fn frame(kind: u8, body: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut out = vec![0u8; FRAME_BYTES as usize];
    out.push(kind);
    body(&mut Writer(&mut out));
    let len = (out.len() - FRAME_BYTES as usize) as u32;
    let crc = crc32fast::hash(&out[FRAME_BYTES as usize..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// One record found by [`scan`].
pub(crate) struct Found {
    pub offset: u64,
    /// Framed length (frame included).
    pub len: u64,
    pub kind: u8,
    /// The first bytes of the body: a batch's id and line count, an ack's id.
    pub id: u64,
    pub lines: u32,
}

pub(crate) struct Scan {
    pub records: Vec<Found>,
    /// Where the valid records end; bytes after it are torn or corrupt.
    pub valid_end: u64,
    pub file_len: u64,
    pub bad_header: bool,
}

/// Reads a segment's records. Reads at most `max_bytes`; a longer file is treated as corrupt after that point.
pub(crate) fn scan(path: &Path, max_bytes: u64) -> io::Result<Scan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut data = Vec::new();
    file.take(max_bytes).read_to_end(&mut data)?;
    let mut s = Scan { records: Vec::new(), valid_end: 0, file_len, bad_header: false };
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        s.bad_header = true;
        return Ok(s);
    }
    let mut off = MAGIC.len();
    s.valid_end = off as u64;
    while let Some((len, kind, id, lines)) = record_at(&data, off) {
        s.records.push(Found { offset: off as u64, len: len as u64, kind, id, lines });
        off += len;
        s.valid_end = off as u64;
    }
    Ok(s)
}

/// The record at `off`, if it is whole and its CRC matches: (framed length, kind, id, lines).
fn record_at(data: &[u8], off: usize) -> Option<(usize, u8, u64, u32)> {
    let rest = data.get(off..)?;
    let mut r = Reader::new(rest);
    let len = r.u32("record length").ok()? as usize;
    let crc = r.u32("record crc").ok()?;
    let body = rest.get(FRAME_BYTES as usize..FRAME_BYTES as usize + len)?;
    if len == 0 || crc32fast::hash(body) != crc {
        return None;
    }
    let mut r = Reader::new(&body[1..]);
    let kind = body[0];
    let id = r.u64("record id").ok()?;
    let lines = if kind == KIND_BATCH { r.u32("line count").ok()? } else { 0 };
    Some((FRAME_BYTES as usize + len, kind, id, lines))
}

/// Reads and checks one record's body (kind byte excluded) at `offset`.
pub(crate) fn read_record(path: &Path, offset: u64, len: u64) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::fs::FileExt as _;
    if len < FRAME_BYTES + 1 {
        return Ok(None);
    }
    let file = File::open(path)?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if crc32fast::hash(&buf[FRAME_BYTES as usize..]) != crc {
        return Ok(None);
    }
    Ok(Some(buf.split_off(FRAME_BYTES as usize + 1)))
}

pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
