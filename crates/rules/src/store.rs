//! Where a rule group reads from and writes to: [`RuleStore`], and its implementation for `MemStorage` with the
//! tsdb head's acceptance rules (no sample older than the series' latest, no second value at one timestamp).

use vigil_query::{MemStorage, Sample, Storage};

/// Why a store refused one sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Older than the series' latest sample.
    OutOfOrder,
    /// Older than what the store still accepts at all.
    TooOld,
    /// The series already has a different value at that timestamp.
    Duplicate,
    Other(String),
}

impl std::fmt::Display for Refusal {
    /// Prometheus' storage errors, which become the rule's last error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OutOfOrder => f.write_str("out of order sample"),
            Refusal::TooOld => f.write_str("out of bounds"),
            Refusal::Duplicate => f.write_str("duplicate sample for timestamp"),
            Refusal::Other(e) => f.write_str(e),
        }
    }
}

/// The storage a group evaluates against, which also takes its results. A rule sees what the rules before it in
/// the same evaluation appended.
pub trait RuleStore {
    /// What rule queries read.
    fn storage(&self) -> &dyn Storage;

    /// Appends one rule's samples (its results, then its staleness markers) as one transaction, visible to
    /// [`RuleStore::storage`] once this returns. Returns the samples refused, by index, the others being
    /// appended; an `Err` means nothing was (the commit failed).
    fn append(&mut self, samples: &[Sample]) -> Result<Vec<(usize, Refusal)>, String>;
}

impl RuleStore for MemStorage {
    fn storage(&self) -> &dyn Storage {
        self
    }

    fn append(&mut self, samples: &[Sample]) -> Result<Vec<(usize, Refusal)>, String> {
        let mut refused = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            match self.last_sample(&s.labels) {
                Some((t, _)) if s.t < t => refused.push((i, Refusal::OutOfOrder)),
                Some((t, v)) if s.t == t && v.to_bits() != s.v.to_bits() => refused.push((i, Refusal::Duplicate)),
                Some((t, _)) if s.t == t => {}
                _ => self.add(s.labels.clone(), [(s.t, s.v)]),
            }
        }
        Ok(refused)
    }
}
