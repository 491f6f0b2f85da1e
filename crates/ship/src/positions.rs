//! Source positions (file identity and offset, journald cursor) and the positions file that persists the
//! acknowledged ones, replaced atomically on every commit.
//!
//! The file holds only what the caller applied: the agent applies a batch's positions once the batch is durable
//! in the outbox. On restart the tailer resumes from these offsets, so lines after them are read again
//! (duplicates are possible, loss is not).

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, Read as _},
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    codec::{CodecError, Reader, Writer},
    fsutil,
};

/// How many leading bytes of a file its fingerprint covers.
pub const FINGERPRINT_BYTES: u32 = 1024;

const MAGIC: &[u8; 8] = b"VIGPOS1\n";
/// A positions file larger than this is not one of ours.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Where a file lives on disk: survives renames, not copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// The CRC-32 of a file's first `len` bytes (`len` is [`FINGERPRINT_BYTES`] once the file is that long). Appends
/// leave it valid; a truncation, or a new file on a reused inode, changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub len: u32,
    pub crc: u32,
}

impl Fingerprint {
    /// Whether the fingerprint covers all [`FINGERPRINT_BYTES`]: only then does it identify a file on its own.
    pub fn is_full(&self) -> bool {
        self.len >= FINGERPRINT_BYTES
    }
}

/// The position after one emitted line of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePosition {
    pub id: FileId,
    pub fp: Fingerprint,
    /// Byte offset just after the line.
    pub offset: u64,
    /// The file's path when the line was read (used to find a renamed file again after a restart).
    pub path: Arc<str>,
}

/// Where a source is after an emitted line or record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    File(FilePosition),
    /// A journald `__CURSOR`.
    Journal(String),
}

/// The committed position of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub fp: Fingerprint,
    pub offset: u64,
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    #[error("positions file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("positions file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// The acknowledged positions of every source, and where they are saved.
#[derive(Debug)]
pub struct Positions {
    path: PathBuf,
    /// When the loaded file was last committed (its modification time).
    committed_at: Option<std::time::SystemTime>,
    files: BTreeMap<FileId, FileEntry>,
    journal: Option<String>,
}

impl Positions {
    /// Reads the positions file at `path`; a missing file is an empty set. A leftover `.tmp` sibling is ignored
    /// (it is the half-written replacement of an interrupted commit).
    pub fn load(path: &Path) -> Result<Positions, PositionsError> {
        let io_err = |source| PositionsError::Io { path: path.to_path_buf(), source };
        let mut p = Positions { path: path.to_path_buf(), committed_at: None, files: BTreeMap::new(), journal: None };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(io_err(e)),
        };
        p.committed_at = file.metadata().and_then(|m| m.modified()).ok();
        let mut data = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data).map_err(io_err)?;
        let corrupt = |reason: String| PositionsError::Corrupt { path: path.to_path_buf(), reason };
        if data.len() as u64 > MAX_FILE_BYTES {
            return Err(corrupt(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err(corrupt("bad magic".into()));
        }
        let crc = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
        let body = &data[12..];
        if crc32fast::hash(body) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        p.decode(body).map_err(|e| corrupt(e.to_string()))?;
        Ok(p)
    }

    fn decode(&mut self, body: &[u8]) -> Result<(), CodecError> {
        let mut r = Reader::new(body);
        let n = r.count("file count", 36)?;
        for _ in 0..n {
            let id = FileId { dev: r.u64("dev")?, ino: r.u64("inode")? };
            let fp = Fingerprint { len: r.u32("fingerprint length")?, crc: r.u32("fingerprint crc")? };
            let offset = r.u64("offset")?;
            let path = r.str("path")?;
            self.files.insert(id, FileEntry { fp, offset, path });
        }
        self.journal = match r.u8("cursor flag")? {
            0 => None,
            1 => Some(r.str("cursor")?),
            _ => return Err(CodecError::Invalid("cursor flag")),
        };
        if !r.is_empty() {
            return Err(CodecError::Invalid("trailing bytes"));
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut w = Writer(&mut body);
        w.u32(self.files.len() as u32);
        for (id, e) in &self.files {
            w.u64(id.dev);
            w.u64(id.ino);
            w.u32(e.fp.len);
            w.u32(e.fp.crc);
            w.u64(e.offset);
            w.str(&e.path);
        }
        match &self.journal {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                w.str(c);
            }
        }
        let mut out = Vec::with_capacity(12 + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Records `pos` as acknowledged (in memory; [`Positions::commit`] saves). Positions must be applied in the
    /// order the sources emitted them: the last one applied for a file or for the journal wins.
    pub fn apply(&mut self, pos: &Position) {
        match pos {
            Position::File(f) => {
                self.files.insert(f.id, FileEntry { fp: f.fp, offset: f.offset, path: f.path.to_string() });
            }
            Position::Journal(c) => self.journal = Some(c.clone()),
        }
    }

    /// Saves the positions atomically (temporary file, fsync, rename, directory fsync).
    pub fn commit(&self) -> Result<(), PositionsError> {
        fsutil::write_atomic(&self.path, &self.encode())
            .map_err(|source| PositionsError::Io { path: self.path.clone(), source })
    }

    pub fn files(&self) -> &BTreeMap<FileId, FileEntry> {
        &self.files
    }

    /// When the loaded positions were committed; `None` for a fresh start.
    pub fn committed_at(&self) -> Option<std::time::SystemTime> {
        self.committed_at
    }

    pub fn journal_cursor(&self) -> Option<&str> {
        self.journal.as_deref()
    }

    /// Forgets the files for which `keep` is false (files the tailer closed for good).
    pub fn retain_files(&mut self, mut keep: impl FnMut(&FileId) -> bool) {
        self.files.retain(|id, _| keep(id));
    }
}
