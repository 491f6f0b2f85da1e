//! Tests of `wal`: round trips, crash simulation on `MemBackend`, damage, poisoning, group commit and a real
//! SIGKILL crash loop on the file system.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::kill_loop::{iterations, KillLoop};
use proptest::prelude::*;
use vigil_model::Labels;
use vigil_tsdb::backend::{Backend, FsBackend, MemBackend};
use vigil_tsdb::wal::{Lsn, Record, RefSample, Wal, WalError, WalOptions, MAX_RECORD_BYTES};

const WAL_DIR: &str = "/db/wal";

/// Prometheus' staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn small_segments() -> WalOptions {
    WalOptions { max_segment_bytes: 256, sync_interval: Duration::ZERO }
}

fn open(mem: &MemBackend, options: &WalOptions) -> Result<(Wal, Vec<Record>), WalError> {
    Wal::open(Arc::new(mem.clone()), WAL_DIR, options.clone())
}

fn series(id: u64) -> Record {
    let labels = Labels::from_pairs([("__name__", "node_cpu_seconds_total"), ("cpu", &*id.to_string())]).unwrap();
    Record::Series { id, labels }
}

fn samples(id: u64, ts: impl IntoIterator<Item = i64>) -> Record {
    Record::Samples(ts.into_iter().map(|t| RefSample::new(id, t, t as f64 * 0.5)).collect())
}

fn segment_files(mem: &MemBackend, dir: &str) -> Vec<String> {
    mem.list_dir(Path::new(dir)).unwrap().into_iter().filter(|e| !e.is_dir).map(|e| e.name).collect()
}

/// Asserts that `replay` is `acked` followed by a prefix of `pending`.
fn assert_acked_then_prefix(replay: &[Record], acked: &[Record], pending: &[Record]) {
    assert!(replay.len() >= acked.len(), "lost acknowledged records: {} of {}", replay.len(), acked.len());
    assert_eq!(&replay[..acked.len()], acked);
    let extra = &replay[acked.len()..];
    assert!(extra.len() <= pending.len(), "replay has records never appended");
    assert_eq!(extra, &pending[..extra.len()]);
}

#[test]
fn round_trip_across_segment_rotation() {
    let mem = MemBackend::new();
    let (wal, replay) = open(&mem, &small_segments()).unwrap();
    assert!(replay.is_empty());
    let mut expected = Vec::new();
    for id in 0..40u64 {
        let mut batch = vec![series(id), samples(id, [1_700_000_000_000, 1_700_000_010_000])];
        if id % 5 == 0 {
            batch.push(Record::Samples(vec![
                RefSample { series_id: id, t_ms: i64::MIN, value_bits: STALE_NAN },
                RefSample { series_id: u64::MAX, t_ms: i64::MAX, value_bits: f64::NAN.to_bits() },
                RefSample::new(0, -1, -0.0),
            ]));
            batch.push(Record::Samples(Vec::new()));
            batch.push(Record::Series { id: u64::MAX - id, labels: Labels::default() });
        }
        if id % 3 == 0 {
            wal.append_nosync(&batch).unwrap();
        } else {
            wal.append(&batch).unwrap();
        }
        expected.extend(batch);
    }
    let unicode = Labels::from_pairs([("job", "naïve \"quoted\"\n"), ("instance", "例え:9100")]).unwrap();
    expected.push(Record::Series { id: 7, labels: unicode });
    wal.append(&expected[expected.len() - 1..]).unwrap();
    wal.close().unwrap();

    let segments = segment_files(&mem, WAL_DIR);
    assert!(segments.len() > 10, "expected many segments, got {segments:?}");
    assert_eq!(segments[0], "00000000");

    let (wal, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, expected);
    let Record::Samples(s) = &replay[2] else { panic!("expected samples") };
    assert_eq!(s[0].value_bits, STALE_NAN);
    drop(wal);
    // A clean restart loses nothing and a crash after it neither: everything above was synced by `close`.
    mem.crash();
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, expected);
}

#[test]
fn round_trip_on_the_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/wal");
    let options = WalOptions { max_segment_bytes: 1024, sync_interval: Duration::ZERO };
    let (wal, replay) = Wal::open(Arc::new(FsBackend), &dir, options.clone()).unwrap();
    assert!(replay.is_empty());
    let expected: Vec<Record> = (0..100).flat_map(|id| [series(id), samples(id, 0..5)]).collect();
    for pair in expected.chunks(2) {
        wal.append(pair).unwrap();
    }
    drop(wal);
    let (_, replay) = Wal::open(Arc::new(FsBackend), &dir, options).unwrap();
    assert_eq!(replay, expected);
    assert!(std::fs::read_dir(&dir).unwrap().count() > 5);
}

#[test]
fn oversized_record_is_refused_without_poisoning() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &WalOptions::default()).unwrap();
    let huge = "x".repeat(MAX_RECORD_BYTES);
    let record = Record::Series { id: 1, labels: Labels::from_pairs([("a", huge)]).unwrap() };
    assert!(matches!(wal.append(&[series(0), record]), Err(WalError::RecordTooLarge { .. })));
    assert!(!wal.is_poisoned());
    wal.append(&[series(2)]).unwrap();
    drop(wal);
    let (_, replay) = open(&mem, &WalOptions::default()).unwrap();
    assert_eq!(replay, vec![series(2)]);
}

/// Builds a log with acknowledged records and unacknowledged ones behind them.
fn acked_and_pending(mem: &MemBackend) -> (Vec<Record>, Vec<Record>) {
    let (wal, _) = open(mem, &small_segments()).unwrap();
    let acked: Vec<Record> = (0..6).flat_map(|id| [series(id), samples(id, 0..3)]).collect();
    for pair in acked.chunks(2) {
        wal.append(pair).unwrap();
    }
    let pending = vec![samples(0, 10..12), samples(1, 10..13), series(9)];
    wal.append_nosync(&pending).unwrap();
    (acked, pending)
}

#[test]
fn torn_tail_is_truncated_and_writing_continues() {
    let mut truncated_somewhere = false;
    for torn_bytes in [0, 1, 5, 9, 10, 17, 30, 45, 60, 1000] {
        let mem = MemBackend::new();
        let (acked, pending) = acked_and_pending(&mem);
        mem.crash_torn(torn_bytes);

        let mut replay = Vec::new();
        let (wal, stats) =
            Wal::open_with(Arc::new(mem.clone()), WAL_DIR, small_segments(), &mut |r| replay.push(r)).unwrap();
        assert_acked_then_prefix(&replay, &acked, &pending);
        truncated_somewhere |= stats.truncated_bytes > 0;

        let more = vec![series(20), samples(20, 0..4)];
        wal.append(&more).unwrap();
        drop(wal);
        mem.crash();
        let (_, again) = open(&mem, &small_segments()).unwrap();
        let expected: Vec<Record> = replay.iter().cloned().chain(more).collect();
        assert_eq!(again, expected, "torn_bytes {torn_bytes}");
    }
    assert!(truncated_somewhere);
}

#[test]
fn flipped_bit_in_an_earlier_segment_is_a_typed_error_naming_the_file() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    for id in 0..30 {
        wal.append(&[series(id), samples(id, 0..4)]).unwrap();
    }
    drop(wal);
    assert!(segment_files(&mem, WAL_DIR).len() >= 4);
    let damaged = Path::new(WAL_DIR).join("00000001");
    let len = mem.file_len(&damaged).unwrap();
    mem.corrupt(&damaged, |data| {
        let mid = data.len() / 2;
        data[mid] ^= 0x10;
    })
    .unwrap();

    let err = open(&mem, &small_segments()).unwrap_err();
    match &err {
        WalError::Corrupt { path, offset, reason } => {
            assert_eq!(path, &damaged);
            assert!((8..len).contains(offset), "offset {offset} outside the records");
            assert!(!reason.is_empty());
        }
        other => panic!("expected a corrupt error, got {other:?}"),
    }
    assert!(err.to_string().contains("/db/wal/00000001"), "{err}");
}

#[test]
fn damage_in_the_last_segment_is_cut_off_like_a_torn_tail() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &WalOptions::default()).unwrap();
    let records: Vec<Record> = (0..20).map(series).collect();
    for r in &records {
        wal.append(std::slice::from_ref(r)).unwrap();
    }
    drop(wal);
    mem.corrupt(&Path::new(WAL_DIR).join("00000000"), |data| {
        let mid = data.len() / 2;
        data[mid] ^= 1;
    })
    .unwrap();
    let (_, replay) = open(&mem, &WalOptions::default()).unwrap();
    assert!(replay.len() < records.len());
    assert_eq!(replay, records[..replay.len()]);
}

#[test]
fn damaged_header_missing_segment_and_unknown_version_are_errors() {
    let build = || {
        let mem = MemBackend::new();
        let (wal, _) = open(&mem, &small_segments()).unwrap();
        for id in 0..20 {
            wal.append(&[series(id)]).unwrap();
        }
        mem
    };
    let first = Path::new(WAL_DIR).join("00000000");

    let mem = build();
    mem.corrupt(&first, |data| data[0] = b'X').unwrap();
    assert!(matches!(open(&mem, &small_segments()), Err(WalError::Corrupt { offset: 0, path, .. }) if path == first));

    // Even in the last segment a damaged header of a file with records is damage, not a torn write.
    let mem = build();
    let last = Path::new(WAL_DIR).join(segment_files(&mem, WAL_DIR).last().unwrap());
    mem.corrupt(&last, |data| data[1] = b'X').unwrap();
    assert!(matches!(open(&mem, &small_segments()), Err(WalError::Corrupt { offset: 0, path, .. }) if path == last));

    // Version 1 segments (written before chunk records could hold grouped or split chunks) still replay.
    let mem = build();
    mem.corrupt(&first, |data| data[4] = 1).unwrap();
    assert!(open(&mem, &small_segments()).is_ok());

    let mem = build();
    mem.corrupt(&first, |data| data[4] = 9).unwrap();
    assert!(matches!(open(&mem, &small_segments()), Err(WalError::UnsupportedVersion { version: 9, .. })));

    let mem = build();
    mem.remove_file(&Path::new(WAL_DIR).join("00000002")).unwrap();
    assert!(matches!(open(&mem, &small_segments()), Err(WalError::MissingSegment { missing: 2, .. })));
}

#[test]
fn failed_fsync_poisons_the_log() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &WalOptions::default()).unwrap();
    let acked = vec![series(1), samples(1, 0..3)];
    wal.append(&acked).unwrap();

    mem.fail_next_syncs(1);
    let failed = vec![samples(1, 3..6)];
    assert!(matches!(wal.append(&failed), Err(WalError::Io { .. })));
    assert!(wal.is_poisoned());
    assert!(matches!(wal.append(&[series(2)]), Err(WalError::Poisoned { .. })));
    assert!(matches!(wal.append_nosync(&[series(2)]), Err(WalError::Poisoned { .. })));
    assert!(matches!(wal.sync(), Err(WalError::Poisoned { .. })));
    assert!(matches!(wal.cut_segment(), Err(WalError::Poisoned { .. })));
    assert!(matches!(wal.checkpoint(0, &[]), Err(WalError::Poisoned { .. })));
    let message = wal.append(&[series(2)]).unwrap_err().to_string();
    assert!(message.contains("injected fsync failure"), "{message}");
    drop(wal);

    mem.crash();
    let (wal, replay) = open(&mem, &WalOptions::default()).unwrap();
    assert_acked_then_prefix(&replay, &acked, &failed);
    wal.append(&[series(3)]).unwrap();
}

#[test]
fn failed_write_poisons_the_log_and_its_partial_record_is_dropped() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &WalOptions::default()).unwrap();
    let acked = vec![series(1), samples(1, 0..3)];
    wal.append(&acked).unwrap();
    mem.fail_next_write_after(12);
    assert!(matches!(wal.append(&[samples(1, 3..6)]), Err(WalError::Io { .. })));
    assert!(matches!(wal.append(&[series(2)]), Err(WalError::Poisoned { .. })));
    drop(wal);
    // The process restarts without a power loss: the partial record is still there and must be cut off.
    let (_, replay) = open(&mem, &WalOptions::default()).unwrap();
    assert_eq!(replay, acked);
}

#[test]
fn failed_fsync_fails_every_waiting_appender() {
    let mem = MemBackend::new();
    mem.set_sync_delay(Duration::from_millis(2));
    let (wal, _) = open(&mem, &WalOptions::default()).unwrap();
    let wal = Arc::new(wal);
    mem.fail_next_syncs(1);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || (0..20).map(|i| wal.append(&[samples(t, [i])]).is_ok()).collect::<Vec<_>>())
        })
        .collect();
    let results: Vec<Vec<bool>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Whatever succeeded did so before the failure; after it, nothing does.
    assert!(wal.is_poisoned());
    for per_thread in &results {
        let first_failure = per_thread.iter().position(|ok| !ok).expect("every thread sees the failure");
        assert!(per_thread[first_failure..].iter().all(|ok| !ok));
    }
}

#[test]
fn reservations_order_the_log_whoever_writes_first() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    let batch = |i: u64| vec![series(i), samples(i, [i as i64])];
    let lsns: Vec<Option<Lsn>> = std::thread::scope(|s| {
        let reservations: Vec<_> = (0..8).map(|_| wal.reserve()).collect();
        // Started newest first, so later reservations are ready before the ones they must wait for. Number 3 is
        // dropped unused, which must not hold up the others.
        let mut handles: Vec<_> = reservations
            .into_iter()
            .enumerate()
            .rev()
            .map(|(i, reservation)| {
                let i = i as u64;
                let batch = batch(i);
                s.spawn(move || (i != 3).then(|| reservation.append_nosync(&batch).unwrap()))
            })
            .collect();
        handles.reverse();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let written: Vec<Lsn> = lsns.into_iter().flatten().collect();
    assert!(written.is_sorted(), "{written:?}");
    // A plain append takes the next place.
    wal.append(&batch(8)).unwrap();
    drop(wal);
    mem.crash();
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    let expected: Vec<Record> = (0..9).filter(|&i| i != 3).flat_map(batch).collect();
    assert_eq!(replay, expected);
}

fn truncate_fixture(mem: &MemBackend) -> (Wal, Vec<(Lsn, Record)>) {
    let (wal, _) = open(mem, &small_segments()).unwrap();
    let mut written = Vec::new();
    for id in 0..30 {
        let r = samples(id, 0..3);
        let lsn = wal.append(std::slice::from_ref(&r)).unwrap();
        written.push((lsn, r));
    }
    (wal, written)
}

#[test]
fn truncate_before_removes_old_segments_and_survives_a_crash_at_each_step() {
    let mut step = 0;
    loop {
        let mem = MemBackend::new();
        let (wal, written) = truncate_fixture(&mem);
        let cut = written[written.len() / 2].0.segment;
        let kept: Vec<Record> = written.iter().filter(|(l, _)| l.segment >= cut).map(|(_, r)| r.clone()).collect();
        let all: Vec<Record> = written.iter().map(|(_, r)| r.clone()).collect();
        mem.halt_after(step);
        let finished = wal.truncate_before(cut).is_ok();
        drop(wal);
        mem.crash();
        let (_, replay) = open(&mem, &small_segments()).unwrap();
        // Segments go oldest first, so what is left is always a suffix that holds everything kept.
        assert!(replay.len() >= kept.len(), "step {step}");
        assert_eq!(replay[..], all[all.len() - replay.len()..], "step {step}");
        if finished {
            assert_eq!(replay, kept);
            break;
        }
        step += 1;
    }
    assert!(step >= 3, "only {step} steps");

    let mem = MemBackend::new();
    let (wal, _) = truncate_fixture(&mem);
    let active = wal.written_lsn().segment;
    assert!(matches!(wal.truncate_before(active + 1), Err(WalError::InvalidArgument(_))));
}

#[test]
fn checkpoint_then_crash_at_each_step_leaves_a_replayable_log() {
    let options = small_segments();
    let mut step = 0;
    loop {
        let mem = MemBackend::new();
        let (wal, _) = open(&mem, &options).unwrap();
        let a: Vec<Record> = (0..8).flat_map(|id| [series(id), samples(id, 0..4)]).collect();
        for pair in a.chunks(2) {
            wal.append(pair).unwrap();
        }
        // A first checkpoint keeps the series and only samples from t=2 on.
        let live_a: Vec<Record> = (0..8).flat_map(|id| [series(id), samples(id, 2..4)]).collect();
        let n1 = wal.cut_segment().unwrap();
        assert!(wal.checkpoint(n1, &live_a).unwrap().written);

        let b: Vec<Record> = (0..8).map(|id| samples(id, 4..6)).collect();
        wal.append(&b).unwrap();
        let n2 = wal.cut_segment().unwrap();
        let c = vec![series(100), samples(100, 0..2)];
        wal.append(&c).unwrap();
        let live_ab: Vec<Record> = (0..8).flat_map(|id| [series(id), samples(id, 4..6)]).collect();

        mem.halt_after(step);
        let result = wal.checkpoint(n2, &live_ab);
        drop(wal);
        mem.crash();

        let old: Vec<Record> = live_a.iter().chain(&b).chain(&c).cloned().collect();
        let new: Vec<Record> = live_ab.iter().chain(&c).cloned().collect();
        let (wal, replay) = open(&mem, &options).unwrap_or_else(|e| panic!("step {step}: {e}"));
        assert!(replay == old || replay == new, "step {step}: unexpected replay {replay:?}");
        // The log keeps working after recovery.
        wal.append(&[series(200)]).unwrap();
        drop(wal);
        mem.crash();
        let (_, again) = open(&mem, &options).unwrap();
        assert_eq!(again[..again.len() - 1], replay[..], "step {step}");

        if let Ok(stats) = result {
            assert_eq!(replay, new);
            assert!(stats.written && stats.removed_segments > 0 && stats.removed_checkpoints == 1);
            let names = mem.list_dir(Path::new(WAL_DIR)).unwrap();
            assert!(names.iter().all(|e| e.name != format!("checkpoint.{n1:08}")), "{names:?}");
            break;
        }
        step += 1;
    }
    assert!(step > 5, "only {step} steps");
}

#[test]
fn checkpoint_rules() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    wal.append(&[series(1)]).unwrap();
    let n = wal.cut_segment().unwrap();
    assert_eq!(wal.cut_segment().unwrap(), n, "an empty segment is not cut again");
    assert!(matches!(wal.checkpoint(n + 1, &[]), Err(WalError::InvalidArgument(_))));
    assert!(wal.checkpoint(n, &[series(1)]).unwrap().written);
    // Same segments covered again: the existing checkpoint stays.
    assert!(!wal.checkpoint(n, &[]).unwrap().written);
    drop(wal);
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, vec![series(1)]);
    assert!(mem.exists(&Path::new(WAL_DIR).join(format!("checkpoint.{n:08}/00000000"))).unwrap());
}

#[test]
fn a_checkpoint_streamed_in_batches_replays_like_one_written_at_once() {
    let live: Vec<Record> = (0..40).flat_map(|id| [series(id), samples(id, 0..id as i64 % 4)]).collect();
    let mut replays = Vec::new();
    for batch in [live.len(), 1, 3, 7] {
        let mem = MemBackend::new();
        let (wal, _) = open(&mem, &small_segments()).unwrap();
        wal.append(&live).unwrap();
        let n = wal.cut_segment().unwrap();
        let mut writer = wal.start_checkpoint(n).unwrap().unwrap();
        for part in live.chunks(batch) {
            writer.write(part).unwrap();
        }
        let stats = writer.commit().unwrap();
        assert!(stats.written && stats.records == live.len() as u64 && stats.removed_segments > 0, "{stats:?}");
        let dir = format!("{WAL_DIR}/checkpoint.{n:08}");
        assert!(segment_files(&mem, &dir).len() > 5, "a checkpoint spans segments like the log");
        drop(wal);
        let (_, replay) = open(&mem, &small_segments()).unwrap();
        replays.push((segment_files(&mem, &dir), replay));
    }
    assert_eq!(replays[0].1, live);
    assert!(replays.iter().all(|r| *r == replays[0]), "the batching shows on disk");
}

#[test]
fn a_checkpoint_dropped_before_its_commit_changes_nothing() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    let all: Vec<Record> = (0..10).map(series).collect();
    wal.append(&all).unwrap();
    let n = wal.cut_segment().unwrap();
    let mut writer = wal.start_checkpoint(n).unwrap().unwrap();
    writer.write(&all[..5]).unwrap();
    let tmp = Path::new(WAL_DIR).join(format!("checkpoint.{n:08}.tmp"));
    assert!(mem.exists(&tmp).unwrap());
    drop(writer);
    assert!(!mem.exists(&tmp).unwrap(), "an abandoned checkpoint is removed");
    // The same checkpoint can be written again.
    assert!(wal.checkpoint(n, &all).unwrap().written);
    drop(wal);
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, all);
}

#[test]
fn a_checkpoint_commits_only_once_appends_it_may_reflect_are_durable() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    wal.append(&[series(1)]).unwrap();
    let n = wal.cut_segment().unwrap();
    let mut writer = wal.start_checkpoint(n).unwrap().unwrap();
    // An append after the cut, not synced yet, that the caller's snapshot already shows.
    wal.append_nosync(&[series(2)]).unwrap();
    writer.write(&[series(1), series(2)]).unwrap();
    writer.commit().unwrap();
    drop(wal);
    mem.crash();
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, [series(1), series(2), series(2)], "the append after the cut was made durable");
}

#[test]
fn flipped_bit_in_a_checkpoint_is_a_typed_error() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    wal.append(&[series(1), series(2)]).unwrap();
    let n = wal.cut_segment().unwrap();
    let live: Vec<Record> = (0..20).map(series).collect();
    wal.checkpoint(n, &live).unwrap();
    drop(wal);
    let damaged = Path::new(WAL_DIR).join(format!("checkpoint.{n:08}/00000001"));
    mem.corrupt(&damaged, |d| d[12] ^= 4).unwrap();
    assert!(matches!(open(&mem, &small_segments()), Err(WalError::Corrupt { path, .. }) if path == damaged));
}

#[test]
fn unfinished_checkpoint_is_removed_on_open() {
    let mem = MemBackend::new();
    let (wal, _) = open(&mem, &small_segments()).unwrap();
    wal.append(&[series(1)]).unwrap();
    drop(wal);
    let tmp = Path::new(WAL_DIR).join("checkpoint.00000001.tmp");
    mem.create_dir_all(&tmp).unwrap();
    mem.create_new(&tmp.join("00000000")).unwrap().write_all(b"garbage").unwrap();
    let (_, replay) = open(&mem, &small_segments()).unwrap();
    assert_eq!(replay, vec![series(1)]);
    assert!(!mem.exists(&tmp).unwrap());
}

/// Runs `threads` appenders of `per_thread` single-sample batches; returns (appends, fsyncs).
fn concurrent_appends(sync_interval: Duration, threads: u64, per_thread: i64) -> (u64, u64) {
    let mem = MemBackend::new();
    mem.set_sync_delay(Duration::from_millis(1));
    let options = WalOptions { max_segment_bytes: 64 << 10, sync_interval };
    let (wal, _) = open(&mem, &options).unwrap();
    let wal = Arc::new(wal);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    wal.append(&[samples(t, [i])]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = wal.stats();
    assert_eq!(stats.appends, threads * per_thread as u64);
    assert!(mem.stats().file_syncs >= stats.fsyncs);
    drop(wal);

    // Every acknowledged append survives a crash, in each thread's order.
    mem.crash();
    let (_, replay) = open(&mem, &options).unwrap();
    let mut per_series = vec![Vec::new(); threads as usize];
    for r in replay {
        let Record::Samples(s) = r else { panic!("unexpected record") };
        per_series[s[0].series_id as usize].push(s[0].t_ms);
    }
    for ts in per_series {
        assert_eq!(ts, (0..per_thread).collect::<Vec<_>>());
    }
    (stats.appends, stats.fsyncs)
}

#[test]
fn group_commit_shares_fsyncs_between_threads() {
    let (appends, fsyncs) = concurrent_appends(Duration::ZERO, 8, 50);
    eprintln!("group commit, sync_interval 0: {appends} appends, {fsyncs} fsyncs");
    assert!(fsyncs * 2 <= appends, "{fsyncs} fsyncs for {appends} appends");

    let (appends, delayed_fsyncs) = concurrent_appends(Duration::from_millis(2), 8, 50);
    eprintln!("group commit, sync_interval 2ms: {appends} appends, {delayed_fsyncs} fsyncs");
    assert!(delayed_fsyncs * 4 <= appends, "{delayed_fsyncs} fsyncs for {appends} appends");
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Record>),
    AppendNoSync(Vec<Record>),
    Sync,
    Checkpoint,
    Crash,
    CrashTorn(usize),
    Reopen,
    FailSync(Vec<Record>),
    FailWrite(Vec<Record>, usize),
}

fn record_strategy() -> impl Strategy<Value = Record> {
    let labels = proptest::collection::btree_map("[a-z_]{1,6}", "[a-z0-9é ]{1,6}", 0..4)
        .prop_map(|pairs| Labels::from_pairs(pairs).unwrap());
    let sample = (0u64..8, any::<i64>(), any::<u64>()).prop_map(|(series_id, t_ms, value_bits)| RefSample {
        series_id,
        t_ms,
        value_bits,
    });
    prop_oneof![
        (any::<u64>(), labels).prop_map(|(id, labels)| Record::Series { id, labels }),
        proptest::collection::vec(sample, 0..6).prop_map(Record::Samples),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let batch = || proptest::collection::vec(record_strategy(), 1..4);
    prop_oneof![
        6 => batch().prop_map(Op::Append),
        4 => batch().prop_map(Op::AppendNoSync),
        1 => Just(Op::Sync),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Crash),
        2 => (0usize..80).prop_map(Op::CrashTorn),
        1 => Just(Op::Reopen),
        1 => batch().prop_map(Op::FailSync),
        1 => (batch(), 0usize..60).prop_map(|(b, n)| Op::FailWrite(b, n)),
    ]
}

/// Reopens the log and checks the replay against the oracle: all acknowledged records, then a prefix of the
/// unacknowledged ones. What was replayed is durable afterwards, so it becomes the new acknowledged state.
fn reopen_and_check(
    mem: &MemBackend,
    options: &WalOptions,
    acked: &mut Vec<Record>,
    pending: &mut Vec<Record>,
) -> Result<Wal, TestCaseError> {
    let (wal, replay) = open(mem, options).map_err(|e| TestCaseError::fail(format!("reopen failed: {e}")))?;
    prop_assert!(replay.len() >= acked.len(), "lost acknowledged records");
    prop_assert_eq!(&replay[..acked.len()], &acked[..]);
    let extra = &replay[acked.len()..];
    prop_assert!(extra.len() <= pending.len(), "replay has records never appended");
    prop_assert_eq!(extra, &pending[..extra.len()]);
    *acked = replay;
    pending.clear();
    Ok(wal)
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mem = MemBackend::new();
    let options = small_segments();
    let (mut wal, _) = open(&mem, &options).unwrap();
    let mut acked: Vec<Record> = Vec::new();
    let mut pending: Vec<Record> = Vec::new();
    for op in ops {
        match op {
            Op::Append(batch) => {
                wal.append(&batch).unwrap();
                acked.append(&mut pending);
                acked.extend(batch);
            }
            Op::AppendNoSync(batch) => {
                wal.append_nosync(&batch).unwrap();
                pending.extend(batch);
            }
            Op::Sync => {
                wal.sync().unwrap();
                acked.append(&mut pending);
            }
            Op::Checkpoint => {
                // Cutting the segment fsyncs it; the checkpoint then holds everything appended so far.
                let n = wal.cut_segment().unwrap();
                acked.append(&mut pending);
                wal.checkpoint(n, &acked).unwrap();
            }
            Op::Crash => {
                drop(wal);
                mem.crash();
                wal = reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
            }
            Op::CrashTorn(torn_bytes) => {
                drop(wal);
                mem.crash_torn(torn_bytes);
                wal = reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
            }
            Op::Reopen => {
                drop(wal);
                let expected: Vec<Record> = acked.iter().chain(&pending).cloned().collect();
                wal = reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
                prop_assert_eq!(&acked, &expected, "a restart without a crash keeps everything written");
            }
            Op::FailSync(batch) => {
                mem.fail_next_syncs(1);
                prop_assert!(wal.append(&batch).is_err());
                prop_assert!(matches!(wal.append(&batch), Err(WalError::Poisoned { .. })), "expected a poisoned log");
                pending.extend(batch);
                drop(wal);
                mem.crash();
                wal = reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
            }
            Op::FailWrite(batch, after) => {
                mem.fail_next_write_after(after);
                prop_assert!(wal.append(&batch).is_err());
                prop_assert!(matches!(wal.append(&batch), Err(WalError::Poisoned { .. })), "expected a poisoned log");
                pending.extend(batch);
                drop(wal);
                wal = reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
            }
        }
    }
    drop(wal);
    mem.crash();
    reopen_and_check(&mem, &options, &mut acked, &mut pending)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replay_after_crashes_keeps_exactly_the_acknowledged_records(
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        run_model(ops)?;
    }

    #[test]
    fn arbitrary_segment_bytes_never_panic(
        first in proptest::collection::vec(any::<u8>(), 0..200),
        second in proptest::collection::vec(any::<u8>(), 0..200),
        with_header in any::<bool>(),
    ) {
        let mem = MemBackend::new();
        mem.create_dir_all(Path::new(WAL_DIR)).unwrap();
        for (name, bytes) in [("00000000", &first), ("00000001", &second)] {
            let mut content = if with_header { b"VWAL\x01\0\0\0".to_vec() } else { Vec::new() };
            content.extend_from_slice(bytes);
            mem.create_new(&Path::new(WAL_DIR).join(name)).unwrap().write_all(&content).unwrap();
        }
        match open(&mem, &small_segments()) {
            Ok(_) | Err(WalError::Corrupt { .. }) | Err(WalError::UnsupportedVersion { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn checksummed_garbage_payloads_decode_or_fail_cleanly(
        kind in 0u8..4,
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut frame = Vec::new();
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        let mut body = vec![kind];
        body.extend_from_slice(&payload);
        frame.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        frame.extend_from_slice(&body);
        let mem = MemBackend::new();
        mem.create_dir_all(Path::new(WAL_DIR)).unwrap();
        let mut content = b"VWAL\x01\0\0\0".to_vec();
        content.extend_from_slice(&frame);
        mem.create_new(&Path::new(WAL_DIR).join("00000000")).unwrap().write_all(&content).unwrap();
        match open(&mem, &small_segments()) {
            Ok((_, records)) => prop_assert!(records.len() <= 1),
            Err(WalError::Corrupt { offset, .. }) => prop_assert_eq!(offset, 8),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}

// A real crash: a child process appends batches on the file system and prints each acknowledged batch; the
// parent kills it with SIGKILL at a random point, replays the log and checks every acknowledged batch.

const CHILD_DIR_ENV: &str = "VIGIL_WAL_CRASH_CHILD_DIR";

fn crash_options() -> WalOptions {
    WalOptions { max_segment_bytes: 8 << 10, sync_interval: Duration::ZERO }
}

/// The records of batch `b`: a series and one to seven samples of it at t = `b`.
fn batch_records(b: u64) -> Vec<Record> {
    let labels = Labels::from_pairs([("__name__", "crash_test"), ("batch", &*b.to_string())]).unwrap();
    let samples = (0..b % 7 + 1).map(|i| RefSample { series_id: b, t_ms: b as i64, value_bits: i }).collect();
    vec![Record::Series { id: b, labels }, Record::Samples(samples)]
}

/// The batches whose series record and complete samples record are both in `records`.
fn complete_batches(records: &[Record]) -> BTreeSet<u64> {
    let series: BTreeSet<u64> =
        records.iter().filter_map(|r| if let Record::Series { id, .. } = r { Some(*id) } else { None }).collect();
    records
        .iter()
        .filter_map(|r| match r {
            Record::Samples(s) if !s.is_empty() && s.len() as u64 == s[0].series_id % 7 + 1 => Some(s[0].series_id),
            _ => None,
        })
        .filter(|b| series.contains(b))
        .collect()
}

#[test]
fn sigkill_child_helper() {
    // Does something only when `sigkill_crash_keeps_every_acknowledged_batch` starts this binary as its child.
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return };
    let (wal, mut live) = Wal::open(Arc::new(FsBackend), PathBuf::from(dir), crash_options()).unwrap();
    let mut batch = complete_batches(&live).last().map_or(0, |b| b + 1);
    // The parent kills this process long before; the deadline only guards against a parent gone astray.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let records = batch_records(batch);
        wal.append(&records).unwrap();
        println!("ack {batch} done");
        live.extend(records);
        if batch % 16 == 15 {
            let n = wal.cut_segment().unwrap();
            wal.checkpoint(n, &live).unwrap();
        }
        batch += 1;
    }
}

#[test]
fn sigkill_crash_keeps_every_acknowledged_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let driver = KillLoop {
        child_test: "wal::sigkill_child_helper",
        dir_env: CHILD_DIR_ENV,
        dir: &dir,
        seed: 0x5eed_2026,
        max_acks: 40,
        max_pause_us: 3000,
    };
    let mut torn_tails = 0;
    driver.run(iterations(), &mut |iteration, acked| {
        let mut records = Vec::new();
        let (wal, stats) =
            Wal::open_with(Arc::new(FsBackend), &dir, crash_options(), &mut |r| records.push(r)).unwrap();
        torn_tails += u64::from(stats.truncated_bytes > 0);
        let present = complete_batches(&records);
        let lost: Vec<&u64> = acked.difference(&present).collect();
        assert!(lost.is_empty(), "iteration {iteration}: acknowledged batches lost: {lost:?}");
        drop(wal);
    });
    eprintln!("wal sigkill crash test: all acknowledged batches present, {torn_tails} torn tails");
}
