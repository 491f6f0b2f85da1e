//! A rule group: its rules evaluated in order at one timestamp, each seeing what the earlier ones wrote; the
//! staleness markers for series a rule stopped producing; evaluation timestamps aligned as Prometheus aligns
//! them; state carried over a reload. Prometheus 2.42's `rules/manager.go` (`Group`).

use std::collections::HashSet;

use vigil_model::Labels;
use vigil_query::series_notation::STALE_NAN;
use vigil_query::{Engine, Sample, Storage, Value};

use crate::alerting::{AlertState, AlertingRule, Notification, RestoreOptions};
use crate::hash::labels_hash;
use crate::recording::RecordingRule;
use crate::store::RuleStore;
use crate::template::Expander;
use crate::{GroupSpec, QueryLanguage, RuleKind};

/// Prometheus' default `--rules.alert.resend-delay`.
pub const DEFAULT_RESEND_DELAY_MS: i64 = 60_000;

/// Whether a rule's last evaluation worked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    #[default]
    Unknown,
    Good,
    /// The last evaluation failed (or its results could not all be stored), with that error.
    Bad(String),
}

/// One rule of a group.
#[derive(Clone, Debug)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => r.name(),
            Rule::Alerting(r) => r.name(),
        }
    }

    pub fn health(&self) -> &Health {
        match self {
            Rule::Recording(r) => &r.health,
            Rule::Alerting(r) => &r.health,
        }
    }

    /// The error of the last evaluation, if it failed.
    pub fn last_error(&self) -> Option<&str> {
        match self.health() {
            Health::Bad(e) => Some(e),
            _ => None,
        }
    }

    pub fn as_alerting(&self) -> Option<&AlertingRule> {
        match self {
            Rule::Alerting(r) => Some(r),
            Rule::Recording(_) => None,
        }
    }

    pub fn as_alerting_mut(&mut self) -> Option<&mut AlertingRule> {
        match self {
            Rule::Alerting(r) => Some(r),
            Rule::Recording(_) => None,
        }
    }

    fn health_mut(&mut self) -> &mut Health {
        match self {
            Rule::Recording(r) => &mut r.health,
            Rule::Alerting(r) => &mut r.health,
        }
    }

    /// The rule's name and labels, by which a reload matches old and new rules.
    fn identity(&self) -> (&str, &[(String, String)]) {
        match self {
            Rule::Recording(r) => (r.name(), r.labels()),
            Rule::Alerting(r) => (r.name(), r.labels()),
        }
    }
}

/// What an evaluation needs besides the store.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub engine: &'a Engine,
    pub expander: &'a dyn Expander,
    /// The server's external labels, which alert templates see.
    pub external_labels: &'a Labels,
    /// The server's external URL: templates see it, and alerts link to it.
    pub external_url: &'a str,
    /// How long before a firing alert is sent again (Prometheus' `--rules.alert.resend-delay`).
    pub resend_delay_ms: i64,
    /// Where LogQL rules read logs; without one, they fail.
    pub logs: Option<&'a dyn vigil_logql::LogStorage>,
    /// The language of the group being evaluated, set by [`RuleGroup`] itself.
    pub language: QueryLanguage,
}

impl<'a> EvalContext<'a> {
    pub fn new(engine: &'a Engine, expander: &'a dyn Expander) -> EvalContext<'a> {
        static NO_LABELS: std::sync::LazyLock<Labels> = std::sync::LazyLock::new(Labels::default);
        EvalContext {
            engine,
            expander,
            external_labels: &NO_LABELS,
            external_url: "",
            resend_delay_ms: DEFAULT_RESEND_DELAY_MS,
            logs: None,
            language: QueryLanguage::PromQL,
        }
    }
}

/// The outcome of one rule in one evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleEval {
    /// The samples handed to the store: the rule's results, then staleness markers for the series it produced
    /// in its previous evaluation and not in this one. Empty when the rule failed.
    pub samples: Vec<Sample>,
    /// Why the rule failed, or why some of its samples were refused.
    pub error: Option<String>,
    /// Alerts due to Alertmanager (alerting rules only).
    pub notifications: Vec<Notification>,
    /// How long the rule took, query and appends included.
    pub duration: std::time::Duration,
}

/// The outcome of one evaluation of a group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupEval {
    /// One per rule, in order.
    pub rules: Vec<RuleEval>,
    /// Staleness markers for the series of rules removed by a reload ([`RuleGroup::copy_state_from`]).
    pub removed_series_markers: Vec<Sample>,
}

/// A group of rules evaluated together, in order, every `interval`.
#[derive(Clone, Debug)]
pub struct RuleGroup {
    name: String,
    file: String,
    interval_ms: i64,
    limit: usize,
    rules: Vec<Rule>,
    /// Per rule, the series it wrote in its last successful evaluation.
    series_in_previous_eval: Vec<HashSet<Labels>>,
    /// Series of rules gone after a reload, to be marked stale at the next evaluation.
    stale_series: Vec<Labels>,
    should_restore: bool,
    language: QueryLanguage,
    last_eval_ms: Option<i64>,
    /// The last evaluation of any kind: regular, or of the alerting rules alone.
    last_any_eval_ms: Option<i64>,
}

impl RuleGroup {
    /// A group from its validated description. `default_interval_ms` applies when the group has no `interval`
    /// of its own. With `restore`, the group belongs to a server that just started: its alerting rules write no
    /// `ALERTS` series until [`RuleGroup::restore_for_state`] has run, which Prometheus does after the second
    /// evaluation.
    pub fn new(spec: GroupSpec, default_interval_ms: i64, restore: bool) -> RuleGroup {
        let rules: Vec<Rule> = spec
            .rules
            .into_iter()
            .map(|r| match r.kind {
                RuleKind::Recording => Rule::Recording(RecordingRule::new(r)),
                RuleKind::Alerting { .. } => Rule::Alerting(AlertingRule::new(r, !restore)),
            })
            .collect();
        RuleGroup {
            name: spec.name,
            file: spec.file,
            interval_ms: spec.interval_ms.unwrap_or(default_interval_ms).max(1),
            limit: spec.limit,
            series_in_previous_eval: vec![HashSet::new(); rules.len()],
            rules,
            stale_series: Vec::new(),
            should_restore: restore,
            language: spec.language,
            last_eval_ms: None,
            last_any_eval_ms: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// What the group's expressions are written in.
    pub fn language(&self) -> QueryLanguage {
        self.language
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether [`RuleGroup::restore_for_state`] is still due.
    pub fn should_restore(&self) -> bool {
        self.should_restore
    }

    /// The time of the last evaluation.
    pub fn last_eval_ms(&self) -> Option<i64> {
        self.last_eval_ms
    }

    /// The evaluation time at or before `now_ns` (nanoseconds since the epoch), in milliseconds: evaluations
    /// fall on multiples of the interval shifted by an offset derived from the hash of the group's file and
    /// name, so that groups spread over the interval (Prometheus' `Group.EvalTimestamp`).
    pub fn eval_timestamp_ms(&self, now_ns: i64) -> i64 {
        let interval = i128::from(self.interval_ms) * 1_000_000;
        let hash = labels_hash([("file", self.file.as_str()), ("name", self.name.as_str())]);
        let offset = i128::from(hash) % interval;
        let adjusted = i128::from(now_ns) - offset;
        let base = adjusted - adjusted.rem_euclid(interval);
        ((base + offset).div_euclid(1_000_000)) as i64
    }

    /// Evaluates every rule at `t_ms` in order (Prometheus' `Group.Eval`). Each rule's results, followed by
    /// staleness markers for the series it no longer produces, go to `store` before the next rule runs. A rule
    /// that fails writes nothing, not even staleness markers, and keeps its previous series.
    pub fn eval(&mut self, t_ms: i64, ctx: &EvalContext<'_>, store: &mut dyn RuleStore) -> GroupEval {
        let ctx = &EvalContext { language: self.language, ..*ctx };
        let mut report = GroupEval::default();
        for i in 0..self.rules.len() {
            report.rules.push(self.eval_rule(i, t_ms, ctx, store));
        }
        if !self.stale_series.is_empty() {
            let markers: Vec<Sample> = std::mem::take(&mut self.stale_series)
                .into_iter()
                .map(|labels| Sample { labels, t: t_ms, v: STALE_NAN })
                .collect();
            // Refusals are expected here too: a renamed rule may have written the series since.
            let _ = store.append(&markers);
            report.removed_series_markers = markers;
        }
        self.last_eval_ms = Some(t_ms);
        self.last_any_eval_ms = Some(self.last_any_eval_ms.map_or(t_ms, |last| last.max(t_ms)));
        report
    }

    /// Evaluates only the alerting rules at `t_ms`, between the group's regular evaluations: the server does so
    /// when samples of the series they select arrive, and when a pending alert's `for` ends, so that an alert
    /// fires as soon as its condition has held long enough rather than at the next aligned evaluation. Recording
    /// rules keep their aligned timestamps. Returns one outcome per alerting rule, in order.
    pub fn eval_alerting(&mut self, t_ms: i64, ctx: &EvalContext<'_>, store: &mut dyn RuleStore) -> Vec<RuleEval> {
        let ctx = &EvalContext { language: self.language, ..*ctx };
        let alerting: Vec<usize> = (0..self.rules.len()).filter(|&i| self.rules[i].as_alerting().is_some()).collect();
        let out = alerting.into_iter().map(|i| self.eval_rule(i, t_ms, ctx, store)).collect();
        self.last_any_eval_ms = Some(self.last_any_eval_ms.map_or(t_ms, |last| last.max(t_ms)));
        out
    }

    /// The earliest time after the group's last evaluation (regular or [`RuleGroup::eval_alerting`]) at which a
    /// pending alert will have held for its rule's `for`: an evaluation then fires it.
    pub fn next_hold_deadline_ms(&self) -> Option<i64> {
        let after = self.last_any_eval_ms?;
        self.rules
            .iter()
            .filter_map(Rule::as_alerting)
            .filter(|r| r.hold_ms() > 0)
            .flat_map(|r| r.alerts().filter(|a| a.state == AlertState::Pending).map(|a| a.active_at + r.hold_ms()))
            .filter(|&deadline| deadline > after)
            .min()
    }

    /// The time of the last evaluation of any kind, regular or [`RuleGroup::eval_alerting`].
    pub fn last_any_eval_ms(&self) -> Option<i64> {
        self.last_any_eval_ms
    }

    /// The metric names the alerting rules' expressions select, whose new samples may change an alert; `None`
    /// when some selector does not name its metric (any sample may matter). Rules that fail to parse are left
    /// out: they fail at every evaluation anyway.
    pub fn alerting_metric_names(&self) -> Option<std::collections::BTreeSet<String>> {
        let mut names = std::collections::BTreeSet::new();
        if self.language == QueryLanguage::LogQL {
            // Log rules read no metrics; they wait for their regular evaluations.
            return Some(names);
        }
        for rule in self.rules.iter().filter_map(Rule::as_alerting) {
            if let Ok(expr) = vigil_query::parse_expr(rule.expr()) {
                names.extend(crate::selectors::metric_names(&expr)?);
            }
        }
        Some(names)
    }

    fn eval_rule(&mut self, i: usize, t_ms: i64, ctx: &EvalContext<'_>, store: &mut dyn RuleStore) -> RuleEval {
        let started = std::time::Instant::now();
        let outcome = match &mut self.rules[i] {
            Rule::Recording(r) => r.eval(t_ms, ctx, store.storage(), self.limit),
            Rule::Alerting(r) => r.eval(t_ms, ctx, store.storage(), self.limit),
        };
        let mut rule_eval = RuleEval::default();
        let vector = match outcome {
            Ok(vector) => vector,
            Err(e) => {
                *self.rules[i].health_mut() = Health::Bad(e.clone());
                rule_eval.error = Some(e);
                rule_eval.duration = started.elapsed();
                return rule_eval;
            }
        };
        *self.rules[i].health_mut() = Health::Good;
        if let Rule::Alerting(r) = &mut self.rules[i] {
            rule_eval.notifications = r.send_alerts(t_ms, ctx.resend_delay_ms, self.interval_ms, ctx.external_url);
        }
        let mut returned: HashSet<Labels> = vector.iter().map(|s| s.labels.clone()).collect();
        let mut stale: Vec<&Labels> = self.series_in_previous_eval[i].difference(&returned).collect();
        stale.sort();
        let results = vector.len();
        let mut batch = vector;
        batch.extend(stale.into_iter().map(|l| Sample { labels: l.clone(), t: t_ms, v: STALE_NAN }));
        match store.append(&batch) {
            Err(e) => {
                *self.rules[i].health_mut() = Health::Bad(e.clone());
                rule_eval.error = Some(e);
            }
            Ok(refused) => {
                // Refused staleness markers are expected (another rule may write the series now).
                for (index, why) in refused.into_iter().filter(|(index, _)| *index < results) {
                    returned.remove(&batch[index].labels);
                    *self.rules[i].health_mut() = Health::Bad(why.to_string());
                    rule_eval.error = Some(why.to_string());
                }
                self.series_in_previous_eval[i] = returned;
            }
        }
        rule_eval.samples = batch;
        rule_eval.duration = started.elapsed();
        rule_eval
    }

    /// Restores the `for` state of the group's alerts from the `ALERTS_FOR_STATE` series (Prometheus'
    /// `RestoreForState`), then lets the alerting rules write their series. Due once, after the second
    /// evaluation of a group created with `restore`. Returns the first storage error met, if any.
    pub fn restore_for_state(
        &mut self,
        now_ms: i64,
        storage: &dyn Storage,
        opts: &RestoreOptions,
    ) -> Result<(), String> {
        let mut first_error = None;
        for rule in &mut self.rules {
            if let Rule::Alerting(r) = rule {
                if let Err(e) = r.restore_for_state(now_ms, storage, opts) {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.should_restore = false;
        first_error.map_or(Ok(()), Err)
    }

    /// Takes over what `from`, the same group before a reload, knew (Prometheus' `CopyState`): rules are matched
    /// by name and labels, duplicates in order; a matched rule keeps its previous series and, for alerting rules,
    /// its alerts. Series of rules that are gone are marked stale at the next evaluation.
    pub fn copy_state_from(&mut self, mut from: RuleGroup) {
        self.last_eval_ms = from.last_eval_ms;
        self.last_any_eval_ms = from.last_any_eval_ms;
        let mut taken = vec![false; from.rules.len()];
        for i in 0..self.rules.len() {
            let found =
                (0..from.rules.len()).find(|&fi| !taken[fi] && from.rules[fi].identity() == self.rules[i].identity());
            let Some(fi) = found else { continue };
            taken[fi] = true;
            self.series_in_previous_eval[i] = std::mem::take(&mut from.series_in_previous_eval[fi]);
            if let (Rule::Alerting(new), Rule::Alerting(old)) = (&mut self.rules[i], &mut from.rules[fi]) {
                new.take_alerts(old);
            }
        }
        self.stale_series = std::mem::take(&mut from.stale_series);
        for (fi, series) in from.series_in_previous_eval.into_iter().enumerate() {
            if !taken[fi] {
                let mut series: Vec<Labels> = series.into_iter().collect();
                series.sort();
                self.stale_series.extend(series);
            }
        }
    }

    /// Every series the group's rules wrote last, for the staleness markers due when the group is removed
    /// (Prometheus writes them two intervals after the group stopped, unless another group took them over).
    pub fn into_written_series(self) -> Vec<Labels> {
        let mut out: Vec<Labels> = self.stale_series;
        for series in self.series_in_previous_eval {
            let mut series: Vec<Labels> = series.into_iter().collect();
            series.sort();
            out.extend(series);
        }
        out
    }
}

/// Evaluates a rule expression as Prometheus' `EngineQueryFunc` does: a scalar becomes one sample without labels,
/// anything else but a vector is an error. LogQL groups evaluate it as Loki's ruler does, over `ctx.logs`.
pub(crate) fn query_vector(
    ctx: &EvalContext<'_>,
    storage: &dyn Storage,
    expr: &str,
    t_ms: i64,
) -> Result<Vec<Sample>, String> {
    if ctx.language == QueryLanguage::LogQL {
        return log_query_vector(ctx, expr, t_ms);
    }
    match ctx.engine.instant_query(storage, expr, t_ms).map_err(|e| e.to_string())?.value {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![Sample { labels: Labels::default(), t, v }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

fn log_query_vector(ctx: &EvalContext<'_>, expr: &str, t_ms: i64) -> Result<Vec<Sample>, String> {
    let logs = ctx.logs.ok_or("log rules need the log store, which this evaluation does not have")?;
    let params = vigil_logql::Params::instant(t_ms.saturating_mul(1_000_000));
    let limits = vigil_logql::Limits {
        deadline: Some(std::time::Instant::now() + ctx.engine.options().timeout),
        ..vigil_logql::Limits::default()
    };
    match vigil_logql::query(logs, expr, &params, &limits).map_err(|e| e.to_string())? {
        vigil_logql::QueryResult::Vector(v) => {
            Ok(v.into_iter().map(|(labels, _, v)| Sample { labels, t: t_ms, v }).collect())
        }
        vigil_logql::QueryResult::Scalar(_, v) => Ok(vec![Sample { labels: Labels::default(), t: t_ms, v }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}
