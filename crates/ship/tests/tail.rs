//! File tailing: rotation styles under a concurrent writer, restarts from positions, partial and long lines,
//! files sharing their first bytes.

use std::{
    fs::{self, OpenOptions},
    io::Write as _,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use vigil_ship::{Position, Positions, TailLine};

use crate::util::{config, tailer, wait_until, write_lines, Seen};

const ROTATING_LINES: u64 = 30_000;

/// A writer appending numbered lines and rotating every `every` lines with `rotate`, while the test polls.
fn run_with_writer(
    globs: &[&str],
    every: u64,
    rotate: impl Fn(&std::path::Path, u64, &mut fs::File) + Send + 'static,
) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let done = Arc::new(AtomicBool::new(false));
    // One more than the highest line seen, 0 before any.
    let max_seen = Arc::new(AtomicU64::new(0));
    let writer = {
        let (path, done, max_seen) = (path.clone(), done.clone(), max_seen.clone());
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().create(true).append(true).open(&path).unwrap();
            for i in 0..ROTATING_LINES {
                if i > 0 && i % every == 0 {
                    // A file must be seen under its name once before it is rotated away, as with any
                    // poller; real rotations are minutes apart, here the writer waits for the tailer.
                    wait_until(Duration::from_secs(10), "the tailer to open the file", || {
                        max_seen.load(Ordering::SeqCst) + every > i
                    });
                    rotate(&path, i / every, &mut f);
                }
                f.write_all(format!("{i}\n").as_bytes()).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut t = tailer(config(dir.path(), globs), &Positions::load(&dir.path().join("pos")).unwrap());
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_until(Duration::from_secs(25), "every line", || {
        assert!(Instant::now() < deadline, "missing {:?}", seen.missing(ROTATING_LINES));
        let finished = done.load(Ordering::SeqCst);
        t.poll(Instant::now(), &mut out);
        seen.add(&out);
        out.clear();
        max_seen.store(seen.0.keys().next_back().map_or(0, |n| n + 1), Ordering::SeqCst);
        finished && seen.has_all(ROTATING_LINES)
    });
    writer.join().unwrap();
    assert_eq!(t.stats().errors, 0, "{:?}", t.last_error());
    seen
}

fn rename_rotate(path: &std::path::Path, k: u64, f: &mut fs::File) {
    fs::rename(path, path.with_extension(format!("log.{k}"))).unwrap();
    // Like a real program, the writer may append to the renamed file before it reopens.
    f.write_all(b"").unwrap();
    *f = OpenOptions::new().create(true).append(true).open(path).unwrap();
}

#[test]
fn rename_rotation_loses_nothing_and_reads_renamed_files_once() {
    let seen = run_with_writer(&["app.log*"], 3000, rename_rotate);
    assert_eq!(seen.duplicates(), 0);
}

#[test]
fn rename_rotation_out_of_the_glob_reads_the_old_file_to_its_end() {
    let seen = run_with_writer(&["app.log"], 3000, rename_rotate);
    assert_eq!(seen.duplicates(), 0);
}

#[test]
fn rename_rotation_over_the_previous_file_drains_the_deleted_one() {
    // `app.log` -> `app.log.1` replaces (deletes) the previous `app.log.1`, which may be unread.
    let seen = run_with_writer(&["app.log"], 2000, |path, _, f| {
        fs::rename(path, path.with_extension("log.1")).unwrap();
        *f = OpenOptions::new().create(true).append(true).open(path).unwrap();
    });
    assert_eq!(seen.duplicates(), 0);
}

#[test]
fn copytruncate_loses_nothing_when_the_copies_match_the_glob() {
    // The writer rotates itself, so no line is written between the copy and the truncation (logrotate's own
    // window, which no reader can close).
    run_with_writer(&["app.log*"], 3000, |path, k, f| {
        fs::copy(path, path.with_extension(format!("log.{k}"))).unwrap();
        f.set_len(0).unwrap();
    });
}

#[test]
fn copytruncate_starts_again_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    write_lines(&path, 0..100);
    let mut t = tailer(config(dir.path(), &["app.log"]), &Positions::load(&dir.path().join("pos")).unwrap());
    let (mut seen, mut out) = (Seen::default(), Vec::new());
    t.poll(Instant::now(), &mut out);
    seen.add(&out);
    out.clear();
    fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    write_lines(&path, 100..110);
    t.poll(Instant::now(), &mut out);
    seen.add(&out);
    assert!(seen.has_all(110));
    assert_eq!(seen.duplicates(), 0);
    assert_eq!(t.stats().truncations, 1);
}

#[test]
fn copytruncate_copy_resumes_where_the_original_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    write_lines(&path, 0..100);
    let mut t = tailer(config(dir.path(), &["app.log*"]), &Positions::load(&dir.path().join("pos")).unwrap());
    let (mut seen, mut out) = (Seen::default(), Vec::new());
    t.poll(Instant::now(), &mut out);
    // Lines 100..150 are written and rotated away before the tailer looks again: only the copy has them.
    write_lines(&path, 100..150);
    fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    write_lines(&path, 150..160);
    t.poll(Instant::now(), &mut out);
    seen.add(&out);
    assert!(seen.has_all(160), "missing {:?}", seen.missing(160));
    assert_eq!(seen.duplicates(), 0);
}

fn file_pos(l: &TailLine) -> u64 {
    match &l.pos {
        Position::File(f) => f.offset,
        Position::Journal(_) => panic!("file line with a journal position"),
    }
}

#[test]
fn restart_resumes_from_committed_positions() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pos_path) = (dir.path().join("app.log"), dir.path().join("positions"));
    write_lines(&path, 0..1000);
    let cfg = config(dir.path(), &["*.log"]);
    let mut positions = Positions::load(&pos_path).unwrap();
    {
        let mut t = tailer(cfg.clone(), &positions);
        let mut out = Vec::new();
        t.poll(Instant::now(), &mut out);
        assert_eq!(out.len(), 1000);
        assert_eq!(file_pos(&out[0]), 2);
        // Only lines 0..=499 were acknowledged before the "crash".
        positions.apply(&out[499].pos);
        positions.commit().unwrap();
    }
    write_lines(&path, 1000..1500);
    let positions = Positions::load(&pos_path).unwrap();
    let mut t = tailer(cfg, &positions);
    let (mut seen, mut out) = (Seen::default(), Vec::new());
    t.poll(Instant::now(), &mut out);
    seen.add(&out);
    assert_eq!(seen.0.keys().next(), Some(&500), "re-read only after the committed line");
    assert!((500..1500).all(|i| seen.0.get(&i) == Some(&1)));
}

#[test]
fn restart_finds_a_file_renamed_out_of_the_glob_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pos_path) = (dir.path().join("app.log"), dir.path().join("positions"));
    write_lines(&path, 0..100);
    let cfg = config(dir.path(), &["app.log"]);
    let mut positions = Positions::load(&pos_path).unwrap();
    let mut out = Vec::new();
    tailer(cfg.clone(), &positions).poll(Instant::now(), &mut out);
    positions.apply(&out[49].pos);
    positions.commit().unwrap();
    // While the agent is down: more lines, a rename rotation, a new file.
    write_lines(&path, 100..150);
    fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    write_lines(&path, 150..160);
    let mut t = tailer(cfg, &Positions::load(&pos_path).unwrap());
    let (mut seen, mut out) = (Seen::default(), Vec::new());
    t.poll(Instant::now(), &mut out);
    seen.add(&out);
    assert!((50..160).all(|i| seen.0.get(&i) == Some(&1)), "missing {:?}", seen.missing(160));
    assert!(!seen.0.contains_key(&49));
    // The renamed file is closed once it stayed quiet for rotate_wait.
    t.poll(Instant::now() + Duration::from_secs(1), &mut out);
    assert_eq!(t.stats().files_open, 1);
}

#[test]
fn files_with_identical_first_bytes_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let pos_path = dir.path().join("positions");
    let header = "same header line that is long enough to fill the fingerprint\n".repeat(40);
    for name in ["a.log", "b.log"] {
        fs::write(dir.path().join(name), format!("{header}{name} 1\n")).unwrap();
    }
    let cfg = config(dir.path(), &["*.log"]);
    let mut positions = Positions::load(&pos_path).unwrap();
    let mut out = Vec::new();
    tailer(cfg.clone(), &positions).poll(Instant::now(), &mut out);
    assert_eq!(out.len(), 2 * 41);
    for l in &out {
        positions.apply(&l.pos);
    }
    positions.commit().unwrap();
    for name in ["a.log", "b.log"] {
        let mut f = OpenOptions::new().append(true).open(dir.path().join(name)).unwrap();
        f.write_all(format!("{name} 2\n").as_bytes()).unwrap();
    }
    let mut out = Vec::new();
    tailer(cfg, &Positions::load(&pos_path).unwrap()).poll(Instant::now(), &mut out);
    let mut lines: Vec<_> = out.iter().map(|l| l.entry.line.as_str()).collect();
    lines.sort_unstable();
    assert_eq!(lines, ["a.log 2", "b.log 2"]);
}

#[test]
fn small_files_resume_while_their_fingerprint_grows() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pos_path) = (dir.path().join("app.log"), dir.path().join("positions"));
    let cfg = config(dir.path(), &["app.log"]);
    let mut next = 0;
    // Restart after every few lines while the file grows past the fingerprint's 1024 bytes.
    for round in 0..40 {
        write_lines(&path, next..next + 10);
        next += 10;
        let mut positions = Positions::load(&pos_path).unwrap();
        let mut out = Vec::new();
        tailer(cfg.clone(), &positions).poll(Instant::now(), &mut out);
        let got: Vec<u64> = out.iter().map(|l| l.entry.line.parse().unwrap()).collect();
        assert_eq!(got, (next - 10..next).collect::<Vec<_>>(), "round {round}");
        positions.apply(&out.last().unwrap().pos);
        positions.commit().unwrap();
    }
    assert!(fs::metadata(&path).unwrap().len() > 1024);
}

#[test]
fn partial_lines_are_held_then_flushed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, "one\ntw").unwrap();
    let mut cfg = config(dir.path(), &["app.log"]);
    cfg.partial_timeout = Duration::from_secs(5);
    let mut t = tailer(cfg, &Positions::load(&dir.path().join("pos")).unwrap());
    let (start, mut out) = (Instant::now(), Vec::new());
    t.poll(start, &mut out);
    assert_eq!(out.len(), 1);
    OpenOptions::new().append(true).open(&path).unwrap().write_all(b"o\nthr").unwrap();
    t.poll(start, &mut out);
    assert_eq!(out.iter().map(|l| l.entry.line.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    t.poll(start + Duration::from_secs(1), &mut out);
    assert_eq!(out.len(), 2, "held while younger than the timeout");
    t.poll(start + Duration::from_secs(6), &mut out);
    assert_eq!(out[2].entry.line, "thr");
    assert_eq!(file_pos(&out[2]), 11);
}

#[test]
fn long_lines_are_cut_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, format!("{}\nshort\n\u{ff}\n", "x".repeat(10_000))).unwrap();
    fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"bad \xff\xfe utf8\n").unwrap();
    let mut cfg = config(dir.path(), &["app.log"]);
    cfg.max_line_bytes = 100;
    let mut t = tailer(cfg, &Positions::load(&dir.path().join("pos")).unwrap());
    let mut out = Vec::new();
    t.poll(Instant::now(), &mut out);
    assert_eq!(out[0].entry.line.len(), 100);
    assert!(out[0].truncated);
    assert_eq!((out[1].entry.line.as_str(), out[1].truncated), ("short", false));
    assert_eq!(out[3].entry.line, "bad \u{fffd}\u{fffd} utf8");
    assert_eq!(out[0].labels.get("filename"), Some(path.to_str().unwrap()));
    assert_eq!(t.stats().truncated_lines, 1);
}

#[test]
fn deleted_files_are_read_to_their_end_then_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut f = OpenOptions::new().create(true).append(true).open(&path).unwrap();
    f.write_all(b"0\n").unwrap();
    let mut t = tailer(config(dir.path(), &["app.log"]), &Positions::load(&dir.path().join("pos")).unwrap());
    let (start, mut out) = (Instant::now(), Vec::new());
    t.poll(start, &mut out);
    fs::remove_file(&path).unwrap();
    f.write_all(b"1\n2\n").unwrap();
    t.poll(start, &mut out);
    assert_eq!(t.stats().files_open, 1);
    t.poll(start + Duration::from_secs(1), &mut out);
    assert_eq!(out.iter().map(|l| l.entry.line.as_str()).collect::<Vec<_>>(), ["0", "1", "2"]);
    assert_eq!(t.stats().files_open, 0);
}
