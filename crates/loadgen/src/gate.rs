//! Keeps load workers within a few rounds of each other, as the hosts of a real fleet scrape at the same times.
//! A worker with fewer batches than the others would otherwise run hours of simulated time ahead, and the
//! receiver (Prometheus' head as much as vigil's) refuses samples that far behind its newest one.

use std::sync::{Condvar, Mutex, PoisonError};

/// How many rounds a worker may start ahead of the slowest one.
pub(crate) const MAX_LEAD_ROUNDS: u64 = 6;

pub(crate) struct RoundGate {
    /// Rounds each worker has finished; `u64::MAX` once it has stopped.
    finished: Mutex<Vec<u64>>,
    changed: Condvar,
}

impl RoundGate {
    pub fn new(workers: usize) -> RoundGate {
        RoundGate { finished: Mutex::new(vec![0; workers]), changed: Condvar::new() }
    }

    /// Waits until starting `round` keeps the caller at most [`MAX_LEAD_ROUNDS`] ahead of every other worker.
    pub fn wait_turn(&self, round: u64) {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        while round > finished.iter().copied().min().unwrap_or(u64::MAX).saturating_add(MAX_LEAD_ROUNDS) {
            finished = self.changed.wait(finished).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Records that `worker` has finished `rounds` rounds.
    pub fn finished(&self, worker: usize, rounds: u64) {
        self.finished.lock().unwrap_or_else(PoisonError::into_inner)[worker] = rounds;
        self.changed.notify_all();
    }
}

/// Marks a worker as stopped when dropped, however it stops, so that it never holds the others back.
pub(crate) struct Stopped<'g> {
    pub gate: &'g RoundGate,
    pub worker: usize,
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.gate.finished(self.worker, u64::MAX);
    }
}
