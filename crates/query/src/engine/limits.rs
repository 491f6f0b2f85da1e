//! Query limits checked while evaluating: the deadline and the number of samples held in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::QueryError;

/// How many [`Limits::tick`] calls pass between two clock reads.
const TICKS_PER_CLOCK_READ: u32 = 64;

pub(crate) struct Limits {
    deadline: Instant,
    max_samples: usize,
    /// Samples currently held by intermediate results.
    pub current: usize,
    ticks: u32,
}

impl Limits {
    pub fn new(deadline: Instant, max_samples: usize) -> Limits {
        // The first tick reads the clock, so a deadline already passed fails every query that does any work.
        Limits { deadline, max_samples, current: 0, ticks: TICKS_PER_CLOCK_READ - 1 }
    }

    /// Called from loops; fails once the deadline has passed.
    pub fn tick(&mut self) -> Result<(), QueryError> {
        self.ticks += 1;
        if self.ticks >= TICKS_PER_CLOCK_READ {
            self.ticks = 0;
            if Instant::now() >= self.deadline {
                return Err(QueryError::Timeout);
            }
        }
        Ok(())
    }

    /// Accounts for `n` more samples held.
    pub fn add(&mut self, n: usize) -> Result<(), QueryError> {
        self.current = self.current.saturating_add(n);
        self.check(0)
    }

    /// A budget for work spread over threads, starting from the samples held now.
    pub fn budget(&self) -> Budget {
        Budget { held: AtomicUsize::new(self.current), max: self.max_samples, deadline: self.deadline }
    }

    /// Fails if `extra` more samples would exceed the limit, without accounting for them.
    pub fn check(&self, extra: usize) -> Result<(), QueryError> {
        if self.current.saturating_add(extra) > self.max_samples {
            return Err(QueryError::TooManySamples { limit: self.max_samples });
        }
        Ok(())
    }
}

/// The limits as threads share them: samples held are counted atomically.
pub(crate) struct Budget {
    held: AtomicUsize,
    max: usize,
    deadline: Instant,
}

impl Budget {
    /// Accounts for `n` more samples held.
    pub fn take(&self, n: usize) -> Result<(), QueryError> {
        let before = self.held.fetch_add(n, Ordering::Relaxed);
        self.check_total(before.saturating_add(n))
    }

    /// Fails if `extra` more samples, held for a moment, would exceed the limit.
    pub fn check(&self, extra: usize) -> Result<(), QueryError> {
        self.check_total(self.held.load(Ordering::Relaxed).saturating_add(extra))
    }

    fn check_total(&self, total: usize) -> Result<(), QueryError> {
        if total > self.max {
            return Err(QueryError::TooManySamples { limit: self.max });
        }
        Ok(())
    }

    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() >= self.deadline {
            return Err(QueryError::Timeout);
        }
        Ok(())
    }
}
