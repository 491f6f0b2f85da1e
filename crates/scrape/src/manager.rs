//! The scrape manager: one pool per job, reconfigured on reload, and the targets' state for the API.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use vigil_config::scrape::{GlobalConfig, ScrapeConfig};
use vigil_model::Labels;

pub use crate::scrape_loop::Health;

use crate::job::{JobError, JobSettings};
use crate::pool::{Command, PoolHandle, StopKind};
use crate::Appender;

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("found multiple scrape configs with job name {0:?}")]
    DuplicateJob(String),
    #[error("the scrape manager is stopped")]
    Stopped,
}

/// An active target, as `/api/v1/targets` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetStatus {
    /// The job (Prometheus' "scrape pool").
    pub job: String,
    pub scrape_url: String,
    /// The labels every scraped series gets.
    pub labels: Labels,
    /// The labels before relabeling.
    pub discovered_labels: Labels,
    pub health: Health,
    pub last_error: Option<String>,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration: Duration,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
}

/// A target `relabel_configs` dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct DroppedTarget {
    pub job: String,
    pub discovered_labels: Labels,
}

#[derive(Default)]
struct Inner {
    pools: BTreeMap<String, PoolHandle>,
    /// Pools of removed jobs still writing their stale markers.
    retiring: Vec<PoolHandle>,
    stopped: bool,
}

/// Runs every job's discovery and scrape loops and writes what they scrape to the appender.
pub struct Manager {
    appender: Arc<dyn Appender>,
    inner: Mutex<Inner>,
}

impl Manager {
    /// A manager with no jobs yet; see [`Manager::apply_config`].
    pub fn new(appender: Arc<dyn Appender>) -> Manager {
        Manager { appender, inner: Mutex::new(Inner::default()) }
    }

    /// A manager running `configs`. Must be called within a tokio runtime.
    pub async fn start(
        global: &GlobalConfig,
        configs: &[ScrapeConfig],
        appender: Arc<dyn Appender>,
    ) -> Result<Manager, ManagerError> {
        let m = Manager::new(appender);
        m.apply_config(global, configs).await?;
        Ok(m)
    }

    /// Switches to a new configuration: new jobs start, removed jobs' targets go stale, changed jobs keep
    /// their staleness state across the change. Nothing changes when the configuration is invalid.
    pub async fn apply_config(&self, global: &GlobalConfig, configs: &[ScrapeConfig]) -> Result<(), ManagerError> {
        let mut jobs = Vec::with_capacity(configs.len());
        let mut names = HashSet::new();
        for cfg in configs {
            if !names.insert(cfg.job_name()) {
                return Err(ManagerError::DuplicateJob(cfg.job_name().to_owned()));
            }
            jobs.push(Arc::new(JobSettings::new(cfg, global)?));
        }
        let mut inner = self.lock();
        if inner.stopped {
            return Err(ManagerError::Stopped);
        }
        let removed: Vec<String> = inner.pools.keys().filter(|k| !names.contains(k.as_str())).cloned().collect();
        for name in removed {
            if let Some(pool) = inner.pools.remove(&name) {
                pool.send(Command::Stop(StopKind::Removed));
                inner.retiring.push(pool);
            }
        }
        for job in jobs {
            match inner.pools.get(&job.scrape.job) {
                Some(pool) => pool.send(Command::Reload(job)),
                None => {
                    let name = job.scrape.job.clone();
                    let pool = PoolHandle::spawn(job, self.appender.clone());
                    inner.pools.insert(name, pool);
                }
            }
        }
        inner.retiring.retain(|p| !p.is_finished());
        Ok(())
    }

    /// The active targets of every job, by job.
    pub fn targets(&self) -> Vec<TargetStatus> {
        let inner = self.lock();
        let mut out = Vec::new();
        for pool in inner.pools.values() {
            let view = pool.view.lock().unwrap_or_else(PoisonError::into_inner);
            for state in &view.active {
                let h = state.health();
                out.push(TargetStatus {
                    job: state.job.clone(),
                    scrape_url: state.target.url.clone(),
                    labels: state.target.labels.clone(),
                    discovered_labels: state.discovered(),
                    health: h.health,
                    last_error: h.last_error,
                    last_scrape: h.last_scrape,
                    last_scrape_duration: h.last_duration,
                    scrape_interval: state.target.interval,
                    scrape_timeout: state.target.timeout,
                });
            }
        }
        out
    }

    /// The targets relabeling dropped, by job.
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (job, pool) in &inner.pools {
            let view = pool.view.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(view.dropped.iter().map(|l| DroppedTarget { job: job.clone(), discovered_labels: l.clone() }));
        }
        out
    }

    /// Stops every job, writes stale markers for every target's last series and waits until they are written.
    pub async fn stop(&self) {
        let pools: Vec<PoolHandle> = {
            let mut inner = self.lock();
            inner.stopped = true;
            let mut pools: Vec<PoolHandle> = std::mem::take(&mut inner.pools).into_values().collect();
            pools.append(&mut inner.retiring);
            pools
        };
        for pool in &pools {
            pool.send(Command::Stop(StopKind::Shutdown));
        }
        for pool in pools {
            pool.join().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
