//! Drives a log load run: generates every push body first (and the same lines into a raw file for grep), then
//! sends them over a few connections to a Loki push endpoint and totals what was accepted.
//!
//! Generating first keeps the generator's CPU out of the measured ingest rate on a small machine. Each host
//! is one sender (as one Promtail per host): its lines spread evenly over the window, its pushes carrying its
//! nginx, sshd and app streams. Everything is a pure function of the seed.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use vigil_model::{Labels, LogEntry};
use vigil_proto::loki::{encode_push, CONTENT_TYPE_PROTOBUF, PUSH_PATH};

use crate::http::{Connection, Endpoint, HttpError};
use crate::loggen::{self, Job, Plant, JOBS, MARKER, MARKER_EVERY};
use crate::nodegen::Rng;
use crate::send::{self, Outcome, RetryPolicy};

const HEADERS: [(&str, &str); 1] = [("Content-Type", CONTENT_TYPE_PROTOBUF)];
/// Lines generated to estimate the average line size when a size in bytes is asked for.
const SAMPLE_LINES: u64 = 20_000;

#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `http://host:port[/path]`; without a path, Loki's push path.
    pub url: String,
    /// Lines to send, rounded up so that every host sends a multiple of 100 (the marker is then in exactly
    /// 1 % of them).
    pub lines: u64,
    pub hosts: usize,
    /// Timestamp of the window's start, in ns since the epoch.
    pub start_ns: i64,
    /// The lines' timestamps spread evenly over this span.
    pub window: Duration,
    /// Lines per push request.
    pub batch_lines: usize,
    pub concurrency: usize,
    pub seed: u64,
    /// Where to write the same lines, one per line, for grep.
    pub raw_out: Option<PathBuf>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LogRunError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("writing the raw file {path}: {source}")]
    Raw { path: PathBuf, source: io::Error },
}

/// Totals of a log run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSummary {
    pub hosts: usize,
    pub streams: usize,
    pub requests: u64,
    pub lines_sent: u64,
    pub lines_accepted: u64,
    pub lines_rejected: u64,
    pub lines_failed: u64,
    pub retries: u64,
    /// Request bodies as sent (snappy-compressed protobuf).
    pub bytes_sent: u64,
    /// The lines with a newline each: the size of the raw file.
    pub raw_bytes: u64,
    pub generate_seconds: f64,
    /// Time spent sending, generation excluded.
    pub seconds: f64,
    pub needle: String,
    pub marker_lines: u64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub last_error: Option<String>,
}

impl LogSummary {
    pub fn lines_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.lines_accepted as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"hosts\":{},\"streams\":{},\"requests\":{},\"lines_sent\":{},\"lines_accepted\":{},\
             \"lines_rejected\":{},\"lines_failed\":{},\"retries\":{},\"bytes_sent\":{},\"raw_bytes\":{},\
             \"generate_seconds\":{:.3},\"seconds\":{:.3},\"lines_per_second\":{:.1},\"raw_mb_per_second\":{:.2},\
             \"needle\":\"{}\",\"marker\":\"{MARKER}\",\"marker_lines\":{},\"start_ns\":{},\"end_ns\":{}}}",
            self.hosts,
            self.streams,
            self.requests,
            self.lines_sent,
            self.lines_accepted,
            self.lines_rejected,
            self.lines_failed,
            self.retries,
            self.bytes_sent,
            self.raw_bytes,
            self.generate_seconds,
            self.seconds,
            self.lines_per_second(),
            if self.seconds > 0.0 { self.raw_bytes as f64 / self.seconds / 1e6 } else { 0.0 },
            self.needle,
            self.marker_lines,
            self.start_ns,
            self.end_ns
        );
        s
    }
}

/// The lines each host sends: `lines` spread over `hosts`, rounded up to a multiple of 100 per host.
pub fn lines_per_host(lines: u64, hosts: usize) -> u64 {
    let hosts = hosts.max(1) as u64;
    lines.div_ceil(hosts).div_ceil(MARKER_EVERY).max(1) * MARKER_EVERY
}

/// How many lines make about `bytes` of raw file (newlines included), from the average of the first lines.
pub fn lines_for_bytes(bytes: u64, hosts: usize, seed: u64) -> u64 {
    let mut host = HostGen::new(seed, 0, hosts.max(1), SAMPLE_LINES, 0, 3_600_000_000_000);
    let (mut line, mut total) = (String::new(), 0u64);
    for _ in 0..SAMPLE_LINES {
        line.clear();
        host.next_line(&mut line);
        total += line.len() as u64 + 1;
    }
    let average = (total / SAMPLE_LINES).max(1);
    bytes.div_ceil(average)
}

/// One host's line source.
struct HostGen {
    name: String,
    labels: Vec<(Job, Labels)>,
    rng: Rng,
    /// Index of the next line, and how many lines this host sends.
    next: u64,
    total: u64,
    marker_slot: u64,
    needle: Option<(u64, String)>,
    start_ns: i64,
    window_ns: i64,
    /// This host's offset within the spacing of its lines, so hosts do not share timestamps.
    offset_ns: i64,
}

impl HostGen {
    fn new(seed: u64, host: usize, hosts: usize, total: u64, start_ns: i64, window_ns: i64) -> HostGen {
        let name = format!("web-{:02}", host + 1);
        let labels = JOBS
            .iter()
            .map(|(job, _)| {
                let labels = Labels::from_pairs([("host", name.as_str()), ("job", job.name())]);
                (*job, labels.unwrap_or_default())
            })
            .collect();
        let spacing = window_ns / total.max(1) as i64;
        HostGen {
            name,
            labels,
            rng: Rng::new(seed.wrapping_mul(0x100_0000_01b3) ^ host as u64),
            next: 0,
            total,
            marker_slot: 0,
            needle: None,
            start_ns,
            window_ns,
            offset_ns: spacing * host as i64 / hosts.max(1) as i64,
        }
    }

    fn ts_ns(&self, i: u64) -> i64 {
        let at = i128::from(i) * i128::from(self.window_ns) / i128::from(self.total.max(1));
        self.start_ns + at as i64 + self.offset_ns
    }

    /// Appends the next line to `out` and returns its job, timestamp and whether it holds the marker.
    fn next_line(&mut self, out: &mut String) -> (Job, i64, bool) {
        let i = self.next;
        self.next += 1;
        if i.is_multiple_of(MARKER_EVERY) {
            self.marker_slot = self.rng.next_u64() % MARKER_EVERY;
        }
        let needle = self.needle.as_ref().filter(|(at, _)| *at == i).map(|(_, n)| n.as_str());
        // The needle goes into an app line, as a request id: `"request_id":"needle_..."`.
        let job = if needle.is_some() { Job::App } else { Job::pick(&mut self.rng) };
        let marker = i % MARKER_EVERY == self.marker_slot;
        let ts = self.ts_ns(i);
        loggen::line(out, &mut self.rng, job, &self.name, ts, Plant { marker, needle });
        (job, ts, marker)
    }
}

/// One request ready to send.
struct Body {
    bytes: Vec<u8>,
    lines: u64,
}

/// Generates every push body in sending order (host after host, one batch each, round after round) and
/// writes the lines to the raw file.
fn generate(config: &LogConfig, summary: &mut LogSummary) -> Result<Vec<Body>, LogRunError> {
    let per_host = lines_per_host(config.lines, config.hosts);
    let window_ns = i64::try_from(config.window.as_nanos()).map_err(|_| LogRunError::Config("--window is too long"))?;
    let mut hosts: Vec<HostGen> = (0..config.hosts)
        .map(|h| HostGen::new(config.seed, h, config.hosts, per_host, config.start_ns, window_ns))
        .collect();
    let mut pick = Rng::new(config.seed ^ 0x6e65_6564);
    let needle_host = (pick.next_u64() % config.hosts as u64) as usize;
    // Somewhere in the middle half of the window.
    let needle_at = per_host / 4 + pick.next_u64() % (per_host / 2).max(1);
    summary.needle = loggen::needle(config.seed);
    hosts[needle_host].needle = Some((needle_at, summary.needle.clone()));
    let mut raw = match &config.raw_out {
        Some(path) => {
            Some((BufWriter::with_capacity(1 << 20, File::create(path).map_err(|source| raw_err(path, source))?), path))
        }
        None => None,
    };
    let mut bodies = Vec::new();
    let mut line = String::new();
    let mut streams: Vec<(Labels, Vec<LogEntry>)> = Vec::new();
    for _round in 0..per_host.div_ceil(config.batch_lines as u64) {
        for host in &mut hosts {
            streams.clear();
            streams.extend(host.labels.iter().map(|(_, l)| (l.clone(), Vec::new())));
            let n = (host.total - host.next).min(config.batch_lines as u64);
            for _ in 0..n {
                line.clear();
                let (job, ts_ns, marker) = host.next_line(&mut line);
                summary.marker_lines += u64::from(marker);
                summary.raw_bytes += line.len() as u64 + 1;
                if let Some((w, path)) = &mut raw {
                    w.write_all(line.as_bytes()).and_then(|()| w.write_all(b"\n")).map_err(|e| raw_err(path, e))?;
                }
                let slot = JOBS.iter().position(|(j, _)| *j == job).unwrap_or(0);
                streams[slot].1.push(LogEntry { ts_ns, line: line.clone(), fields: Vec::new() });
            }
            streams.retain(|(_, entries)| !entries.is_empty());
            if !streams.is_empty() {
                bodies.push(Body { bytes: encode_push(&streams), lines: n });
            }
        }
    }
    if let Some((w, path)) = &mut raw {
        w.flush().map_err(|e| raw_err(path, e))?;
    }
    summary.hosts = config.hosts;
    summary.streams = config.hosts * JOBS.len();
    summary.start_ns = config.start_ns;
    summary.end_ns = config.start_ns.saturating_add(window_ns);
    Ok(bodies)
}

fn raw_err(path: &std::path::Path, source: io::Error) -> LogRunError {
    LogRunError::Raw { path: path.to_owned(), source }
}

/// Generates the lines, sends them and returns the totals. Failed requests are counted, not returned as errors.
pub fn run_logs(config: &LogConfig) -> Result<LogSummary, LogRunError> {
    let mut endpoint = Endpoint::parse(&config.url)?;
    if endpoint.path == "/" {
        endpoint.path = PUSH_PATH.to_owned();
    }
    if config.batch_lines == 0 || config.concurrency == 0 || config.hosts == 0 {
        return Err(LogRunError::Config("--batch-lines, --concurrency and --hosts must be at least 1"));
    }
    if config.window.is_zero() {
        return Err(LogRunError::Config("--window must be positive"));
    }
    let mut summary = LogSummary::default();
    let started = Instant::now();
    let bodies = generate(config, &mut summary)?;
    summary.generate_seconds = started.elapsed().as_secs_f64();
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(summary);
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..config.concurrency.min(bodies.len().max(1)) {
            let (bodies, next, totals, endpoint) = (&bodies, &next, &totals, endpoint.clone());
            scope.spawn(move || {
                let mut conn = Connection::new(endpoint, config.timeout);
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let sent = send::post(&mut conn, &HEADERS, &body.bytes, &config.retry);
                    let mut s = totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.requests += 1;
                    s.lines_sent += body.lines;
                    s.bytes_sent += body.bytes.len() as u64;
                    s.retries += sent.retries;
                    if sent.last_error.is_some() {
                        s.last_error = sent.last_error;
                    }
                    match sent.outcome {
                        Outcome::Accepted => s.lines_accepted += body.lines,
                        Outcome::Rejected => s.lines_rejected += body.lines,
                        Outcome::Failed => s.lines_failed += body.lines,
                    }
                }
            });
        }
    });
    let mut summary = totals.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_send_whole_hundreds() {
        assert_eq!(lines_per_host(1, 3), 100);
        assert_eq!(lines_per_host(1000, 10), 100);
        assert_eq!(lines_per_host(1001, 10), 200);
        assert_eq!(lines_per_host(0, 0), 100);
    }

    #[test]
    fn byte_sizes_become_line_counts() {
        let n = lines_for_bytes(100_000_000, 4, 1);
        // Lines average between 150 and 400 bytes.
        assert!((250_000..700_000).contains(&n), "{n}");
    }

    #[test]
    fn timestamps_spread_over_the_window_in_order() {
        let mut h = HostGen::new(1, 1, 2, 1000, 5_000, 1_000_000);
        let ts: Vec<i64> = (0..1000).map(|_| h.next_line(&mut String::new()).1).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
        assert!(ts[0] >= 5_000 && ts[999] < 5_000 + 1_000_000, "{} {}", ts[0], ts[999]);
    }
}
