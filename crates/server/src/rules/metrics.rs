//! The rule manager's self-metrics, Prometheus' `prometheus_rule_*` under vigil's names, one series per group
//! labelled `rule_group="<file>;<name>"`.

use vigil_model::{Desc, MetricSink};

use super::manager::RuleManager;

impl RuleManager {
    /// Writes the rule metrics into `sink`.
    pub fn collect_metrics(&self, sink: &mut dyn MetricSink) {
        let evaluations = Desc::counter("vigil_rule_evaluations_total", "Rule evaluations.");
        let failures = Desc::counter("vigil_rule_evaluation_failures_total", "Rule evaluations that failed.");
        let iterations = Desc::counter("vigil_rule_group_iterations_total", "Scheduled evaluations of rule groups.");
        let missed = Desc::counter(
            "vigil_rule_group_iterations_missed_total",
            "Evaluations of rule groups skipped because the previous one ran too long.",
        );
        let early = Desc::counter(
            "vigil_rule_group_early_evaluations_total",
            "Evaluations of a group's alerting rules alone, between iterations: new samples, or a `for` ending.",
        );
        let duration =
            Desc::gauge("vigil_rule_group_last_duration_seconds", "How long the last evaluation of the group took.");
        let interval = Desc::gauge("vigil_rule_group_interval_seconds", "The interval of the rule group.");
        let rules = Desc::gauge("vigil_rule_group_rules", "Rules in the group.");
        let last = Desc::gauge(
            "vigil_rule_group_last_evaluation_timestamp_seconds",
            "When the group was last evaluated, seconds since the epoch.",
        );
        for view in self.groups() {
            let key = format!("{};{}", view.group.file(), view.group.name());
            let labels = [("rule_group", key.as_str())];
            let s = &view.stats;
            sink.sample(&evaluations, &labels, s.evaluations as f64);
            sink.sample(&failures, &labels, s.failures as f64);
            sink.sample(&iterations, &labels, s.iterations as f64);
            sink.sample(&missed, &labels, s.iterations_missed as f64);
            sink.sample(&early, &labels, s.early_evaluations as f64);
            sink.sample(&duration, &labels, s.last_duration.as_secs_f64());
            sink.sample(&interval, &labels, view.group.interval_ms() as f64 / 1000.0);
            sink.sample(&rules, &labels, view.group.rules().len() as f64);
            sink.sample(&last, &labels, s.last_eval_wall_ms.map_or(0.0, |t| t as f64 / 1000.0));
        }
    }
}
