//! Scraped samples into the tsdb: the scrape manager's appender.

use std::sync::Arc;

use vigil_tsdb::{Db, SeriesBatch};

use crate::rules::IngestWatch;

/// Appends scrapes into the database; blocking (the manager calls it off the async threads).
pub struct DbAppender {
    pub db: Arc<Db>,
    /// Told of the metrics each scrape stored.
    pub watch: Arc<IngestWatch>,
}

impl vigil_scrape::Appender for DbAppender {
    fn append(&self, batch: Vec<SeriesBatch>) -> Result<(), String> {
        let report = self.db.append(&batch).map_err(|e| e.to_string())?;
        self.watch.touched(batch.iter().filter_map(|s| s.labels.metric_name()));
        if let Some(first) = &report.first_error {
            // Prometheus counts these and goes on; the samples that could be stored are stored.
            tracing::debug!(refused = report.rejected(), %first, "scraped samples refused");
        }
        Ok(())
    }
}
