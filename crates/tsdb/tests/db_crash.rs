//! A real crash loop: a child process appends to a database on the file system, runs maintenance (persisting,
//! checkpointing, compacting, downsampling) and prints each acknowledged batch; the parent kills it with
//! SIGKILL at a random point, reopens the database and checks that every acknowledged sample is there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use vigil_model::Labels;

use crate::kill_loop::{iterations, KillLoop};
use vigil_tsdb::wal::WalOptions;
use vigil_tsdb::{Db, DbOptions, Sample, SeriesBatch};

const CHILD_DIR_ENV: &str = "VIGIL_DB_CRASH_CHILD_DIR";
const SERIES: usize = 20;
const STEP_MS: i64 = 5_000;

fn options() -> DbOptions {
    DbOptions {
        block_range: 60_000,
        ooo_window: 0,
        compaction_ranges: vec![180_000, 3_600_000],
        retention: None,
        downsample: true,
        wal: WalOptions { max_segment_bytes: 16 << 10, ..WalOptions::default() },
        ..DbOptions::default()
    }
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "crash_test"), ("series", &*i.to_string())]).unwrap()
}

/// Batch `b`: every series gets value `b` at `b * STEP_MS`.
fn batch(b: i64) -> Vec<SeriesBatch> {
    (0..SERIES)
        .map(|i| SeriesBatch { labels: labels(i), samples: vec![Sample { t: b * STEP_MS, v: b as f64 }] })
        .collect()
}

/// The batches present for each series.
fn present(db: &Db) -> BTreeMap<Labels, BTreeSet<i64>> {
    let mut out = BTreeMap::new();
    for series in db.querier(i64::MIN, i64::MAX).select(&[]).unwrap() {
        let series = series.unwrap();
        let batches = series
            .samples
            .iter()
            .map(|s| {
                assert_eq!(s.v, (s.t / STEP_MS) as f64, "{} has a wrong value at {}", series.labels, s.t);
                s.t / STEP_MS
            })
            .collect();
        out.insert(series.labels, batches);
    }
    out
}

#[test]
fn sigkill_child_helper() {
    // Does something only when `sigkill_keeps_every_acknowledged_sample` starts this binary as its child.
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return };
    let db = Db::open(Path::new(&dir), options()).unwrap();
    let mut b = db.stats().head_max_t.map_or(0, |t| t / STEP_MS + 1);
    if b == 0 {
        b = present(&db).values().filter_map(|s| s.last()).max().map_or(0, |m| m + 1);
    }
    // The parent kills this process long before; the deadline only guards against a parent gone astray.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let report = db.append(&batch(b)).unwrap();
        assert_eq!(report.appended, SERIES as u64, "{report:?}");
        println!("ack {b} done");
        if b % 10 == 9 {
            db.maintain().unwrap();
        }
        b += 1;
    }
}

#[test]
fn sigkill_keeps_every_acknowledged_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let driver = KillLoop {
        child_test: "db_crash::sigkill_child_helper",
        dir_env: CHILD_DIR_ENV,
        dir: &dir,
        seed: 0xdb_c0ffee,
        max_acks: 40,
        max_pause_us: 5000,
    };
    let (mut blocks_seen, mut checkpoints_seen, mut spills_seen) = (0, 0, 0);
    driver.run(iterations(), &mut |iteration, acked| {
        // The killed child's head chunk files, which opening throws away.
        let spilled = dir.join("chunks_head").read_dir().map_or(0, |d| d.count());
        spills_seen += u64::from(spilled > 0);
        let db = Db::open(&dir, options()).unwrap();
        let found = present(&db);
        for i in 0..SERIES {
            let have = found.get(&labels(i)).cloned().unwrap_or_default();
            let lost: Vec<&u64> = acked.iter().filter(|b| !have.contains(&(**b as i64))).collect();
            assert!(lost.is_empty(), "iteration {iteration}: series {i} lost acknowledged batches {lost:?}");
        }
        blocks_seen = blocks_seen.max(db.stats().blocks);
        let wal = dir.join("wal").read_dir().unwrap().flatten();
        checkpoints_seen +=
            u64::from(wal.into_iter().any(|e| e.file_name().to_string_lossy().starts_with("checkpoint.")));
        assert!(db.quarantined().is_empty(), "iteration {iteration}: {:?}", db.quarantined());
    });
    assert!(blocks_seen > 0 && checkpoints_seen > 0, "the children never persisted or checkpointed");
    assert!(spills_seen > 0, "the children never spilled head chunks to files");
    eprintln!("db sigkill crash test: every acknowledged sample present, up to {blocks_seen} blocks");
}
