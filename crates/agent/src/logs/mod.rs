//! Log shipping: sources (file globs, journald) → multi-line grouping → LogQL pipeline → batches → the disk
//! outbox → Loki push. Two plain threads: the reader (`reader.rs`), which does all file reads and fsyncs, and
//! the sender (`sender.rs`), which blocks on its own single-threaded runtime for each HTTP request. Nothing
//! runs on the caller's async workers. The commit order that makes shipping at-least-once is
//! `docs/format/outbox.md`'s; a clean stop pushes what was read and sends what it can within a deadline.

mod client;
mod metrics;
mod process;
mod reader;
mod sender;
mod settings;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use vigil_ship::{Journal, Outbox, OutboxConfig, OutboxError, Position, Positions, PositionsError, Tailer};

pub use client::ClientError;
pub use metrics::{FailReason, LogMetrics};
pub use process::{MAX_PROMOTED_VALUES, OTHER};
pub use settings::{LogsSettings, LogsSettingsError, PushAuth, PushSettings, SourceKind, SourceSettings, HOST_LABEL};

use reader::{Batching, Input, Reader, Source};
use sender::{SenderLoop, Timing, Wake};

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("log data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("{0} (move it away to start reading from scratch)")]
    Positions(#[from] PositionsError),
    #[error("source {index}: pipeline: {source}")]
    Pipeline { index: usize, source: vigil_logql::ParseError },
    #[error("source {index}: {source}")]
    Tail { index: usize, source: vigil_ship::TailError },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, std::io::Error),
}

/// What the reader and sender share: the outbox (behind a mutex; fsyncs happen under it, on their threads),
/// how to reopen it after a failed write, and the counters.
#[derive(Clone)]
pub(crate) struct Shared {
    outbox: Arc<Mutex<Outbox>>,
    outbox_cfg: OutboxConfig,
    metrics: Arc<LogMetrics>,
}

impl Shared {
    fn lock_outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces a poisoned outbox by a fresh open of its files (replay cuts what the failed write left).
    fn reopen_outbox(&self) {
        let mut guard = self.lock_outbox();
        match Outbox::open(self.outbox_cfg.clone()) {
            Ok(o) => *guard = o,
            Err(err) => tracing::error!(%err, "cannot reopen the log outbox"),
        }
    }
}

/// The running log shipper. [`LogShipper::shutdown`] (or drop) stops it cleanly; a kill loses nothing.
pub struct LogShipper {
    stop_reader: Option<mpsc::Sender<()>>,
    wake: mpsc::Sender<Wake>,
    reader: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<()>>,
    metrics: Arc<LogMetrics>,
    shared: Shared,
}

impl LogShipper {
    /// Opens the outbox and positions under `data_dir`, starts the sources where the committed positions (plus
    /// those of unacknowledged batches) say, and starts the reader and sender threads. Blocking.
    pub fn start(s: LogsSettings) -> Result<LogShipper, LogsError> {
        std::fs::create_dir_all(&s.data_dir)
            .map_err(|source| LogsError::DataDir { path: s.data_dir.clone(), source })?;
        let mut outbox = Outbox::open(s.outbox.clone())?;
        let pending = outbox.pending_positions()?;
        let positions_path = s.data_dir.join("positions");
        let positions = with_pending(Positions::load(&positions_path)?, &pending);

        let client = client::PushClient::new(&s.push)?;
        let metrics = Arc::new(LogMetrics::default());
        let outbox = Arc::new(Mutex::new(outbox));
        metrics.set_outbox(outbox.clone());
        let shared = Shared { outbox, outbox_cfg: s.outbox.clone(), metrics: metrics.clone() };

        let globs: Vec<Vec<glob::Pattern>> = s
            .sources
            .iter()
            .map(|src| match &src.kind {
                SourceKind::Files(t) => t.include.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect(),
                SourceKind::Journald(_) => Vec::new(),
            })
            .collect();
        let mut sources = Vec::new();
        for (index, src) in s.sources.iter().enumerate() {
            let pipeline = match &src.pipeline {
                Some(text) => {
                    Some(vigil_logql::parse_pipeline(text).map_err(|source| LogsError::Pipeline { index, source })?)
                }
                None => None,
            };
            let input = match &src.kind {
                SourceKind::Files(cfg) => {
                    // Each tailer gets only the saved files its globs claim (the first source to match a path
                    // claims it), so that no tailer recovers another source's rotated files.
                    let mut own = with_pending(Positions::load(&positions_path)?, &pending);
                    let claimed: Vec<vigil_ship::FileId> = own
                        .files()
                        .iter()
                        .filter(|(_, e)| {
                            let first = globs.iter().position(|g| reader::matches_any(g, &e.path));
                            first == Some(index)
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    own.retain_files(|id| claimed.contains(id));
                    Input::Files(Box::new(
                        Tailer::new(cfg.clone(), &own).map_err(|source| LogsError::Tail { index, source })?,
                    ))
                }
                SourceKind::Journald(cfg) => {
                    Input::Journal(Journal::spawn(cfg.clone(), positions.journal_cursor().map(str::to_owned)))
                }
            };
            let proc = process::Processor::new(src.multiline.clone(), pipeline, src.labels_from_fields.clone());
            sources.push(Source { input, proc });
        }

        let (stop_tx, stop_rx) = mpsc::channel();
        let (wake_tx, wake_rx) = mpsc::channel();
        let batching = Batching {
            max_lines: s.batch_max_lines,
            max_wait: s.batch_max_wait,
            max_bytes: s.batch_max_bytes,
            poll_interval: s.poll_interval,
        };
        let reader = Reader::new(sources, positions, batching, shared.clone(), wake_tx.clone(), stop_rx);
        let appender_shared = shared.clone();
        let timing = Timing {
            timeout: s.push.timeout,
            backoff_min: s.backoff_min,
            backoff_max: s.backoff_max,
            drain: s.drain_timeout,
        };
        let sender = SenderLoop { client, shared, timing, wake: wake_rx, stop_at: None };
        let sender = std::thread::Builder::new()
            .name("log-sender".into())
            .spawn(move || sender.run())
            .map_err(|e| LogsError::Thread("log sender", e))?;
        let reader = std::thread::Builder::new()
            .name("log-reader".into())
            .spawn(move || reader.run())
            .map_err(|e| LogsError::Thread("log reader", e))?;
        Ok(LogShipper {
            stop_reader: Some(stop_tx),
            wake: wake_tx,
            reader: Some(reader),
            sender: Some(sender),
            metrics,
            shared: appender_shared,
        })
    }

    pub fn metrics(&self) -> Arc<LogMetrics> {
        self.metrics.clone()
    }

    /// A handle that appends records made inside the agent (security events) to the outbox, on the same
    /// durable path as tailed lines.
    pub fn appender(&self) -> LogAppender {
        LogAppender { shared: self.shared.clone(), wake: self.wake.clone() }
    }

    /// Stops reading (pushing what was read to the outbox), then sends what the outbox holds within the drain
    /// timeout. Blocking.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stop_reader.take();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let _ = self.wake.send(Wake::Stop);
        if let Some(s) = self.sender.take() {
            let _ = s.join();
        }
    }
}

impl Drop for LogShipper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Appends records to a running shipper's outbox from any thread; cheap to clone. Records appended after the
/// shipper stopped stay in the outbox and are sent at its next start.
#[derive(Clone)]
pub struct LogAppender {
    shared: Shared,
    wake: mpsc::Sender<Wake>,
}

impl LogAppender {
    /// Writes `streams` to the outbox as one batch (fsynced when this returns `Ok`) and wakes the sender. A
    /// failed write is tried once more on a freshly opened outbox. Blocking.
    pub fn append(
        &self,
        streams: Vec<(vigil_model::Labels, Vec<vigil_model::log::LogEntry>)>,
    ) -> Result<(), OutboxError> {
        let batch = vigil_ship::Batch { streams, positions: Vec::new() };
        if batch.lines() == 0 {
            return Ok(());
        }
        let first = self.shared.lock_outbox().push(&batch);
        match first {
            Ok(_) => {}
            Err(OutboxError::TooLarge { .. }) => return first.map(|_| ()),
            Err(err) => {
                self.shared.metrics.outbox_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(%err, "cannot write the log outbox; reopening it");
                self.shared.reopen_outbox();
                self.shared.lock_outbox().push(&batch)?;
            }
        }
        let _ = self.wake.send(Wake::Pushed);
        Ok(())
    }
}

fn with_pending(mut p: Positions, pending: &[Position]) -> Positions {
    for pos in pending {
        p.apply(pos);
    }
    p
}
