//! Behaviour of the database on real files: appends and queries, out-of-order and duplicate samples,
//! persisting and compaction, restarts, a torn WAL tail, damaged blocks, retention, locking, self-metrics and
//! the head chunk files.

use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use vigil_model::metric::VecSink;
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::backend::{Backend, FsBackend, MemBackend};
use vigil_tsdb::block::Block;
use vigil_tsdb::wal::WalOptions;
use vigil_tsdb::{Aggregate, Db, DbError, DbOptions, Rejection, Resolution, Sample, SeriesBatch, SeriesSamples};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
const MIN: i64 = 60_000;

fn options() -> DbOptions {
    DbOptions {
        block_range: MIN,
        ooo_window: 20_000,
        compaction_ranges: vec![3 * MIN, 60 * MIN],
        retention: None,
        downsample: true,
        ..DbOptions::default()
    }
}

fn labels(name: &str, host: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("host", host)]).unwrap()
}

fn one(labels: &Labels, t: i64, v: f64) -> Vec<SeriesBatch> {
    vec![SeriesBatch { labels: labels.clone(), samples: vec![Sample { t, v }] }]
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value).unwrap()
}

/// Every series as (labels, [(t, value bits)]).
type Dump = Vec<(Labels, Vec<(i64, u64)>)>;

fn dump(db: &Db, mint: i64, maxt: i64) -> Dump {
    db.querier(mint, maxt)
        .select(&[])
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.labels, s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect())
        })
        .collect()
}

/// Appends `minutes` minutes of 10-second samples for hosts a, b and c, starting at `start`.
fn fill(db: &Db, start: i64, minutes: i64) {
    for step in 0..minutes * 6 {
        let t = start + step * 10_000;
        let batch: Vec<SeriesBatch> = ["a", "b", "c"]
            .iter()
            .map(|h| SeriesBatch { labels: labels("load", h), samples: vec![Sample { t, v: (step % 17) as f64 }] })
            .collect();
        let report = db.append(&batch).unwrap();
        assert_eq!(report.appended, 3, "{report:?}");
    }
}

#[test]
fn appended_samples_survive_a_restart_with_their_exact_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let a = labels("up", "a");
    let db = Db::open(tmp.path(), options()).unwrap();
    let values = [1.0, f64::from_bits(STALE_NAN), f64::NAN, -0.0, 2.5];
    for (i, v) in values.iter().enumerate() {
        db.append(&one(&a, 1000 * i as i64, *v)).unwrap();
    }
    let before = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(before.len(), 1);
    let bits: Vec<u64> = before[0].1.iter().map(|s| s.1).collect();
    assert_eq!(bits, values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    db.close().unwrap();

    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    assert_eq!(db.replay_summary().samples, values.len() as u64);
    // Inclusive bounds on both ends.
    assert_eq!(dump(&db, 1000, 3000)[0].1.len(), 3);
}

#[test]
fn borrowed_and_owned_appends_find_the_same_series_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    db.append(&one(&labels("up", "a"), 1000, 1.0)).unwrap();
    let a = [("__name__", "up"), ("host", "a")];
    let b = [("__name__", "up"), ("host", "b")];
    let report = db
        .append_samples(&[
            SeriesSamples { labels: &a, samples: &[(2000, 2.0), (1000, 1.0)] },
            SeriesSamples { labels: &b, samples: &[(2000, 5.0)] },
        ])
        .unwrap();
    // 1000 for host a is already there with the same value.
    assert_eq!((report.appended, report.unchanged), (2, 1));
    let before = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(before.len(), 2);
    assert_eq!(before[0], (labels("up", "a"), vec![(1000, 1f64.to_bits()), (2000, 2f64.to_bits())]));
    db.close().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}

#[test]
fn labels_that_are_not_a_label_set_fail_the_append_but_what_came_before_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    let good = [("__name__", "up"), ("host", "a")];
    for bad in
        [&[("host", "a"), ("__name__", "up")][..], &[("__name__", "up"), ("host", "")], &[("a", "1"), ("a", "2")]]
    {
        let batch = [
            SeriesSamples { labels: &good, samples: &[(1000, 1.0)] },
            SeriesSamples { labels: bad, samples: &[(1000, 1.0)] },
        ];
        let err = db.append_samples(&batch).unwrap_err();
        assert!(err.to_string().contains("not sorted by name, unique and non-empty"), "{err}");
    }
    db.close().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), vec![(labels("up", "a"), vec![(1000, 1f64.to_bits())])]);
}

#[test]
fn out_of_order_duplicate_and_too_old_samples_follow_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    let a = labels("up", "a");
    db.append(&one(&a, 100_000, 1.0)).unwrap();
    // Within the 20 s window: accepted and merged into time order.
    assert_eq!(db.append(&one(&a, 85_000, 2.0)).unwrap().appended, 1);
    // The same sample again changes nothing; a different value at the same time is refused.
    assert_eq!(db.append(&one(&a, 100_000, 1.0)).unwrap().unchanged, 1);
    assert_eq!(db.append(&one(&a, 85_000, 2.0)).unwrap().unchanged, 1);
    let dup = db.append(&one(&a, 100_000, 9.0)).unwrap();
    assert_eq!(dup.duplicate, 1);
    assert_eq!(dup.first_error.as_ref().unwrap().reason, Rejection::Duplicate);
    assert_eq!(db.append(&one(&a, 85_000, 9.0)).unwrap().duplicate, 1);
    // Outside the window but within the writable range: out of order, with a message naming the series.
    let late = db.append(&one(&a, 75_000, 3.0)).unwrap();
    assert_eq!(late.out_of_order, 1);
    let message = late.first_error.unwrap().to_string();
    assert!(message.contains("out of order") && message.contains("host=\"a\""), "{message}");
    // A new series may start behind the newest sample, but not further back than half a block range.
    let b = labels("up", "b");
    assert_eq!(db.append(&one(&b, 75_000, 1.0)).unwrap().appended, 1);
    let old = db.append(&one(&b, 60_000, 1.0)).unwrap();
    assert_eq!(old.too_old, 1);
    assert_eq!(old.first_error.unwrap().reason, Rejection::TooOld { min_valid: 70_000 });

    let got = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(got[0].1, vec![(85_000, 2f64.to_bits()), (100_000, 1f64.to_bits())]);
    let stats = db.stats();
    assert_eq!((stats.out_of_order, stats.duplicate, stats.too_old), (1, 2, 1));
    // Out-of-order samples are in the log too.
    db.close().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), got);
}

#[test]
fn the_head_is_persisted_compacted_and_downsampled_and_reads_the_same_after_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    fill(&db, 0, 150);
    let before = dump(&db, i64::MIN, i64::MAX);
    let report = db.maintain().unwrap();
    assert!(report.persisted >= 100, "{report:?}");
    assert!(report.checkpointed && report.compacted >= 2 && report.downsampled >= 2, "{report:?}");
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    // The head keeps only what is still writable; the rest is in blocks on disk.
    let stats = db.stats();
    assert!(stats.head_min_t.unwrap() >= 148 * MIN, "{stats:?}");
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "raw-0-3600000"), "{names:?}");
    assert!(names.iter().any(|n| n == "5m-0-3600000") && names.iter().any(|n| n == "1h-0-3600000"), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".tmp") || n.ends_with(".deleted")), "{names:?}");

    drop(db);
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    // Time bounds select the right samples across blocks and the head.
    let window = dump(&db, 59 * MIN, 61 * MIN);
    assert!(window.iter().all(|(_, s)| s.len() == 13), "{window:?}");
    let hosts = db.querier(0, 10 * MIN).label_values("host", &[eq("__name__", "load")]).unwrap();
    assert_eq!(hosts, ["a", "b", "c"]);
    assert_eq!(db.querier(0, 10 * MIN).label_names(&[]).unwrap(), ["__name__", "host"]);
}

#[test]
fn a_torn_wal_tail_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    fill(&db, 0, 2);
    let before = dump(&db, i64::MIN, i64::MAX);
    drop(db);
    // Half a record at the end of the newest segment, as a crash mid-write leaves it.
    let mut segments: Vec<_> =
        std::fs::read_dir(tmp.path().join("wal")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    segments.sort();
    let last = segments.last().unwrap();
    let mut bytes = std::fs::read(last).unwrap();
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9]);
    std::fs::write(last, bytes).unwrap();

    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(db.replay_summary().truncated_bytes, 11);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}

/// The one raw block of `fill(0, 3)` after maintenance, its path and the data.
fn persisted_db(dir: &Path) -> (Db, std::path::PathBuf, Dump) {
    let db = Db::open(dir, DbOptions { compaction_ranges: vec![], downsample: false, ..options() }).unwrap();
    fill(&db, 0, 3);
    db.maintain().unwrap();
    let data = dump(&db, i64::MIN, i64::MAX);
    (db, dir.join("blocks").join("raw-0-60000"), data)
}

#[test]
fn a_flipped_bit_in_a_chunk_file_quarantines_the_block_and_the_rest_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, block, data) = persisted_db(tmp.path());
    let chunks = block.join("chunks");
    let mut bytes = std::fs::read(&chunks).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&chunks, bytes).unwrap();
    // Reopen so the block maps the damaged file (a running database reads the same bytes).
    drop(db);
    let db = Db::open(tmp.path(), DbOptions { compaction_ranges: vec![], downsample: false, ..options() }).unwrap();

    let err = db.querier(i64::MIN, i64::MAX).select(&[]).unwrap().find_map(Result::err).unwrap();
    let message = err.to_string();
    assert!(matches!(err, DbError::Block(_)) && message.contains(&chunks.display().to_string()), "{message}");
    let quarantined = db.quarantined();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].name, "raw-0-60000");
    assert!(tmp.path().join("quarantine/raw-0-60000/chunks").exists());
    assert!(!block.exists());
    // The head's samples are still served.
    let rest = dump(&db, i64::MIN, i64::MAX);
    let head_part: Vec<_> =
        data.iter().map(|(l, s)| (l.clone(), s.iter().copied().filter(|x| x.0 >= MIN).collect())).collect();
    assert_eq!(rest, head_part);
    let mut sink = VecSink::default();
    db.collect_metrics(&mut sink);
    let count = sink.samples.iter().find(|s| s.name == "vigil_tsdb_blocks_quarantined_total").unwrap();
    assert_eq!(count.value, 1.0);
}

#[test]
fn a_damaged_index_is_quarantined_at_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, block, _) = persisted_db(tmp.path());
    drop(db);
    let index = block.join("index");
    let mut bytes = std::fs::read(&index).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&index, bytes).unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(db.quarantined().len(), 1, "{:?}", db.quarantined());
    assert!(db.quarantined()[0].reason.contains("index"), "{:?}", db.quarantined());
    assert!(tmp.path().join("quarantine/raw-0-60000").exists());
    // Samples after the block are still there.
    assert!(!dump(&db, MIN, i64::MAX).is_empty());
}

#[test]
fn retention_deletes_whole_blocks_by_age_and_by_size() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DbOptions { compaction_ranges: vec![], downsample: false, retention: Some(5 * MIN), ..options() };
    let db = Db::open(tmp.path(), opts.clone()).unwrap();
    fill(&db, 0, 12);
    let report = db.maintain().unwrap();
    // Newest sample at 11:50: the blocks ending at or before 6:50 go; 6..11 and the head stay.
    assert_eq!(report.deleted, 6, "{report:?}");
    let oldest = dump(&db, i64::MIN, i64::MAX)[0].1[0].0;
    assert_eq!(oldest, 6 * MIN);
    drop(db);

    let sized = DbOptions { retention: None, max_bytes: Some(1), ..opts };
    let db = Db::open(tmp.path(), sized).unwrap();
    db.maintain().unwrap();
    assert_eq!(db.stats().blocks, 0);
    // The head is never deleted by retention.
    assert!(!dump(&db, i64::MIN, i64::MAX).is_empty());
}

#[test]
fn unfinished_and_half_deleted_blocks_are_cleaned_up_at_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, block, data) = persisted_db(tmp.path());
    drop(db);
    let blocks = tmp.path().join("blocks");
    std::fs::create_dir(blocks.join("raw-60000-120000.tmp")).unwrap();
    std::fs::write(blocks.join("raw-60000-120000.tmp/chunks"), b"partial").unwrap();
    std::fs::rename(&block, blocks.join("raw-0-60000.deleted")).unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    let mut left: Vec<String> =
        std::fs::read_dir(&blocks).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["raw-60000-120000"]);
    // The deleted block's samples are gone, the head's remain.
    let got = dump(&db, i64::MIN, i64::MAX);
    assert!(got.iter().all(|(_, s)| s.iter().all(|x| x.0 >= MIN)));
    assert_eq!(got.len(), data.len());
}

#[test]
fn a_second_process_cannot_open_the_same_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let _db = Db::open(tmp.path(), options()).unwrap();
    let err = Db::open(tmp.path(), options()).unwrap_err();
    assert!(matches!(err, DbError::Locked { .. }), "{err}");
}

#[test]
fn a_failed_fsync_fails_the_append_and_every_later_one() {
    let mem = Arc::new(MemBackend::new());
    let db = Db::open_with(mem.clone(), Path::new("/db"), options()).unwrap();
    let a = labels("up", "a");
    db.append(&one(&a, 1000, 1.0)).unwrap();
    mem.fail_next_syncs(1);
    assert!(db.append(&one(&a, 2000, 1.0)).is_err());
    let err = db.append(&one(&a, 3000, 1.0)).unwrap_err();
    assert!(err.to_string().contains("poisoned"), "{err}");
}

#[test]
fn concurrent_appenders_on_shared_series_lose_no_acknowledged_sample_in_a_crash() {
    // Writers race on the same series, each batch creating a series the next ones append to, and now and then
    // one runs maintenance, which persists (dropping series) and checkpoints the log while the others append.
    const TICKS: i64 = 1500;
    let mem = Arc::new(MemBackend::new());
    let options =
        DbOptions { ooo_window: 0, wal: WalOptions { max_segment_bytes: 4096, ..WalOptions::default() }, ..options() };
    let db = Db::open_with(mem.clone(), Path::new("/db"), options.clone()).unwrap();
    let (clock, appended) = (AtomicI64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let tick = clock.fetch_add(1, Ordering::Relaxed);
                if tick >= TICKS {
                    break;
                }
                let batch: Vec<SeriesBatch> = (0..8)
                    .map(|k| SeriesBatch {
                        labels: labels("race", &(tick / 4 + k).to_string()),
                        samples: vec![Sample { t: tick * 1000, v: tick as f64 }],
                    })
                    .collect();
                appended.fetch_add(db.append(&batch).unwrap().appended, Ordering::Relaxed);
                if tick % 50 == 0 {
                    db.maintain().unwrap();
                }
            });
        }
    });
    let live = dump(&db, i64::MIN, i64::MAX);
    let stored: usize = live.iter().map(|(_, samples)| samples.len()).sum();
    assert_eq!(stored as u64, appended.into_inner());
    let stats = db.stats();
    assert!(stats.checkpoints > 0 && stats.series_removed > 0, "{stats:?}");
    drop(db);
    mem.crash();
    let db = Db::open_with(mem.clone(), Path::new("/db"), options).unwrap();
    assert_eq!(db.replay_summary().unknown_series, 0);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), live);
}

#[test]
fn self_metrics_report_series_samples_and_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    fill(&db, 0, 3);
    db.maintain().unwrap();
    let mut sink = VecSink::default();
    db.collect_metrics(&mut sink);
    let get = |name: &str| sink.samples.iter().find(|s| s.name == name).map(|s| s.value);
    assert_eq!(get("vigil_tsdb_head_series"), Some(3.0));
    assert_eq!(get("vigil_tsdb_head_samples_appended_total"), Some(3.0 * 18.0));
    assert!(get("vigil_tsdb_wal_fsyncs_total").unwrap() >= 18.0);
    assert!(get("vigil_tsdb_blocks").unwrap() >= 1.0);
    assert!(get("vigil_tsdb_blocks_bytes").unwrap() > 0.0);
    assert!(get("vigil_tsdb_wal_bytes").unwrap() > 0.0);
    assert_eq!(get("vigil_tsdb_head_persists_total"), Some(2.0));
}

#[test]
fn closed_head_chunks_go_to_files_that_opening_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let wide_window = DbOptions { ooo_window: 5 * MIN, ..options() };
    let db = Db::open(tmp.path(), wide_window).unwrap();
    // One-minute blocks: every series closes a chunk a minute.
    fill(&db, 0, 5);
    let spill = tmp.path().join("chunks_head");
    assert!(spill.join("000001").exists());
    assert!(db.stats().head_chunk_file_bytes > 0, "{:?}", db.stats());
    let before = dump(&db, i64::MIN, i64::MAX);
    assert!(before.iter().all(|(_, s)| s.len() == 30), "{before:?}");
    // Closed chunks are read back for the duplicate checks of out-of-order samples too (10 s steps, value
    // step % 17).
    let a = labels("load", "a");
    assert_eq!(db.append(&one(&a, 100_000, 3.0)).unwrap().duplicate, 1);
    assert_eq!(db.append(&one(&a, 100_000, 10.0)).unwrap().unchanged, 1);
    drop(db);

    // The files are a cache: opening empties the directory, and the head comes back from the log.
    std::fs::write(spill.join("000001"), b"garbage").unwrap();
    std::fs::write(spill.join("000099"), b"stale").unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    assert!(!spill.join("000099").exists());
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    assert!(db.stats().head_chunk_file_bytes > 0, "replayed chunks are spilled again");
    // Persisting and checkpointing read the spilled chunks.
    let report = db.maintain().unwrap();
    assert!(report.persisted >= 4 && report.checkpointed, "{report:?}");
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    drop(db);
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}

#[test]
fn head_chunks_stay_in_memory_when_their_files_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), options()).unwrap();
    // The first file is made when the first chunk closes; without its directory that fails.
    std::fs::remove_dir(tmp.path().join("chunks_head")).unwrap();
    fill(&db, 0, 5);
    let stats = db.stats();
    assert!(stats.head_chunk_file_errors >= 1 && stats.head_chunk_file_bytes == 0, "{stats:?}");
    let before = dump(&db, i64::MIN, i64::MAX);
    assert!(before.iter().all(|(_, s)| s.len() == 30), "{before:?}");
    let mut sink = VecSink::default();
    db.collect_metrics(&mut sink);
    let errors = sink.samples.iter().find(|s| s.name == "vigil_tsdb_head_chunk_file_errors_total").unwrap();
    assert!(errors.value >= 1.0);
    db.maintain().unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    drop(db);
    let db = Db::open(tmp.path(), options()).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}

#[test]
fn without_real_files_head_chunks_stay_in_memory() {
    let mem = Arc::new(MemBackend::new());
    let db = Db::open_with(mem.clone(), Path::new("/db"), options()).unwrap();
    fill(&db, 0, 5);
    assert!(dump(&db, i64::MIN, i64::MAX).iter().all(|(_, s)| s.len() == 30));
    assert_eq!(db.stats().head_chunk_file_bytes, 0);
    assert!(!mem.exists(Path::new("/db/chunks_head")).unwrap());
}

/// More series than persisting and checkpointing take per batch (1024), created in the reverse of their label
/// order, one sample every 10 s each.
const MANY: usize = 2500;

fn many_labels() -> Vec<Labels> {
    (0..MANY).map(|i| labels("many", &format!("h{:04}", MANY - i))).collect()
}

/// Appends scrape `step` (at `step * 10 s`, a few ms late) of every series in `all`.
fn append_step(db: &Db, all: &[Labels], step: i64) {
    let batch: Vec<SeriesBatch> = (all.iter().enumerate())
        .map(|(i, l)| SeriesBatch {
            labels: l.clone(),
            samples: vec![Sample { t: step * 10_000 + i as i64 % 1000, v: (step * i as i64) as f64 }],
        })
        .collect();
    assert_eq!(db.append(&batch).unwrap().appended, all.len() as u64);
}

/// Out-of-order samples for every seventh series of `all`, 5 s after scrape `step`.
fn append_out_of_order(db: &Db, all: &[Labels], step: i64) {
    let batch: Vec<SeriesBatch> = (all.iter().enumerate().step_by(7))
        .map(|(i, l)| SeriesBatch {
            labels: l.clone(),
            samples: vec![Sample { t: step * 10_000 + 5000 + i as i64 % 1000, v: -1.0 }],
        })
        .collect();
    assert_eq!(db.append(&batch).unwrap().appended, batch.len() as u64);
}

#[test]
fn a_head_of_many_batches_is_persisted_and_checkpointed_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DbOptions { compaction_ranges: vec![], downsample: false, ..options() };
    let db = Db::open(tmp.path(), opts.clone()).unwrap();
    let all = many_labels();
    for step in 0..18 {
        append_step(&db, &all, step);
        // Out-of-order samples in the second block range, and in the range that stays in the head.
        if step == 9 || step == 17 {
            append_out_of_order(&db, &all, step - 2);
        }
    }
    let before = dump(&db, i64::MIN, i64::MAX);
    assert_eq!(before.len(), MANY);
    assert_eq!(before.iter().map(|(_, s)| s.len()).sum::<usize>(), 18 * MANY + 2 * MANY.div_ceil(7));

    let report = db.maintain().unwrap();
    assert!(report.persisted == 2 && report.checkpointed, "{report:?}");
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
    assert!(db.stats().head_min_t.unwrap() >= 2 * MIN);
    for (name, samples) in [("raw-0-60000", 6 * MANY), ("raw-60000-120000", 6 * MANY + MANY.div_ceil(7))] {
        let block = Block::open(Arc::new(FsBackend), &tmp.path().join("blocks").join(name)).unwrap();
        block.verify().unwrap();
        assert_eq!(block.num_series() as usize, MANY, "{name}");
        assert_eq!(block.meta().stats.samples, samples as u64, "{name}");
    }

    // The head (all series, a third of the samples) now comes back from the checkpoint alone.
    drop(db);
    let wal: Vec<String> = std::fs::read_dir(tmp.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(wal.iter().filter(|n| n.starts_with("checkpoint.")).count(), 1, "{wal:?}");
    let db = Db::open(tmp.path(), opts).unwrap();
    assert_eq!(db.stats().head_series, MANY as u64);
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}

#[test]
fn blocks_compacted_and_downsampled_while_releasing_their_pages_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DbOptions { block_range: 20 * MIN, compaction_ranges: vec![60 * MIN], ..options() };
    let db = Db::open(tmp.path(), opts).unwrap();
    // More series than a merge reads between releases of its sources' pages, one scrape a minute.
    let all = many_labels();
    for step in 0..72 {
        append_step(&db, &all, 6 * step);
    }
    let downsampled = |db: &Db| {
        [(Resolution::FiveMinutes, Aggregate::Sum), (Resolution::OneHour, Aggregate::Max)]
            .map(|(r, a)| db.select_downsampled(&[], 0, 60 * MIN - 1, r, a).unwrap())
    };
    let (raw, computed) = (dump(&db, i64::MIN, i64::MAX), downsampled(&db));
    assert!(computed.iter().all(|s| s.len() == MANY));

    let report = db.maintain().unwrap();
    assert!(report.compacted == 1 && report.downsampled == 2, "{report:?}");
    assert_eq!(dump(&db, i64::MIN, i64::MAX), raw);
    assert_eq!(downsampled(&db), computed);
    for name in ["raw-0-3600000", "5m-0-3600000", "1h-0-3600000"] {
        Block::open(Arc::new(FsBackend), &tmp.path().join("blocks").join(name)).unwrap().verify().unwrap();
    }
}

#[test]
fn appends_while_maintenance_streams_the_head_are_all_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DbOptions { compaction_ranges: vec![], downsample: false, ..options() };
    let db = Db::open(tmp.path(), opts.clone()).unwrap();
    let all = many_labels();
    for step in 0..18 {
        append_step(&db, &all, step);
    }
    // A writer appends newer scrapes (and series new to the head) while maintenance persists and checkpoints
    // batch by batch, until maintenance is done (or ten simulated minutes have passed).
    let done = AtomicBool::new(false);
    let (started, wait) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            for step in 18..78 {
                append_step(&db, &[labels("new", &format!("s{step}"))], step);
                append_step(&db, &all, step);
                if step == 18 {
                    started.send(()).unwrap();
                }
                if done.load(SeqCst) {
                    break;
                }
            }
        });
        wait.recv().unwrap();
        let report = db.maintain().unwrap();
        assert!(report.persisted >= 2 && report.checkpointed, "{report:?}");
        done.store(true, SeqCst);
    });
    let before = dump(&db, i64::MIN, i64::MAX);
    drop(db);
    let db = Db::open(tmp.path(), opts).unwrap();
    assert_eq!(dump(&db, i64::MIN, i64::MAX), before);
}
