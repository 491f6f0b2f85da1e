//! Prometheus recording and alerting rules, unchanged: rule files (`file.rs`, checked as `promtool check rules`
//! does in `validate.rs`), their evaluation with Prometheus 2.42's semantics (`group.rs`, `recording.rs`,
//! `alerting.rs`) over any [`RuleStore`], and `promtool test rules` (`unittest.rs`).
//!
//! Templates in alert labels and annotations go through an [`Expander`]: [`GoExpander`] is Prometheus' (Go
//! `text/template` from vigil-template), [`PlainExpander`] leaves them as written for tests.
//! No network, no wire formats: sending alerts is the caller's business ([`Notification`]).

mod alerting;
mod error;
mod file;
mod go_expander;
mod group;
mod hash;
pub mod packs;
mod recording;
mod selectors;
mod store;
mod template;
pub mod unittest;
mod validate;

pub use alerting::{
    Alert, AlertState, AlertingRule, Notification, RestoreOptions, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC,
    ALERT_NAME_LABEL, ALERT_STATE_LABEL, RESOLVED_RETENTION_MS,
};
pub use error::FileError;
pub use file::{
    load_rule_file, load_rule_file_in, parse_rule_file, parse_rule_file_in, GroupSpec, QueryLanguage, RuleFile,
    RuleKind, RuleSpec, MAX_RULE_FILE_BYTES,
};
pub use go_expander::GoExpander;
pub use group::{EvalContext, GroupEval, Health, Rule, RuleEval, RuleGroup, DEFAULT_RESEND_DELAY_MS};
pub use recording::RecordingRule;
pub use store::{Refusal, RuleStore};
pub use template::{is_templated, Expander, PlainExpander, QueryFn, TemplateData};
pub use validate::{duplicate_rules, duplicates_message, is_label_name, is_metric_name, DuplicateRule};
