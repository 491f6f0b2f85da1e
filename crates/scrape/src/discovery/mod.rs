//! Where targets come from: static lists and file_sd files, delivered as target groups per provider.

mod file;
mod glob;

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use vigil_config::scrape::StaticConfig;

pub(crate) use file::FileSdSpec;
pub use glob::expand as expand_glob;

pub(crate) const ADDRESS_LABEL: &str = "__address__";

/// Targets sharing labels, as Prometheus' `targetgroup.Group`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TargetGroup {
    /// Identifies the group within its provider (`"0"`, `"path/to/file.json:2"`).
    pub source: String,
    /// One label set per target, each with at least `__address__`.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels every target gets unless it sets them itself.
    pub labels: BTreeMap<String, String>,
}

/// The full current groups of one provider of a job.
#[derive(Debug)]
pub(crate) struct Update {
    pub provider: usize,
    pub groups: Vec<TargetGroup>,
}

/// The groups of `static_configs`, one per entry.
pub(crate) fn static_groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup {
            source: i.to_string(),
            targets: sc.targets.iter().map(|t| address_only(&t.value)).collect(),
            labels: sc.labels.clone(),
        })
        .collect()
}

fn address_only(address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(ADDRESS_LABEL.to_owned(), address.to_owned())])
}

/// Starts the providers: the static groups (when there are any) are provider 0 and are sent at once; each
/// file_sd config gets a watcher task. Returns the tasks to abort when the job stops or changes.
pub(crate) fn start(statics: &[TargetGroup], files: &[FileSdSpec], tx: &mpsc::Sender<Update>) -> Vec<JoinHandle<()>> {
    let mut provider = 0;
    let mut tasks = Vec::new();
    if !statics.is_empty() {
        // The channel is new and has room for every provider's first update.
        let _ = tx.try_send(Update { provider, groups: statics.to_vec() });
        provider += 1;
    }
    for spec in files {
        tasks.push(tokio::spawn(file::watch(spec.clone(), provider, tx.clone())));
        provider += 1;
    }
    tasks
}
