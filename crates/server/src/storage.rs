//! The tsdb as the query engine's storage: selects and label lookups through a `Db` querier, and
//! downsampled aggregates for long-range queries.

use std::sync::Arc;

use vigil_model::Matcher;
use vigil_query::storage::STALE_NAN_BITS;
use vigil_query::{Aggregate, SeriesSet, Storage, StorageError, StoredSeries};
use vigil_tsdb::{Db, Resolution, Selection};

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
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        let selection = self.db.querier(mint, maxt).selection(matchers).map_err(storage_error)?;
        Ok(Box::new(TsdbSeries(selection)))
    }

    fn resolutions(&self) -> &[i64] {
        const DOWNSAMPLED: [i64; 2] = [5 * 60_000, 60 * 60_000];
        if self.db.options().downsample {
            &DOWNSAMPLED
        } else {
            &[]
        }
    }

    fn select_aggregate(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
        resolution_ms: i64,
        aggregate: Aggregate,
    ) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        let resolution = [Resolution::FiveMinutes, Resolution::OneHour]
            .into_iter()
            .find(|r| r.ms() == resolution_ms)
            .ok_or_else(|| StorageError(format!("no data downsampled to {resolution_ms} ms")))?;
        let aggregate = match aggregate {
            Aggregate::Min => vigil_tsdb::Aggregate::Min,
            Aggregate::Max => vigil_tsdb::Aggregate::Max,
            Aggregate::Sum => vigil_tsdb::Aggregate::Sum,
            Aggregate::Count => vigil_tsdb::Aggregate::Count,
            Aggregate::Last => vigil_tsdb::Aggregate::Last,
        };
        let series = self.db.select_downsampled(matchers, mint, maxt, resolution, aggregate).map_err(storage_error)?;
        let stored: Vec<StoredSeries> = series
            .into_iter()
            .map(|s| StoredSeries { labels: s.labels, samples: s.samples.into_iter().map(|p| (p.t, p.v)).collect() })
            .collect();
        Ok(Box::new(stored))
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

/// A tsdb selection as the engine's series set.
struct TsdbSeries<'a>(Selection<'a>);

impl TsdbSeries<'_> {
    /// Replaces `out` with series `i`'s samples, without staleness markers if asked.
    fn decode(&self, i: usize, out: &mut Vec<(i64, f64)>, without_stale: bool) -> Result<(), StorageError> {
        thread_local! {
            static RAW: std::cell::RefCell<Vec<(i64, u64)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        RAW.with_borrow_mut(|raw| {
            raw.clear();
            self.0.decode(i, raw).map_err(storage_error)?;
            out.clear();
            // Markers are rare: a scan that vectorizes finds none, and the copy keeps its exact size.
            if without_stale && raw.iter().fold(false, |any, s| any | (s.1 == STALE_NAN_BITS)) {
                raw.retain(|s| s.1 != STALE_NAN_BITS);
            }
            out.extend(raw.iter().map(|&(t, bits)| (t, f64::from_bits(bits))));
            Ok(())
        })
    }
}

impl SeriesSet for TsdbSeries<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn labels(&self, i: usize) -> &vigil_model::Labels {
        self.0.labels(i)
    }

    fn samples(&self, i: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError> {
        self.decode(i, out, false)
    }

    fn samples_without_stale(&self, i: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError> {
        self.decode(i, out, true)
    }

    fn into_labels(self: Box<Self>) -> Vec<vigil_model::Labels> {
        self.0.into_labels()
    }
}
