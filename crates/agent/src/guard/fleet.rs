//! The fleet-wide ban list on the guard thread (`docs/fleet-bans.md`, "How an agent applies it"): a new list
//! from the fleet thread is compared with the one applied, keyed by address; new or changed bans are held on
//! the firewall until their `expires_at`, bans that left the list are let go, and the list is persisted once
//! the firewall acted (so after a crash the next full list repairs what was missed). Bans whose end passed
//! are let go here too, even while the server is unreachable. Also where local bans are queued for reporting.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::mpsc::Sender;

use vigil_guard::cidr::Cidr;
use vigil_guard::event::ecs;
use vigil_guard::jail::{Ban, Offender};
use vigil_model::log::LogEntry;

use super::engine::Engine;
use super::events::{BAN_UNTIL_FIELD, JAIL_FIELD};
use super::fleet_store::{FleetBan, Report};
use super::holders::Holder;
use super::store::StoreError;

/// Not ECS: the host that reported a fleet ban first (`api` for one added through the API).
pub const ORIGIN_FIELD: &str = "vigil.ban.origin";
/// The report reason's longest length the server takes.
const MAX_REASON_BYTES: usize = 256;

/// A list as the server sent it, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FleetList {
    pub generation: i64,
    pub bans: Vec<FleetBan>,
}

/// What the fleet thread is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FleetWake {
    /// A report was queued.
    Report,
    Stop,
}

/// The applied list, on the guard thread.
pub(crate) struct FleetState {
    applied: BTreeMap<IpAddr, FleetBan>,
    generation: Option<i64>,
    /// (end in Unix seconds, address) of applied bans with an end.
    expiries: BTreeSet<(i64, IpAddr)>,
    allow: Vec<Cidr>,
    /// Set when local bans are reported: wakes the fleet thread after one is queued.
    report: Option<Sender<FleetWake>>,
}

impl FleetState {
    pub fn new(allow: Vec<Cidr>, report: Option<Sender<FleetWake>>) -> FleetState {
        FleetState { applied: BTreeMap::new(), generation: None, expiries: BTreeSet::new(), allow, report }
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.expiries.first().map(|(t, _)| *t)
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|c| c.contains(ip))
    }
}

/// A ban's end in whole Unix seconds, rounded up so that it is never lifted early.
fn end_s(expires_ms: Option<i64>) -> Option<i64> {
    expires_ms.map(|ms| ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0))
}

/// What a new list changes, compared with the applied one: addresses to let go, bans to (re)apply.
pub(crate) fn diff<'a>(
    applied: &BTreeMap<IpAddr, FleetBan>,
    new: &'a BTreeMap<IpAddr, FleetBan>,
) -> (Vec<IpAddr>, Vec<&'a FleetBan>) {
    let removed = applied.keys().filter(|ip| !new.contains_key(ip)).copied().collect();
    let changed =
        new.values().filter(|b| applied.get(&b.ip).is_none_or(|old| old.expires_ms != b.expires_ms)).collect();
    (removed, changed)
}

impl Engine {
    /// Takes up the list applied before the restart: bans that ended meanwhile (or that the allow-list now
    /// covers) are lifted, the others held again for what remains. Returns the generation to poll with.
    pub(crate) fn start_fleet(&mut self, mut state: FleetState, now: i64) -> Result<Option<i64>, StoreError> {
        let (generation, bans) = self.store.load_fleet()?;
        let mut stale = Vec::new();
        for b in bans {
            if state.allowed(b.ip) || end_s(b.expires_ms).is_some_and(|e| e <= now) {
                stale.push(b.ip);
                if !self.firewall.is_held_by(b.ip, &Holder::Fleet) {
                    self.firewall.release_stale(b.ip, now, &self.metrics);
                }
                continue;
            }
            self.firewall.hold(b.ip, Holder::Fleet, end_s(b.expires_ms), now, &self.metrics);
            if let Some(e) = end_s(b.expires_ms) {
                state.expiries.insert((e, b.ip));
            }
            state.applied.insert(b.ip, b);
        }
        state.generation = generation;
        if let (false, Some(g)) = (stale.is_empty(), generation) {
            self.store.save_fleet(g, &stale, &[])?;
        }
        self.set_fleet_metrics(&state);
        self.fleet = Some(state);
        Ok(generation)
    }

    /// Applies a list from the server.
    pub(crate) fn apply_fleet(&mut self, list: FleetList, now: i64) {
        let Some(mut state) = self.fleet.take() else { return };
        let new: BTreeMap<IpAddr, FleetBan> = list
            .bans
            .into_iter()
            .filter(|b| !state.allowed(b.ip) && end_s(b.expires_ms).is_none_or(|e| e > now))
            .map(|b| (b.ip, b))
            .collect();
        let (removed, changed) = diff(&state.applied, &new);
        for ip in &removed {
            if let Some(old) = state.applied.get(ip) {
                self.fleet_unban(&mut state.expiries, old, now);
            }
        }
        for b in &changed {
            if let Some(old) = state.applied.get(&b.ip) {
                if let Some(e) = end_s(old.expires_ms) {
                    state.expiries.remove(&(e, b.ip));
                }
            }
            self.firewall.hold(b.ip, Holder::Fleet, end_s(b.expires_ms), now, &self.metrics);
            if let Some(e) = end_s(b.expires_ms) {
                state.expiries.insert((e, b.ip));
            }
            tracing::info!(ip = %b.ip, jail = b.jail, origin = b.origin, "fleet ban applied");
            self.records.push(fleet_entry("ban", b, now));
        }
        if let Err(err) = self.store.save_fleet(list.generation, &removed, &changed) {
            self.metrics.store_error();
            tracing::error!(%err, "cannot record the fleet ban list");
        }
        state.applied = new;
        state.generation = Some(list.generation);
        self.set_fleet_metrics(&state);
        self.fleet = Some(state);
    }

    /// Lets go of fleet bans whose end passed.
    pub(crate) fn expire_fleet(&mut self, now: i64) {
        let Some(mut state) = self.fleet.take() else { return };
        let mut removed = Vec::new();
        while let Some(&(end, ip)) = state.expiries.first().filter(|(end, _)| *end <= now) {
            state.expiries.remove(&(end, ip));
            if let Some(old) = state.applied.remove(&ip) {
                self.fleet_unban(&mut state.expiries, &old, now);
                removed.push(ip);
            }
        }
        if let (false, Some(g)) = (removed.is_empty(), state.generation) {
            if let Err(err) = self.store.save_fleet(g, &removed, &[]) {
                self.metrics.store_error();
                tracing::error!(%err, "cannot record the fleet ban list");
            }
            self.set_fleet_metrics(&state);
        }
        self.fleet = Some(state);
    }

    fn fleet_unban(&mut self, expiries: &mut BTreeSet<(i64, IpAddr)>, old: &FleetBan, now: i64) {
        if let Some(e) = end_s(old.expires_ms) {
            expiries.remove(&(e, old.ip));
        }
        self.firewall.release(old.ip, &Holder::Fleet, now, &self.metrics);
        tracing::info!(ip = %old.ip, jail = old.jail, origin = old.origin, "fleet ban lifted");
        self.records.push(fleet_entry("unban", old, now));
    }

    fn set_fleet_metrics(&self, state: &FleetState) {
        if let Some(m) = self.metrics.fleet.get() {
            m.set_applied(state.applied.len(), state.generation);
        }
    }

    /// Queues a local jail's ban for the server when reporting is on; the fleet thread sends it.
    pub(super) fn report(&mut self, jail: &str, ban: &Ban, now: i64) {
        let Some(wake) = self.fleet.as_ref().and_then(|f| f.report.clone()) else { return };
        let Offender::Ip(ip) = ban.offender else { return };
        if ban.until <= now {
            return;
        }
        let mut reason = format!("jail {jail}: ban {} for {}s", ban.count, ban.until.saturating_sub(ban.since));
        reason.truncate(MAX_REASON_BYTES);
        let report = Report { ip, until: ban.until, reason, jail: jail.to_owned() };
        if let Err(err) = self.store.queue_report(&report) {
            self.metrics.store_error();
            tracing::error!(%err, %ip, "cannot queue a ban report for the fleet");
            return;
        }
        let _ = wake.send(FleetWake::Report);
    }
}

/// The record of a fleet ban applied or lifted.
fn fleet_entry(action: &str, b: &FleetBan, now: i64) -> LogEntry {
    let until = b.expires_ms.map_or_else(|| "never".to_owned(), vigil_model::time::format_rfc3339);
    let line = match action {
        "ban" => format!("fleet: ban {} until {until} (jail {}, from {})", b.ip, b.jail, b.origin),
        _ => format!("fleet: unban {} (jail {}, from {})", b.ip, b.jail, b.origin),
    };
    let mut fields = vec![
        (ecs::EVENT_CATEGORY.into(), "intrusion_detection".into()),
        (ecs::EVENT_ACTION.into(), action.into()),
        (ecs::EVENT_OUTCOME.into(), "success".into()),
        (JAIL_FIELD.into(), b.jail.clone()),
        (ORIGIN_FIELD.into(), b.origin.clone()),
        (ecs::SOURCE_IP.into(), b.ip.to_string()),
    ];
    if action == "ban" {
        fields.push((BAN_UNTIL_FIELD.into(), until));
    }
    LogEntry { ts_ns: now.saturating_mul(1_000_000_000), line, fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(ip: &str, expires_ms: Option<i64>) -> FleetBan {
        FleetBan { ip: ip.parse().unwrap(), expires_ms, jail: "sshd".into(), origin: "web1".into() }
    }

    fn map(bans: &[FleetBan]) -> BTreeMap<IpAddr, FleetBan> {
        bans.iter().map(|b| (b.ip, b.clone())).collect()
    }

    #[test]
    fn diff_by_address_and_expiry() {
        let old = map(&[ban("192.0.2.1", Some(1000)), ban("192.0.2.2", Some(1000)), ban("192.0.2.3", None)]);
        let new = map(&[ban("192.0.2.2", Some(2000)), ban("192.0.2.3", None), ban("2001:db8::1", None)]);
        let (removed, changed) = diff(&old, &new);
        assert_eq!(removed, ["192.0.2.1".parse::<IpAddr>().unwrap()]);
        let changed: Vec<String> = changed.iter().map(|b| b.ip.to_string()).collect();
        assert_eq!(changed, ["192.0.2.2", "2001:db8::1"]);
        let (removed, changed) = diff(&new, &new);
        assert!(removed.is_empty() && changed.is_empty());
    }

    #[test]
    fn ends_round_up_to_the_second() {
        assert_eq!(end_s(Some(5_000)), Some(5));
        assert_eq!(end_s(Some(5_001)), Some(6));
        assert_eq!(end_s(None), None);
    }

    #[test]
    fn records_name_the_origin() {
        let e = fleet_entry("ban", &ban("192.0.2.9", Some(3_600_000)), 7);
        assert_eq!(e.line, "fleet: ban 192.0.2.9 until 1970-01-01T01:00:00.000Z (jail sshd, from web1)");
        let get = |k: &str| e.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("event.action"), get("vigil.jail"), get("vigil.ban.origin")),
            (Some("ban"), Some("sshd"), Some("web1"))
        );
        let e = fleet_entry("unban", &ban("192.0.2.9", None), 7);
        assert_eq!(e.line, "fleet: unban 192.0.2.9 (jail sshd, from web1)");
    }
}
