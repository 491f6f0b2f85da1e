//! The jails with their effects: events in, failures counted, and each ban or unban a jail decides written to
//! the ban database, then carried out on the firewall, counted and recorded for the security stream. Also the
//! restart: bans loaded from the database, expired ones lifted, active ones applied again.

use std::collections::HashMap;
use std::sync::Arc;

use vigil_guard::firewall::Firewall;
use vigil_guard::jail::{Ban, Decision, Jail, JailConfig, JailError, JailState, Offender};
use vigil_guard::Event;
use vigil_model::log::LogEntry;

use super::events::{ban_entry, unban_entry};
use super::fleet::FleetState;
use super::held::HeldFirewall;
use super::holders::Holder;
use super::metrics::GuardMetrics;
use super::store::{BanStore, Loaded, StoreError};

/// Failures older than this (the jails' `forget_after`, or fail2ban's `dbpurgeage` default) are not kept in the
/// database's history when a jail has no `bantime_increment`.
const DEFAULT_HISTORY_S: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Jail(#[from] JailError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("firewall {backend}: cannot prepare: {source}")]
    Prepare { backend: &'static str, source: vigil_guard::firewall::FirewallError },
}

pub(crate) struct Engine {
    pub(super) jails: Vec<Jail>,
    pub(super) firewall: HeldFirewall,
    pub(super) store: BanStore,
    pub(super) metrics: Arc<GuardMetrics>,
    /// Ban and unban records not yet handed to the log store.
    pub(super) records: Vec<LogEntry>,
    /// The fleet list applied here and where local bans are reported (`fleet.rs`).
    pub(super) fleet: Option<FleetState>,
}

impl Engine {
    /// Prepares the firewall, restores the jails from what the database held, lifts the bans that ended while
    /// the agent was down (and those of jails no longer configured) and applies the others again.
    pub fn start(
        configs: Vec<JailConfig>,
        firewall: Box<dyn Firewall>,
        mut store: BanStore,
        loaded: Loaded,
        metrics: Arc<GuardMetrics>,
        now: i64,
    ) -> Result<Engine, EngineError> {
        let mut firewall = HeldFirewall::new(firewall);
        firewall.prepare().map_err(|source| EngineError::Prepare { backend: firewall.name(), source })?;
        let mut states: HashMap<String, JailState> = HashMap::new();
        let mut orphans = Vec::new();
        for b in loaded.bans {
            match configs.iter().any(|c| c.name == b.jail) {
                true => states.entry(b.jail).or_default().bans.push(b.ban),
                false => orphans.push(b),
            }
        }
        for h in loaded.history {
            states.entry(h.jail).or_default().history.push((h.offender, h.count, h.last_since));
        }
        let mut jails = Vec::new();
        for config in configs {
            let keep = config.increment.as_ref().map_or(DEFAULT_HISTORY_S, |i| i.forget_after_s);
            store.forget_history(&config.name, now.saturating_sub(keep))?;
            let state = states.remove(&config.name).unwrap_or_default();
            jails.push(Jail::restore(config, state)?);
        }
        let mut engine = Engine { jails, firewall, store, metrics, records: Vec::new(), fleet: None };
        for o in orphans {
            tracing::info!(jail = o.jail, offender = %o.ban.offender, "lifting the ban of a jail no longer configured");
            engine.lift(None, &o.jail, &o.ban.offender, now);
        }
        engine.run_due(now);
        for i in 0..engine.jails.len() {
            let active: Vec<Ban> = engine.jails[i].bans().cloned().collect();
            let name = engine.jails[i].config().name.clone();
            for ban in &active {
                engine.enforce(&name, ban, now);
            }
            engine.metrics.set_banned(i, active.len());
        }
        Ok(engine)
    }

    /// Counts `ev` in every jail it is a failure for. `line_time` is when the line says it was written: a jail
    /// ignores lines older than its `findtime`, as fail2ban does (a first read of an old log bans nobody).
    pub fn observe(&mut self, ev: &Event<'_>, line_time: i64, now: i64) {
        for i in 0..self.jails.len() {
            let jail = &mut self.jails[i];
            if now.saturating_sub(line_time) >= jail.config().findtime_s {
                continue;
            }
            let Some(offender) = jail.offender(ev, now) else { continue };
            self.metrics.failure(i);
            if let Some(ban) = jail.fail(offender, now) {
                self.banned(i, ban, now);
            }
        }
    }

    /// Lifts the bans due at `now`.
    pub fn run_due(&mut self, now: i64) {
        for i in 0..self.jails.len() {
            for d in self.jails[i].run_due(now) {
                if let Decision::Unban { offender, .. } = d {
                    let name = self.jails[i].config().name.clone();
                    self.lift(Some(i), &name, &offender, now);
                }
            }
        }
    }

    /// When the next ban ends.
    pub fn next_deadline(&self) -> Option<i64> {
        let fleet = self.fleet.as_ref().and_then(FleetState::next_deadline);
        self.jails.iter().filter_map(Jail::next_deadline).chain(fleet).min()
    }

    /// The ban and unban records made since the last call.
    pub fn take_records(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.records)
    }

    pub(super) fn banned(&mut self, i: usize, ban: Ban, now: i64) {
        let jail = self.jails[i].config().name.clone();
        // Durable first: a ban the log reports survives a crash and is applied again at the next start.
        if let Err(err) = self.store.record_ban(&jail, &ban) {
            self.metrics.store_error();
            tracing::error!(%err, jail, "cannot record a ban");
        }
        self.enforce(&jail, &ban, now);
        self.report(&jail, &ban, now);
        self.metrics.ban(i);
        self.metrics.set_banned(i, self.jails[i].bans().count());
        tracing::warn!(
            jail,
            offender = %ban.offender,
            seconds = ban.until.saturating_sub(ban.since),
            count = ban.count,
            firewall = self.firewall.name(),
            "banned"
        );
        self.records.push(ban_entry(&jail, &ban, now.saturating_mul(1_000_000_000)));
    }

    /// Puts an address ban on the firewall for what remains of it; user bans have nothing to block.
    fn enforce(&mut self, jail: &str, ban: &Ban, now: i64) {
        let Offender::Ip(ip) = ban.offender else { return };
        self.firewall.hold(ip, Holder::Jail(jail.to_owned()), Some(ban.until), now, &self.metrics);
    }

    /// Ends a ban: off the firewall (unless another jail or the fleet list still bans the address), then out
    /// of the database. `jail` is `None` for a jail no longer configured.
    fn lift(&mut self, jail: Option<usize>, name: &str, offender: &Offender, now: i64) {
        if let Offender::Ip(ip) = offender {
            let holder = Holder::Jail(name.to_owned());
            if self.firewall.is_held_by(*ip, &holder) {
                self.firewall.release(*ip, &holder, now, &self.metrics);
            } else if !self.jails.iter().any(|j| j.is_banned(offender)) {
                // A ban that ended while the agent was down, or of a jail no longer configured.
                self.firewall.release_stale(*ip, now, &self.metrics);
            }
        }
        if let Err(err) = self.store.record_unban(name, offender) {
            self.metrics.store_error();
            tracing::error!(%err, jail = name, "cannot record an unban");
        }
        if let Some(i) = jail {
            self.metrics.unban(i);
            self.metrics.set_banned(i, self.jails[i].bans().count());
        }
        tracing::info!(jail = name, %offender, "unbanned");
        self.records.push(unban_entry(name, offender, now.saturating_mul(1_000_000_000)));
    }
}
