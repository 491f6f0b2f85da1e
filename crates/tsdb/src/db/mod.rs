//! The database: the head and its write-ahead log, the blocks on disk, and the maintenance that moves data
//! from one to the other, compacts, downsamples and deletes it.
//!
//! Directory layout (see `docs/format/tsdb.md`, "Database directory"): `LOCK`, `wal/`, `blocks/<name>/`,
//! `quarantine/<name>/`, `chunks_head/` (a cache of closed head chunks). An append is acknowledged only after
//! its WAL records are fsynced.

mod downsample;
mod maintain;
mod metrics;
mod query;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use vigil_model::Labels;

use crate::backend::{self, Backend, FsBackend};
use crate::block::{Block, BlockError};
use crate::chunk::ChunkError;
use crate::head::{Added, ChunkStore, Head, HeadLimits, Rejection};
use crate::index::{Fingerprint, IndexError, SeriesId, SeriesLookup};
use crate::wal::{Record, RefSample, Reservation, Wal, WalError, WalOptions};

pub use downsample::{Aggregate, Resolution};
pub use maintain::MaintainReport;
pub use metrics::DbStats;
pub use query::{Querier, Selection, Series, SeriesSet};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Samples per WAL samples record: keeps records far below the WAL's 16 MiB record limit.
const SAMPLES_PER_RECORD: usize = 50_000;

/// A sample: milliseconds since the Unix epoch and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// The samples of one series in an append.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesBatch {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// The samples of one series in an append, borrowing its labels: what a request decoded in place gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesSamples<'a> {
    /// A valid [`Labels`] as pairs: sorted by name, names unique and not empty, values not empty.
    pub labels: &'a [(&'a str, &'a str)],
    /// `(timestamp ms, value)`.
    pub samples: &'a [(i64, f64)],
}

/// What [`Db::append`] needs of one series of a batch, whatever holds its labels.
trait AppendSeries {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone;
    fn samples(&self) -> impl Iterator<Item = (i64, f64)>;
}

impl AppendSeries for SeriesBatch {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.labels.as_slice().iter().map(|l| (l.name.as_str(), l.value.as_str()))
    }

    fn samples(&self) -> impl Iterator<Item = (i64, f64)> {
        self.samples.iter().map(|s| (s.t, s.v))
    }
}

impl AppendSeries for SeriesSamples<'_> {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.labels.iter().copied()
    }

    fn samples(&self) -> impl Iterator<Item = (i64, f64)> {
        self.samples.iter().copied()
    }
}

/// How the database behaves. Times are in milliseconds.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// The time range of the blocks cut from the head; the head holds up to one and a half of these.
    pub block_range: i64,
    /// How far behind the newest sample an out-of-order sample may be; 0 rejects every out-of-order sample.
    pub ooo_window: i64,
    /// Ranges that blocks are compacted into, ascending, each a multiple of the previous (and of `block_range`).
    pub compaction_ranges: Vec<i64>,
    /// Raw blocks ending longer ago than this (before the newest sample) are deleted.
    pub retention: Option<i64>,
    /// Downsampled blocks ending longer ago than this are deleted; `None` uses `retention`.
    pub downsampled_retention: Option<i64>,
    /// The oldest blocks are deleted while blocks and WAL together take more bytes than this.
    pub max_bytes: Option<u64>,
    /// Whether compaction writes 5-minute and 1-hour downsampled copies of full-size blocks.
    pub downsample: bool,
    pub wal: WalOptions,
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions {
            block_range: 2 * HOUR_MS,
            ooo_window: 30 * MINUTE_MS,
            compaction_ranges: vec![6 * HOUR_MS, DAY_MS],
            retention: Some(15 * DAY_MS),
            downsampled_retention: None,
            max_bytes: None,
            downsample: true,
            wal: WalOptions::default(),
        }
    }
}

impl DbOptions {
    fn validate(&self) -> Result<(), DbError> {
        let invalid = |msg: String| Err(DbError::InvalidOptions(msg));
        if self.block_range < MINUTE_MS || self.block_range % MINUTE_MS != 0 {
            return invalid(format!("block_range {} ms is not a whole number of minutes", self.block_range));
        }
        if self.ooo_window < 0 {
            return invalid(format!("ooo_window {} ms is negative", self.ooo_window));
        }
        let mut previous = self.block_range;
        for &range in &self.compaction_ranges {
            if range <= previous || range % previous != 0 {
                return invalid(format!("compaction range {range} ms is not a multiple of {previous} ms"));
            }
            previous = range;
        }
        if self.downsample && previous % HOUR_MS != 0 {
            return invalid(format!("the largest block range {previous} ms is not a whole number of hours"));
        }
        Ok(())
    }
}

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("series index: {0}")]
    Index(#[from] IndexError),
    #[error("database directory {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("invalid database options: {0}")]
    InvalidOptions(String),
    #[error("corrupt write-ahead log record: {0}")]
    CorruptRecord(String),
    #[error("unreadable head chunk: {0}")]
    HeadChunk(#[from] ChunkError),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io { path: path.to_path_buf(), source }
}

/// A sample the database refused, with the series it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.labels, *.t, .reason))]
pub struct SampleError {
    pub labels: Labels,
    pub t: i64,
    pub reason: Rejection,
}

fn describe(labels: &Labels, t: i64, reason: &Rejection) -> String {
    match reason {
        Rejection::OutOfOrder { last } => format!(
            "out of order sample for {labels}: timestamp {t} is before the series' newest sample at {last} and \
             outside the out-of-order window"
        ),
        Rejection::TooOld { min_valid } => {
            format!("sample for {labels} is too old: timestamp {t} is before the oldest writable time {min_valid}")
        }
        Rejection::Duplicate => {
            format!("duplicate sample for {labels}: timestamp {t} already has a different value")
        }
    }
}

/// What an append did. Refused samples do not fail the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    pub appended: u64,
    /// Samples the series already had with the same value.
    pub unchanged: u64,
    pub out_of_order: u64,
    pub too_old: u64,
    pub duplicate: u64,
    /// The first refused sample, for an error message.
    pub first_error: Option<SampleError>,
}

impl AppendReport {
    pub fn rejected(&self) -> u64 {
        self.out_of_order + self.too_old + self.duplicate
    }
}

/// Counters kept while the database runs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub too_old: AtomicU64,
    pub duplicate: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub head_persists: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub downsamplings: AtomicU64,
    pub blocks_deleted: AtomicU64,
    pub quarantined: AtomicU64,
    pub checkpoints: AtomicU64,
    /// The WAL's bytes written at the last checkpoint.
    pub checkpoints_at_bytes: AtomicU64,
}

/// A block taken out of service because it is damaged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    pub name: String,
    pub reason: String,
}

/// The time-series database of one directory.
#[derive(Debug)]
pub struct Db {
    backend: Arc<dyn Backend>,
    dir: PathBuf,
    options: DbOptions,
    head: RwLock<Head>,
    /// The head index's fingerprint table, to find known series before taking the head's lock.
    lookup: Arc<SeriesLookup>,
    wal: Wal,
    /// Every block in service, raw and downsampled, sorted by resolution, then time.
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Serialises maintenance (persisting, compacting, deleting).
    maintenance: Mutex<()>,
    counters: Counters,
    quarantined: Mutex<Vec<Quarantined>>,
    replay: ReplaySummary,
    _lock: Option<File>,
}

/// What opening the database replayed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub records: u64,
    pub samples: u64,
    /// Replayed samples already persisted in blocks (a crash between persisting and checkpointing).
    pub skipped_persisted: u64,
    pub unknown_series: u64,
    pub truncated_bytes: u64,
    pub elapsed_ms: u64,
}

impl Db {
    /// Opens (or creates) the database in `dir` on the real file system, locking the directory. Closed head
    /// chunks are spilled to memory-mapped files in `<dir>/chunks_head/`.
    pub fn open(dir: impl Into<PathBuf>, options: DbOptions) -> Result<Db, DbError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path);
        let lock = lock.map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(DbError::Locked { path: dir }),
            Err(std::fs::TryLockError::Error(source)) => return Err(DbError::Io { path: lock_path, source }),
        }
        let spill_dir = dir.join("chunks_head");
        let mut db = Db::open_inner(Arc::new(FsBackend), dir, options, Some(spill_dir))?;
        db._lock = Some(lock);
        Ok(db)
    }

    /// Opens (or creates) the database in `dir` on any backend, without locking. Closed head chunks stay on the
    /// heap: the backend may have no real files to map.
    pub fn open_with(backend: Arc<dyn Backend>, dir: impl Into<PathBuf>, options: DbOptions) -> Result<Db, DbError> {
        Db::open_inner(backend, dir.into(), options, None)
    }

    /// Opens with closed head chunks spilled to files in `spill_dir` (emptied first), or on the heap.
    fn open_inner(
        backend: Arc<dyn Backend>,
        dir: PathBuf,
        options: DbOptions,
        spill_dir: Option<PathBuf>,
    ) -> Result<Db, DbError> {
        options.validate()?;
        let started = Instant::now();
        backend::create_dir_durably(&*backend, &dir.join("blocks"))
            .map_err(|(path, source)| DbError::Io { path, source })?;
        let counters = Counters::default();
        let mut quarantined = Vec::new();
        let blocks = maintain::load_blocks(&backend, &dir, &counters, &mut quarantined)?;
        let persisted_until =
            blocks.iter().filter(|b| b.meta().resolution_ms == 0).map(|b| b.meta().max_t).max().unwrap_or(i64::MIN);
        let limits = HeadLimits { block_range: options.block_range, ooo_window: options.ooo_window };
        let store = match &spill_dir {
            Some(spill_dir) => ChunkStore::files(spill_dir).map_err(io_err(spill_dir))?,
            None => ChunkStore::memory(),
        };
        let mut head = Head::new(limits, persisted_until, store);
        let mut replay = ReplaySummary::default();
        let mut aliases = HashMap::new();
        let mut failure = None;
        let (wal, stats) = Wal::open_with(Arc::clone(&backend), dir.join("wal"), options.wal.clone(), &mut |record| {
            if failure.is_none() {
                if let Err(err) = replay_record(&mut head, record, &mut aliases, &mut replay) {
                    failure = Some(err);
                }
            }
        })?;
        if let Some(err) = failure {
            return Err(err);
        }
        replay.records = stats.records;
        replay.truncated_bytes = stats.truncated_bytes;
        replay.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            dir = %dir.display(),
            blocks = blocks.len(),
            series = head.num_series(),
            samples = replay.samples,
            skipped_persisted = replay.skipped_persisted,
            elapsed_ms = replay.elapsed_ms,
            "tsdb opened"
        );
        Ok(Db {
            backend,
            dir,
            options,
            lookup: Arc::clone(head.index().lookup()),
            head: RwLock::new(head),
            wal,
            blocks: RwLock::new(blocks),
            maintenance: Mutex::new(()),
            counters,
            quarantined: Mutex::new(quarantined),
            replay,
            _lock: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// What opening replayed.
    pub fn replay_summary(&self) -> &ReplaySummary {
        &self.replay
    }

    /// The oldest timestamp an append may have now (see [`Rejection::TooOld`]).
    pub fn min_valid_time(&self) -> i64 {
        self.head().min_valid()
    }

    /// Blocks taken out of service since opening.
    pub fn quarantined(&self) -> Vec<Quarantined> {
        self.quarantined.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Appends samples and returns once they are durable (group commit with concurrent appenders). Samples the
    /// head refuses are counted in the report and do not fail the rest. An error means the call was not
    /// acknowledged, though series before a failing one may be stored; after a WAL failure every later append
    /// fails too.
    pub fn append(&self, batch: &[SeriesBatch]) -> Result<AppendReport, DbError> {
        self.append_each(batch)
    }

    /// [`Db::append`] for series with borrowed labels; a known series costs no allocation.
    pub fn append_samples(&self, batch: &[SeriesSamples<'_>]) -> Result<AppendReport, DbError> {
        self.append_each(batch)
    }

    fn append_each(&self, batch: &[impl AppendSeries]) -> Result<AppendReport, DbError> {
        self.commit(self.apply(batch))
    }

    /// Applies a batch to the head and takes the batch's place in the log's order. The head's write lock covers
    /// only this: series are hashed and known ones found before it, and [`Db::commit`] encodes and writes the
    /// records after it.
    fn apply(&self, batch: &[impl AppendSeries]) -> Applied<'_> {
        let fingerprints: Vec<Fingerprint> = batch.iter().map(|s| self.lookup.fingerprint(s.pairs())).collect();
        let mut found = Vec::with_capacity(batch.len());
        self.lookup.find_all(&fingerprints, &mut found);
        let mut report = AppendReport::default();
        let mut records = Vec::new();
        let mut samples = Vec::with_capacity(batch.len());
        let mut failure = None;
        let mut head = self.head_mut();
        head.touch(found.iter().flatten().copied());
        for ((series, &hash), found) in batch.iter().zip(&fingerprints).zip(found) {
            // A series found without the lock may have been dropped since; ids are never reused, so one still in
            // the head is this series.
            let id = match found.filter(|&id| head.has_series(id)) {
                Some(id) => id,
                None => match head.get_or_create_hashed(hash, series.pairs()) {
                    Ok((id, created)) => {
                        if created {
                            self.counters.series_created.fetch_add(1, Ordering::Relaxed);
                            records.push(Record::Series { id: u64::from(id), labels: labels_of(series) });
                        }
                        id
                    }
                    Err(err) => {
                        // What the head took so far is still logged, so the head never holds unlogged data.
                        failure = Some(err);
                        break;
                    }
                },
            };
            for (t, v) in series.samples() {
                let bits = v.to_bits();
                match head.add(id, t, bits, false) {
                    Ok(Added::Appended) => {
                        report.appended += 1;
                        samples.push(RefSample { series_id: u64::from(id), t_ms: t, value_bits: bits });
                    }
                    Ok(Added::Unchanged) => report.unchanged += 1,
                    Err(reason) => self.count_rejection(&mut report, series, t, reason),
                }
            }
        }
        // Taken under the head lock, so the log's order is the order the head applied. Taken even with nothing
        // to log: a sample found unchanged may come from an append not durable yet, which this one waits for.
        let place = self.wal.reserve();
        Applied { report, records, samples, place, failure }
    }

    /// Logs what [`Db::apply`] took at its place in the log's order, once everything applied before it is
    /// logged, and waits until all of that is durable.
    fn commit(&self, applied: Applied<'_>) -> Result<AppendReport, DbError> {
        let Applied { report, mut records, samples, place, failure } = applied;
        if samples.len() > SAMPLES_PER_RECORD {
            records.extend(samples.chunks(SAMPLES_PER_RECORD).map(|run| Record::Samples(run.to_vec())));
        } else if !samples.is_empty() {
            records.push(Record::Samples(samples));
        }
        let lsn = place.append_nosync(&records)?;
        self.wal.wait_durable(lsn)?;
        self.counters.appended.fetch_add(report.appended, Ordering::Relaxed);
        failure.map_or(Ok(report), |err| Err(err.into()))
    }

    /// A view of the samples in `[mint, maxt]` (both inclusive), at full resolution.
    pub fn querier(&self, mint: i64, maxt: i64) -> Querier<'_> {
        Querier::new(self, mint, maxt, &[])
    }

    /// A querier that leaves out the raw blocks lying inside one of the `skip` ranges.
    pub(crate) fn querier_excluding(&self, mint: i64, maxt: i64, skip: &[(i64, i64)]) -> Querier<'_> {
        Querier::new(self, mint, maxt, skip)
    }

    /// Fsyncs the log; for a clean shutdown.
    pub fn close(self) -> Result<(), DbError> {
        self.wal.sync()?;
        Ok(())
    }

    fn count_rejection(&self, report: &mut AppendReport, series: &impl AppendSeries, t: i64, reason: Rejection) {
        let counter = match reason {
            Rejection::OutOfOrder { .. } => {
                report.out_of_order += 1;
                &self.counters.out_of_order
            }
            Rejection::TooOld { .. } => {
                report.too_old += 1;
                &self.counters.too_old
            }
            Rejection::Duplicate => {
                report.duplicate += 1;
                &self.counters.duplicate
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if report.first_error.is_none() {
            report.first_error = Some(SampleError { labels: labels_of(series), t, reason });
        }
    }

    pub(crate) fn head(&self) -> RwLockReadGuard<'_, Head> {
        self.head.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn head_mut(&self) -> RwLockWriteGuard<'_, Head> {
        self.head.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// What [`Db::apply`] took into the head, to be logged by [`Db::commit`].
struct Applied<'a> {
    report: AppendReport,
    /// The `Series` records of the series created.
    records: Vec<Record>,
    samples: Vec<RefSample>,
    /// The batch's place in the log's order.
    place: Reservation<'a>,
    /// Why the batch stopped part-way.
    failure: Option<IndexError>,
}

/// The labels of a series of a batch, owned; for new series and errors only.
fn labels_of(series: &impl AppendSeries) -> Labels {
    // The pairs form a valid label set (the callers' contract), so building one cannot fail.
    Labels::from_pairs(series.pairs()).unwrap_or_default()
}

/// Applies one replayed WAL record to the head. `aliases` maps ids of repeated series records to the id the
/// head restored first: a series removed from the head (it had no samples left) and created again under a
/// new id may have both records in the log.
fn replay_record(
    head: &mut Head,
    record: Record,
    aliases: &mut HashMap<SeriesId, SeriesId>,
    summary: &mut ReplaySummary,
) -> Result<(), DbError> {
    let resolve = |aliases: &HashMap<SeriesId, SeriesId>, id: u64| {
        series_id(id).map(|id| aliases.get(&id).copied().unwrap_or(id))
    };
    match record {
        Record::Series { id, labels } => {
            let id = series_id(id)?;
            match head.restore_series(id, &labels) {
                Ok(()) => {}
                Err(IndexError::SeriesExists { existing, .. }) => {
                    aliases.insert(id, existing);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Record::Samples(samples) => {
            for s in samples {
                let Ok(id) = resolve(aliases, s.series_id) else {
                    summary.unknown_series += 1;
                    continue;
                };
                if !head.index().contains(id) {
                    summary.unknown_series += 1;
                    continue;
                }
                match head.add(id, s.t_ms, s.value_bits, true) {
                    Ok(_) => summary.samples += 1,
                    Err(Rejection::TooOld { .. }) => summary.skipped_persisted += 1,
                    // Only accepted samples are logged, and a checkpoint repeats them unchanged, so a conflicting
                    // duplicate cannot come from this database; keep the first, as the live head did.
                    Err(_) => {}
                }
            }
        }
        Record::Chunk { series_id: id, bytes } => {
            let id = resolve(aliases, id)?;
            let taken = head.restore_chunk(id, &bytes).map_err(DbError::CorruptRecord)?;
            summary.samples += taken;
        }
    }
    Ok(())
}

fn series_id(id: u64) -> Result<SeriesId, DbError> {
    SeriesId::try_from(id).map_err(|_| DbError::CorruptRecord(format!("series id {id} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemBackend;

    #[test]
    fn batches_are_logged_in_the_order_the_head_applied_them_whichever_commits_first() {
        let mem = Arc::new(MemBackend::new());
        let open = || Db::open_with(mem.clone(), "/db", DbOptions::default()).unwrap();
        let db = open();
        let labels = [("__name__", "up")];
        // `first` creates the series and `second` appends to it: replaying `second` first would lose its sample.
        let first = db.apply(&[SeriesSamples { labels: &labels, samples: &[(1000, 1.0)] }]);
        let second = db.apply(&[SeriesSamples { labels: &labels, samples: &[(2000, 2.0)] }]);
        std::thread::scope(|s| {
            let (ready, started) = std::sync::mpsc::channel();
            let db = &db;
            let later = s.spawn(move || {
                ready.send(()).unwrap();
                db.commit(second).unwrap()
            });
            started.recv().unwrap();
            db.commit(first).unwrap();
            assert_eq!(later.join().unwrap().appended, 1);
        });
        drop(db);
        mem.crash();
        let db = open();
        assert_eq!(db.replay_summary().unknown_series, 0);
        let series: Vec<Series> = db.querier(0, 3000).select(&[]).unwrap().map(Result::unwrap).collect();
        let samples: Vec<(i64, f64)> = series[0].samples.iter().map(|s| (s.t, s.v)).collect();
        assert_eq!(samples, [(1000, 1.0), (2000, 2.0)]);
    }

    #[test]
    fn an_append_that_changes_nothing_waits_until_what_it_found_is_durable() {
        let mem = Arc::new(MemBackend::new());
        let db = Db::open_with(mem.clone(), "/db", DbOptions::default()).unwrap();
        // A slow disk, so that the sample is written well before it is durable.
        mem.set_sync_delay(std::time::Duration::from_millis(20));
        let labels = [("__name__", "up")];
        let batch = [SeriesSamples { labels: &labels, samples: &[(1000, 1.0)] }];
        let start = db.wal.durable_lsn();
        let first = db.apply(&batch);
        let again = db.apply(&batch);
        assert_eq!((again.report.unchanged, again.records.len() + again.samples.len()), (1, 0));
        std::thread::scope(|s| {
            let (ready, started) = std::sync::mpsc::channel();
            let db = &db;
            let later = s.spawn(move || {
                ready.send(()).unwrap();
                db.commit(again).unwrap();
                db.wal.durable_lsn()
            });
            started.recv().unwrap();
            db.commit(first).unwrap();
            assert!(later.join().unwrap() > start, "acknowledged before the sample it found was durable");
        });
    }
}
