//! Multi-line grouping (Promtail's `multiline` stage): a line matching `firstline` starts a new record, other
//! lines are appended to the current one with `\n`; a record is also ended by `max_lines`, `max_bytes` or
//! `max_wait` without a new line. A record's position is its last line's.

use std::time::{Duration, Instant};

use regex::Regex;
use vigil_model::log::LogEntry;

#[derive(Clone, Debug)]
pub struct MultilineConfig {
    pub firstline: Regex,
    pub max_lines: usize,
    /// Lines beyond this size of a record are dropped from it (counted in [`Multiline::dropped_lines`]).
    pub max_bytes: usize,
    pub max_wait: Duration,
}

impl MultilineConfig {
    /// Promtail's defaults: 128 lines, 3 s.
    pub fn new(firstline: Regex) -> MultilineConfig {
        MultilineConfig { firstline, max_lines: 128, max_bytes: 1 << 20, max_wait: Duration::from_secs(3) }
    }
}

struct Pending<P> {
    entry: LogEntry,
    lines: usize,
    pos: P,
    last_line: Instant,
}

/// Groups one stream's lines. `P` is the position type carried with each line.
pub struct Multiline<P> {
    cfg: MultilineConfig,
    pending: Option<Pending<P>>,
    dropped_lines: u64,
}

impl<P> Multiline<P> {
    pub fn new(cfg: MultilineConfig) -> Multiline<P> {
        Multiline { cfg, pending: None, dropped_lines: 0 }
    }

    /// Takes one line, appending to `out` the records it completed. A record's timestamp is its first line's.
    pub fn push(&mut self, entry: LogEntry, pos: P, now: Instant, out: &mut Vec<(LogEntry, P)>) {
        let starts = self.cfg.firstline.is_match(&entry.line);
        match &mut self.pending {
            Some(p) if !starts => {
                if p.entry.line.len() + 1 + entry.line.len() <= self.cfg.max_bytes {
                    p.entry.line.push('\n');
                    p.entry.line.push_str(&entry.line);
                } else {
                    self.dropped_lines += 1;
                }
                p.lines += 1;
                p.pos = pos;
                p.last_line = now;
            }
            _ => {
                out.extend(self.flush());
                self.pending = Some(Pending { entry, lines: 1, pos, last_line: now });
            }
        }
        if self.pending.as_ref().is_some_and(|p| p.lines >= self.cfg.max_lines) {
            out.extend(self.flush());
        }
    }

    /// The pending record if no line came for `max_wait`.
    pub fn flush_due(&mut self, now: Instant) -> Option<(LogEntry, P)> {
        let due =
            self.pending.as_ref().is_some_and(|p| now.saturating_duration_since(p.last_line) >= self.cfg.max_wait);
        if due {
            self.flush()
        } else {
            None
        }
    }

    /// The pending record, whatever its age.
    pub fn flush(&mut self) -> Option<(LogEntry, P)> {
        self.pending.take().map(|p| (p.entry, p.pos))
    }

    /// Whether lines are held: their positions must not be committed yet.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Lines left out of records that had reached `max_bytes`.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines
    }
}
