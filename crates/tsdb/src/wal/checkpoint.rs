//! Writing a checkpoint: records streamed into the segment files of `checkpoint.NNNNNNNN.tmp/` through a small
//! buffer, so the caller can hand them over in batches, then committed by a rename.

use std::path::PathBuf;
use std::sync::MutexGuard;

use super::record::{self, Record};
use super::segment::{checkpoint_name, segment_name, Listing, HEADER, HEADER_BYTES};
use super::{io_err, CheckpointStats, Wal, WalError};
use crate::backend::{self, WritableFile};

/// Encoded records are written to the file once this many bytes are buffered.
const FLUSH_BYTES: usize = 1 << 20;

/// A checkpoint being written, from [`Wal::start_checkpoint`]. Hand it the records in any number of
/// [`CheckpointWriter::write`] calls, then [`CheckpointWriter::commit`] it. Dropped without a commit (after an
/// error, say), it removes its temporary directory; whatever is left of it is never read and removed on open.
pub struct CheckpointWriter<'a> {
    wal: &'a Wal,
    /// The log's maintenance lock: no other checkpoint or truncation runs meanwhile.
    _maintenance: MutexGuard<'a, ()>,
    /// The log directory as it was when the checkpoint started.
    listing: Listing,
    tmp: PathBuf,
    /// The segment being written and its number within the checkpoint.
    file: CheckpointFile,
    seq: u64,
    /// Encoded frames not written yet.
    buf: Vec<u8>,
    stats: CheckpointStats,
    committed: bool,
}

impl<'a> CheckpointWriter<'a> {
    /// Starts writing the first segment in `tmp`, which exists and is empty.
    pub(super) fn start(
        wal: &'a Wal,
        maintenance: MutexGuard<'a, ()>,
        listing: Listing,
        tmp: PathBuf,
        before: u64,
    ) -> Result<CheckpointWriter<'a>, WalError> {
        let file = CheckpointFile::create(wal, tmp.join(segment_name(0)))?;
        Ok(CheckpointWriter {
            wal,
            _maintenance: maintenance,
            listing,
            tmp,
            file,
            seq: 0,
            buf: Vec::with_capacity(FLUSH_BYTES + 4096),
            stats: CheckpointStats { before, ..CheckpointStats::default() },
            committed: false,
        })
    }

    /// Appends records to the checkpoint. A record never spans two segments: a new one starts when the next
    /// record would make the current one larger than the log's `max_segment_bytes`.
    pub fn write(&mut self, records: &[Record]) -> Result<(), WalError> {
        for record in records {
            let start = self.buf.len();
            record::encode_frame(record, &mut self.buf)?;
            let frame_len = (self.buf.len() - start) as u64;
            let segment_len = self.file.len + start as u64;
            if segment_len + frame_len > self.wal.options.max_segment_bytes && segment_len > HEADER_BYTES {
                self.file.write(self.wal, &self.buf[..start])?;
                self.buf.drain(..start);
                self.next_segment()?;
            }
            if self.buf.len() >= FLUSH_BYTES {
                self.file.write(self.wal, &self.buf)?;
                self.buf.clear();
            }
            self.stats.records += 1;
        }
        Ok(())
    }

    /// Makes the checkpoint durable and puts it in place, then deletes what it replaces: fsyncs its last
    /// segment; waits until everything appended to the log so far is durable (the records may reflect appends
    /// made after the cut, and a checkpoint must not hold what the log could still lose); fsyncs the temporary
    /// directory, renames it to `checkpoint.NNNNNNNN/` and fsyncs the log directory (the commit point); then
    /// removes the segments below it, oldest first, and older checkpoints, and fsyncs the log directory.
    pub fn commit(mut self) -> Result<CheckpointStats, WalError> {
        let wal = self.wal;
        self.file.write(wal, &self.buf)?;
        self.buf = Vec::new();
        self.stats.bytes += self.file.sync(wal)?;
        wal.sync()?;
        wal.sync_dir(&self.tmp)?;
        let before = self.stats.before;
        let path = wal.dir.join(checkpoint_name(before));
        wal.backend.rename(&self.tmp, &path).map_err(io_err(&path))?;
        self.committed = true;
        wal.sync_dir(&wal.dir)?;
        self.stats.written = true;

        // The checkpoint is durable; what it replaces can go, oldest segment first.
        self.stats.removed_segments = wal.remove_segments_before(&self.listing, before)?;
        for &old in self.listing.checkpoints.iter().filter(|&&c| c < before) {
            let path = wal.dir.join(checkpoint_name(old));
            backend::remove_dir_all(&*wal.backend, &path).map_err(io_err(&path))?;
            self.stats.removed_checkpoints += 1;
        }
        if self.stats.removed_segments + self.stats.removed_checkpoints > 0 {
            wal.sync_dir(&wal.dir)?;
        }
        tracing::info!(
            before,
            records = self.stats.records,
            bytes = self.stats.bytes,
            removed_segments = self.stats.removed_segments,
            "wal checkpoint written"
        );
        Ok(self.stats.clone())
    }

    /// Fsyncs the current segment and starts the next one.
    fn next_segment(&mut self) -> Result<(), WalError> {
        self.stats.bytes += self.file.sync(self.wal)?;
        self.seq += 1;
        self.file = CheckpointFile::create(self.wal, self.tmp.join(segment_name(self.seq)))?;
        Ok(())
    }
}

impl Drop for CheckpointWriter<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover is harmless (never read, removed on open), it only takes disk space.
            let _ = backend::remove_dir_all(&*self.wal.backend, &self.tmp);
        }
    }
}

/// A checkpoint segment being written: a failed write or fsync poisons the log.
struct CheckpointFile {
    path: PathBuf,
    file: Box<dyn WritableFile>,
    len: u64,
}

impl CheckpointFile {
    fn create(wal: &Wal, path: PathBuf) -> Result<CheckpointFile, WalError> {
        let file = wal.backend.create_new(&path).map_err(io_err(&path))?;
        let mut created = CheckpointFile { path, file, len: 0 };
        created.write(wal, &HEADER)?;
        Ok(created)
    }

    fn write(&mut self, wal: &Wal, bytes: &[u8]) -> Result<(), WalError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(bytes)
            .map_err(|source| wal.poison_unlocked(WalError::Io { path: self.path.clone(), source }))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Fsyncs the file and returns its length.
    fn sync(&self, wal: &Wal) -> Result<u64, WalError> {
        self.file.sync().map_err(|source| wal.poison_unlocked(WalError::Io { path: self.path.clone(), source }))?;
        Ok(self.len)
    }
}
