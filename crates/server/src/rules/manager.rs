//! The rule manager: one task per group, evaluating at the group's aligned timestamps on a blocking thread,
//! skipping (and counting) iterations it was too late for, restoring `for` state after the second evaluation of
//! a fresh start, and reloading rule files while keeping alert state (Prometheus 2.42's `rules/manager.go`).
//! Unlike Prometheus, alerting rules are also evaluated between those times: when samples of the metrics they
//! select arrive (at most every [`EARLY_EVALUATION_GAP`]) and when a pending alert's `for` ends, so that the
//! delay from data to notification is not up to two intervals longer than `for` asks.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use vigil_model::Labels;
use vigil_query::series_notation::STALE_NAN;
use vigil_query::{Engine, Sample};
use vigil_rules::{EvalContext, GoExpander, GroupSpec, RestoreOptions, RuleGroup, RuleStore, DEFAULT_RESEND_DELAY_MS};
use vigil_tsdb::Db;

use super::files::load_all_rule_files;
use super::sink::{to_postable, AlertSink, LogSink};
use super::store::DbRuleStore;
use super::watch::IngestWatch;
use crate::api::now_ms;
use crate::logs::StoreReader;
use crate::storage::TsdbStorage;

/// The shortest time between two evaluations of a group's alerting rules that new samples trigger: a stream of
/// ingests costs at most one such evaluation per gap.
pub const EARLY_EVALUATION_GAP: Duration = Duration::from_millis(200);

/// How much evaluation time per second all groups together may spend on evaluations that samples triggered:
/// beyond it (a busy server with many rules), groups wait for their regular iterations as in Prometheus.
pub const EARLY_EVALUATION_BUDGET: Duration = Duration::from_millis(100);

/// The time spent on sample-triggered evaluations in the current second.
struct EarlyBudget {
    window_start: Instant,
    used: Duration,
}

impl EarlyBudget {
    fn available(&mut self) -> bool {
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            self.window_start = Instant::now();
            self.used = Duration::ZERO;
        }
        self.used < EARLY_EVALUATION_BUDGET
    }
}

/// What the manager evaluates and how.
#[derive(Clone, Debug)]
pub struct RuleOptions {
    /// Rule file paths and patterns (`rule_files:`), absolute or relative to the working directory.
    pub rule_files: Vec<String>,
    /// The same for LogQL rule files (`log_rule_files:`), evaluated over the log store.
    pub log_rule_files: Vec<String>,
    /// For groups without their own `interval` (`global.evaluation_interval`).
    pub evaluation_interval_ms: i64,
    /// `global.external_labels`: seen by templates, added to alerts sent.
    pub external_labels: Labels,
    /// Seen by templates, and the base of alerts' generator URLs.
    pub external_url: String,
    /// How long before a firing alert is sent again (Prometheus' `--rules.alert.resend-delay`).
    pub resend_delay_ms: i64,
    pub restore: RestoreOptions,
}

impl Default for RuleOptions {
    fn default() -> RuleOptions {
        RuleOptions {
            rule_files: Vec::new(),
            log_rule_files: Vec::new(),
            evaluation_interval_ms: 60_000,
            external_labels: Labels::default(),
            external_url: String::new(),
            resend_delay_ms: DEFAULT_RESEND_DELAY_MS,
            restore: RestoreOptions::default(),
        }
    }
}

/// What the evaluations of one group did, for the API and the self-metrics.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    /// Wall-clock start of the last evaluation, milliseconds since the epoch.
    pub last_eval_wall_ms: Option<i64>,
    pub last_duration: Duration,
    /// Per rule, how long its last evaluation took.
    pub rule_durations: Vec<Duration>,
    pub iterations: u64,
    pub iterations_missed: u64,
    /// Evaluations of the alerting rules alone, between iterations (new samples, or a `for` ending).
    pub early_evaluations: u64,
    /// Rule evaluations, and failed ones, over all rules of the group.
    pub evaluations: u64,
    pub failures: u64,
}

/// A group as the API shows it: its rules (with their alerts) and how its evaluations went.
pub struct GroupView {
    pub group: RuleGroup,
    pub stats: GroupStats,
}

struct Slot {
    group: Mutex<RuleGroup>,
    stats: Mutex<GroupStats>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Notified when samples the group's alerting rules select were ingested.
    wake: Arc<Notify>,
}

impl Slot {
    fn new(group: RuleGroup) -> Arc<Slot> {
        let rules = group.rules().len();
        let stats = GroupStats { rule_durations: vec![Duration::ZERO; rules], ..GroupStats::default() };
        Arc::new(Slot {
            group: Mutex::new(group),
            stats: Mutex::new(stats),
            stop: watch::channel(false).0,
            task: Mutex::new(None),
            wake: Arc::new(Notify::new()),
        })
    }

    fn key(&self) -> (String, String) {
        let g = lock(&self.group);
        (g.file().to_owned(), g.name().to_owned())
    }
}

/// Rule files read and checked for a reload, not applied yet: see [`RuleManager::load`].
pub struct LoadedRules {
    options: RuleOptions,
    specs: Vec<GroupSpec>,
}

/// Loads, schedules and reloads the rule groups.
pub struct RuleManager {
    db: Arc<Db>,
    /// What LogQL rules read.
    logs: Arc<vigil_logstore::LogStore>,
    storage: TsdbStorage,
    engine: Arc<Engine>,
    expander: GoExpander,
    /// Replaced by reloads; `external_url` stays what it was at start (the expander was built from it).
    options: RwLock<Arc<RuleOptions>>,
    sink: RwLock<Arc<dyn AlertSink>>,
    groups: Mutex<Vec<Arc<Slot>>>,
    /// Serialises reloads.
    reloading: tokio::sync::Mutex<()>,
    watch: Arc<IngestWatch>,
    early_budget: Mutex<EarlyBudget>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RuleManager {
    /// Loads the rule files; the groups are evaluated once [`RuleManager::start`] runs. Errors are the rule
    /// files' `file:line:col: message`s.
    pub fn new(
        db: Arc<Db>,
        logs: Arc<vigil_logstore::LogStore>,
        engine: Arc<Engine>,
        options: RuleOptions,
    ) -> Result<RuleManager, Vec<String>> {
        let expander = GoExpander::new(&options.external_url);
        let specs = load_all_rule_files(&options.rule_files, &options.log_rule_files, &expander)?;
        let groups = specs
            .into_iter()
            .map(|spec| Slot::new(RuleGroup::new(spec, options.evaluation_interval_ms, true)))
            .collect();
        Ok(RuleManager {
            storage: TsdbStorage::new(db.clone()),
            db,
            logs,
            engine,
            expander,
            options: RwLock::new(Arc::new(options)),
            sink: RwLock::new(Arc::new(LogSink)),
            groups: Mutex::new(groups),
            reloading: tokio::sync::Mutex::new(()),
            watch: Arc::new(IngestWatch::new()),
            early_budget: Mutex::new(EarlyBudget { window_start: Instant::now(), used: Duration::ZERO }),
        })
    }

    /// What the ingest paths tell of the metrics they stored, to wake the groups whose alerts select them.
    pub fn ingest_watch(&self) -> Arc<IngestWatch> {
        self.watch.clone()
    }

    fn update_interests(&self) {
        let slots: Vec<Arc<Slot>> = lock(&self.groups).clone();
        let wakers = slots
            .iter()
            .map(|slot| {
                let names = lock(&slot.group).alerting_metric_names().map(|names| names.into_iter().collect());
                (slot.wake.clone(), names)
            })
            .filter(|(_, names): &(_, Option<Vec<String>>)| names.as_ref().is_none_or(|n| !n.is_empty()))
            .collect();
        self.watch.set(wakers);
    }

    /// Where alerts go from now on.
    pub fn set_sink(&self, sink: Arc<dyn AlertSink>) {
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = sink;
    }

    /// Starts one task per group on the current tokio runtime.
    pub fn start(self: &Arc<Self>) {
        self.update_interests();
        for slot in lock(&self.groups).iter() {
            self.spawn(slot.clone());
        }
    }

    fn spawn(self: &Arc<Self>, slot: Arc<Slot>) {
        let task = tokio::spawn(run_group(self.clone(), slot.clone(), slot.stop.subscribe()));
        *lock(&slot.task) = Some(task);
    }

    /// Stops every group's task and waits for evaluations under way to finish.
    pub async fn stop(&self) {
        let slots: Vec<Arc<Slot>> = lock(&self.groups).clone();
        for slot in &slots {
            stop_slot(slot).await;
        }
    }

    /// The options the groups run with.
    pub fn options(&self) -> Arc<RuleOptions> {
        self.options.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the rule files. On error nothing changes. Groups that stay (same file and name) keep their
    /// alerts and series; groups that are gone get staleness markers for what they wrote.
    pub async fn reload(self: &Arc<Self>) -> Result<(), String> {
        let _one = self.reloading.lock().await;
        let loaded = self.load(self.options().as_ref().clone()).await?;
        self.swap(loaded).await;
        Ok(())
    }

    /// Reads and checks the rule files of `options` (on a blocking thread) without applying them; errors are
    /// the files' `file:line:col: message`s, one per line. The external URL stays the one of the start.
    pub async fn load(self: &Arc<Self>, mut options: RuleOptions) -> Result<LoadedRules, String> {
        options.external_url = self.options().external_url.clone();
        let me = self.clone();
        let (patterns, log_patterns) = (options.rule_files.clone(), options.log_rule_files.clone());
        let specs = tokio::task::spawn_blocking(move || load_all_rule_files(&patterns, &log_patterns, &me.expander))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|errors| errors.join("\n"))?;
        Ok(LoadedRules { options, specs })
    }

    /// Switches to rules [`RuleManager::load`] read, as [`RuleManager::reload`] does.
    pub async fn apply(self: &Arc<Self>, loaded: LoadedRules) {
        let _one = self.reloading.lock().await;
        self.swap(loaded).await;
    }

    async fn swap(self: &Arc<Self>, loaded: LoadedRules) {
        let LoadedRules { options, specs } = loaded;
        let old: Vec<Arc<Slot>> = lock(&self.groups).clone();
        for slot in &old {
            stop_slot(slot).await;
        }
        let mut fresh = Vec::new();
        let mut taken = vec![false; old.len()];
        for spec in specs {
            let mut group = RuleGroup::new(spec, options.evaluation_interval_ms, false);
            let key = (group.file().to_owned(), group.name().to_owned());
            if let Some(i) = (0..old.len()).find(|&i| !taken[i] && old[i].key() == key) {
                taken[i] = true;
                group.copy_state_from(lock(&old[i].group).clone());
            }
            fresh.push(Slot::new(group));
        }
        let gone: Vec<Labels> = old
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| !**taken)
            .flat_map(|(slot, _)| lock(&slot.group).clone().into_written_series())
            .collect();
        if !gone.is_empty() {
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.mark_stale(gone)).await;
        }
        *self.options.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(options);
        *lock(&self.groups) = fresh.clone();
        self.update_interests();
        for slot in fresh {
            self.spawn(slot);
        }
        tracing::info!(groups = lock(&self.groups).len(), "rules reloaded");
    }

    fn mark_stale(&self, series: Vec<Labels>) {
        let t = now_ms();
        let markers: Vec<Sample> = series.into_iter().map(|labels| Sample { labels, t, v: STALE_NAN }).collect();
        let mut store = DbRuleStore { db: &self.db, storage: &self.storage };
        if let Err(err) = store.append(&markers) {
            tracing::warn!(%err, "staleness markers of removed rule groups not written");
        }
    }

    /// Every group with its rules and statistics, in file order.
    pub fn groups(&self) -> Vec<GroupView> {
        let slots: Vec<Arc<Slot>> = lock(&self.groups).clone();
        slots
            .iter()
            .map(|slot| GroupView { group: lock(&slot.group).clone(), stats: lock(&slot.stats).clone() })
            .collect()
    }

    /// Evaluates the alerting rules of `slot` at `t_ms` alone (blocking), between iterations; nothing before the
    /// group's `for` state is restored, which the first iterations do. Evaluations that samples triggered
    /// (`by_samples`) are skipped once [`EARLY_EVALUATION_BUDGET`] is spent.
    fn evaluate_alerts_early(&self, slot: &Slot, t_ms: i64, by_samples: bool) {
        if by_samples && !lock(&self.early_budget).available() {
            return;
        }
        let started = Instant::now();
        let options = self.options();
        let mut group = lock(&slot.group);
        if group.should_restore() || group.last_any_eval_ms().is_some_and(|last| last >= t_ms) {
            return;
        }
        let ctx = EvalContext {
            engine: &self.engine,
            expander: &self.expander,
            external_labels: &options.external_labels,
            external_url: &options.external_url,
            resend_delay_ms: options.resend_delay_ms,
            logs: Some(&StoreReader(&self.logs)),
            language: vigil_rules::QueryLanguage::PromQL,
        };
        let mut store = DbRuleStore { db: &self.db, storage: &self.storage };
        let outcomes = group.eval_alerting(t_ms, &ctx, &mut store);
        drop(group);
        if by_samples {
            lock(&self.early_budget).used += started.elapsed();
        }
        let mut stats = lock(&slot.stats);
        stats.early_evaluations += 1;
        stats.evaluations += outcomes.len() as u64;
        stats.failures += outcomes.iter().filter(|o| o.error.is_some()).count() as u64;
        drop(stats);
        let alerts: Vec<_> = outcomes
            .iter()
            .flat_map(|o| o.notifications.iter().map(|n| to_postable(n, &options.external_labels)))
            .collect();
        if !alerts.is_empty() {
            let sink = self.sink.read().unwrap_or_else(|e| e.into_inner()).clone();
            sink.post(alerts);
        }
    }

    /// Evaluates `slot` at `t_ms` (blocking): appends the results, hands due alerts to the sink, restores `for`
    /// state when due.
    fn iterate(&self, slot: &Slot, t_ms: i64, restore_now: bool) {
        let wall = now_ms();
        let started = Instant::now();
        let options = self.options();
        let mut group = lock(&slot.group);
        let ctx = EvalContext {
            engine: &self.engine,
            expander: &self.expander,
            external_labels: &options.external_labels,
            external_url: &options.external_url,
            resend_delay_ms: options.resend_delay_ms,
            logs: Some(&StoreReader(&self.logs)),
            language: vigil_rules::QueryLanguage::PromQL,
        };
        let mut store = DbRuleStore { db: &self.db, storage: &self.storage };
        let report = group.eval(t_ms, &ctx, &mut store);
        if restore_now && group.should_restore() {
            if let Err(err) = group.restore_for_state(now_ms(), &self.storage, &options.restore) {
                tracing::warn!(group = group.name(), %err, "restoring alert state failed");
            }
        }
        drop(group);
        let mut alerts = Vec::new();
        let mut stats = lock(&slot.stats);
        stats.rule_durations = report.rules.iter().map(|r| r.duration).collect();
        for rule in &report.rules {
            stats.evaluations += 1;
            if rule.error.is_some() {
                stats.failures += 1;
            }
            alerts.extend(rule.notifications.iter().map(|n| to_postable(n, &options.external_labels)));
        }
        stats.iterations += 1;
        stats.last_eval_wall_ms = Some(wall);
        stats.last_duration = started.elapsed();
        drop(stats);
        if !alerts.is_empty() {
            let sink = self.sink.read().unwrap_or_else(|e| e.into_inner()).clone();
            sink.post(alerts);
        }
    }
}

async fn stop_slot(slot: &Slot) {
    let _ = slot.stop.send(true);
    let task = lock(&slot.task).take();
    if let Some(task) = task {
        let _ = task.await;
    }
}

/// A group's loop: the first evaluation at the group's first aligned time after now, then every interval;
/// iterations that could not start in time are skipped and counted. In between, the alerting rules alone are
/// evaluated when the watch wakes the group (no sooner than [`EARLY_EVALUATION_GAP`] after the previous such
/// evaluation) and when a pending alert's `for` ends.
async fn run_group(manager: Arc<RuleManager>, slot: Arc<Slot>, mut stop: watch::Receiver<bool>) {
    let (interval, mut next) = {
        let g = lock(&slot.group);
        (g.interval_ms(), g.eval_timestamp_ms(now_ms().saturating_mul(1_000_000)) + g.interval_ms())
    };
    let gap = EARLY_EVALUATION_GAP.as_millis() as i64;
    let mut evaluated = 0u64;
    // When samples asked for an early evaluation, the time it is due.
    let mut early_due: Option<i64> = None;
    let mut last_early = i64::MIN / 2;
    loop {
        let hold_deadline = lock(&slot.group).next_hold_deadline_ms();
        let wake_at = [Some(next), early_due, hold_deadline].into_iter().flatten().min().unwrap_or(next);
        let wait = Duration::from_millis(u64::try_from(wake_at - now_ms()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = slot.wake.notified(), if early_due.is_none() => {
                early_due = Some(now_ms().max(last_early + gap));
                continue;
            }
            _ = stop.changed() => return,
        }
        let now = now_ms();
        if now < next {
            // Samples arrived, or a `for` ended: the alerting rules alone, at the time it is.
            let by_samples = hold_deadline.is_none_or(|d| d > now);
            early_due = None;
            last_early = now;
            let (m, s) = (manager.clone(), slot.clone());
            if let Err(err) = tokio::task::spawn_blocking(move || m.evaluate_alerts_early(&s, now, by_samples)).await {
                tracing::error!(%err, "rule evaluation task failed");
            }
            if *stop.borrow() {
                return;
            }
            continue;
        }
        evaluated += 1;
        // Prometheus restores after the second evaluation: recording rules have caught up by then.
        let restore_now = evaluated >= 2;
        // An early evaluation that ran past the aligned time moves this one just after it, so the alerts' times
        // never go backwards.
        let t = match lock(&slot.group).last_any_eval_ms() {
            Some(last) if last >= next => last + 1,
            _ => next,
        };
        let (m, s) = (manager.clone(), slot.clone());
        if let Err(err) = tokio::task::spawn_blocking(move || m.iterate(&s, t, restore_now)).await {
            tracing::error!(%err, "rule evaluation task failed");
        }
        let missed = (now_ms() - next) / interval - 1;
        if missed > 0 {
            lock(&slot.stats).iterations_missed += missed as u64;
        }
        next += (missed.max(0) + 1) * interval;
        if *stop.borrow() {
            return;
        }
    }
}
