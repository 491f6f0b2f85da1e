//! `FleetBans`: the ban list in memory behind one mutex, written through to `store.rs` before any change is
//! visible or answered; its generation, the expiry timer, and the cached body served to polling agents.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use vigil_guard::cidr::Cidr;

use super::request::Invalid;
use super::store::{Store, StoreError};
use super::Ban;

/// How the ban list behaves (`server.bans:`).
#[derive(Clone, Debug)]
pub struct BansOptions {
    /// Addresses never banned; the allow-list always wins.
    pub ignoreip: Vec<Cidr>,
    /// The most bans active at once.
    pub max_active: usize,
    /// How often the timer removes expired bans.
    pub expire_every: Duration,
}

impl Default for BansOptions {
    fn default() -> BansOptions {
        BansOptions {
            ignoreip: vigil_config::default_ignoreip(),
            max_active: vigil_config::DEFAULT_BANS_MAX_ACTIVE,
            expire_every: Duration::from_secs(1),
        }
    }
}

impl BansOptions {
    /// The options of a loaded configuration's `server.bans` (defaults without it).
    pub fn from_config(server: &vigil_config::ServerConfig) -> BansOptions {
        match &server.bans {
            Some(b) => BansOptions { ignoreip: b.ignoreip(), max_active: b.max_active(), ..BansOptions::default() },
            None => BansOptions::default(),
        }
    }
}

/// A ban to add (or to extend, when the address is already banned), checked by `request.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBan {
    pub ip: IpAddr,
    /// `None` bans for good.
    pub duration_ms: Option<i64>,
    pub reason: String,
    pub jail: String,
    /// The reporting agent's host name, or `api`.
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BanError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("ip: {ip} is in the allow-list ({network} in server.bans.ignoreip)")]
    AllowListed { ip: IpAddr, network: Cidr },
    #[error("the fleet ban list is full: {max} active bans (server.bans.max_active)")]
    Full { max: usize },
    #[error("no ban for {0}")]
    NotFound(IpAddr),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the ban list refuses changes after a storage failure ({0}); restart the server")]
    Poisoned(String),
}

/// Why a ban left the list, for `vigil_fleet_bans_removed_total{reason}`.
#[derive(Clone, Copy)]
enum Removal {
    Expired,
    Api,
}

#[derive(Default)]
pub(super) struct Counters {
    pub added_agent: AtomicU64,
    pub added_api: AtomicU64,
    pub removed_expired: AtomicU64,
    pub removed_api: AtomicU64,
}

struct Inner {
    store: Store,
    bans: BTreeMap<IpAddr, Ban>,
    /// `(expires_at_ms, ip)` of every ban that expires, soonest first.
    expiries: BTreeSet<(i64, IpAddr)>,
    generation: i64,
    /// Set by the first failed write; every later change is refused.
    poisoned: Option<String>,
    /// The last `GET /api/v1/bans` body and the generation it shows.
    body: Option<(i64, Bytes)>,
}

/// The fleet ban list.
pub struct FleetBans {
    inner: Mutex<Inner>,
    options: BansOptions,
    pub(super) counters: Counters,
}

impl std::fmt::Debug for FleetBans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetBans").field("options", &self.options).finish()
    }
}

impl FleetBans {
    /// Opens `<dir>/bans.db`. Bans the allow-list now covers are removed (the allow-list always wins).
    pub fn open(dir: &Path, options: BansOptions) -> Result<FleetBans, StoreError> {
        let (store, loaded) = Store::open(dir)?;
        let mut inner = Inner {
            store,
            bans: BTreeMap::new(),
            expiries: BTreeSet::new(),
            generation: loaded.generation,
            poisoned: None,
            body: None,
        };
        for ban in loaded.bans {
            inner.insert(ban);
        }
        let allowed: Vec<IpAddr> =
            inner.bans.keys().copied().filter(|ip| options.ignoreip.iter().any(|c| c.contains(*ip))).collect();
        if !allowed.is_empty() {
            tracing::warn!(count = allowed.len(), "removing stored bans of allow-listed addresses");
            let generation = next_generation(inner.generation, crate::api::now_ms());
            inner.store.delete(&allowed, generation)?;
            inner.generation = generation;
            for ip in &allowed {
                inner.remove(*ip);
            }
        }
        Ok(FleetBans { inner: Mutex::new(inner), options, counters: Counters::default() })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn options(&self) -> &BansOptions {
        &self.options
    }

    /// The list's generation: it changes with every add, extension, removal and expiry, and only grows.
    pub fn generation(&self) -> i64 {
        self.lock().generation
    }

    /// How many bans are active (expired ones the timer has not removed yet included).
    pub fn len(&self) -> usize {
        self.lock().bans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bans and the generation they make up, ordered by address.
    pub fn list(&self) -> (i64, Vec<Ban>) {
        let inner = self.lock();
        (inner.generation, inner.bans.values().cloned().collect())
    }

    /// Adds a ban, or extends the ban of the same address: the later expiry stays, the count grows, the
    /// latest non-empty reason replaces the old one; jail, origin and creation time stay the first report's.
    /// Blocks until the change is on disk. Returns the ban as stored and the new generation.
    pub fn add(&self, new: NewBan, now_ms: i64) -> Result<(Ban, i64), BanError> {
        if let Some(network) = self.options.ignoreip.iter().find(|c| c.contains(new.ip)) {
            return Err(BanError::AllowListed { ip: new.ip, network: *network });
        }
        let expires_at_ms = new.duration_ms.map(|d| now_ms.saturating_add(d));
        let mut inner = self.lock();
        inner.check_poisoned()?;
        let ban = match inner.bans.get(&new.ip) {
            Some(old) => Ban {
                expires_at_ms: later(old.expires_at_ms, expires_at_ms),
                count: old.count.saturating_add(1),
                reason: if new.reason.is_empty() { old.reason.clone() } else { new.reason },
                ..old.clone()
            },
            None if inner.bans.len() >= self.options.max_active => {
                return Err(BanError::Full { max: self.options.max_active })
            }
            None => Ban {
                ip: new.ip,
                jail: new.jail,
                origin: new.origin,
                reason: new.reason,
                created_at_ms: now_ms,
                expires_at_ms,
                count: 1,
            },
        };
        let generation = next_generation(inner.generation, now_ms);
        if let Err(e) = inner.store.put(&ban, generation) {
            inner.poisoned = Some(e.to_string());
            return Err(e.into());
        }
        inner.generation = generation;
        inner.insert(ban.clone());
        drop(inner);
        let counter = if ban.origin == "api" { &self.counters.added_api } else { &self.counters.added_agent };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok((ban, generation))
    }

    /// Lifts the ban of `ip`; blocks until the change is on disk. Returns the new generation.
    pub fn remove(&self, ip: IpAddr, now_ms: i64) -> Result<i64, BanError> {
        let mut inner = self.lock();
        if !inner.bans.contains_key(&ip) {
            return Err(BanError::NotFound(ip));
        }
        let generation = inner.delete(&[ip], now_ms, Removal::Api, &self.counters)?;
        Ok(generation)
    }

    /// Whether a ban has expired at `now_ms` and is still in the list.
    pub fn has_due(&self, now_ms: i64) -> bool {
        self.lock().expiries.first().is_some_and(|(t, _)| *t <= now_ms)
    }

    /// Removes every ban expired at `now_ms` in one transaction; returns how many.
    pub fn expire_due(&self, now_ms: i64) -> Result<usize, BanError> {
        let mut inner = self.lock();
        let due: Vec<IpAddr> = inner.expiries.iter().take_while(|(t, _)| *t <= now_ms).map(|(_, ip)| *ip).collect();
        if due.is_empty() {
            return Ok(0);
        }
        inner.delete(&due, now_ms, Removal::Expired, &self.counters)?;
        Ok(due.len())
    }

    /// The body of `GET /api/v1/bans` for the current generation, rendered by `render` once per generation.
    pub fn body(&self, render: impl FnOnce(i64, &mut dyn Iterator<Item = &Ban>) -> Vec<u8>) -> (i64, Bytes) {
        let mut inner = self.lock();
        if let Some((generation, body)) = &inner.body {
            if *generation == inner.generation {
                return (*generation, body.clone());
            }
        }
        let generation = inner.generation;
        let body = Bytes::from(render(generation, &mut inner.bans.values()));
        inner.body = Some((generation, body.clone()));
        (generation, body)
    }

    /// Removes expired bans every `expire_every` until `stop` changes.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        // `interval` refuses a zero period.
        let mut ticker = tokio::time::interval(self.options.expire_every.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => return,
            }
            let now = crate::api::now_ms();
            if !self.has_due(now) {
                continue;
            }
            let bans = self.clone();
            match tokio::task::spawn_blocking(move || bans.expire_due(now)).await {
                Ok(Ok(n)) => tracing::debug!(expired = n, "fleet bans expired"),
                Ok(Err(err)) => tracing::error!(%err, "expiring fleet bans failed"),
                Err(err) => tracing::error!(%err, "fleet ban expiry task failed"),
            }
        }
    }
}

impl Inner {
    fn insert(&mut self, ban: Ban) {
        if let Some(old) = self.bans.get(&ban.ip).and_then(|b| b.expires_at_ms) {
            self.expiries.remove(&(old, ban.ip));
        }
        if let Some(t) = ban.expires_at_ms {
            self.expiries.insert((t, ban.ip));
        }
        self.bans.insert(ban.ip, ban);
    }

    fn remove(&mut self, ip: IpAddr) {
        if let Some(t) = self.bans.remove(&ip).and_then(|b| b.expires_at_ms) {
            self.expiries.remove(&(t, ip));
        }
    }

    fn check_poisoned(&self) -> Result<(), BanError> {
        match &self.poisoned {
            Some(cause) => Err(BanError::Poisoned(cause.clone())),
            None => Ok(()),
        }
    }

    /// Deletes `ips` (all in the list) durably, then from memory; returns the new generation.
    fn delete(&mut self, ips: &[IpAddr], now_ms: i64, why: Removal, counters: &Counters) -> Result<i64, BanError> {
        self.check_poisoned()?;
        let generation = next_generation(self.generation, now_ms);
        if let Err(e) = self.store.delete(ips, generation) {
            self.poisoned = Some(e.to_string());
            return Err(e.into());
        }
        self.generation = generation;
        for ip in ips {
            self.remove(*ip);
        }
        let counter = match why {
            Removal::Expired => &counters.removed_expired,
            Removal::Api => &counters.removed_api,
        };
        counter.fetch_add(ips.len() as u64, Ordering::Relaxed);
        Ok(generation)
    }
}

/// The later of two expiries, `None` (never) being the latest.
fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.zip(b).map(|(a, b)| a.max(b))
}

/// The generation after `current`: at least the clock in milliseconds, so a list recreated from an empty
/// database does not repeat a generation agents saw before.
fn next_generation(current: i64, now_ms: i64) -> i64 {
    current.saturating_add(1).max(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(ip: &str, duration_ms: Option<i64>, reason: &str) -> NewBan {
        NewBan {
            ip: ip.parse().unwrap(),
            duration_ms,
            reason: reason.into(),
            jail: "sshd".into(),
            origin: "web1".into(),
        }
    }

    fn open(dir: &Path, max_active: usize) -> FleetBans {
        let options = BansOptions { max_active, ..BansOptions::default() };
        FleetBans::open(dir, options).unwrap()
    }

    #[test]
    fn extending_keeps_the_later_expiry_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let bans = open(dir.path(), 10);
        let (b, g1) = bans.add(new("192.0.2.1", Some(60_000), "first"), 1_000).unwrap();
        assert_eq!((b.count, b.expires_at_ms, b.created_at_ms), (1, Some(61_000), 1_000));
        let (b, g2) = bans.add(new("192.0.2.1", Some(10_000), ""), 2_000).unwrap();
        assert_eq!((b.count, b.expires_at_ms, b.reason.as_str()), (2, Some(61_000), "first"));
        assert!(g2 > g1);
        let (b, _) = bans.add(new("192.0.2.1", Some(600_000), "again"), 3_000).unwrap();
        assert_eq!((b.count, b.expires_at_ms, b.reason.as_str()), (3, Some(603_000), "again"));
        let (b, _) = bans.add(new("192.0.2.1", None, ""), 4_000).unwrap();
        assert_eq!((b.count, b.expires_at_ms), (4, None));
        let (b, _) = bans.add(new("192.0.2.1", Some(1), ""), 5_000).unwrap();
        assert_eq!((b.count, b.expires_at_ms, b.created_at_ms), (5, None, 1_000));
    }

    #[test]
    fn expiry_generation_and_caps() {
        let dir = tempfile::tempdir().unwrap();
        let bans = open(dir.path(), 2);
        let (_, g) = bans.add(new("192.0.2.1", Some(1_000), ""), 10_000).unwrap();
        // The generation is at least the clock, so a fresh database does not reuse old generations.
        assert_eq!(g, 10_000);
        bans.add(new("192.0.2.2", Some(5_000), ""), 10_000).unwrap();
        let err = bans.add(new("192.0.2.3", Some(5_000), ""), 10_000).unwrap_err();
        assert_eq!(err.to_string(), "the fleet ban list is full: 2 active bans (server.bans.max_active)");
        // A full list still extends bans it holds.
        bans.add(new("192.0.2.2", Some(9_000), ""), 10_000).unwrap();
        assert!(!bans.has_due(10_999));
        assert_eq!(bans.expire_due(10_999).unwrap(), 0);
        let before = bans.generation();
        assert!(bans.has_due(11_000));
        assert_eq!(bans.expire_due(11_000).unwrap(), 1);
        assert!(bans.generation() > before);
        assert_eq!(bans.list().1.iter().map(|b| b.ip.to_string()).collect::<Vec<_>>(), ["192.0.2.2"]);
        assert!(matches!(bans.remove("192.0.2.9".parse().unwrap(), 12_000), Err(BanError::NotFound(_))));
        bans.remove("192.0.2.2".parse().unwrap(), 12_000).unwrap();
        assert!(bans.is_empty() && !bans.has_due(i64::MAX));
        assert_eq!(bans.counters.removed_expired.load(Ordering::Relaxed), 1);
        assert_eq!(bans.counters.removed_api.load(Ordering::Relaxed), 1);
        assert_eq!(bans.counters.added_agent.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn the_allow_list_wins_even_over_stored_bans() {
        let dir = tempfile::tempdir().unwrap();
        let bans = open(dir.path(), 10);
        bans.add(new("10.1.2.3", None, ""), 1_000).unwrap();
        bans.add(new("192.0.2.1", None, ""), 1_000).unwrap();
        let err = bans.add(new("127.0.0.5", None, ""), 1_000).unwrap_err();
        assert_eq!(err.to_string(), "ip: 127.0.0.5 is in the allow-list (127.0.0.0/8 in server.bans.ignoreip)");
        let generation = bans.generation();
        drop(bans);
        let options = BansOptions { ignoreip: vec!["10.0.0.0/8".parse().unwrap()], ..BansOptions::default() };
        let bans = FleetBans::open(dir.path(), options).unwrap();
        let (g, list) = bans.list();
        assert_eq!(list.iter().map(|b| b.ip.to_string()).collect::<Vec<_>>(), ["192.0.2.1"]);
        assert!(g > generation);
    }

    #[test]
    fn the_body_is_rendered_once_per_generation() {
        let dir = tempfile::tempdir().unwrap();
        let bans = open(dir.path(), 10);
        let mut renders = 0;
        let mut render = |g: i64, list: &mut dyn Iterator<Item = &Ban>| {
            renders += 1;
            format!("{g}:{}", list.count()).into_bytes()
        };
        let (g0, body) = bans.body(&mut render);
        assert_eq!(body, format!("{g0}:0"));
        bans.body(&mut render);
        bans.add(new("192.0.2.1", None, ""), 1_000).unwrap();
        let (g1, body) = bans.body(&mut render);
        assert_eq!(body, format!("{g1}:1"));
        assert_eq!(renders, 2);
    }
}
