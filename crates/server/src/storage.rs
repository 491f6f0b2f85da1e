//! The tsdb as the query engine's storage: selects and label lookups through a `Db` querier.

use std::sync::Arc;

use vigil_model::Matcher;
use vigil_query::{Storage, StorageError, StoredSeries};
use vigil_tsdb::Db;

/// Reads the database for the query engine.
#[derive(Clone)]
pub struct TsdbStorage {
    db: Arc<Db>,
}

impl TsdbStorage {
    pub fn new(db: Arc<Db>) -> TsdbStorage {
        TsdbStorage { db }
    }
}

fn storage_error(err: impl std::fmt::Display) -> StorageError {
    StorageError(err.to_string())
}

impl Storage for TsdbStorage {
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<StoredSeries>, StorageError> {
        let querier = self.db.querier(mint, maxt);
        let set = querier.select(matchers).map_err(storage_error)?;
        let mut out = Vec::with_capacity(set.len());
        for series in set {
            let series = series.map_err(storage_error)?;
            let samples = series.samples.iter().map(|s| (s.t, s.v)).collect();
            out.push(StoredSeries { labels: series.labels, samples });
        }
        Ok(out)
    }

    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        self.db.querier(mint, maxt).label_names(matchers).map_err(storage_error)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        self.db.querier(mint, maxt).label_values(name, matchers).map_err(storage_error)
    }
}
