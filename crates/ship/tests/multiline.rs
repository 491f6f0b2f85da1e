//! Multi-line grouping: stack traces become one record carrying the last line's position.

use std::time::{Duration, Instant};

use regex::Regex;
use vigil_model::log::LogEntry;
use vigil_ship::{Multiline, MultilineConfig};

fn entry(line: &str) -> LogEntry {
    LogEntry { ts_ns: 0, line: line.into(), fields: Vec::new() }
}

#[test]
fn continuation_lines_join_the_record_that_a_first_line_started() {
    let mut m = Multiline::new(MultilineConfig::new(Regex::new(r"^\d{4}-").unwrap()));
    let now = Instant::now();
    let mut out = Vec::new();
    let lines =
        ["2024-01-01 error", "java.lang.Exception: boom", "\tat a.b(C.java:1)", "2024-01-01 next", "2024-01-01 third"];
    for (i, l) in lines.iter().enumerate() {
        m.push(entry(l), i, now, &mut out);
    }
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0.line, "2024-01-01 error\njava.lang.Exception: boom\n\tat a.b(C.java:1)");
    assert_eq!(out[0].1, 2, "a record's position is its last line's");
    assert_eq!(out[1], (entry("2024-01-01 next"), 3));
    assert!(m.is_pending());
    assert_eq!(m.flush_due(now + Duration::from_secs(1)), None);
    assert_eq!(m.flush_due(now + Duration::from_secs(3)), Some((entry("2024-01-01 third"), 4)));
    assert!(!m.is_pending());
}

#[test]
fn max_lines_and_max_bytes_bound_a_record() {
    let mut cfg = MultilineConfig::new(Regex::new("^start").unwrap());
    cfg.max_lines = 3;
    cfg.max_bytes = 20;
    let mut m = Multiline::new(cfg);
    let now = Instant::now();
    let mut out = Vec::new();
    for (i, l) in ["start", "aaaaaaaaaa", "bbbbbbbbbbbbbbbbbb", "c", "d"].iter().enumerate() {
        m.push(entry(l), i, now, &mut out);
    }
    assert_eq!(out, [(entry("start\naaaaaaaaaa"), 2)]);
    assert_eq!(m.dropped_lines(), 1);
    assert_eq!(m.flush(), Some((entry("c\nd"), 4)));
}
