//! WAL segment files: their names, the 8-byte header, listing a WAL directory and reading one segment back.

use std::path::Path;

use super::record::{self, Record};
use super::{io_err, WalError};
use crate::backend::Backend;

/// The format version written in every segment header. Version 2 segments may hold chunk records in encodings
/// that version 1 readers lack (grouped and split); both versions are read.
pub const FORMAT_VERSION: u8 = 2;

/// The oldest format version still read.
const OLDEST_READ_VERSION: u8 = 1;

const MAGIC: [u8; 4] = *b"VWAL";

/// Segment header: magic `VWAL`, the format version, three reserved zero bytes.
pub(crate) const HEADER: [u8; 8] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], FORMAT_VERSION, 0, 0, 0];
pub(crate) const HEADER_BYTES: u64 = HEADER.len() as u64;

const CHECKPOINT_PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";

pub(crate) fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

pub(crate) fn checkpoint_name(n: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{n:08}")
}

pub(crate) fn checkpoint_tmp_name(n: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{n:08}{TMP_SUFFIX}")
}

fn parse_number(s: &str) -> Option<u64> {
    if s.len() < 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// What a WAL directory holds, each list sorted ascending.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub segments: Vec<u64>,
    pub checkpoints: Vec<u64>,
    /// Names of unfinished checkpoint directories.
    pub tmp: Vec<String>,
}

pub(crate) fn list(backend: &dyn Backend, dir: &Path) -> Result<Listing, WalError> {
    let mut listing = Listing::default();
    for entry in backend.list_dir(dir).map_err(io_err(dir))? {
        if !entry.is_dir {
            if let Some(n) = parse_number(&entry.name) {
                listing.segments.push(n);
            }
            continue;
        }
        let Some(rest) = entry.name.strip_prefix(CHECKPOINT_PREFIX) else { continue };
        if rest.strip_suffix(TMP_SUFFIX).and_then(parse_number).is_some() {
            listing.tmp.push(entry.name.clone());
        } else if let Some(n) = parse_number(rest) {
            listing.checkpoints.push(n);
        }
    }
    listing.segments.sort_unstable();
    listing.checkpoints.sort_unstable();
    Ok(listing)
}

/// A damaged tail found in a segment whose tail may be torn.
#[derive(Debug)]
pub(crate) struct Torn {
    pub offset: u64,
    pub reason: String,
}

/// The outcome of reading one segment.
#[derive(Debug)]
pub(crate) struct SegmentRead {
    pub records: u64,
    pub torn: Option<Torn>,
}

/// Reads the records of one segment and hands each to `on_record`.
///
/// With `tail_may_tear` (the last segment of the log), a frame that is cut short or fails its checksum ends the
/// segment and is reported as `torn`, and so does a header that never reached the disk; otherwise it is a
/// `Corrupt` error. A frame whose
/// checksum matches but whose payload does not decode is always an error.
pub(crate) fn read(
    bytes: &[u8],
    path: &Path,
    tail_may_tear: bool,
    on_record: &mut dyn FnMut(Record),
) -> Result<SegmentRead, WalError> {
    let corrupt = |offset: u64, reason: String| WalError::Corrupt { path: path.to_path_buf(), offset, reason };
    let mut read = SegmentRead { records: 0, torn: None };
    let header_ok = bytes.len() >= HEADER.len() && bytes[..4] == MAGIC && bytes[5..8] == [0, 0, 0];
    if !header_ok {
        let reason = "missing or damaged segment header".to_string();
        // A header that never reached the disk leaves the file shorter than a header or zero-filled. A damaged
        // header in a file with other content is bit rot, even in the last segment: never cut it away.
        let never_written = bytes.len() < HEADER.len() || bytes.iter().all(|&b| b == 0);
        if tail_may_tear && never_written {
            read.torn = Some(Torn { offset: 0, reason });
            return Ok(read);
        }
        return Err(corrupt(0, reason));
    }
    if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&bytes[4]) {
        return Err(WalError::UnsupportedVersion { path: path.to_path_buf(), version: bytes[4] });
    }
    let mut pos = HEADER.len();
    while pos < bytes.len() {
        let frame = match record::read_frame(bytes, pos) {
            Ok(frame) => frame,
            Err(reason) if tail_may_tear => {
                read.torn = Some(Torn { offset: pos as u64, reason });
                return Ok(read);
            }
            Err(reason) => return Err(corrupt(pos as u64, reason)),
        };
        let record = record::decode_payload(frame.kind, frame.payload).map_err(|reason| corrupt(pos as u64, reason))?;
        on_record(record);
        read.records += 1;
        pos = frame.end;
    }
    Ok(read)
}
