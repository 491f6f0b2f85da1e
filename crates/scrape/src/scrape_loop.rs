//! One task per target: scrape on the target's fixed phase, append off the async threads, keep its health, and
//! write stale markers when the target goes away.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vigil_proto::exposition::Format;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vigil_model::Labels;

use crate::http::{Client, Fetched, Get};
use crate::ingest::{Ingester, Outcome};
use crate::job::ScrapeSettings;
use crate::target::Target;
use crate::Appender;

/// Scrapes within this much of their slot get the slot's timestamp, which compresses better (Prometheus' rule).
const TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// The last scrape's result, for the targets API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    #[default]
    Unknown,
    Up,
    Down,
}

impl Health {
    /// As Prometheus' API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct HealthInfo {
    pub health: Health,
    pub last_error: Option<String>,
    pub last_scrape: Option<SystemTime>,
    pub last_duration: Duration,
}

/// A running target as the manager sees it.
#[derive(Debug)]
pub(crate) struct TargetState {
    pub job: String,
    pub target: Target,
    /// Updated when discovery re-sends the target with other (pre-relabeling) labels.
    pub discovered: Mutex<Labels>,
    pub health: Mutex<HealthInfo>,
}

impl TargetState {
    pub fn new(job: String, target: Target) -> TargetState {
        let discovered = Mutex::new(target.discovered.clone());
        TargetState { job, target, discovered, health: Mutex::new(HealthInfo::default()) }
    }

    pub fn health(&self) -> HealthInfo {
        self.health.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn discovered(&self) -> Labels {
        self.discovered.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_discovered(&self, labels: Labels) {
        *self.discovered.lock().unwrap_or_else(PoisonError::into_inner) = labels;
    }

    fn record(&self, started: SystemTime, outcome: &Outcome) {
        let mut h = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        h.health = if outcome.error.is_none() { Health::Up } else { Health::Down };
        h.last_error.clone_from(&outcome.error);
        h.last_scrape = Some(started);
        h.last_duration = outcome.duration;
    }
}

/// What the loop is told to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Run,
    /// The target disappeared: write stale markers once its next slot and one more have passed (plus 10%), so a
    /// target that comes back meanwhile is not marked stale; as Prometheus does.
    EndOfRun,
    /// Shutting down: stale markers now.
    Now,
    /// A reload: stop without markers and hand the staleness state to the loop that replaces this one.
    HandOver,
}

pub(crate) struct LoopHandle {
    pub state: Arc<TargetState>,
    signal: watch::Sender<Signal>,
    join: JoinHandle<Option<Ingester>>,
}

impl LoopHandle {
    pub fn spawn(
        state: Arc<TargetState>,
        settings: Arc<ScrapeSettings>,
        appender: Arc<dyn Appender>,
        inherited: Option<Ingester>,
    ) -> LoopHandle {
        let ingester = match inherited {
            Some(mut ing) => {
                ing.retarget(settings.clone(), state.target.labels.clone());
                ing
            }
            None => Ingester::new(settings.clone(), state.target.labels.clone()),
        };
        let (signal, rx) = watch::channel(Signal::Run);
        let join = tokio::spawn(run(state.clone(), settings, appender, ingester, rx));
        LoopHandle { state, signal, join }
    }

    pub fn signal(&self, s: Signal) {
        self.signal.send_replace(s);
    }

    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Waits for the loop to end; the staleness state comes back after a hand-over.
    pub async fn join(&mut self) -> Option<Ingester> {
        (&mut self.join).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "scrape loop failed");
            None
        })
    }
}

/// `t + d`, or a year from `t` for durations beyond what an `Instant` holds (absurd but valid intervals).
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(|| t + Duration::from_secs(365 * 86_400))
}

fn wall_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The timestamp for a scrape starting at `now`: the slot after `last` when within tolerance of it.
fn scrape_time(now: i64, last: Option<i64>, interval: Duration) -> i64 {
    let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let Some(last) = last else { return now };
    let mut t = now;
    if interval > 100 * TIMESTAMP_TOLERANCE_MS {
        let mut slot = last.saturating_add(interval);
        while now - slot >= interval {
            slot += interval;
        }
        if (now - slot).abs() <= TIMESTAMP_TOLERANCE_MS {
            t = slot;
        }
    }
    t.max(last.saturating_add(1))
}

/// Resolves when the loop is told to stop, with how.
async fn stop_signal(rx: &mut watch::Receiver<Signal>) -> Signal {
    match rx.wait_for(|s| *s != Signal::Run).await {
        Ok(s) => *s,
        Err(_) => Signal::Now,
    }
}

async fn run(
    state: Arc<TargetState>,
    settings: Arc<ScrapeSettings>,
    appender: Arc<dyn Appender>,
    ingester: Ingester,
    mut rx: watch::Receiver<Signal>,
) -> Option<Ingester> {
    let target = &state.target;
    let interval = target.interval;
    let mut next = after(Instant::now(), target.first_scrape_in(SystemTime::now()));
    let mut client = Client::default();
    let mut ingester = Some(ingester);
    let get = Get {
        address: &target.address,
        https: target.https,
        tls: &settings.tls,
        auth: settings.auth.as_ref(),
        path_and_query: &target.path_and_query,
        url: &target.url,
        timeout: target.timeout,
        body_limit: settings.body_size_limit,
    };
    let end = loop {
        tokio::select! {
            biased;
            s = stop_signal(&mut rx) => break s,
            _ = tokio::time::sleep_until(next) => {}
        }
        let started = std::time::Instant::now();
        let started_wall = SystemTime::now();
        let mut ing = ingester.take()?;
        let t = scrape_time(wall_ms(started_wall), ing.last_time(), interval);
        let fetched = tokio::select! {
            biased;
            s = stop_signal(&mut rx) => {
                ingester = Some(ing);
                break s;
            }
            r = client.get(&get) => r,
        };
        let app = appender.clone();
        let shared = state.clone();
        let done = tokio::task::spawn_blocking(move || {
            let format = match &fetched {
                Ok(f) => Format::from_content_type(f.content_type.as_deref().unwrap_or_default()),
                Err(_) => Format::PrometheusText,
            };
            let body = fetched.and_then(Fetched::into_body).map_err(|e| e.to_string());
            let (batches, outcome) = ing.scrape(body.as_deref().map_err(Clone::clone), format, t, started);
            // Health first: whoever sees this scrape's samples sees its health too.
            shared.record(started_wall, &outcome);
            let appended = app.append(batches);
            (ing, outcome, appended)
        })
        .await;
        let Ok((ing, outcome, appended)) = done else {
            tracing::error!(url = %target.url, "scrape processing panicked; stopping this target");
            return None;
        };
        ingester = Some(ing);
        if let Some(e) = &outcome.error {
            tracing::debug!(job = %state.job, url = %target.url, error = %e, "scrape failed");
        }
        if let Err(e) = appended {
            tracing::warn!(job = %state.job, url = %target.url, error = %e, "appending scraped samples failed");
        }
        next = after(next, interval);
        let now = Instant::now();
        if next <= now {
            // Slow scrapes or a stalled runtime: skip the missed slots, keep the phase.
            let behind = (now - next).as_nanos() / interval.as_nanos().max(1);
            next = after(next, interval.saturating_mul(u32::try_from(behind).unwrap_or(u32::MAX).saturating_add(1)));
        }
    };
    let ing = ingester?;
    match end {
        Signal::HandOver | Signal::Run => return Some(ing),
        Signal::Now => {}
        Signal::EndOfRun => {
            let mut stale_at = None;
            tokio::select! {
                biased;
                _ = rx.wait_for(|s| *s == Signal::Now) => {}
                _ = async {
                    tokio::time::sleep_until(next).await;
                    stale_at = Some(wall_ms(SystemTime::now()));
                    tokio::time::sleep_until(after(next, interval.saturating_add(interval / 10))).await;
                } => {}
            }
            let t = stale_at.unwrap_or_else(|| wall_ms(SystemTime::now()));
            append_stale(appender, ing, t).await;
            return None;
        }
    }
    retire(appender, ing).await;
    None
}

/// Stale markers now for everything `ingester` wrote last.
pub(crate) async fn retire(appender: Arc<dyn Appender>, ingester: Ingester) {
    append_stale(appender, ingester, wall_ms(SystemTime::now())).await;
}

/// Stale markers at `t` for everything `ingester` wrote last.
async fn append_stale(appender: Arc<dyn Appender>, mut ingester: Ingester, t: i64) {
    let written = tokio::task::spawn_blocking(move || {
        let batches = ingester.stale_all(t);
        if batches.is_empty() {
            return Ok(());
        }
        appender.append(batches)
    });
    match written.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "appending stale markers failed"),
        Err(e) => tracing::error!(error = %e, "appending stale markers panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_snap_to_the_slot_within_tolerance() {
        let i = Duration::from_secs(15);
        assert_eq!(scrape_time(1_000, None, i), 1_000);
        assert_eq!(scrape_time(16_001, Some(1_000), i), 16_000);
        assert_eq!(scrape_time(15_999, Some(1_000), i), 16_000);
        assert_eq!(scrape_time(16_010, Some(1_000), i), 16_010);
        // Skipped slots are skipped in the alignment too.
        assert_eq!(scrape_time(46_002, Some(1_000), i), 46_000);
        // Short intervals are not aligned, and time never goes backwards.
        assert_eq!(scrape_time(1_101, Some(1_000), Duration::from_millis(100)), 1_101);
        assert_eq!(scrape_time(900, Some(1_000), i), 1_001);
        assert_eq!(scrape_time(2_000, Some(1_000), Duration::from_millis(u64::MAX)), 2_000);
        assert!(after(Instant::now(), Duration::MAX) > Instant::now());
    }
}
