//! Prometheus' rule manager in the server: rule files loaded at start and on reload (`files.rs`), each group
//! evaluated on its own task at Prometheus' aligned times (`manager.rs`), results appended durably to the tsdb
//! (`store.rs`), alerts handed to an [`AlertSink`] (`sink.rs`), self-metrics (`metrics.rs`).

mod files;
mod manager;
mod metrics;
mod sink;
mod store;
mod watch;

pub use files::{load_all_rule_files, load_rule_files, rule_file_paths};
pub use manager::{GroupStats, GroupView, LoadedRules, RuleManager, RuleOptions, EARLY_EVALUATION_GAP};
pub use sink::{to_postable, AlertSink, LogSink};
pub use store::DbRuleStore;
pub use watch::IngestWatch;
