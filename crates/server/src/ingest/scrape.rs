//! Scraped samples into the tsdb: the scrape manager's appender.

use std::sync::Arc;

use vigil_tsdb::{Db, SeriesBatch};

/// Appends scrapes into the database; blocking (the manager calls it off the async threads).
pub struct DbAppender(pub Arc<Db>);

impl vigil_scrape::Appender for DbAppender {
    fn append(&self, batch: Vec<SeriesBatch>) -> Result<(), String> {
        let report = self.0.append(&batch).map_err(|e| e.to_string())?;
        if let Some(first) = &report.first_error {
            // Prometheus counts these and goes on; the samples that could be stored are stored.
            tracing::debug!(refused = report.rejected(), %first, "scraped samples refused");
        }
        Ok(())
    }
}
