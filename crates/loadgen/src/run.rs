//! Drives a load run: node-like series in batches, one connection per worker, retries with backoff, totals.
//!
//! Each series always goes through the same worker and rounds go out in order, so a server that rejects
//! out-of-order samples sees none (Prometheus shards remote_write queues by series for the same reason).
//! Workers stay within a few rounds of each other (`gate.rs`).

use std::fmt::Write as _;
use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_proto::remote_write::{self, encode_write_request, Label, Sample, TimeSeries, WriteRequest};

use crate::gate::{RoundGate, Stopped};
use crate::http::{Connection, Endpoint, HttpError};
use crate::nodegen::{node_hosts, systemd_hosts, Rng, SeriesSpec, SeriesState};
use crate::send::{self, Outcome, RetryPolicy};

const HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", remote_write::CONTENT_ENCODING),
    ("Content-Type", remote_write::CONTENT_TYPE),
    ("X-Prometheus-Remote-Write-Version", remote_write::VERSION_HEADER_VALUE),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `http://host:port/path` of the remote_write receiver.
    pub url: String,
    pub hosts: usize,
    /// Simulated time between two rounds (scrapes).
    pub interval: Duration,
    pub rounds: u64,
    /// Timestamp of the first round, in ms since the epoch.
    pub start_ms: i64,
    /// Series per request, like Prometheus' `max_samples_per_send`.
    pub batch_series: usize,
    /// Parallel connections.
    pub concurrency: usize,
    pub seed: u64,
    /// Add each host's systemd units (`node_systemd_unit_state`) after the node series.
    pub systemd: bool,
    /// Send each round when the clock reaches its time instead of as fast as the server accepts; rounds of a
    /// start in the past go out at once, so a backfill runs on into a live feed.
    pub realtime: bool,
    /// Retries of one request after a 5xx, a 429 or a connection error.
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Connect, read and write timeout.
    pub timeout: Duration,
}

impl Config {
    /// Ten hosts, one round at a 10 s interval ending now, 2000 series per request over 4 connections.
    pub fn new(url: &str) -> Config {
        let interval = Duration::from_secs(10);
        Config {
            url: url.to_owned(),
            hosts: 10,
            interval,
            rounds: 1,
            start_ms: now_ms() - interval.as_millis() as i64,
            batch_series: 2000,
            concurrency: 4,
            seed: 1,
            systemd: false,
            realtime: false,
            max_retries: 5,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { max_retries: self.max_retries, min_backoff: self.min_backoff, max_backoff: self.max_backoff }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Totals of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub series: usize,
    /// Requests completed (accepted, rejected or given up on), not counting retries.
    pub requests: u64,
    pub samples_sent: u64,
    /// Answered 2xx.
    pub samples_accepted: u64,
    /// Answered 4xx other than 429: the server will never take them.
    pub samples_rejected: u64,
    /// Still failing (5xx, 429, connection errors) after all retries.
    pub samples_failed: u64,
    pub retries: u64,
    pub seconds: f64,
    /// The last rejection or failure, for diagnosis.
    pub last_error: Option<String>,
}

impl Summary {
    pub fn samples_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.samples_accepted as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"series\":{},\"requests\":{},\"samples_sent\":{},\"samples_accepted\":{},\"samples_rejected\":{},\
             \"samples_failed\":{},\"retries\":{},\"seconds\":{:.3},\"samples_per_second\":{:.1}}}",
            self.series,
            self.requests,
            self.samples_sent,
            self.samples_accepted,
            self.samples_rejected,
            self.samples_failed,
            self.retries,
            self.seconds,
            self.samples_per_second()
        );
        s
    }

    fn merge(&mut self, other: Summary) {
        self.requests += other.requests;
        self.samples_sent += other.samples_sent;
        self.samples_accepted += other.samples_accepted;
        self.samples_rejected += other.samples_rejected;
        self.samples_failed += other.samples_failed;
        self.retries += other.retries;
        if other.last_error.is_some() {
            self.last_error = other.last_error;
        }
    }
}

/// Sends `config.rounds` rounds of every series and returns the totals. Failed requests are counted, not
/// returned as errors.
pub fn run(config: &Config) -> Result<Summary, LoadgenError> {
    let endpoint = Endpoint::parse(&config.url)?;
    if config.batch_series == 0 || config.concurrency == 0 {
        return Err(LoadgenError::Config("--batch-series and --concurrency must be at least 1"));
    }
    if config.interval.is_zero() {
        return Err(LoadgenError::Config("--interval must be positive"));
    }
    let mut specs = node_hosts(config.hosts, config.seed);
    if config.systemd {
        specs.extend(systemd_hosts(config.hosts, config.seed));
    }
    let batches: Vec<Range<usize>> = (0..specs.len())
        .step_by(config.batch_series)
        .map(|start| start..(start + config.batch_series).min(specs.len()))
        .collect();
    let started = Instant::now();
    let mut summary = Summary { series: specs.len(), ..Summary::default() };
    let workers = config.concurrency.min(batches.len().max(1));
    let gate = RoundGate::new(workers);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let mine: Vec<Range<usize>> = batches.iter().skip(w).step_by(workers).cloned().collect();
                let (specs, endpoint, gate) = (&specs, endpoint.clone(), &gate);
                scope.spawn(move || {
                    let _stopped = Stopped { gate, worker: w };
                    Worker::new(config, specs, mine, endpoint).run(gate, w)
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(s) => summary.merge(s),
                Err(_) => summary.last_error = Some("a worker panicked".to_owned()),
            }
        }
    });
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// One batch: its request, reused every round, and the value generators of its series.
struct Batch {
    request: WriteRequest,
    states: Vec<SeriesState>,
    /// Timestamp offset of each series: its host's scrape offset within the interval.
    offsets: Vec<i64>,
}

struct Worker<'a> {
    config: &'a Config,
    conn: Connection,
    batches: Vec<Batch>,
    summary: Summary,
}

impl<'a> Worker<'a> {
    fn new(config: &'a Config, specs: &[SeriesSpec], ranges: Vec<Range<usize>>, endpoint: Endpoint) -> Worker<'a> {
        let interval_ms = config.interval.as_millis().max(1) as u64;
        let batches = ranges
            .into_iter()
            .map(|range| {
                let series = &specs[range.clone()];
                let timeseries = series
                    .iter()
                    .map(|s| TimeSeries {
                        labels: s.labels.iter().map(|(n, v)| Label { name: n.clone(), value: v.clone() }).collect(),
                        samples: vec![Sample::default()],
                        exemplars: Vec::new(),
                        histograms: Vec::new(),
                    })
                    .collect();
                Batch {
                    request: WriteRequest { timeseries, metadata: Vec::new() },
                    states: range.clone().map(|i| SeriesState::new(&specs[i], config.seed, i)).collect(),
                    offsets: series
                        .iter()
                        .map(|s| (Rng::new(config.seed ^ s.host as u64).next_u64() % interval_ms) as i64)
                        .collect(),
                }
            })
            .collect();
        Worker { config, conn: Connection::new(endpoint, config.timeout), batches, summary: Summary::default() }
    }

    fn run(mut self, gate: &RoundGate, worker: usize) -> Summary {
        let interval_s = self.config.interval.as_secs_f64();
        let interval_ms = self.config.interval.as_millis() as i64;
        for round in 0..self.config.rounds {
            gate.wait_turn(round);
            let base = self.config.start_ms.saturating_add((round as i64).saturating_mul(interval_ms));
            if self.config.realtime {
                // A round goes out when the clock reaches its time: those of a start in the past at once.
                let ahead_ms = base.saturating_sub(now_ms());
                if ahead_ms > 0 {
                    thread::sleep(Duration::from_millis(ahead_ms as u64));
                }
            }
            for b in 0..self.batches.len() {
                let batch = &mut self.batches[b];
                for ((ts, state), offset) in
                    batch.request.timeseries.iter_mut().zip(&mut batch.states).zip(&batch.offsets)
                {
                    let timestamp = base + offset;
                    ts.samples[0] = Sample { value: state.next(interval_s, timestamp), timestamp };
                }
                let body = encode_write_request(&batch.request);
                let samples = batch.request.timeseries.len() as u64;
                self.send(&body, samples);
            }
            gate.finished(worker, round + 1);
        }
        self.summary
    }

    fn send(&mut self, body: &[u8], samples: u64) {
        let s = &mut self.summary;
        s.requests += 1;
        s.samples_sent += samples;
        let sent = send::post(&mut self.conn, &HEADERS, body, &self.config.retry_policy());
        s.retries += sent.retries;
        if sent.last_error.is_some() {
            s.last_error = sent.last_error;
        }
        match sent.outcome {
            Outcome::Accepted => s.samples_accepted += samples,
            Outcome::Rejected => s.samples_rejected += samples,
            Outcome::Failed => s.samples_failed += samples,
        }
    }
}
