//! The guard thread: polls the sources, parses each line into a security event, feeds the jails, wakes for the
//! next ban to end, hands the security records to the log shipper and then commits the sources' positions
//! (so that a line whose record did not reach the outbox is read again after a restart). Each cycle also checks
//! the events against the threat-intel matcher and applies the fleet ban lists that arrived.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_guard::intel::IntelMatcher;
use vigil_guard::parse::audit::{AuditEvent, Correlator};
use vigil_guard::parse::{access, parse_line, parse_message};
use vigil_guard::{Action, Event, Origin};
use vigil_model::log::LogEntry;
use vigil_model::Labels;
use vigil_ship::{Journal, Position, Positions, TailLine, Tailer};

use super::clock::{line_time_s, Clock};
use super::engine::Engine;
use super::events::{event_entry, stream_labels, GUARD_SOURCE};
use super::fleet::FleetList;
use super::intel::CurrentMatcher;
use super::metrics::{GuardMetrics, LineSource};
use super::signals::Signals;
use crate::logs::LogAppender;

/// Journal entries taken per cycle at most, so that a flood does not starve the timer.
const MAX_JOURNAL_PER_CYCLE: usize = 100_000;

pub(crate) enum Input {
    Files(Box<Tailer>),
    Journal(Journal),
    /// auditd's log: records through the correlator.
    Audit(Box<Tailer>),
    /// Web server access logs.
    Access(Box<Tailer>),
}

impl Input {
    fn source(&self) -> LineSource {
        match self {
            Input::Files(_) => LineSource::Auth,
            Input::Journal(_) => LineSource::Journal,
            Input::Audit(_) => LineSource::Audit,
            Input::Access(_) => LineSource::Access,
        }
    }
}

pub(crate) struct GuardLoop {
    pub inputs: Vec<Input>,
    pub positions: Positions,
    pub engine: Engine,
    pub logs: Option<LogAppender>,
    pub metrics: Arc<GuardMetrics>,
    pub clock: Clock,
    pub host: String,
    pub poll_interval: Duration,
    pub stop: Receiver<()>,
    /// New fleet ban lists from the fleet thread.
    pub fleet: Option<Receiver<FleetList>>,
    /// The threat-intel matcher the fetcher keeps current.
    pub intel: Option<CurrentMatcher>,
    /// That matcher as this cycle took it.
    pub intel_now: Option<Arc<IntelMatcher>>,
    /// Logins, root, sudo outside the groups (`signals.rs`).
    pub signals: Signals,
    /// Groups the audit sources' records into events.
    pub audit: Correlator,
}

/// A cycle's security records, per stream.
#[derive(Default)]
struct Records {
    auth: Vec<LogEntry>,
    journal: Vec<LogEntry>,
    guard: Vec<LogEntry>,
    audit: Vec<LogEntry>,
    access: Vec<LogEntry>,
}

impl GuardLoop {
    /// Runs until the stop channel fires or is dropped, then reads once more.
    pub fn run(mut self) {
        loop {
            self.cycle(false);
            match self.stop.recv_timeout(self.wait()) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => {
                    self.cycle(true);
                    return;
                }
            }
        }
    }

    /// Until the next poll, or sooner when a ban ends first.
    fn wait(&self) -> Duration {
        let now = (self.clock)();
        match self.engine.next_deadline() {
            Some(t) if t <= now => Duration::ZERO,
            // Bans end on whole seconds: wake just after the second turns.
            Some(t) => self.poll_interval.min(Duration::from_secs((t - now) as u64)),
            None => self.poll_interval,
        }
    }

    /// One read of every source; `last` ends the audit events still open.
    fn cycle(&mut self, last: bool) {
        let mut records = Records::default();
        let mut positions: Vec<Position> = Vec::new();
        let mut lines: Vec<TailLine> = Vec::new();
        self.intel_now = self.intel.as_ref().map(CurrentMatcher::get);
        for i in 0..self.inputs.len() {
            lines.clear();
            let source = self.inputs[i].source();
            match &mut self.inputs[i] {
                Input::Files(tailer) | Input::Audit(tailer) | Input::Access(tailer) => {
                    tailer.poll(Instant::now(), &mut lines);
                    let discovered = tailer.take_discovered();
                    if !discovered.is_empty() {
                        for p in &discovered {
                            self.positions.apply(p);
                        }
                        self.commit_positions();
                    }
                }
                Input::Journal(journal) => {
                    while let Some(j) = journal.try_recv() {
                        lines.push(TailLine {
                            labels: Arc::new(j.labels),
                            entry: j.entry,
                            pos: j.pos,
                            truncated: false,
                        });
                        if lines.len() >= MAX_JOURNAL_PER_CYCLE {
                            break;
                        }
                    }
                }
            };
            self.metrics.lines(source, lines.len() as u64);
            for l in lines.drain(..) {
                match source {
                    LineSource::Audit => self.audit_line(&l.entry, &mut records),
                    _ => self.line(source, &l.entry, &mut records),
                }
                positions.push(l.pos);
            }
        }
        let now = (self.clock)();
        if let Some(rx) = &self.fleet {
            while let Ok(list) = rx.try_recv() {
                self.engine.apply_fleet(list, now);
            }
            self.engine.expire_fleet(now);
        }
        let mut done = Vec::new();
        match last {
            true => self.audit.flush(&mut done),
            false => self.audit.expire(now.saturating_mul(1000), &mut done),
        }
        let now_ns = now.saturating_mul(1_000_000_000);
        for ae in &done {
            self.audit_event(ae, now_ns, &mut records);
        }
        self.engine.run_due(now);
        records.guard = self.engine.take_records();
        if !self.ship(records) {
            // Left uncommitted: these lines are read (and recorded) again after a restart.
            return;
        }
        if !positions.is_empty() {
            for p in &positions {
                self.positions.apply(p);
            }
            self.commit_positions();
        }
    }

    /// Parses one line and handles its event.
    fn line(&mut self, source: LineSource, entry: &LogEntry, records: &mut Records) {
        let ev = match source {
            LineSource::Auth => parse_line(&entry.line),
            LineSource::Access => access::parse_line(&entry.line),
            LineSource::Audit => None,
            LineSource::Journal => {
                let field = |name: &str| entry.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
                let origin = Origin {
                    host_name: field("hostname"),
                    process_name: field("syslog_identifier"),
                    process_pid: field("pid").and_then(|p| p.parse().ok()),
                    timestamp: None,
                };
                parse_message(&origin, &entry.line)
            }
        };
        let Some(ev) = ev else { return };
        self.event(&ev, source, entry.ts_ns, &entry.line, records);
    }

    /// Feeds one audit record to the correlator and handles the events it completes.
    fn audit_line(&mut self, entry: &LogEntry, records: &mut Records) {
        let mut done = Vec::new();
        self.audit.push(&entry.line, &mut done);
        for ae in &done {
            self.audit_event(ae, entry.ts_ns, records);
        }
    }

    /// An audit event's security event, if it has one; its record's line is its records, one per line.
    fn audit_event(&mut self, ae: &AuditEvent, read_ns: i64, records: &mut Records) {
        let Some(ev) = ae.event() else { return };
        self.event(&ev, LineSource::Audit, read_ns, &ae.records.join("\n"), records);
        if ev.action == Action::FileWatch {
            if let Some(key) = ev.tags {
                self.metrics.signals.audit_watch(key);
            }
        }
    }

    /// Counts an event, feeds the jails and the signals, and keeps its record.
    fn event(&mut self, ev: &Event<'_>, source: LineSource, read_ns: i64, line: &str, records: &mut Records) {
        let now = (self.clock)();
        self.metrics.event(ev.action, ev.outcome);
        let (line_time, ts_ns) = event_time(ev, source, read_ns, now);
        self.engine.observe(ev, line_time, now);
        if let Some(m) = &self.intel_now {
            self.engine.intel_check(m, ev, ts_ns, line, now);
        }
        let signals = self.signals.observe(ev, source, line_time, now);
        if self.logs.is_some() {
            let out = match source {
                LineSource::Auth => &mut records.auth,
                LineSource::Journal => &mut records.journal,
                LineSource::Audit => &mut records.audit,
                LineSource::Access => &mut records.access,
            };
            let mut entry = event_entry(ev, ts_ns, line);
            entry.fields.extend(signals);
            out.push(entry);
        }
    }

    /// Appends the records to the log shipper's outbox; false if that failed.
    fn ship(&mut self, records: Records) -> bool {
        let Some(logs) = &self.logs else { return true };
        let streams: Vec<(Labels, Vec<LogEntry>)> = [
            (LineSource::Auth.as_str(), records.auth),
            (LineSource::Journal.as_str(), records.journal),
            (LineSource::Audit.as_str(), records.audit),
            (LineSource::Access.as_str(), records.access),
            (GUARD_SOURCE, records.guard),
        ]
        .into_iter()
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(source, entries)| (stream_labels(&self.host, source), entries))
        .collect();
        match logs.append(streams) {
            Ok(()) => true,
            Err(vigil_ship::OutboxError::TooLarge { .. }) => {
                tracing::error!("security records larger than the log outbox, dropped");
                true
            }
            Err(err) => {
                self.metrics.store_error();
                tracing::error!(%err, "cannot write security records to the log outbox");
                false
            }
        }
    }

    fn commit_positions(&mut self) {
        if let Err(err) = self.positions.commit() {
            tracing::warn!(%err, "cannot commit the guard's positions (lines may be read again after a restart)");
        }
    }
}

/// When the line says it was written (Unix seconds, for the jails' `findtime`) and its record's timestamp
/// (nanoseconds, never after `now`).
fn event_time(ev: &Event<'_>, source: LineSource, read_ns: i64, now: i64) -> (i64, i64) {
    let now_ns = now.saturating_mul(1_000_000_000);
    let (secs, ns) = match (source, &ev.timestamp) {
        (LineSource::Journal, _) => (read_ns.div_euclid(1_000_000_000), read_ns),
        (_, Some(t)) => {
            let s = line_time_s(t, now);
            (s, s.saturating_mul(1_000_000_000).saturating_add(i64::from(t.nanos)))
        }
        (_, None) => (now, read_ns),
    };
    (secs.min(now), ns.min(now_ns.max(read_ns)))
}
