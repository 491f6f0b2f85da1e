//! Rule results into the tsdb: a [`RuleStore`] whose appends are acknowledged once the WAL has fsynced them, as
//! every other ingest, and whose reads go through the query engine's view of the same database.

use vigil_query::{Sample, Storage};
use vigil_rules::{Refusal, RuleStore};
use vigil_tsdb::{Db, Rejection, SeriesBatch};

use crate::storage::TsdbStorage;

/// The tsdb as a rule group's store.
pub struct DbRuleStore<'a> {
    pub db: &'a Db,
    pub storage: &'a TsdbStorage,
}

impl RuleStore for DbRuleStore<'_> {
    fn storage(&self) -> &dyn Storage {
        self.storage
    }

    /// One durable append. The database reports only its first refusal by series, so at most that one sample is
    /// reported refused; the rule's health says so either way.
    fn append(&mut self, samples: &[Sample]) -> Result<Vec<(usize, Refusal)>, String> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let batch: Vec<SeriesBatch> = samples
            .iter()
            .map(|s| SeriesBatch { labels: s.labels.clone(), samples: vec![vigil_tsdb::Sample { t: s.t, v: s.v }] })
            .collect();
        let report = self.db.append(&batch).map_err(|e| e.to_string())?;
        let Some(first) = report.first_error else { return Ok(Vec::new()) };
        let index = samples.iter().position(|s| s.labels == first.labels && s.t == first.t).unwrap_or(0);
        let refusal = match first.reason {
            Rejection::OutOfOrder { .. } => Refusal::OutOfOrder,
            Rejection::TooOld { .. } => Refusal::TooOld,
            Rejection::Duplicate => Refusal::Duplicate,
        };
        Ok(vec![(index, refusal)])
    }
}
