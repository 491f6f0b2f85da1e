//! File identity: the (device, inode) pair of an open file and the CRC of its first bytes.

use std::{
    fs::File,
    io,
    os::unix::fs::{FileExt as _, MetadataExt as _},
};

use crate::positions::{FileId, Fingerprint, FINGERPRINT_BYTES};

pub(crate) fn file_id(meta: &std::fs::Metadata) -> FileId {
    FileId { dev: meta.dev(), ino: meta.ino() }
}

/// The fingerprint of the first `len` bytes (at most [`FINGERPRINT_BYTES`]); fewer if the file is shorter.
pub(crate) fn fingerprint(file: &File, len: u64) -> io::Result<Fingerprint> {
    let mut buf = [0u8; FINGERPRINT_BYTES as usize];
    let want = len.min(FINGERPRINT_BYTES as u64) as usize;
    let n = read_prefix(file, &mut buf[..want])?;
    Ok(Fingerprint { len: n as u32, crc: crc32fast::hash(&buf[..n]) })
}

/// Whether the file still starts with the bytes `fp` was taken from.
pub(crate) fn prefix_matches(file: &File, fp: &Fingerprint) -> io::Result<bool> {
    if fp.len == 0 {
        return Ok(true);
    }
    let now = fingerprint(file, fp.len as u64)?;
    Ok(now == *fp)
}

fn read_prefix(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
