//! The guard: fail2ban-style jails run by the agent (`agent.guard:`). One thread (`reader.rs`) tails the auth
//! log sources (files through `vigil-ship`'s `Tailer`, journald through its `Journal`, with the guard's own
//! positions file), parses lines with `vigil-guard`, feeds the jails (`engine.rs`), persists each ban and unban
//! in SQLite (`store.rs`, `docs/format/guard-db.md`) before the firewall acts, wakes when the next ban ends,
//! counts (`metrics.rs`) and hands every event to the log shipper as the `{job="security"}` stream
//! (`events.rs`). auditd's log goes through the audit correlator and access logs through the access parser
//! (`reader.rs`). Nothing runs on the caller's async workers.
//!
//! Signals beyond the jails: new-address and root logins and sudo outside the allowed groups (`signals.rs`,
//! `logins` in `signal_store.rs`, `groups.rs`), and watched-file changes on a thread of their own (`watch.rs`),
//! counted in `signal_metrics.rs`.
//!
//! Every ban reaches the firewall through `holders.rs` (`held.rs`), so that jails and the fleet-wide list
//! never undo each other's bans. With `fleet:`, a thread (`fleet_sync.rs`) pulls the server's ban list, which
//! the guard thread applies (`fleet.rs`), and reports local bans queued in the database (`fleet_store.rs`).
//! With `intel:`, a thread (`intel.rs`) fetches threat-intel feeds and the guard thread checks every event
//! against them (`intel_hits.rs`).

mod clock;
mod engine;
mod events;
mod fleet;
mod fleet_metrics;
mod fleet_store;
mod fleet_sync;
mod groups;
mod held;
mod holders;
mod intel;
mod intel_hits;
mod intel_metrics;
mod metrics;
mod reader;
mod settings;
mod signal_metrics;
mod signal_store;
mod signals;
mod store;
mod watch;
mod worker;

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use vigil_guard::firewall::Firewall;
use vigil_ship::{Journal, JournalConfig, Positions, PositionsError, TailConfig, Tailer};

pub use clock::{system_clock, Clock};
pub use engine::EngineError;
pub use events::{stream_labels, BAN_COUNT_FIELD, BAN_UNTIL_FIELD, GUARD_SOURCE, JAIL_FIELD, JOB};
pub use fleet::ORIGIN_FIELD;
pub use fleet_metrics::FleetMetrics;
pub use fleet_sync::FleetSettings;
pub use intel::{FeedSettings, FeedSource, IntelSettings};
pub use intel_hits::{EVENT_ACTION_FIELD, FEEDS_FIELD, INDICATOR_IP_FIELD, INTEL_ACTION, INTEL_JAIL};
pub use intel_metrics::IntelMetrics;
pub use metrics::GuardMetrics;
pub use settings::{
    build_firewall, FirewallSettings, FirewallUnavailable, GuardSettings, GuardSettingsError, GuardSource,
    SourceDefaults,
};
pub use signal_metrics::{FILE_CLASSES, LOGIN_METHODS};
pub use signal_store::{FileState, MAX_LOGIN_PAIRS};
pub use signals::{SignalSettings, NEW_ADDRESS_FIELD, ROOT_LOGIN_FIELD, SUDO_OUTSIDE_FIELD};
pub use store::{BanStore, Loaded, StoreError, StoredBan, StoredHistory, FILE_NAME, SCHEMA_VERSION};
pub use watch::{WatchError, MAX_HASH_BYTES, MAX_WATCHED_FILES, WATCH_CLASS_FIELD, WATCH_SOURCE};

use crate::logs::LogAppender;
use engine::Engine;
use fleet::FleetState;
use fleet_sync::{FleetSync, FleetThread};
use intel::IntelFetcher;
use reader::{GuardLoop, Input};
use signals::Signals;
use vigil_guard::parse::audit::{Correlator, Limits as AuditLimits, MAX_RECORD_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("guard data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} (move it away to read the sources from scratch)")]
    Positions(#[from] PositionsError),
    #[error("guard source: {0}")]
    Tail(#[from] vigil_ship::TailError),
    #[error("cannot start the guard thread: {0}")]
    Thread(std::io::Error),
    #[error("agent.guard.fleet: {0}")]
    Fleet(String),
    #[error("agent.guard.intel: {0}")]
    Intel(std::io::Error),
    #[error(transparent)]
    Watch(#[from] WatchError),
}

/// The running guard. [`Guard::shutdown`] (or drop) stops it after a last read.
pub struct Guard {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<GuardMetrics>,
    fleet: Option<FleetThread>,
    intel: Option<IntelFetcher>,
    watcher: Option<watch::Watcher>,
}

impl Guard {
    /// Opens the ban database under `s.data_dir`, restores the jails and the firewall's bans, starts the
    /// sources where the guard's positions say and starts the guard thread. `logs` receives the security
    /// records when log shipping is configured. Blocking.
    pub fn start(
        s: GuardSettings,
        firewall: Box<dyn Firewall>,
        logs: Option<LogAppender>,
        clock: Clock,
    ) -> Result<Guard, GuardError> {
        std::fs::create_dir_all(&s.data_dir)
            .map_err(|source| GuardError::DataDir { path: s.data_dir.clone(), source })?;
        let (store, loaded) = BanStore::open(&s.data_dir)?;
        let mut jails = s.jails;
        if let Some(i) = s.intel.as_ref().filter(|i| i.ban) {
            jails.push(intel_hits::intel_jail(i.bantime_s, i.ignoreip.clone()));
        }
        let names: Vec<String> = jails.iter().map(|j| j.name.clone()).collect();
        let metrics = Arc::new(GuardMetrics::new(&names, firewall.name()));
        let mut engine = Engine::start(jails, firewall, store, loaded, metrics.clone(), clock())?;
        let (fleet_updates, fleet) = match s.fleet {
            Some(f) => {
                let (rx, thread) = start_fleet(f, &mut engine, &s.host, metrics.clone(), &clock)?;
                (Some(rx), Some(thread))
            }
            None => (None, None),
        };
        let intel = s
            .intel
            .map(|i| IntelFetcher::start(i, &s.data_dir, metrics.clone(), clock.clone()))
            .transpose()
            .map_err(GuardError::Intel)?;
        let signals = Signals::start(&s.data_dir, &s.signals, &s.rootfs, metrics.clone(), clock())?;
        let positions = Positions::load(&s.data_dir.join("positions"))?;

        // All file sources share one tailer: they are all syslog files with the same labels.
        let include: Vec<String> = s
            .sources
            .iter()
            .flat_map(|src| match src {
                GuardSource::Files { include } => include.clone(),
                _ => Vec::new(),
            })
            .collect();
        let mut inputs = Vec::new();
        if !include.is_empty() {
            let cfg = TailConfig {
                include,
                poll_interval: s.poll_interval,
                max_line_bytes: vigil_guard::parse::syslog::MAX_LINE_BYTES,
                ..TailConfig::default()
            };
            inputs.push(Input::Files(Box::new(Tailer::new(cfg, &positions)?)));
        }
        for src in &s.sources {
            if let GuardSource::Journald { matches, program } = src {
                let cfg =
                    JournalConfig { program: program.clone(), matches: matches.clone(), ..JournalConfig::default() };
                inputs.push(Input::Journal(Journal::spawn(cfg, positions.journal_cursor().map(str::to_owned))));
            }
        }
        // Audit and access logs each get a tailer of their own: their lines go through their own parsers.
        let tail = |include: Vec<String>, max_line_bytes: usize| TailConfig {
            include,
            poll_interval: s.poll_interval,
            max_line_bytes,
            ..TailConfig::default()
        };
        for src in &s.sources {
            match src {
                GuardSource::Audit { path } => {
                    let cfg = tail(vec![glob::Pattern::escape(&path.to_string_lossy())], MAX_RECORD_BYTES);
                    inputs.push(Input::Audit(Box::new(Tailer::new(cfg, &positions)?)));
                }
                GuardSource::Access { include } => {
                    let cfg = tail(include.clone(), vigil_guard::parse::access::MAX_LINE_BYTES);
                    inputs.push(Input::Access(Box::new(Tailer::new(cfg, &positions)?)));
                }
                _ => {}
            }
        }
        let watch_cfg = watch::WatchConfig {
            patterns: s.signals.watch_files.clone(),
            rootfs: s.rootfs.clone(),
            interval: s.signals.check_interval,
            host: s.host.clone(),
        };
        let watcher = watch::start(watch_cfg, &s.data_dir, logs.clone(), metrics.clone(), clock.clone())?;

        let (stop_tx, stop_rx) = mpsc::channel();
        let run = GuardLoop {
            inputs,
            positions,
            engine,
            logs,
            metrics: metrics.clone(),
            clock,
            host: s.host,
            poll_interval: s.poll_interval,
            stop: stop_rx,
            fleet: fleet_updates,
            intel: intel.as_ref().map(|i| i.current.clone()),
            intel_now: None,
            signals,
            audit: Correlator::new(AuditLimits::default()),
        };
        let thread =
            std::thread::Builder::new().name("guard".into()).spawn(move || run.run()).map_err(GuardError::Thread)?;
        Ok(Guard { stop: Some(stop_tx), thread: Some(thread), metrics, fleet, intel, watcher })
    }

    pub fn metrics(&self) -> Arc<GuardMetrics> {
        self.metrics.clone()
    }

    /// Reads the sources once more, then stops. Blocking.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.watcher.take();
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut f) = self.fleet.take() {
            f.stop();
        }
        if let Some(mut i) = self.intel.take() {
            i.stop();
        }
    }
}

/// Takes up the fleet list applied before and starts the fleet thread; returns where new lists arrive.
fn start_fleet(
    f: FleetSettings,
    engine: &mut Engine,
    host: &str,
    metrics: Arc<GuardMetrics>,
    clock: &Clock,
) -> Result<(mpsc::Receiver<fleet::FleetList>, FleetThread), GuardError> {
    let _ = metrics.fleet.set(FleetMetrics::default());
    let target = crate::http::Target::parse(&f.url).map_err(GuardError::Fleet)?;
    let client = crate::http::HttpClient::new(Default::default()).map_err(GuardError::Fleet)?;
    let (wake_tx, wake_rx) = mpsc::channel();
    let (updates_tx, updates_rx) = mpsc::sync_channel(2);
    let state = FleetState::new(f.ignoreip.clone(), f.report.then(|| wake_tx.clone()));
    let generation = engine.start_fleet(state, clock())?;
    let sync = FleetSync {
        settings: f,
        target,
        client,
        db: engine.store.path().to_owned(),
        generation,
        host: host.to_owned(),
        metrics,
        updates: updates_tx,
        wake: wake_rx,
    };
    let worker = worker::Worker::spawn("guard-fleet", move || sync.run()).map_err(GuardError::Thread)?;
    Ok((updates_rx, FleetThread { wake: wake_tx, worker }))
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}
