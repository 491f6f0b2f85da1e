//! The journald source: runs `journalctl -o json --follow` (argv, no shell) from the saved cursor, parses each
//! entry, and restarts journalctl with backoff whenever it exits.

use std::{
    io::{self, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender},
        Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;
use vigil_model::{log::LogEntry, Labels};

use crate::positions::Position;

/// The label holding an entry's systemd unit.
pub const UNIT_LABEL: &str = "unit";

#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// The journalctl binary; a bare name is looked up on `PATH`.
    pub program: PathBuf,
    /// Where to start without a saved cursor (`--since`), e.g. `-1h`.
    pub since: String,
    /// Journal matches appended to the command line, e.g. `_SYSTEMD_UNIT=ssh.service`.
    pub matches: Vec<String>,
    /// Labels of every entry; `unit` is added per entry.
    pub labels: Labels,
    /// A JSON line longer than this is skipped and counted.
    pub max_line_bytes: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Entries buffered between the reader thread and the caller.
    pub queue: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            program: "journalctl".into(),
            since: "-1h".into(),
            matches: Vec::new(),
            labels: Labels::default(),
            max_line_bytes: 1 << 20,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            queue: 4096,
        }
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq)]
pub struct JournalLine {
    pub labels: Labels,
    pub entry: LogEntry,
    /// `Position::Journal(__CURSOR)`.
    pub pos: Position,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal entry is not a json object: {0}")]
    Json(#[from] serde_json::Error),
    #[error("journal entry has no {0}")]
    Missing(&'static str),
    #[error("journal entry field {0} is neither a string nor an array of bytes")]
    BadField(&'static str),
}

/// Counters for the agent's self-metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    pub entries: u64,
    /// Lines that were not valid entries, or too long.
    pub bad_lines: u64,
    /// Times journalctl was started again after it exited or could not be started.
    pub restarts: u64,
}

#[derive(Default)]
struct Counters {
    entries: AtomicU64,
    bad_lines: AtomicU64,
    restarts: AtomicU64,
}

struct ChildSlot {
    child: Option<Child>,
    stopped: bool,
}

/// A running journald source; dropping it stops journalctl and the reader thread.
pub struct Journal {
    rx: Option<Receiver<JournalLine>>,
    stop: Option<Sender<()>>,
    slot: Arc<Mutex<ChildSlot>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Journal {
    /// Starts reading after `cursor` (the committed one), or from `cfg.since` without one.
    pub fn spawn(cfg: JournalConfig, cursor: Option<String>) -> Journal {
        let (tx, rx) = mpsc::sync_channel(cfg.queue.max(1));
        let (stop, stop_rx) = mpsc::channel();
        let slot = Arc::new(Mutex::new(ChildSlot { child: None, stopped: false }));
        let counters = Arc::new(Counters::default());
        let reader = Reader { cfg, cursor, tx, stop_rx, slot: slot.clone(), counters: counters.clone() };
        let thread = std::thread::Builder::new().name("journald".into()).spawn(move || reader.run()).ok();
        Journal { rx: Some(rx), stop: Some(stop), slot, counters, thread }
    }

    /// The next entry, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<JournalLine> {
        self.rx.as_ref()?.recv_timeout(timeout).ok()
    }

    pub fn try_recv(&self) -> Option<JournalLine> {
        self.rx.as_ref()?.try_recv().ok()
    }

    pub fn stats(&self) -> JournalStats {
        JournalStats {
            entries: self.counters.entries.load(Ordering::Relaxed),
            bad_lines: self.counters.bad_lines.load(Ordering::Relaxed),
            restarts: self.counters.restarts.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop.take();
        self.rx.take();
        if let Ok(mut slot) = self.slot.lock() {
            slot.stopped = true;
            if let Some(child) = slot.child.as_mut() {
                let _ = child.kill();
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Reader {
    cfg: JournalConfig,
    cursor: Option<String>,
    tx: SyncSender<JournalLine>,
    stop_rx: Receiver<()>,
    slot: Arc<Mutex<ChildSlot>>,
    counters: Arc<Counters>,
}

impl Reader {
    fn run(mut self) {
        let mut backoff = self.cfg.backoff_min;
        loop {
            match self.follow_once() {
                Flow::Stop => return,
                Flow::Restart { progressed } => {
                    if progressed {
                        backoff = self.cfg.backoff_min;
                    }
                }
            }
            self.counters.restarts.fetch_add(1, Ordering::Relaxed);
            match self.stop_rx.recv_timeout(backoff) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            backoff = (backoff * 2).min(self.cfg.backoff_max);
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> =
            ["-o", "json", "--follow", "--no-tail", "--all"].iter().map(|s| s.to_string()).collect();
        match &self.cursor {
            Some(c) => args.push(format!("--after-cursor={c}")),
            None => args.push(format!("--since={}", self.cfg.since)),
        }
        args.extend(self.cfg.matches.iter().cloned());
        args
    }

    /// Runs journalctl until it exits or the source is dropped.
    fn follow_once(&mut self) -> Flow {
        let child = Command::new(&self.cfg.program)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else { return Flow::Restart { progressed: false } };
        let Some(stdout) = child.stdout.take() else { return Flow::Restart { progressed: false } };
        {
            let Ok(mut slot) = self.slot.lock() else { return Flow::Stop };
            if slot.stopped {
                let _ = child.kill();
                let _ = child.wait();
                return Flow::Stop;
            }
            slot.child = Some(child);
        }
        let mut progressed = false;
        let mut reader = BufReader::with_capacity(64 << 10, stdout);
        let mut buf = Vec::new();
        let flow = loop {
            match read_line_capped(&mut reader, &mut buf, self.cfg.max_line_bytes) {
                Ok(Line::Eof) | Err(_) => break Flow::Restart { progressed },
                Ok(Line::TooLong) => {
                    self.counters.bad_lines.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Line::Complete) => match parse_entry(&buf, &self.cfg.labels) {
                    Ok(line) => {
                        if let Position::Journal(c) = &line.pos {
                            self.cursor = Some(c.clone());
                        }
                        progressed = true;
                        self.counters.entries.fetch_add(1, Ordering::Relaxed);
                        if self.tx.send(line).is_err() {
                            break Flow::Stop;
                        }
                    }
                    Err(_) => {
                        self.counters.bad_lines.fetch_add(1, Ordering::Relaxed);
                    }
                },
            }
        };
        if let Ok(mut slot) = self.slot.lock() {
            if let Some(mut child) = slot.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        flow
    }
}

enum Flow {
    Stop,
    Restart { progressed: bool },
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads one line (without its newline) into `buf`, keeping at most `max` bytes; a longer line is consumed
/// whole and reported as too long.
fn read_line_capped(r: &mut impl io::BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if buf.is_empty() && !too_long { Line::Eof } else { Line::TooLong });
        }
        let (chunk, found) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        if buf.len() + chunk.len() > max {
            too_long = true;
            buf.clear();
        } else if !too_long {
            buf.extend_from_slice(chunk);
        }
        let used = found.unwrap_or(avail.len());
        r.consume(used);
        if found.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Complete });
        }
    }
}

/// Parses one `journalctl -o json` line.
pub fn parse_entry(json: &[u8], labels: &Labels) -> Result<JournalLine, JournalError> {
    let obj: serde_json::Map<String, Value> = serde_json::from_slice(json)?;
    let cursor = match obj.get("__CURSOR") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(JournalError::Missing("__CURSOR")),
    };
    let line = match obj.get("MESSAGE") {
        None | Some(Value::Null) => String::new(),
        Some(v) => field_text(v).ok_or(JournalError::BadField("MESSAGE"))?,
    };
    let ts_ns = obj
        .get("__REALTIME_TIMESTAMP")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|us| us.checked_mul(1000))
        .unwrap_or_else(now_ns);
    let text = |name: &str| obj.get(name).and_then(field_text).filter(|s| !s.is_empty());
    let mut labels = labels.clone();
    if let Some(unit) = text("_SYSTEMD_UNIT") {
        labels.set(UNIT_LABEL, &unit);
    }
    let mut fields = Vec::new();
    for (key, name) in [
        ("PRIORITY", "priority"),
        ("SYSLOG_IDENTIFIER", "syslog_identifier"),
        ("_HOSTNAME", "hostname"),
        ("_PID", "pid"),
    ] {
        if let Some(v) = text(key) {
            fields.push((name.to_string(), v));
        }
    }
    Ok(JournalLine { labels, entry: LogEntry { ts_ns, line, fields }, pos: Position::Journal(cursor) })
}

/// A field's text: journald writes non-UTF-8 or binary values as arrays of byte values.
fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
        _ => None,
    }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}
