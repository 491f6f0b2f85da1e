//! The log store as LogQL's `LogStorage`: stream selection and batch reads, errors passed through as text.

use vigil_logql::{BatchReader, LogStorage, StorageError};
use vigil_logstore::{LogStore, Reader};
use vigil_model::log::{Direction, LogBatch};
use vigil_model::{Labels, Matcher};

/// Reads a [`LogStore`] for one query.
pub struct StoreReader<'a>(pub &'a LogStore);

impl LogStorage for StoreReader<'_> {
    fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<(u64, Labels)>, StorageError> {
        let streams = self.0.streams(matchers, start_ns, end_ns).map_err(|e| StorageError(e.to_string()))?;
        Ok(streams.into_iter().map(|s| (s.id, s.labels)).collect())
    }

    fn read<'a>(
        &'a self,
        stream: u64,
        start_ns: i64,
        end_ns: i64,
        dir: Direction,
        needles: &[&str],
    ) -> Result<Box<dyn BatchReader + 'a>, StorageError> {
        let reader = self.0.read(stream, start_ns, end_ns, dir, needles).map_err(|e| StorageError(e.to_string()))?;
        Ok(Box::new(Batches(reader)))
    }
}

struct Batches<'a>(Reader<'a>);

impl BatchReader for Batches<'_> {
    fn next_batch(&mut self, out: &mut LogBatch) -> Result<bool, StorageError> {
        self.0.next_batch(out).map_err(|e| StorageError(e.to_string()))
    }
}
