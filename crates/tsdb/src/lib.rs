//! vigil's metric storage engine: series identified by sorted label sets, compressed chunks, a checksummed
//! write-ahead log, immutable blocks, compaction, downsampling and retention. No network and no wire formats
//! live here. [`Db`] is the entry point.

pub mod backend;
pub mod block;
pub mod chunk;
mod db;
mod head;
pub mod index;
mod matching;
pub mod wal;

pub use db::{
    Aggregate, AppendReport, Db, DbError, DbOptions, DbStats, MaintainReport, Quarantined, Querier, ReplaySummary,
    Resolution, Sample, SampleError, Selection, Series, SeriesBatch, SeriesSamples, SeriesSet,
};
pub use head::Rejection;
