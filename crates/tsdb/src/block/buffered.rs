//! A write buffer in front of a [`WritableFile`], whose writes go straight to the file system.

use std::path::{Path, PathBuf};

use super::error::{io_err, BlockError};
use crate::backend::{Backend, WritableFile};

/// How many bytes are collected before they are written.
pub(super) const BUFFER_BYTES: usize = 1 << 20;

/// A new file written through a [`BUFFER_BYTES`] buffer, with an optional running CRC-32 of its bytes.
#[derive(Debug)]
pub(super) struct BufferedFile {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    buf: Vec<u8>,
    /// Bytes written so far, buffered ones included.
    len: u64,
    crc: Option<crc32fast::Hasher>,
}

impl BufferedFile {
    /// Creates `path`, which must not exist.
    pub(super) fn create(backend: &dyn Backend, path: &Path) -> Result<BufferedFile, BlockError> {
        let file = backend.create_new(path).map_err(io_err(path))?;
        Ok(BufferedFile { file, path: path.to_path_buf(), buf: Vec::with_capacity(BUFFER_BYTES), len: 0, crc: None })
    }

    /// Keeps a running CRC-32 of everything written from now on.
    pub(super) fn with_crc(mut self) -> BufferedFile {
        self.crc = Some(crc32fast::Hasher::new());
        self
    }

    /// The offset the next byte will have.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The CRC-32 of everything written so far (0 without a running CRC).
    pub(super) fn crc(&self) -> u32 {
        self.crc.as_ref().map_or(0, |h| h.clone().finalize())
    }

    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), BlockError> {
        if let Some(h) = self.crc.as_mut() {
            h.update(bytes);
        }
        self.len += bytes.len() as u64;
        if self.buf.len() + bytes.len() > BUFFER_BYTES {
            self.flush()?;
        }
        if bytes.len() >= BUFFER_BYTES {
            return self.file.write_all(bytes).map_err(io_err(&self.path));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes what is buffered and fsyncs the file.
    pub(super) fn sync(mut self) -> Result<(), BlockError> {
        self.flush()?;
        self.file.sync().map_err(io_err(&self.path))
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buf).map_err(io_err(&self.path));
        self.buf.clear();
        result
    }
}
