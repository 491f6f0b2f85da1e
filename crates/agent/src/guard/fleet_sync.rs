//! The fleet thread: polls `GET {url}/api/v1/bans?generation=<last>` every `poll_interval` and hands each new
//! list to the guard thread, and POSTs the local bans queued in `guard.db` to `{url}/api/v1/bans` until the
//! server answers 2xx (a 4xx is dropped with a warning). Errors back off exponentially; nothing here blocks
//! the guard thread, which keeps what it applied while the server is unreachable.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use serde::Deserialize;
use vigil_guard::cidr::Cidr;

use super::fleet::{FleetList, FleetWake};
use super::fleet_metrics::{FleetMetrics, PollResult, ReportResult};
use super::fleet_store::{FleetBan, Report, ReportQueue};
use super::metrics::GuardMetrics;
use super::worker::Worker;
use crate::http::{Answer, HttpClient, Req, Target};

/// The largest list read (about 300 000 bans).
const MAX_LIST_BYTES: usize = 64 << 20;
/// The most of a report's answer read.
const MAX_REPORT_ANSWER_BYTES: usize = 64 << 10;

/// `agent.guard.fleet:`, resolved.
#[derive(Clone, Debug)]
pub struct FleetSettings {
    /// The server's base URL.
    pub url: String,
    pub poll_interval: Duration,
    /// Whether local bans are reported.
    pub report: bool,
    /// Addresses never banned from the list: the guard's global `ignoreip` and loopback.
    pub ignoreip: Vec<Cidr>,
    /// Deadline of one request.
    pub timeout: Duration,
    /// The longest wait after failures.
    pub backoff_max: Duration,
}

impl FleetSettings {
    pub fn from_config(cfg: &vigil_config::FleetSection, ignoreip: Vec<Cidr>) -> FleetSettings {
        FleetSettings {
            url: cfg.url.value.clone(),
            poll_interval: cfg.poll_interval(),
            report: cfg.report(),
            ignoreip,
            timeout: Duration::from_secs(10),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// The running fleet thread.
pub(crate) struct FleetThread {
    pub wake: Sender<FleetWake>,
    pub worker: Worker,
}

impl FleetThread {
    pub fn stop(&mut self) {
        let _ = self.wake.send(FleetWake::Stop);
        self.worker.join();
    }
}

/// What the thread needs.
pub(crate) struct FleetSync {
    pub settings: FleetSettings,
    pub target: Target,
    pub client: HttpClient,
    pub db: PathBuf,
    /// The generation applied; `None` fetches the whole list.
    pub generation: Option<i64>,
    pub host: String,
    pub metrics: Arc<GuardMetrics>,
    pub updates: SyncSender<FleetList>,
    pub wake: Receiver<FleetWake>,
}

/// A backoff doubling from the poll interval up to a cap.
struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(base: Duration, max: Duration) -> Backoff {
        let max = max.max(base);
        Backoff { base, max, next: base }
    }

    fn fail(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    fn reset(&mut self) {
        self.next = self.base;
    }
}

impl FleetSync {
    pub fn run(mut self) {
        let queue = match self.settings.report.then(|| ReportQueue::open(&self.db)).transpose() {
            Ok(q) => q,
            Err(err) => {
                tracing::error!(%err, "cannot open the ban report queue; local bans are not reported");
                None
            }
        };
        let mut poll_backoff = Backoff::new(self.settings.poll_interval, self.settings.backoff_max);
        let mut report_backoff = Backoff::new(Duration::from_secs(1), self.settings.backoff_max);
        let mut next_poll = Instant::now();
        // When the queue is read next: at once when reporting (reports may wait from before a restart).
        let mut next_report = queue.as_ref().map(|_| Instant::now());
        loop {
            let now = Instant::now();
            if now >= next_poll {
                next_poll = now
                    + match self.poll() {
                        Ok(()) => {
                            poll_backoff.reset();
                            self.settings.poll_interval
                        }
                        Err(()) => poll_backoff.fail(),
                    };
            }
            if let (Some(q), Some(at)) = (&queue, next_report) {
                if now >= at {
                    next_report = match self.send_reports(q) {
                        Ok(()) => {
                            report_backoff.reset();
                            None
                        }
                        Err(()) => Some(Instant::now() + report_backoff.fail()),
                    };
                }
            }
            let until = next_report.map_or(next_poll, |r| r.min(next_poll));
            match self.wake.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(FleetWake::Report) if queue.is_some() => {
                    // A report queued while a retry waits keeps the backoff's time.
                    next_report.get_or_insert_with(Instant::now);
                }
                Ok(FleetWake::Report) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Ok(FleetWake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn fleet_metrics(&self) -> &FleetMetrics {
        self.metrics.fleet.get_or_init(FleetMetrics::default)
    }

    /// One poll; the new list, if any, is handed to the guard thread.
    fn poll(&mut self) -> Result<(), ()> {
        let path = match self.generation {
            Some(g) => self.target.join(&format!("/api/v1/bans?generation={g}")),
            None => self.target.join("/api/v1/bans"),
        };
        let req = Req {
            method: Method::GET,
            path_and_query: &path,
            headers: Vec::new(),
            json_body: None,
            max_body: MAX_LIST_BYTES,
            timeout: self.settings.timeout,
        };
        let result = self.client.send(&self.target, req).map_err(|e| e.to_string()).and_then(|a| parse_list(&a));
        match result {
            Err(err) => {
                self.fleet_metrics().poll(PollResult::Error);
                tracing::warn!(
                    err,
                    url = self.settings.url,
                    "cannot fetch the fleet ban list; keeping what is applied"
                );
                Err(())
            }
            Ok(Polled::Unchanged) => {
                self.fleet_metrics().poll(PollResult::Unchanged);
                Ok(())
            }
            Ok(Polled::List { list, skipped }) => {
                if let Some(first) = skipped.first() {
                    tracing::warn!(count = skipped.len(), first, "fleet ban list entries skipped");
                }
                let generation = list.generation;
                match self.updates.try_send(list) {
                    Ok(()) => self.generation = Some(generation),
                    // The guard thread is behind: the whole list is fetched again next time.
                    Err(TrySendError::Full(_)) => self.generation = None,
                    Err(TrySendError::Disconnected(_)) => return Err(()),
                }
                self.fleet_metrics().poll(PollResult::Ok);
                Ok(())
            }
        }
    }

    /// Sends the queued reports, oldest first, until the queue is empty or one fails (to be retried).
    fn send_reports(&mut self, queue: &ReportQueue) -> Result<(), ()> {
        loop {
            let (id, report) = match queue.peek() {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(()),
                Err(err) => {
                    tracing::error!(%err, "cannot read the ban report queue");
                    return Err(());
                }
            };
            let outcome = match report {
                Ok(r) => self.send_report(&r),
                Err(corrupt) => {
                    tracing::error!(err = corrupt, "dropping an unreadable ban report");
                    Sent::Done
                }
            };
            if outcome == Sent::Retry {
                return Err(());
            }
            if let Err(err) = queue.remove(id) {
                tracing::error!(%err, "cannot remove a sent ban report (it will be sent again)");
                return Err(());
            }
        }
    }

    fn send_report(&mut self, r: &Report) -> Sent {
        let now = super::clock::system_clock()();
        let remaining = r.until.saturating_sub(now);
        if remaining <= 0 {
            return Sent::Done;
        }
        let mut body = serde_json::json!({
            "ip": r.ip.to_string(), "duration": remaining, "reason": r.reason, "jail": r.jail,
        });
        if !self.host.is_empty() {
            body["origin"] = serde_json::json!(self.host);
        }
        let path = self.target.join("/api/v1/bans");
        let req = Req {
            method: Method::POST,
            path_and_query: &path,
            headers: Vec::new(),
            json_body: Some(body.to_string().into_bytes()),
            max_body: MAX_REPORT_ANSWER_BYTES,
            timeout: self.settings.timeout,
        };
        let m = self.fleet_metrics();
        match self.client.send(&self.target, req) {
            Ok(a) if (200..300).contains(&a.status) => {
                m.report(ReportResult::Ok);
                tracing::debug!(ip = %r.ip, jail = r.jail, "ban reported to the fleet");
                Sent::Done
            }
            Ok(a) if (400..500).contains(&a.status) && a.status != 408 && a.status != 429 => {
                m.report(ReportResult::Rejected);
                let answer = String::from_utf8_lossy(&a.body);
                tracing::warn!(ip = %r.ip, status = a.status, answer = answer.trim(), "server refused a ban report; dropped");
                Sent::Done
            }
            Ok(a) => {
                m.report(ReportResult::Error);
                tracing::warn!(ip = %r.ip, status = a.status, "cannot report a ban; will retry");
                Sent::Retry
            }
            Err(err) => {
                m.report(ReportResult::Error);
                tracing::warn!(ip = %r.ip, %err, "cannot report a ban; will retry");
                Sent::Retry
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    Done,
    Retry,
}

#[derive(Debug, PartialEq)]
enum Polled {
    Unchanged,
    /// The list, and the entries that could not be read.
    List {
        list: FleetList,
        skipped: Vec<String>,
    },
}

#[derive(Deserialize)]
struct WireAnswer {
    data: WireData,
}

#[derive(Deserialize)]
struct WireData {
    generation: i64,
    #[serde(default)]
    unchanged: bool,
    #[serde(default)]
    bans: Vec<WireBan>,
}

#[derive(Deserialize)]
struct WireBan {
    ip: String,
    #[serde(default)]
    jail: String,
    #[serde(default)]
    origin: String,
    expires_at: Option<String>,
}

/// Reads a list answer; entries with an unreadable address or end are skipped, not the whole list.
fn parse_list(a: &Answer) -> Result<Polled, String> {
    if !(200..300).contains(&a.status) {
        let answer = String::from_utf8_lossy(&a.body[..a.body.len().min(512)]).trim().to_owned();
        return Err(format!("status {}: {answer}", a.status));
    }
    let w: WireAnswer = serde_json::from_slice(&a.body).map_err(|e| format!("invalid answer: {e}"))?;
    if w.data.unchanged {
        return Ok(Polled::Unchanged);
    }
    let mut bans = Vec::with_capacity(w.data.bans.len());
    let mut skipped = Vec::new();
    for b in w.data.bans {
        let Ok(ip) = b.ip.parse::<std::net::IpAddr>() else {
            skipped.push(format!("ip {:?} is not an address", b.ip));
            continue;
        };
        let expires_ms = match b.expires_at.as_deref().map(vigil_model::time::parse_rfc3339) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(_)) => {
                skipped.push(format!("{ip}: expires_at {:?} is not an RFC 3339 time", b.expires_at));
                continue;
            }
        };
        bans.push(FleetBan { ip: ip.to_canonical(), expires_ms, jail: b.jail, origin: b.origin });
    }
    Ok(Polled::List { list: FleetList { generation: w.data.generation, bans }, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn reads_the_documented_answers() {
        let body = r#"{"status":"success","data":{"generation":1763764012345,"bans":[
  {"ip":"192.0.2.7","jail":"sshd","origin":"web1","reason":"5 failures in 10m","created_at":"2025-11-21T22:26:52.345Z",
   "expires_at":"2025-11-21T23:26:52.345Z","count":2},
  {"ip":"2001:db8::1","jail":"manual","origin":"api","reason":"","created_at":"2025-11-21T22:30:00.000Z",
   "expires_at":null,"count":1},
  {"ip":"nope","jail":"manual","origin":"api","expires_at":null}]}}"#;
        let Polled::List { list, skipped } = parse_list(&answer(200, body)).unwrap() else { panic!() };
        assert_eq!(list.generation, 1763764012345);
        assert_eq!(list.bans.len(), 2);
        assert_eq!(
            list.bans[0].expires_ms,
            Some(vigil_model::time::parse_rfc3339("2025-11-21T23:26:52.345Z").unwrap())
        );
        assert_eq!((list.bans[0].jail.as_str(), list.bans[0].origin.as_str()), ("sshd", "web1"));
        assert_eq!(list.bans[1].expires_ms, None);
        assert_eq!(skipped, ["ip \"nope\" is not an address"]);
        let unchanged = r#"{"status":"success","data":{"generation":5,"unchanged":true}}"#;
        assert_eq!(parse_list(&answer(200, unchanged)).unwrap(), Polled::Unchanged);
        assert!(parse_list(&answer(500, "boom")).unwrap_err().starts_with("status 500: boom"));
        assert!(parse_list(&answer(200, "{")).unwrap_err().starts_with("invalid answer"));
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.fail().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.fail().as_secs(), 1);
    }
}
