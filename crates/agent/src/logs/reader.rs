//! The reader thread: polls the sources, runs their lines through multi-line grouping and the pipeline into a
//! batch, and when the batch is full or old enough pushes it to the outbox and then commits the positions, in
//! exactly the order of `docs/format/outbox.md` (the positions file never runs ahead of the outbox).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_ship::{BatchBuilder, FileId, Journal, OutboxError, Positions, TailLine, Tailer};

use super::process::Processor;
use super::sender::Wake;
use super::Shared;

/// Journal entries taken per cycle at most, so that a flood does not starve the files.
const MAX_JOURNAL_PER_CYCLE: usize = 100_000;

pub(crate) enum Input {
    Files(Box<Tailer>),
    Journal(Journal),
}

pub(crate) struct Source {
    pub input: Input,
    pub proc: Processor,
}

impl Source {
    fn tracks(&self, id: &FileId) -> bool {
        matches!(&self.input, Input::Files(t) if t.is_tracking(id))
    }
}

pub(crate) struct Batching {
    pub max_lines: usize,
    pub max_wait: Duration,
    pub max_bytes: usize,
    pub poll_interval: Duration,
}

pub(crate) struct Reader {
    pub sources: Vec<Source>,
    pub positions: Positions,
    pub batching: Batching,
    pub shared: Shared,
    pub wake: Sender<Wake>,
    pub stop: Receiver<()>,
    builder: BatchBuilder,
    started: Option<Instant>,
    stopping: bool,
}

impl Reader {
    pub fn new(
        sources: Vec<Source>,
        positions: Positions,
        batching: Batching,
        shared: Shared,
        wake: Sender<Wake>,
        stop: Receiver<()>,
    ) -> Reader {
        Reader {
            sources,
            positions,
            batching,
            shared,
            wake,
            stop,
            builder: BatchBuilder::default(),
            started: None,
            stopping: false,
        }
    }

    /// Runs until the stop channel fires or is dropped; then reads once more and pushes what it holds. Records
    /// still open in a multi-line group are left unread (their positions were never committed).
    pub fn run(mut self) {
        loop {
            self.cycle(Instant::now());
            match self.stop.recv_timeout(self.batching.poll_interval) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => {
                    self.stopping = true;
                    self.cycle(Instant::now());
                    self.flush();
                    return;
                }
            }
        }
    }

    fn cycle(&mut self, now: Instant) {
        let m = self.shared.metrics.clone();
        for i in 0..self.sources.len() {
            let mut lines: Vec<TailLine> = Vec::new();
            match &mut self.sources[i].input {
                Input::Files(tailer) => {
                    tailer.poll(now, &mut lines);
                    let discovered = tailer.take_discovered();
                    if !discovered.is_empty() {
                        for p in &discovered {
                            self.positions.apply(p);
                        }
                        self.commit_positions();
                    }
                    m.file_lines.fetch_add(lines.len() as u64, Relaxed);
                }
                Input::Journal(journal) => {
                    let mut n = 0;
                    while let Some(j) = journal.try_recv() {
                        n += 1;
                        lines.push(TailLine {
                            labels: Arc::new(j.labels),
                            entry: j.entry,
                            pos: j.pos,
                            truncated: false,
                        });
                        if n >= MAX_JOURNAL_PER_CYCLE {
                            break;
                        }
                    }
                    m.journald_lines.fetch_add(n as u64, Relaxed);
                }
            }
            for l in lines {
                self.sources[i].proc.push(&l.labels, l.entry, l.pos, now, &mut self.builder, &m);
                self.note_growth(now);
                if self.builder.lines() >= self.batching.max_lines || self.builder.bytes() >= self.batching.max_bytes {
                    self.flush();
                }
            }
        }
        let mut dropped = 0;
        for s in &mut self.sources {
            s.proc.flush_due(now, &mut self.builder, &m);
            dropped += s.proc.multiline_dropped();
        }
        m.multiline_dropped.store(dropped, Relaxed);
        self.note_growth(now);
        if self.started.is_some_and(|t| now.saturating_duration_since(t) >= self.batching.max_wait) {
            self.flush();
        }
    }

    fn note_growth(&mut self, now: Instant) {
        if self.started.is_none() && !self.builder.is_empty() {
            self.started = Some(now);
        }
    }

    /// Pushes the batch (fsynced), then applies and commits its positions, then wakes the sender.
    fn flush(&mut self) {
        self.started = None;
        if self.builder.is_empty() {
            return;
        }
        let batch = self.builder.take();
        if batch.lines() > 0 && !self.push(&batch) {
            // Given up while stopping: the positions stay behind these lines, which are read again at start.
            return;
        }
        for p in &batch.positions {
            self.positions.apply(p);
        }
        let sources = &self.sources;
        self.positions.retain_files(|id| sources.iter().any(|s| s.tracks(id)));
        self.commit_positions();
        let _ = self.wake.send(Wake::Pushed);
    }

    /// Appends `batch` to the outbox, reopening it and trying again after a failed write; false if it gave up
    /// because the agent is stopping.
    fn push(&mut self, batch: &vigil_ship::Batch) -> bool {
        let mut tries = 0;
        loop {
            let result = self.shared.lock_outbox().push(batch);
            match result {
                Ok(_) => return true,
                Err(OutboxError::TooLarge { bytes, limit }) => {
                    // Counted by the outbox as dropped; waiting cannot make it fit.
                    tracing::error!(bytes, limit, lines = batch.lines(), "log batch larger than the outbox, dropped");
                    return true;
                }
                Err(err) => {
                    tries += 1;
                    self.shared.metrics.outbox_errors.fetch_add(1, Relaxed);
                    tracing::error!(%err, "cannot write the log outbox; retrying");
                    if self.stopping && tries >= 3 {
                        return false;
                    }
                    match self.stop.recv_timeout(Duration::from_secs(1)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => self.stopping = true,
                    }
                    self.shared.reopen_outbox();
                }
            }
        }
    }

    fn commit_positions(&mut self) {
        if let Err(err) = self.positions.commit() {
            self.shared.metrics.positions_errors.fetch_add(1, Relaxed);
            tracing::warn!(%err, "cannot commit log positions (lines may be read again after a restart)");
        }
    }
}

/// The positions that belong to files of `globs`: a saved file belongs to the first source whose globs match
/// the path it was read under.
pub(crate) fn matches_any(globs: &[glob::Pattern], path: &str) -> bool {
    globs.iter().any(|g| g.matches(path))
}
