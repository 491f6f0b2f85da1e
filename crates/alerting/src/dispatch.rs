//! The dispatcher: alerts in, notifications out, at the times Alertmanager 0.25 sends them.
//!
//! Each alert goes to the aggregation groups of the routes it matches (one group per route and group
//! labels). A new group flushes `group_wait` after it was created, or at once if an alert in it started
//! more than `group_wait` ago; after that it flushes every `group_interval`. A flush passes the group's
//! alerts through inhibition, the route's active and mute time intervals and silences, then, for each
//! integration of the route's receiver, asks the notification log whether anything changed since the last
//! notification (or `repeat_interval` has passed). Resolved alerts leave the group once a flush about them
//! succeeded. Empty groups are swept every 30 seconds.
//!
//! Time is an argument: callers (and tests) pass `now`, ask [`Dispatcher::next_deadline`] when to call
//! [`Dispatcher::run_due`] again, and report each notification's outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertStatus, AlertStore, InvalidAlert, PostableAlert};
use crate::config::{AlertmanagerConfig, IntegrationRef};
use crate::inhibit::Inhibitor;
use crate::labels::{alert_order, Fingerprint, LabelSet};
use crate::nflog::{Entry, NotificationLog, ReceiverKey};
use crate::notification::{Notification, NotifiedAlert};
use crate::route::{Route, RouteId};
use crate::silence::{Silences, SilencesSnapshot};
use crate::time::Timestamp;
use crate::timeinterval::TimeInterval;

/// Tunables with Alertmanager's defaults.
#[derive(Clone, Debug)]
pub struct DispatcherOptions {
    /// `--web.external-url`, shown in notifications.
    pub external_url: String,
    /// How often empty groups are removed (fixed at 30s in Alertmanager).
    pub sweep_interval: Duration,
    /// How often resolved alerts are dropped from the store (`--alerts.gc-interval`).
    pub alert_gc_interval: Duration,
    /// How often the notification log and silences are garbage collected (`--data.maintenance-interval`).
    pub maintenance_interval: Duration,
    /// How long notification log entries and expired silences are kept (`--data.retention`).
    pub retention: Duration,
}

impl Default for DispatcherOptions {
    fn default() -> DispatcherOptions {
        DispatcherOptions {
            external_url: String::new(),
            sweep_interval: Duration::from_secs(30),
            alert_gc_interval: Duration::from_secs(30 * 60),
            maintenance_interval: Duration::from_secs(15 * 60),
            retention: Duration::from_secs(120 * 3600),
        }
    }
}

/// What the configuration says, in the form flushing needs.
struct Compiled {
    route: Route,
    receivers: BTreeMap<String, Vec<IntegrationRef>>,
    time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    resolve_timeout: Duration,
}

impl Compiled {
    fn new(config: &AlertmanagerConfig) -> Compiled {
        Compiled {
            route: Route::new(config.route()),
            receivers: config.receivers.iter().map(|r| (r.value.name().to_owned(), r.value.integrations())).collect(),
            time_intervals: config.named_time_intervals(),
            resolve_timeout: config.global().resolve_timeout(),
        }
    }

    fn in_intervals(&self, names: &[String], now: Timestamp) -> bool {
        names.iter().filter_map(|n| self.time_intervals.get(n)).flatten().any(|ti| ti.contains(now))
    }
}

type GroupId = (RouteId, Fingerprint);

struct AggrGroup {
    route: RouteId,
    labels: LabelSet,
    key: String,
    alerts: BTreeMap<Fingerprint, Alert>,
    next_flush: Timestamp,
    has_flushed: bool,
    /// The flush whose notifications are still out; the group does not flush again until they are back.
    in_flight: Option<u64>,
}

struct PendingFlush {
    id: u64,
    group: GroupId,
    outstanding: BTreeSet<u64>,
    failed: bool,
    /// Alerts resolved at the flush and their update time: removed afterwards unless updated since.
    resolved: Vec<(Fingerprint, Timestamp)>,
}

struct PendingNotification {
    flush: u64,
    receiver: ReceiverKey,
    group_key: String,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
}

/// A group as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertGroup {
    pub receiver: String,
    pub group_key: String,
    pub labels: LabelSet,
    pub alerts: Vec<Alert>,
}

/// Why an alert is not notified right now, as the API shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppression {
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<Fingerprint>,
}

/// What the dispatcher persists across restarts: alerts, silences and the notification log. Groups and their
/// timers are rebuilt, as Alertmanager rebuilds them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DispatcherState {
    pub alerts: AlertStore,
    pub silences: SilencesSnapshot,
    pub nflog: NotificationLog,
}

pub struct Dispatcher {
    opts: DispatcherOptions,
    config: Compiled,
    alerts: AlertStore,
    inhibitor: Inhibitor,
    silences: Silences,
    nflog: NotificationLog,
    groups: BTreeMap<GroupId, AggrGroup>,
    next_sweep: Timestamp,
    next_alert_gc: Timestamp,
    next_maintenance: Timestamp,
    next_id: u64,
    flushes: BTreeMap<u64, PendingFlush>,
    notifications: BTreeMap<u64, PendingNotification>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("groups", &self.groups.len()).field("alerts", &self.alerts.len()).finish()
    }
}

impl Dispatcher {
    pub fn new(config: &AlertmanagerConfig, opts: DispatcherOptions, now: Timestamp) -> Dispatcher {
        Dispatcher::from_state(config, opts, DispatcherState::default(), now)
    }

    /// Starts from persisted state; the stored alerts are dispatched again, as after a reload.
    pub fn from_state(
        config: &AlertmanagerConfig,
        opts: DispatcherOptions,
        state: DispatcherState,
        now: Timestamp,
    ) -> Dispatcher {
        let mut silences = Silences::new(opts.retention);
        silences.restore(state.silences);
        let nflog = state.nflog.with_retention(opts.retention);
        let mut d = Dispatcher {
            config: Compiled::new(config),
            alerts: state.alerts,
            inhibitor: Inhibitor::default(),
            silences,
            nflog,
            groups: BTreeMap::new(),
            next_sweep: now,
            next_alert_gc: now + opts.alert_gc_interval,
            next_maintenance: now + opts.maintenance_interval,
            next_id: 1,
            flushes: BTreeMap::new(),
            notifications: BTreeMap::new(),
            opts,
        };
        d.reload(config, now);
        d
    }

    pub fn state(&self) -> DispatcherState {
        DispatcherState { alerts: self.alerts.clone(), silences: self.silences.snapshot(), nflog: self.nflog.clone() }
    }

    /// Applies a new configuration: like Alertmanager's reload, groups and their timers start over and every
    /// stored alert is dispatched again; alerts, silences and the notification log are kept.
    pub fn reload(&mut self, config: &AlertmanagerConfig, now: Timestamp) {
        self.config = Compiled::new(config);
        self.inhibitor = Inhibitor::from_config(config.inhibit_rules());
        self.groups.clear();
        for f in self.flushes.values_mut() {
            f.resolved.clear();
        }
        self.next_sweep = now + self.opts.sweep_interval;
        let alerts: Vec<Alert> = self.alerts.iter().cloned().collect();
        for a in &alerts {
            self.inhibitor.observe(a);
        }
        for a in alerts {
            self.dispatch(a, now);
        }
    }

    /// Receives posted alerts as `POST /api/v2/alerts` does: each is completed and checked, stored (merged
    /// with its previous version) and put into its groups. Invalid alerts are skipped and reported; the
    /// valid ones are taken all the same.
    pub fn ingest(&mut self, alerts: Vec<PostableAlert>, now: Timestamp) -> Result<(), Vec<InvalidAlert>> {
        let mut errors = Vec::new();
        for p in alerts {
            match Alert::from_postable(p, now, self.config.resolve_timeout) {
                Ok(a) => {
                    let stored = self.alerts.put(a, now);
                    self.inhibitor.observe(&stored);
                    self.dispatch(stored, now);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn dispatch(&mut self, alert: Alert, now: Timestamp) {
        for route_id in self.config.route.matches(&alert.labels) {
            let route = &self.config.route;
            let labels = route.group_labels(route_id, &alert.labels);
            let id = (route_id, Fingerprint::of(&labels));
            let opts = &route.node(route_id).opts;
            let group = self.groups.entry(id).or_insert_with(|| AggrGroup {
                route: route_id,
                key: route.group_key(route_id, &labels),
                labels,
                alerts: BTreeMap::new(),
                next_flush: now + opts.group_wait,
                has_flushed: false,
                in_flight: None,
            });
            // An alert that started longer than group_wait ago need not wait for the first flush.
            if !group.has_flushed && alert.starts_at + opts.group_wait < now {
                group.next_flush = group.next_flush.min(now);
            }
            group.alerts.insert(alert.fingerprint(), alert.clone());
        }
    }

    /// When [`Dispatcher::run_due`] next has something to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let flushes = self.groups.values().filter(|g| g.in_flight.is_none()).map(|g| g.next_flush);
        flushes.chain([self.next_sweep]).min()
    }

    /// Flushes every group that is due at `now` and runs due housekeeping. Returns the notifications to send;
    /// report each one's outcome with [`Dispatcher::delivered`] or [`Dispatcher::failed`].
    pub fn run_due(&mut self, now: Timestamp) -> Vec<Notification> {
        let mut due: Vec<(Timestamp, GroupId)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.in_flight.is_none() && g.next_flush <= now)
            .map(|(id, g)| (g.next_flush, *id))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due {
            self.flush(id, now, &mut out);
        }
        if self.next_sweep <= now {
            self.sweep(now);
        }
        out
    }

    /// [`Dispatcher::run_due`] for callers that deliver synchronously and successfully: every notification
    /// is reported delivered at `now`.
    pub fn run_due_delivered(&mut self, now: Timestamp) -> Vec<Notification> {
        let out = self.run_due(now);
        for n in &out {
            self.delivered(n.id, now);
        }
        out
    }

    fn sweep(&mut self, now: Timestamp) {
        self.groups.retain(|_, g| !g.alerts.is_empty() || g.in_flight.is_some());
        // The sweep ticks on its own schedule, like Alertmanager's ticker; skipped ticks are not made up.
        let step = self.opts.sweep_interval.max(Duration::from_millis(1)).as_nanos();
        let missed = now.since(self.next_sweep).as_nanos() / step + 1;
        self.next_sweep += Duration::from_nanos(u64::try_from(missed * step).unwrap_or(u64::MAX));
        if self.next_alert_gc <= now {
            self.alerts.gc(now);
            self.inhibitor.gc(now);
            self.next_alert_gc = now + self.opts.alert_gc_interval;
        }
        if self.next_maintenance <= now {
            self.nflog.gc(now);
            self.silences.gc(now);
            self.next_maintenance = now + self.opts.maintenance_interval;
        }
    }

    fn flush(&mut self, id: GroupId, now: Timestamp, out: &mut Vec<Notification>) {
        let Some(group) = self.groups.get_mut(&id) else { return };
        let node = self.config.route.node(group.route);
        group.next_flush = now + node.opts.group_interval;
        group.has_flushed = true;
        if group.alerts.is_empty() {
            return;
        }
        let mut alerts: Vec<NotifiedAlert> = group
            .alerts
            .values()
            .map(|a| {
                let resolved = a.resolved_at(now);
                NotifiedAlert {
                    status: if resolved { AlertStatus::Resolved } else { AlertStatus::Firing },
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: a.starts_at,
                    // A firing alert's end is not shown, so it cannot resolve on its own downstream.
                    ends_at: resolved.then_some(a.ends_at),
                    generator_url: a.generator_url.clone(),
                    fingerprint: a.fingerprint(),
                }
            })
            .collect();
        alerts.sort_by(|a, b| alert_order(&a.labels, &b.labels));
        let resolved_at_flush: Vec<(Fingerprint, Timestamp)> =
            group.alerts.iter().filter(|(_, a)| a.resolved_at(now)).map(|(fp, a)| (*fp, a.updated_at)).collect();
        let (group_key, group_labels) = (group.key.clone(), group.labels.clone());
        let opts = node.opts.clone();

        // The stages before the integrations; once nothing is left the flush is done and counts as a success.
        alerts.retain(|a| self.inhibitor.mutes(&a.labels, now).is_empty());
        if !opts.active_time_intervals.is_empty() && !self.config.in_intervals(&opts.active_time_intervals, now) {
            alerts.clear();
        }
        if self.config.in_intervals(&opts.mute_time_intervals, now) {
            alerts.clear();
        }
        alerts.retain(|a| self.silences.mutes(&a.labels, now).is_empty());

        let flush_id = self.take_id();
        let mut outstanding = BTreeSet::new();
        if !alerts.is_empty() {
            let firing: BTreeSet<u64> =
                alerts.iter().filter(|a| a.status == AlertStatus::Firing).map(|a| a.fingerprint.0).collect();
            let resolved: BTreeSet<u64> =
                alerts.iter().filter(|a| a.status == AlertStatus::Resolved).map(|a| a.fingerprint.0).collect();
            let integrations = self.config.receivers.get(&opts.receiver).cloned().unwrap_or_default();
            for integration in integrations {
                let receiver = ReceiverKey {
                    receiver: opts.receiver.clone(),
                    integration: integration.kind,
                    index: integration.index,
                };
                let entry = self.nflog.query(&group_key, &receiver);
                if !needs_update(entry, &firing, &resolved, integration.send_resolved, opts.repeat_interval, now) {
                    continue;
                }
                if !integration.send_resolved && firing.is_empty() {
                    // Nothing to send, but the log must learn the alerts resolved.
                    self.nflog.log(&receiver, &group_key, firing.clone(), resolved.clone(), now);
                    continue;
                }
                let sent: Vec<NotifiedAlert> = if integration.send_resolved {
                    alerts.clone()
                } else {
                    alerts.iter().filter(|a| a.status == AlertStatus::Firing).cloned().collect()
                };
                let nid = self.take_id();
                outstanding.insert(nid);
                self.notifications.insert(
                    nid,
                    PendingNotification {
                        flush: flush_id,
                        receiver,
                        group_key: group_key.clone(),
                        firing: firing.clone(),
                        resolved: resolved.clone(),
                    },
                );
                out.push(Notification {
                    id: nid,
                    receiver: opts.receiver.clone(),
                    integration,
                    group_key: group_key.clone(),
                    group_labels: group_labels.clone(),
                    alerts: sent,
                    external_url: self.opts.external_url.clone(),
                    at: now,
                });
            }
        }
        let pending = PendingFlush { id: flush_id, group: id, outstanding, failed: false, resolved: resolved_at_flush };
        if pending.outstanding.is_empty() {
            self.finish_flush(pending);
        } else {
            if let Some(g) = self.groups.get_mut(&id) {
                g.in_flight = Some(flush_id);
            }
            self.flushes.insert(flush_id, pending);
        }
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// After a successful flush, resolved alerts leave the group unless they were updated meanwhile.
    fn finish_flush(&mut self, f: PendingFlush) {
        // After a reload the group may be a new one under the same id; it is not this flush's to finish.
        let Some(group) = self.groups.get_mut(&f.group).filter(|g| g.in_flight.is_none_or(|x| x == f.id)) else {
            return;
        };
        group.in_flight = None;
        if f.failed {
            return;
        }
        for (fp, updated_at) in f.resolved {
            if group.alerts.get(&fp).is_some_and(|a| a.updated_at == updated_at) {
                group.alerts.remove(&fp);
            }
        }
    }

    /// The notification reached its receiver: the notification log records it at `now`.
    pub fn delivered(&mut self, id: u64, now: Timestamp) {
        if let Some(n) = self.notifications.remove(&id) {
            self.nflog.log(&n.receiver, &n.group_key, n.firing, n.resolved, now);
            self.complete(n.flush, id, false);
        }
    }

    /// The notification could not be delivered (after the integration's own retries): the log is left as is,
    /// so the next flush tries again, and the flush's resolved alerts stay in the group.
    pub fn failed(&mut self, id: u64) {
        if let Some(n) = self.notifications.remove(&id) {
            self.complete(n.flush, id, true);
        }
    }

    fn complete(&mut self, flush: u64, id: u64, failed: bool) {
        let Some(f) = self.flushes.get_mut(&flush) else { return };
        f.outstanding.remove(&id);
        f.failed |= failed;
        if f.outstanding.is_empty() {
            let f = self.flushes.remove(&flush).expect("flush is pending");
            self.finish_flush(f);
        }
    }

    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// Silences take effect at the next flush.
    pub fn silences_mut(&mut self) -> &mut Silences {
        &mut self.silences
    }

    pub fn alerts(&self) -> &AlertStore {
        &self.alerts
    }

    pub fn nflog(&self) -> &NotificationLog {
        &self.nflog
    }

    pub fn route(&self) -> &Route {
        &self.config.route
    }

    /// The groups with their alerts, sorted by group key then receiver.
    pub fn groups(&self) -> Vec<AlertGroup> {
        let mut out: Vec<AlertGroup> = self
            .groups
            .values()
            .filter(|g| !g.alerts.is_empty())
            .map(|g| AlertGroup {
                receiver: self.config.route.node(g.route).opts.receiver.clone(),
                group_key: g.key.clone(),
                labels: g.labels.clone(),
                alerts: g.alerts.values().cloned().collect(),
            })
            .collect();
        out.sort_by(|a, b| (&a.group_key, &a.receiver).cmp(&(&b.group_key, &b.receiver)));
        out
    }

    /// Which silences and inhibiting alerts mute these labels at `now`.
    pub fn suppression(&self, labels: &LabelSet, now: Timestamp) -> Suppression {
        Suppression { silenced_by: self.silences.mutes(labels, now), inhibited_by: self.inhibitor.mutes(labels, now) }
    }
}

/// Alertmanager's `DedupStage.needsUpdate`.
fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat: Duration,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are news.
        return !firing.is_empty();
    };
    if !entry.is_firing_subset(firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the receiver if it knew of firing alerts, whatever send_resolved says,
        // so the log forgets them.
        return !entry.firing_alerts.is_empty();
    }
    if send_resolved && !entry.is_resolved_subset(resolved) {
        return true;
    }
    entry.timestamp < now - repeat
}
