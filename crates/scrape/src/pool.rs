//! A job's scrape pool: one task that owns the job's discovery providers and scrape loops, turns target groups
//! into targets, and starts, stops or hands over loops as targets and settings change.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use vigil_model::Labels;

use crate::discovery::{self, TargetGroup, Update};
use crate::ingest::Ingester;
use crate::job::{JobSettings, ScrapeSettings};
use crate::scrape_loop::{self, LoopHandle, Signal, TargetState};
use crate::target::{populate, Populated, Target};
use crate::Appender;

/// How a pool stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// The job left the configuration: its targets disappeared.
    Removed,
    /// The manager stops: stale markers now.
    Shutdown,
}

pub(crate) enum Command {
    Reload(Arc<JobSettings>),
    Stop(StopKind),
}

/// What the targets API shows of a pool.
#[derive(Default)]
pub(crate) struct PoolView {
    pub active: Vec<Arc<TargetState>>,
    pub dropped: Vec<Labels>,
}

pub(crate) struct PoolHandle {
    commands: mpsc::UnboundedSender<Command>,
    pub view: Arc<Mutex<PoolView>>,
    join: JoinHandle<()>,
}

impl PoolHandle {
    pub fn spawn(settings: Arc<JobSettings>, appender: Arc<dyn Appender>) -> PoolHandle {
        let (commands, rx) = mpsc::unbounded_channel();
        let view = Arc::new(Mutex::new(PoolView::default()));
        let pool = Pool::new(settings, appender, view.clone());
        let join = tokio::spawn(pool.run(rx));
        PoolHandle { commands, view, join }
    }

    pub fn send(&self, c: Command) {
        // A pool that already ended has nothing left to do.
        let _ = self.commands.send(c);
    }

    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    pub async fn join(self) {
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "scrape pool failed");
        }
    }
}

/// A target's identity within a pool: its labels and URL, as in Prometheus.
type TargetKey = (Labels, String);

struct Pool {
    settings: Arc<JobSettings>,
    scrape: Arc<ScrapeSettings>,
    appender: Arc<dyn Appender>,
    updates: mpsc::Receiver<Update>,
    providers: Vec<JoinHandle<()>>,
    /// The latest groups of each provider; `None` until it reported once.
    groups: Vec<Option<Arc<Vec<TargetGroup>>>>,
    loops: HashMap<TargetKey, LoopHandle>,
    /// Loops of vanished targets waiting to write their stale markers.
    ending: Vec<LoopHandle>,
    /// Staleness state of loops stopped by a reload, for the loops that replace them.
    inherited: HashMap<TargetKey, Ingester>,
    /// Stale-marker writes for targets that did not survive a reload.
    chores: Vec<JoinHandle<()>>,
    view: Arc<Mutex<PoolView>>,
}

impl Pool {
    fn new(settings: Arc<JobSettings>, appender: Arc<dyn Appender>, view: Arc<Mutex<PoolView>>) -> Pool {
        let scrape = Arc::new(settings.scrape.clone());
        let (_, updates) = mpsc::channel(1);
        let mut pool = Pool {
            settings,
            scrape,
            appender,
            updates,
            providers: Vec::new(),
            groups: Vec::new(),
            loops: HashMap::new(),
            ending: Vec::new(),
            inherited: HashMap::new(),
            chores: Vec::new(),
            view,
        };
        pool.start_discovery();
        pool
    }

    fn start_discovery(&mut self) {
        for p in self.providers.drain(..) {
            p.abort();
        }
        let spec = &self.settings.discovery;
        let (tx, rx) = mpsc::channel(spec.provider_count().max(1) + 1);
        self.providers = discovery::start(&spec.statics, &spec.files, &tx);
        self.updates = rx;
        self.groups = vec![None; spec.provider_count()];
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.sync().await;
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Reload(settings)) => self.reload(settings).await,
                    Some(Command::Stop(kind)) => return self.shutdown(kind, commands).await,
                    None => return self.shutdown(StopKind::Shutdown, commands).await,
                },
                Some(update) = self.updates.recv() => {
                    if let Some(slot) = self.groups.get_mut(update.provider) {
                        *slot = Some(Arc::new(update.groups));
                    }
                    self.sync().await;
                }
            }
            self.ending.retain(|l| !l.is_finished());
            self.chores.retain(|c| !c.is_finished());
        }
    }

    /// Recomputes the targets from the groups (once every provider reported) and starts and stops loops.
    async fn sync(&mut self) {
        if self.groups.iter().any(Option::is_none) {
            return;
        }
        let groups: Vec<Arc<Vec<TargetGroup>>> = self.groups.iter().flatten().cloned().collect();
        let scrape = self.scrape.clone();
        // Relabeling thousands of targets is too much work for an async thread.
        let Ok(Targets { active, dropped }) = tokio::task::spawn_blocking(move || targets(&groups, &scrape)).await
        else {
            return;
        };
        let index: HashSet<&TargetKey> = active.iter().map(|(k, _)| k).collect();
        let vanished: Vec<TargetKey> = self.loops.keys().filter(|k| !index.contains(k)).cloned().collect();
        for key in vanished {
            if let Some(l) = self.loops.remove(&key) {
                l.signal(Signal::EndOfRun);
                self.ending.push(l);
            }
        }
        drop(index);
        let mut states = Vec::with_capacity(active.len());
        for (key, target) in active {
            if let Some(l) = self.loops.get(&key) {
                l.state.set_discovered(target.discovered.clone());
                states.push(l.state.clone());
                continue;
            }
            let state = Arc::new(TargetState::new(self.scrape.job.clone(), target));
            let inherited = self.inherited.remove(&key);
            let l = LoopHandle::spawn(state.clone(), self.scrape.clone(), self.appender.clone(), inherited);
            states.push(state);
            self.loops.insert(key, l);
        }
        for (_, ing) in self.inherited.drain() {
            self.chores.push(tokio::spawn(scrape_loop::retire(self.appender.clone(), ing)));
        }
        let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        view.active = states;
        view.dropped = dropped;
    }

    async fn reload(&mut self, settings: Arc<JobSettings>) {
        let scrape_changed = settings.scrape != self.settings.scrape;
        let discovery_changed = settings.discovery != self.settings.discovery;
        self.scrape = Arc::new(settings.scrape.clone());
        self.settings = settings;
        if scrape_changed {
            for (key, mut l) in self.loops.drain() {
                l.signal(Signal::HandOver);
                if let Some(ing) = l.join().await {
                    self.inherited.insert(key, ing);
                }
            }
        }
        if discovery_changed {
            self.start_discovery();
        }
        self.sync().await;
    }

    async fn shutdown(mut self, kind: StopKind, mut commands: mpsc::UnboundedReceiver<Command>) {
        for p in self.providers.drain(..) {
            p.abort();
        }
        let signal = if kind == StopKind::Shutdown { Signal::Now } else { Signal::EndOfRun };
        for (_, l) in self.loops.drain() {
            l.signal(signal);
            self.ending.push(l);
        }
        if kind == StopKind::Shutdown {
            for l in &self.ending {
                l.signal(Signal::Now);
            }
        }
        for (_, ing) in self.inherited.drain() {
            self.chores.push(tokio::spawn(scrape_loop::retire(self.appender.clone(), ing)));
        }
        *self.view.lock().unwrap_or_else(PoisonError::into_inner) = PoolView::default();
        let mut escalated = kind == StopKind::Shutdown;
        while let Some(mut l) = self.ending.pop() {
            if escalated {
                l.join().await;
                continue;
            }
            // A removed job's loops wait a while before writing stale markers; a shutdown meanwhile hurries them.
            tokio::select! {
                _ = l.join() => {}
                cmd = commands.recv() => {
                    if matches!(cmd, Some(Command::Stop(StopKind::Shutdown)) | None) {
                        escalated = true;
                        l.signal(Signal::Now);
                        for other in &self.ending {
                            other.signal(Signal::Now);
                        }
                    }
                    self.ending.push(l);
                }
            }
        }
        for c in self.chores.drain(..) {
            let _ = c.await;
        }
    }
}

struct Targets {
    /// Unique by key, in discovery order.
    active: Vec<(TargetKey, Target)>,
    /// Discovered labels of the targets relabeling dropped.
    dropped: Vec<Labels>,
}

/// Builds the targets of `groups`. Blocking.
fn targets(groups: &[Arc<Vec<TargetGroup>>], scrape: &ScrapeSettings) -> Targets {
    let mut out = Targets { active: Vec::new(), dropped: Vec::new() };
    let mut seen: HashSet<TargetKey> = HashSet::new();
    for group in groups.iter().flat_map(|g| g.iter()) {
        for t in &group.targets {
            match populate(t, &group.labels, scrape) {
                Ok(Populated::Active(target)) => {
                    let key = (target.labels.clone(), target.url.clone());
                    if seen.insert(key.clone()) {
                        out.active.push((key, target));
                    }
                }
                Ok(Populated::Dropped(labels)) => out.dropped.push(labels),
                Err(e) => {
                    tracing::warn!(job = %scrape.job, source = %group.source, error = %e, "creating target failed")
                }
            }
        }
    }
    out
}
