//! The outbox: replay after a drop without close, torn tails, the byte cap dropping the oldest batches.

use std::{fs, io::Write as _, path::Path, sync::Arc};

use vigil_model::{log::LogEntry, Labels};
use vigil_ship::{Batch, BatchBuilder, FileId, FilePosition, Fingerprint, Outbox, OutboxConfig, OutboxError, Position};

fn batch(first: u64, n: u64) -> Batch {
    let mut b = BatchBuilder::default();
    let labels = Labels::from_pairs([("job", "app")]).unwrap();
    for i in first..first + n {
        let entry = LogEntry { ts_ns: i as i64, line: format!("line {i}"), fields: vec![("k".into(), "v".into())] };
        let pos = FilePosition {
            id: FileId { dev: 1, ino: 2 },
            fp: Fingerprint { len: 3, crc: 4 },
            offset: i + 1,
            path: Arc::from("/var/log/app.log"),
        };
        b.add(&labels, entry, Position::File(pos));
    }
    b.set_position(Position::Journal(format!("cursor-{first}")));
    b.take()
}

fn first_line(b: &Batch) -> &str {
    &b.streams[0].1[0].line
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn batches_round_trip_and_keep_only_the_last_position_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = Outbox::open(OutboxConfig::new(dir.path())).unwrap();
    let b = batch(0, 3);
    assert_eq!(b.positions.len(), 2);
    assert!(matches!(&b.positions[0], Position::File(f) if f.offset == 3));
    let id = ob.push(&b).unwrap();
    assert_eq!(ob.peek().unwrap(), Some((id, b)));
}

#[test]
fn reopening_after_a_drop_replays_unacked_batches_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { segment_bytes: 300, ..OutboxConfig::new(dir.path()) };
    let mut ob = Outbox::open(cfg.clone()).unwrap();
    let ids: Vec<u64> = (0..10).map(|i| ob.push(&batch(i * 3, 3)).unwrap()).collect();
    ob.ack(ids[3]).unwrap();
    drop(ob); // no close: what a SIGKILL leaves (every push was fsynced before it returned)
    let mut ob = Outbox::open(cfg.clone()).unwrap();
    let stats = ob.stats();
    assert_eq!((stats.pending_batches, stats.pending_lines), (6, 18));
    let (id, b) = ob.peek().unwrap().unwrap();
    assert_eq!((id, first_line(&b)), (ids[4], "line 12"));
    // New ids continue after the old ones.
    assert!(ob.push(&batch(100, 1)).unwrap() > ids[9]);
    ob.ack(ids[9] + 1).unwrap();
    assert_eq!(ob.peek().unwrap(), None);
    assert_eq!(segments(dir.path()).len(), 1, "acknowledged segments are deleted");
    drop(ob);
    assert_eq!(Outbox::open(cfg).unwrap().peek().unwrap(), None);
}

#[test]
fn a_torn_tail_is_cut_off_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig::new(dir.path());
    let mut ob = Outbox::open(cfg.clone()).unwrap();
    for i in 0..3 {
        ob.push(&batch(i * 10, 10)).unwrap();
    }
    drop(ob);
    let seg = segments(dir.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    // Every possible tear inside the last record: the first two batches survive, the third is gone.
    for cut in [len - 1, len - 20, len - 200] {
        let copy = tempfile::tempdir().unwrap();
        let data = fs::read(&seg).unwrap();
        fs::write(copy.path().join(seg.file_name().unwrap()), &data[..cut as usize]).unwrap();
        let mut ob = Outbox::open(OutboxConfig::new(copy.path())).unwrap();
        assert_eq!(ob.stats().pending_batches, 2, "cut at {cut}");
        assert_eq!(ob.stats().corrupt_records, 1);
        let id = ob.push(&batch(500, 1)).unwrap();
        drop(ob);
        let mut ob = Outbox::open(OutboxConfig::new(copy.path())).unwrap();
        assert_eq!(ob.stats().pending_batches, 3);
        assert_eq!(ob.stats().corrupt_records, 0);
        ob.ack(id - 1).unwrap();
        assert_eq!(first_line(&ob.peek().unwrap().unwrap().1), "line 500");
    }
    // Garbage appended after whole records is cut the same way.
    fs::OpenOptions::new().append(true).open(&seg).unwrap().write_all(&[0xff; 7]).unwrap();
    let ob = Outbox::open(cfg).unwrap();
    assert_eq!(ob.stats().pending_batches, 3);
}

#[test]
fn a_full_outbox_drops_the_oldest_batches_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { max_bytes: 4000, segment_bytes: 1000, ..OutboxConfig::new(dir.path()) };
    let mut ob = Outbox::open(cfg.clone()).unwrap();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(ob.push(&batch(i * 2, 2)).unwrap());
        let total: u64 = segments(dir.path()).iter().map(|p| fs::metadata(p).unwrap().len()).sum();
        assert!(total <= cfg.max_bytes, "{total} bytes on disk");
    }
    let s = ob.stats();
    assert!(s.dropped_batches > 0);
    assert_eq!(s.dropped_batches + s.pending_batches, 100);
    assert_eq!(s.dropped_lines + s.pending_lines, 200);
    assert!(s.dropped_bytes > 0);
    // The newest survive, the oldest went.
    let (id, _) = ob.peek().unwrap().unwrap();
    assert_eq!(id, ids[s.dropped_batches as usize]);
    let huge = batch(0, 200);
    assert!(matches!(ob.push(&huge), Err(OutboxError::TooLarge { .. })));
    assert_eq!(ob.stats().dropped_lines, s.dropped_lines + 200);
}

#[test]
fn garbage_files_do_not_break_opening() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("0000000000000001.seg"), b"not a segment at all").unwrap();
    fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let mut ob = Outbox::open(OutboxConfig::new(dir.path())).unwrap();
    assert_eq!(ob.peek().unwrap(), None);
    let id = ob.push(&batch(0, 1)).unwrap();
    drop(ob);
    let mut ob = Outbox::open(OutboxConfig::new(dir.path())).unwrap();
    assert_eq!(ob.peek().unwrap().map(|(i, _)| i), Some(id));
}
