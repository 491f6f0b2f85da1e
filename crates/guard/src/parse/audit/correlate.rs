//! Groups audit records into events by their `(node, time, serial)` stamp, with bounded memory.
//!
//! An event ends at its `EOE` record; a userspace record (`USER_*`, `ADD_USER`...) is an event by itself;
//! any other event ends once records of other events kept arriving without one of its own
//! ([`Limits::max_idle_records`], which tolerates the interleaving the kernel's queue produces), once a
//! record stamped [`Limits::max_age_ms`] later arrives (auparse's `eoe_timeout`), at [`Correlator::expire`]
//! or [`Correlator::flush`]. Caps: open events (the oldest one ends early, counted), records and bytes per
//! event (the rest are dropped, counted).

use super::record::{parse_record, RecordType, Stamp};
use super::AuditEvent;

/// The correlator's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events open at once; one more ends the oldest.
    pub max_open: usize,
    /// Records kept per event.
    pub max_records: usize,
    /// Bytes of records kept per event.
    pub max_bytes: usize,
    /// An open event ends when more than this many records of other events arrived since its last one;
    /// 0 ends it at the first record of another event (no interleaving tolerated).
    pub max_idle_records: u64,
    /// An open event ends when a record stamped this much later arrives.
    pub max_age_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_open: 64, max_records: 128, max_bytes: 256 * 1024, max_idle_records: 32, max_age_ms: 2000 }
    }
}

/// What the correlator saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorrelatorStats {
    /// Lines that parsed as records.
    pub records: u64,
    /// Lines that did not.
    pub unparsed: u64,
    /// Events completed.
    pub events: u64,
    /// Events ended early because too many were open.
    pub evicted: u64,
    /// Records left out by the per-event caps.
    pub dropped_records: u64,
}

#[derive(Debug)]
struct Open {
    stamp: Stamp,
    node: Option<String>,
    records: Vec<String>,
    bytes: usize,
    dropped: u32,
    last_seen: u64,
}

/// Audit records in, [`AuditEvent`]s out, in the order they complete.
#[derive(Debug, Default)]
pub struct Correlator {
    limits: Limits,
    /// Oldest first; few at a time, so searched linearly.
    open: Vec<Open>,
    seen: u64,
    stats: CorrelatorStats,
}

impl Correlator {
    pub fn new(limits: Limits) -> Correlator {
        let limits = Limits { max_open: limits.max_open.max(1), max_records: limits.max_records.max(1), ..limits };
        Correlator { limits, open: Vec::new(), seen: 0, stats: CorrelatorStats::default() }
    }

    pub fn stats(&self) -> CorrelatorStats {
        self.stats
    }

    /// Events open now.
    pub fn open_events(&self) -> usize {
        self.open.len()
    }

    /// Feeds one line; events it completes are appended to `out`.
    pub fn push(&mut self, line: &str, out: &mut Vec<AuditEvent>) {
        let Some(rec) = parse_record(line) else {
            self.stats.unparsed += 1;
            return;
        };
        self.stats.records += 1;
        self.seen += 1;
        let line = line.trim_end_matches(['\n', '\r']);
        // Others that this record shows are over.
        let (seen, limits, now_ms) = (self.seen, self.limits, rec.stamp.millis());
        let mine = |o: &Open| o.stamp == rec.stamp && o.node.as_deref() == rec.node;
        let mut i = 0;
        while i < self.open.len() {
            let o = &self.open[i];
            let over = !mine(o)
                && (seen - o.last_seen > limits.max_idle_records
                    || now_ms.saturating_sub(o.stamp.millis()) > limits.max_age_ms);
            if over {
                let o = self.open.remove(i);
                self.finish(o, out);
            } else {
                i += 1;
            }
        }
        let at = self.open.iter().position(mine);
        if rec.record_type == RecordType::EOE {
            if let Some(a) = at {
                let o = self.open.remove(a);
                self.finish(o, out);
            }
            return;
        }
        let a = match at {
            Some(a) => a,
            None if rec.record_type.is_standalone() => {
                let node = rec.node.map(str::to_string);
                self.stats.events += 1;
                out.push(AuditEvent::new(rec.stamp, node, vec![line.to_string()], 0));
                return;
            }
            None => {
                if self.open.len() >= self.limits.max_open {
                    let o = self.open.remove(0);
                    self.stats.evicted += 1;
                    self.finish(o, out);
                }
                self.open.push(Open {
                    stamp: rec.stamp,
                    node: rec.node.map(str::to_string),
                    records: Vec::new(),
                    bytes: 0,
                    dropped: 0,
                    last_seen: self.seen,
                });
                self.open.len() - 1
            }
        };
        let o = &mut self.open[a];
        o.last_seen = self.seen;
        if o.records.len() >= self.limits.max_records || o.bytes + line.len() > self.limits.max_bytes {
            o.dropped = o.dropped.saturating_add(1);
            self.stats.dropped_records += 1;
            return;
        }
        o.bytes += line.len();
        o.records.push(line.to_string());
    }

    /// Ends the open events stamped more than [`Limits::max_age_ms`] before `now_ms` (Unix milliseconds),
    /// for a reader that waits for more input.
    pub fn expire(&mut self, now_ms: i64, out: &mut Vec<AuditEvent>) {
        let max_age = self.limits.max_age_ms;
        let (done, open): (Vec<Open>, Vec<Open>) =
            std::mem::take(&mut self.open).into_iter().partition(|o| now_ms.saturating_sub(o.stamp.millis()) > max_age);
        self.open = open;
        for o in done {
            self.finish(o, out);
        }
    }

    /// Ends every open event (at the end of the input).
    pub fn flush(&mut self, out: &mut Vec<AuditEvent>) {
        for o in std::mem::take(&mut self.open) {
            self.finish(o, out);
        }
    }

    fn finish(&mut self, o: Open, out: &mut Vec<AuditEvent>) {
        self.stats.events += 1;
        out.push(AuditEvent::new(o.stamp, o.node, o.records, o.dropped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(serial: u64, t: &str) -> String {
        format!("type={t} msg=audit(1700000000.{:03}:{serial}): x=1", serial % 1000)
    }

    fn serials(out: &[AuditEvent]) -> Vec<(u64, usize)> {
        out.iter().map(|e| (e.stamp.serial, e.records.len())).collect()
    }

    #[test]
    fn eoe_standalone_and_flush() {
        let mut c = Correlator::new(Limits::default());
        let mut out = Vec::new();
        c.push(&rec(1, "SYSCALL"), &mut out);
        c.push(&rec(1, "PATH"), &mut out);
        assert!(out.is_empty());
        c.push(&rec(2, "USER_AUTH"), &mut out);
        assert_eq!(serials(&out), [(2, 1)]);
        c.push(&rec(1, "EOE"), &mut out);
        assert_eq!(serials(&out), [(2, 1), (1, 2)]);
        c.push(&rec(3, "SYSCALL"), &mut out);
        c.push("garbage", &mut out);
        c.flush(&mut out);
        assert_eq!(serials(&out)[2], (3, 1));
        assert_eq!(c.open_events(), 0);
        let s = c.stats();
        assert_eq!((s.records, s.unparsed, s.events), (5, 1, 3));
    }

    #[test]
    fn idle_age_and_caps() {
        let limits = Limits { max_open: 2, max_records: 2, max_bytes: 1 << 20, max_idle_records: 3, max_age_ms: 50 };
        let mut c = Correlator::new(limits);
        let mut out = Vec::new();
        c.push(&rec(10, "SYSCALL"), &mut out);
        for _ in 0..3 {
            c.push(&rec(11, "SYSCALL"), &mut out);
        }
        assert!(out.is_empty());
        // The fourth record of another event ends 10; 11's later records beyond two are dropped.
        c.push(&rec(11, "PATH"), &mut out);
        assert_eq!(serials(&out), [(10, 1)]);
        assert_eq!(c.stats().dropped_records, 2);
        // Too many open: the oldest ends early.
        c.push(&rec(12, "SYSCALL"), &mut out);
        c.push(&rec(13, "SYSCALL"), &mut out);
        assert_eq!(serials(&out)[1], (11, 2));
        assert_eq!(out[1].dropped_records, 2);
        assert_eq!(c.stats().evicted, 1);
        // A record stamped 100 ms later ends both.
        c.push(&rec(113, "SYSCALL"), &mut out);
        assert_eq!(serials(&out)[2..], [(12, 1), (13, 1)]);
        c.expire(1_700_000_000_113 + 51, &mut out);
        assert_eq!(serials(&out)[4..], [(113, 1)]);
    }

    #[test]
    fn no_interleaving_when_idle_is_zero() {
        let mut c = Correlator::new(Limits { max_idle_records: 0, ..Limits::default() });
        let mut out = Vec::new();
        c.push(&rec(1, "SYSCALL"), &mut out);
        c.push(&rec(1, "PATH"), &mut out);
        c.push(&rec(2, "SYSCALL"), &mut out);
        assert_eq!(serials(&out), [(1, 2)]);
    }

    #[test]
    fn byte_cap() {
        let limits = Limits { max_bytes: 100, ..Limits::default() };
        let mut c = Correlator::new(limits);
        let mut out = Vec::new();
        c.push(&rec(1, "SYSCALL"), &mut out);
        c.push(&format!("{} {}", rec(1, "PATH"), "y".repeat(100)), &mut out);
        c.push(&rec(1, "EOE"), &mut out);
        assert_eq!((out[0].records.len(), out[0].dropped_records), (1, 1));
    }
}
