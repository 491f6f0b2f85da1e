//! The guard: fail2ban-style jails run by the agent (`agent.guard:`). One thread (`reader.rs`) tails the auth
//! log sources (files through `vigil-ship`'s `Tailer`, journald through its `Journal`, with the guard's own
//! positions file), parses lines with `vigil-guard`, feeds the jails (`engine.rs`), persists each ban and unban
//! in SQLite (`store.rs`, `docs/format/guard-db.md`) before the firewall acts, wakes when the next ban ends,
//! counts (`metrics.rs`) and hands every event to the log shipper as the `{job="security"}` stream
//! (`events.rs`). Nothing runs on the caller's async workers.

mod clock;
mod engine;
mod events;
mod metrics;
mod reader;
mod settings;
mod store;

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use vigil_guard::firewall::Firewall;
use vigil_ship::{Journal, JournalConfig, Positions, PositionsError, TailConfig, Tailer};

pub use clock::{system_clock, Clock};
pub use engine::EngineError;
pub use events::{stream_labels, BAN_COUNT_FIELD, BAN_UNTIL_FIELD, GUARD_SOURCE, JAIL_FIELD, JOB};
pub use metrics::GuardMetrics;
pub use settings::{
    build_firewall, FirewallSettings, FirewallUnavailable, GuardSettings, GuardSettingsError, GuardSource,
    SourceDefaults,
};
pub use store::{BanStore, Loaded, StoreError, StoredBan, StoredHistory, FILE_NAME, SCHEMA_VERSION};

use crate::logs::LogAppender;
use engine::Engine;
use reader::{GuardLoop, Input};

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
}

/// The running guard. [`Guard::shutdown`] (or drop) stops it after a last read.
pub struct Guard {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<GuardMetrics>,
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
        let names: Vec<String> = s.jails.iter().map(|j| j.name.clone()).collect();
        let metrics = Arc::new(GuardMetrics::new(&names, firewall.name()));
        let engine = Engine::start(s.jails, firewall, store, loaded, metrics.clone(), clock())?;
        let positions = Positions::load(&s.data_dir.join("positions"))?;

        // All file sources share one tailer: they are all syslog files with the same labels.
        let include: Vec<String> = s
            .sources
            .iter()
            .flat_map(|src| match src {
                GuardSource::Files { include } => include.clone(),
                GuardSource::Journald { .. } => Vec::new(),
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
        };
        let thread =
            std::thread::Builder::new().name("guard".into()).spawn(move || run.run()).map_err(GuardError::Thread)?;
        Ok(Guard { stop: Some(stop_tx), thread: Some(thread), metrics })
    }

    pub fn metrics(&self) -> Arc<GuardMetrics> {
        self.metrics.clone()
    }

    /// Reads the sources once more, then stops. Blocking.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}
