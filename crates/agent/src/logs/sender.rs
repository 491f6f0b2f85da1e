//! The sender thread: peeks the oldest batch in the outbox, pushes it, and acks it after a 2xx. Connection
//! errors, timeouts, 5xx and 429 are retried with capped exponential backoff (a `Retry-After` in seconds is
//! honoured). Any other status means the receiver will never accept this batch (malformed, too large, out of
//! order, unauthorized...): retrying would block every later batch forever, so it is logged with the
//! receiver's answer, counted as rejected and acked.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use vigil_proto::loki::encode_push;

use super::client::{Outcome, PushClient};
use super::metrics::FailReason;
use super::Shared;

/// What the reader tells the sender.
pub(crate) enum Wake {
    /// A batch was pushed to the outbox.
    Pushed,
    /// Send what can be sent within the drain timeout, then end.
    Stop,
}

pub(crate) struct Timing {
    pub timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub drain: Duration,
}

pub(crate) struct SenderLoop {
    pub client: PushClient,
    pub shared: Shared,
    pub timing: Timing,
    pub wake: Receiver<Wake>,
    /// Set once stopping: the end of the drain.
    pub stop_at: Option<Instant>,
}

impl SenderLoop {
    pub fn run(mut self) {
        let mut backoff = self.timing.backoff_min;
        loop {
            self.check_stop();
            if self.stop_at.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            let next = self.shared.lock_outbox().peek();
            let (id, batch) = match next {
                Ok(Some(next)) => next,
                Ok(None) if self.stop_at.is_some() => return,
                Ok(None) => {
                    self.wait(Duration::from_secs(1), true);
                    continue;
                }
                Err(err) => {
                    tracing::error!(%err, "cannot read the log outbox; reopening it");
                    self.shared.metrics.outbox_errors.fetch_add(1, Relaxed);
                    self.shared.reopen_outbox();
                    self.wait(backoff, false);
                    backoff = (backoff * 2).min(self.timing.backoff_max);
                    continue;
                }
            };
            let lines = batch.lines() as u64;
            if lines == 0 {
                self.ack(id);
                continue;
            }
            let body = Bytes::from(encode_push(&batch.streams));
            let timeout = match self.stop_at {
                Some(d) => self.timing.timeout.min(d.saturating_duration_since(Instant::now())),
                None => self.timing.timeout,
            };
            let m = &self.shared.metrics;
            match self.client.push(body.clone(), timeout) {
                Outcome::Stored => {
                    m.sent_batches.fetch_add(1, Relaxed);
                    m.sent_lines.fetch_add(lines, Relaxed);
                    m.sent_bytes.fetch_add(body.len() as u64, Relaxed);
                    backoff = self.timing.backoff_min;
                    self.ack(id);
                }
                Outcome::Retry { reason, retry_after, detail } => {
                    m.fail(reason);
                    tracing::warn!(reason = reason.as_str(), detail, batch = id, "log push failed; will retry");
                    if self.stop_at.is_some() {
                        return;
                    }
                    m.retries.fetch_add(1, Relaxed);
                    let delay = retry_after.unwrap_or(backoff);
                    backoff = (backoff * 2).min(self.timing.backoff_max);
                    self.wait(delay, false);
                }
                Outcome::Rejected { status, answer } => {
                    m.fail(FailReason::Status4xx);
                    m.rejected_batches.fetch_add(1, Relaxed);
                    m.rejected_lines.fetch_add(lines, Relaxed);
                    tracing::error!(
                        status,
                        answer = answer.trim(),
                        batch = id,
                        lines,
                        "log receiver refused a batch; it is dropped (sending it again cannot succeed)"
                    );
                    self.ack(id);
                }
            }
        }
    }

    fn ack(&mut self, id: u64) {
        let result = self.shared.lock_outbox().ack(id);
        if let Err(err) = result {
            // The batch is sent again after the reopen: a duplicate, never a loss.
            tracing::error!(%err, "cannot ack in the log outbox; reopening it");
            self.shared.metrics.outbox_errors.fetch_add(1, Relaxed);
            self.shared.reopen_outbox();
            self.wait(self.timing.backoff_min, false);
        }
    }

    /// Notices a stop sent while batches were being sent back to back.
    fn check_stop(&mut self) {
        while let Ok(w) = self.wake.try_recv() {
            if matches!(w, Wake::Stop) && self.stop_at.is_none() {
                self.stop_at = Some(Instant::now() + self.timing.drain);
            }
        }
    }

    /// Waits up to `d`; a new batch ends the wait early when `on_push` (not during a backoff), a stop always.
    fn wait(&mut self, d: Duration, on_push: bool) {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.wake.recv_timeout(left) {
                Ok(Wake::Pushed) if on_push => return,
                Ok(Wake::Pushed) => {}
                Err(RecvTimeoutError::Timeout) => return,
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    if self.stop_at.is_none() {
                        self.stop_at = Some(Instant::now() + self.timing.drain);
                    }
                    return;
                }
            }
        }
    }
}
