//! The store: the stream index, the head and its WAL, the parts on disk, and appends into them.
//!
//! Directory layout (`docs/format/logstore.md`): `LOCK`, `wal/`, one directory per time partition named by its
//! start (`20261121T000000Z`) holding `<id>.part` files. An append is acknowledged only once its WAL records
//! are fsynced. One `RwLock` guards the in-memory state; appends hold it only to copy their records into the
//! head, readers only to take `Arc`s of what they need.

mod maintain;
mod metrics;
mod query;
mod read;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use vigil_model::{Labels, LogEntry};

use crate::error::{io_err, Error, Rejected, Rejection};
use crate::fsutil;
use crate::head::{ChunkLimits, Head};
use crate::index::StreamIndex;
use crate::options::{duration_ns, Options};
use crate::part::Part;
use crate::wal::{record, Wal};

pub use maintain::MaintainReport;
pub use metrics::Metrics;
pub use query::{Stats, StreamInfo};
pub use read::{ReadStats, Reader};

use metrics::{add, Counters};

/// What an append did. Refused records do not fail the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Records stored.
    pub entries: u64,
    /// Line bytes stored.
    pub bytes: u64,
    pub streams_created: u64,
    /// Records refused (see [`Rejection`]).
    pub rejected: u64,
    /// The first refused record, for an error message.
    pub first_rejection: Option<Rejected>,
}

/// The in-memory state under the store's lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub index: StreamIndex,
    pub head: Head,
    /// A head being written into parts; readers still see it until the parts are in `parts`.
    pub frozen: Option<Arc<Head>>,
    /// Sorted by partition start, then id.
    pub parts: Vec<Arc<Part>>,
}

impl State {
    fn sort_parts(&mut self) {
        self.parts.sort_by_key(|p| (p.meta.partition_start, p.id));
    }
}

/// vigil's log store over one directory. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct LogStore {
    dir: PathBuf,
    opts: Options,
    state: RwLock<State>,
    wal: Wal,
    /// Serialises maintenance; holds the WAL segment the frozen head's records lie before.
    maintenance: Mutex<Option<u64>>,
    counters: Counters,
    next_part_id: AtomicU64,
    /// Set when a part's directory fsync failed: whether that part survives a crash is unknown.
    poisoned: Mutex<Option<String>>,
    _lock: File,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, duration_ns)
}

/// The partition `[start, end)` holding `ts`.
pub(crate) fn partition_of(ts: i64, partition_ns: i64) -> (i64, i64) {
    let start = ts.div_euclid(partition_ns) * partition_ns;
    (start, start.saturating_add(partition_ns))
}

/// A partition directory's name: its start in UTC, `YYYYMMDDTHHMMSSZ`.
pub(crate) fn partition_dir_name(start_ns: i64) -> String {
    let secs = start_ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = vigil_model::time::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn is_partition_dir_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

impl LogStore {
    /// Opens (or creates) the store in `dir`, locking it, loading its parts and replaying its WAL.
    pub fn open(dir: &Path, opts: Options) -> Result<LogStore, Error> {
        opts.validate()?;
        fsutil::create_dir_durably(dir)?;
        let lock_path = dir.join("LOCK");
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path);
        let lock = lock.map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path: dir.to_path_buf() }),
            Err(std::fs::TryLockError::Error(source)) => return Err(Error::Io { path: lock_path, source }),
        }
        let counters = Counters::default();
        let mut state = State { parts: maintain::load_parts(dir)?, ..State::default() };
        state.sort_parts();
        for p in &state.parts {
            for (id, labels) in &p.streams {
                state.index.insert(*id, labels);
            }
        }
        // Per partition, the WAL segment below which the parts hold every record.
        let mut persisted: HashMap<(i64, i64), u64> = HashMap::new();
        for p in &state.parts {
            let e = persisted.entry((p.meta.partition_start, p.meta.partition_end)).or_default();
            *e = (*e).max(p.meta.wal_before);
        }
        let persisted: Vec<((i64, i64), u64)> = persisted.into_iter().collect();
        let min_next = persisted.iter().map(|&(_, w)| w).max().unwrap_or(0);
        let next_part_id = state.parts.iter().map(|p| p.id + 1).max().unwrap_or(1);
        let limits = ChunkLimits { max_records: opts.block_max_records, max_bytes: opts.block_max_bytes };
        let (mut replayed, mut skipped) = (0u64, 0u64);
        let wal_dir = dir.join("wal");
        let (wal, replay) =
            Wal::open(&wal_dir, opts.wal_segment_bytes, min_next, &mut |segment, kind, payload, path| {
                let streams = record::decode(kind, payload)
                    .map_err(|reason| crate::error::corrupt(path, format!("undecodable record: {reason}")))?;
                for (labels, entries) in streams {
                    let (id, _) = state.index.get_or_create(&labels);
                    for e in &entries {
                        let done = persisted
                            .iter()
                            .any(|&((s, end), before)| e.ts_ns >= s && e.ts_ns < end && segment < before);
                        if done {
                            skipped += 1;
                        } else {
                            state.head.push(id, e, limits);
                            replayed += 1;
                        }
                    }
                }
                Ok(())
            })?;
        add(&counters.replayed_lines, replayed);
        add(&counters.replay_skipped_lines, skipped);
        tracing::info!(
            dir = %dir.display(),
            parts = state.parts.len(),
            streams = state.index.len(),
            replayed_lines = replayed,
            skipped_lines = skipped,
            wal_records = replay.records,
            truncated_bytes = replay.truncated_bytes,
            "log store opened"
        );
        Ok(LogStore {
            dir: dir.to_path_buf(),
            opts,
            state: RwLock::new(state),
            wal,
            maintenance: Mutex::new(None),
            counters,
            next_part_id: AtomicU64::new(next_part_id),
            poisoned: Mutex::new(None),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The id of the stream with these labels, if the store knows it.
    pub fn stream_id(&self, labels: &Labels) -> Option<u64> {
        self.state().index.id_of(labels)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    fn check_poisoned(&self) -> Result<(), Error> {
        if let Some(cause) = self.poisoned.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Err(Error::Poisoned { cause });
        }
        if let Some(cause) = self.wal.poisoned() {
            return Err(Error::Poisoned { cause });
        }
        Ok(())
    }

    pub(crate) fn poison(&self, err: Error) -> Error {
        let mut p = self.poisoned.lock().unwrap_or_else(PoisonError::into_inner);
        if p.is_none() {
            tracing::error!(error = %err, "log store poisoned, refusing further writes");
            *p = Some(err.to_string());
        }
        err
    }

    fn check_labels(&self, labels: &Labels) -> Result<(), Rejection> {
        if labels.is_empty() {
            return Err(Rejection::NoLabels);
        }
        if labels.len() > self.opts.max_labels {
            return Err(Rejection::TooManyLabels { count: labels.len(), limit: self.opts.max_labels });
        }
        for l in labels.iter() {
            let len = l.name.len().max(l.value.len());
            if len > self.opts.max_label_bytes {
                return Err(Rejection::LabelTooLong { name: l.name.clone(), len, limit: self.opts.max_label_bytes });
            }
        }
        Ok(())
    }

    fn check_entry(&self, e: &LogEntry, latest: i64) -> Result<(), Rejection> {
        let o = &self.opts;
        if e.line.len() > o.max_line_bytes {
            return Err(Rejection::LineTooLong { len: e.line.len(), limit: o.max_line_bytes });
        }
        if e.ts_ns < 0 {
            return Err(Rejection::BeforeEpoch { ts_ns: e.ts_ns });
        }
        if e.ts_ns > latest {
            return Err(Rejection::TooFarInFuture { ts_ns: e.ts_ns, max_future_ns: duration_ns(o.max_future) });
        }
        if e.fields.is_empty() {
            return Ok(());
        }
        if e.fields.len() > o.max_fields {
            return Err(Rejection::TooManyFields { count: e.fields.len(), limit: o.max_fields });
        }
        let bytes: usize = e.fields.iter().map(|(n, v)| n.len() + v.len()).sum();
        if bytes > o.max_field_bytes {
            return Err(Rejection::FieldsTooLarge { bytes, limit: o.max_field_bytes });
        }
        if e.fields.iter().any(|(n, _)| n.is_empty()) {
            return Err(Rejection::EmptyFieldName);
        }
        Ok(())
    }

    /// Appends records and returns once they are durable (WAL fsync, shared with concurrent appenders).
    /// Invalid records are refused and counted in the result; the others are stored. An error means the call
    /// was not acknowledged; after a WAL failure every later append fails too.
    pub fn append(&self, streams: &[(Labels, Vec<LogEntry>)]) -> Result<AppendStats, Error> {
        self.check_poisoned()?;
        let latest = now_ns().saturating_add(duration_ns(self.opts.max_future));
        let mut stats = AppendStats::default();
        let mut keep: Vec<Vec<bool>> = Vec::with_capacity(streams.len());
        for (labels, entries) in streams {
            let reject = |stats: &mut AppendStats, ts_ns: i64, reason: Rejection| {
                stats.rejected += 1;
                if stats.first_rejection.is_none() {
                    stats.first_rejection = Some(Rejected { labels: labels.clone(), ts_ns, reason });
                }
            };
            if let Err(reason) = self.check_labels(labels) {
                for e in entries {
                    reject(&mut stats, e.ts_ns, reason.clone());
                }
                keep.push(vec![false; entries.len()]);
                continue;
            }
            let mut k = Vec::with_capacity(entries.len());
            for e in entries {
                match self.check_entry(e, latest) {
                    Ok(()) => {
                        stats.entries += 1;
                        stats.bytes += e.line.len() as u64;
                        k.push(true);
                    }
                    Err(reason) => {
                        reject(&mut stats, e.ts_ns, reason);
                        k.push(false);
                    }
                }
            }
            keep.push(k);
        }
        add(&self.counters.rejected_lines, stats.rejected);
        if stats.entries == 0 {
            return Ok(stats);
        }
        let (mut buf, mut ends) = (Vec::new(), Vec::new());
        record::encode(streams, &|s, i| keep[s][i], &mut buf, &mut ends);

        let limits = ChunkLimits { max_records: self.opts.block_max_records, max_bytes: self.opts.block_max_bytes };
        let place = {
            let mut st = self.state_mut();
            let st = &mut *st;
            for ((labels, entries), k) in streams.iter().zip(&keep) {
                if !k.contains(&true) {
                    continue;
                }
                let (id, created) = st.index.get_or_create(labels);
                stats.streams_created += u64::from(created);
                for (e, _) in entries.iter().zip(k).filter(|(_, &k)| k) {
                    st.head.push(id, e, limits);
                }
            }
            // Taken under the lock, so the log's order is the order the head applied.
            self.wal.reserve()
        };
        let lsn = place.write(&buf, &ends)?;
        self.wal.wait_durable(lsn)?;
        add(&self.counters.appended_lines, stats.entries);
        add(&self.counters.appended_bytes, stats.bytes);
        add(&self.counters.streams_created, stats.streams_created);
        Ok(stats)
    }

    /// A snapshot of the counters and gauges.
    pub fn metrics(&self) -> Metrics {
        use metrics::get;
        let c = &self.counters;
        let mut m = Metrics {
            appended_lines: get(&c.appended_lines),
            appended_bytes: get(&c.appended_bytes),
            rejected_lines: get(&c.rejected_lines),
            streams_created: get(&c.streams_created),
            wal_fsyncs: get(&self.wal.fsyncs),
            wal_bytes_written: get(&self.wal.bytes_written),
            replayed_lines: get(&c.replayed_lines),
            replay_skipped_lines: get(&c.replay_skipped_lines),
            head_persists: get(&c.head_persists),
            parts_written: get(&c.parts_written),
            merges: get(&c.merges),
            merge_failures: get(&c.merge_failures),
            parts_deleted: get(&c.parts_deleted),
            partitions_deleted: get(&c.partitions_deleted),
            blocks_read: get(&c.blocks_read),
            blocks_skipped_bloom: get(&c.blocks_skipped_bloom),
            wal_bytes: self.wal.disk_bytes(),
            poisoned: self.check_poisoned().is_err(),
            ..Metrics::default()
        };
        let st = self.state();
        m.stream_id_conflicts = st.index.conflicts;
        m.streams = st.index.len() as u64;
        m.parts = st.parts.len() as u64;
        let mut partitions: Vec<i64> = st.parts.iter().map(|p| p.meta.partition_start).collect();
        partitions.dedup();
        m.partitions = partitions.len() as u64;
        m.disk_bytes = st.parts.iter().map(|p| p.file_bytes()).sum();
        for h in std::iter::once(&st.head).chain(st.frozen.as_deref()) {
            m.head_lines += h.records;
            m.head_bytes += h.bytes;
        }
        m
    }

    pub(crate) fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}
