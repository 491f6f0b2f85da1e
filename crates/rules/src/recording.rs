//! Recording rules: the expression's result renamed to the rule's name, with the rule's labels on top.

use vigil_model::METRIC_NAME;
use vigil_query::{Sample, Storage};

use crate::group::{query_vector, EvalContext};
use crate::{Health, RuleSpec};

/// A recording rule and the outcome of its last evaluation.
#[derive(Clone, Debug)]
pub struct RecordingRule {
    name: String,
    expr: String,
    labels: Vec<(String, String)>,
    pub(crate) health: Health,
}

impl RecordingRule {
    pub(crate) fn new(spec: RuleSpec) -> RecordingRule {
        RecordingRule { name: spec.name, expr: spec.expr, labels: spec.labels, health: Health::Unknown }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The rule's labels, sorted by name.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The series this rule produces at `t_ms`, or why it produced none (Prometheus' `RecordingRule.Eval`).
    pub(crate) fn eval(
        &self,
        t_ms: i64,
        ctx: &EvalContext<'_>,
        storage: &dyn Storage,
        limit: usize,
    ) -> Result<Vec<Sample>, String> {
        let mut vector = query_vector(ctx, storage, &self.expr, t_ms)?;
        for sample in &mut vector {
            sample.labels.set(METRIC_NAME, &self.name);
            for (name, value) in &self.labels {
                sample.labels.set(name, value);
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(vector.len());
        if !vector.iter().all(|s| seen.insert(&s.labels)) {
            return Err("vector contains metrics with the same labelset after applying rule labels".into());
        }
        if limit > 0 && vector.len() > limit {
            return Err(format!("exceeded limit of {limit} with {} series", vector.len()));
        }
        Ok(vector)
    }
}
