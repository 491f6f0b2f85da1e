//! The rule manager: one task per group, evaluating at the group's aligned timestamps on a blocking thread,
//! skipping (and counting) iterations it was too late for, restoring `for` state after the second evaluation of
//! a fresh start, and reloading rule files while keeping alert state (Prometheus 2.42's `rules/manager.go`).

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vigil_model::Labels;
use vigil_query::series_notation::STALE_NAN;
use vigil_query::{Engine, Sample};
use vigil_rules::{EvalContext, GoExpander, GroupSpec, RestoreOptions, RuleGroup, RuleStore, DEFAULT_RESEND_DELAY_MS};
use vigil_tsdb::Db;

use super::files::load_rule_files;
use super::sink::{to_postable, AlertSink, LogSink};
use super::store::DbRuleStore;
use crate::api::now_ms;
use crate::storage::TsdbStorage;

/// What the manager evaluates and how.
#[derive(Clone, Debug)]
pub struct RuleOptions {
    /// Rule file paths and patterns (`rule_files:`), absolute or relative to the working directory.
    pub rule_files: Vec<String>,
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
    storage: TsdbStorage,
    engine: Arc<Engine>,
    expander: GoExpander,
    /// Replaced by reloads; `external_url` stays what it was at start (the expander was built from it).
    options: RwLock<Arc<RuleOptions>>,
    sink: RwLock<Arc<dyn AlertSink>>,
    groups: Mutex<Vec<Arc<Slot>>>,
    /// Serialises reloads.
    reloading: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RuleManager {
    /// Loads the rule files; the groups are evaluated once [`RuleManager::start`] runs. Errors are the rule
    /// files' `file:line:col: message`s.
    pub fn new(db: Arc<Db>, engine: Arc<Engine>, options: RuleOptions) -> Result<RuleManager, Vec<String>> {
        let expander = GoExpander::new(&options.external_url);
        let specs = load_rule_files(&options.rule_files, &expander)?;
        let groups = specs
            .into_iter()
            .map(|spec| Slot::new(RuleGroup::new(spec, options.evaluation_interval_ms, true)))
            .collect();
        Ok(RuleManager {
            storage: TsdbStorage::new(db.clone()),
            db,
            engine,
            expander,
            options: RwLock::new(Arc::new(options)),
            sink: RwLock::new(Arc::new(LogSink)),
            groups: Mutex::new(groups),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Where alerts go from now on.
    pub fn set_sink(&self, sink: Arc<dyn AlertSink>) {
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = sink;
    }

    /// Starts one task per group on the current tokio runtime.
    pub fn start(self: &Arc<Self>) {
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
        let patterns = options.rule_files.clone();
        let specs = tokio::task::spawn_blocking(move || load_rule_files(&patterns, &me.expander))
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
/// iterations that could not start in time are skipped and counted.
async fn run_group(manager: Arc<RuleManager>, slot: Arc<Slot>, mut stop: watch::Receiver<bool>) {
    let (interval, mut next) = {
        let g = lock(&slot.group);
        (g.interval_ms(), g.eval_timestamp_ms(now_ms().saturating_mul(1_000_000)) + g.interval_ms())
    };
    let mut evaluated = 0u64;
    loop {
        let wait = Duration::from_millis(u64::try_from(next - now_ms()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        evaluated += 1;
        // Prometheus restores after the second evaluation: recording rules have caught up by then.
        let restore_now = evaluated >= 2;
        let (m, s) = (manager.clone(), slot.clone());
        if let Err(err) = tokio::task::spawn_blocking(move || m.iterate(&s, next, restore_now)).await {
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
