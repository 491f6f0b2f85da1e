//! Helpers: a group parsed from YAML, evaluated against a `MemStorage` loaded in series notation, and results
//! printed compactly (`labels value`, `stale` for staleness markers) so tests read as timelines.

use vigil_model::Labels;
use vigil_query::series_notation::{parse_series_line, SeqValue};
use vigil_query::storage::STALE_NAN_BITS;
use vigil_query::{Engine, EngineOptions, MemStorage, Sample, Value};
use vigil_rules::{parse_rule_file, EvalContext, Expander, GroupEval, PlainExpander, RuleGroup};

pub const MIN: i64 = 60_000;

/// The only group of a rule file.
pub fn group(yaml: &str, restore: bool) -> RuleGroup {
    let file = parse_rule_file(yaml, "rules.yml", &PlainExpander).unwrap_or_else(|e| panic!("{e:?}"));
    let spec = file.groups.into_iter().next().expect("a group");
    RuleGroup::new(spec, MIN, restore)
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// `labels value`, or `labels stale`.
pub fn show(s: &Sample) -> String {
    let v = if s.v.to_bits() == STALE_NAN_BITS { "stale".to_string() } else { s.v.to_string() };
    format!("{} {v}", s.labels)
}

pub struct Harness {
    pub store: MemStorage,
    pub engine: Engine,
    pub group: RuleGroup,
    pub expander: Box<dyn Expander>,
    pub external_labels: Labels,
    pub external_url: String,
}

impl Harness {
    pub fn new(yaml: &str) -> Harness {
        Harness::with_group(group(yaml, false))
    }

    pub fn with_group(group: RuleGroup) -> Harness {
        Harness {
            store: MemStorage::new(),
            engine: Engine::new(EngineOptions { threads_per_query: 1, ..EngineOptions::default() }),
            group,
            expander: Box::new(PlainExpander),
            external_labels: Labels::default(),
            external_url: "http://vigil.example:9090".into(),
        }
    }

    /// Loads `metric{...} values`, one value per `step_ms` from 0.
    pub fn load(&mut self, line: &str, step_ms: i64) {
        let (labels, values) = parse_series_line(line).unwrap();
        let samples = values.iter().enumerate().filter_map(|(i, v)| match v {
            SeqValue::Float(f) => Some((i as i64 * step_ms, *f)),
            _ => None,
        });
        self.store.add(labels, samples);
    }

    pub fn eval(&mut self, t: i64) -> GroupEval {
        let ctx = EvalContext {
            external_labels: &self.external_labels,
            external_url: &self.external_url,
            ..EvalContext::new(&self.engine, self.expander.as_ref())
        };
        self.group.eval(t, &ctx, &mut self.store)
    }

    /// What the rules appended at `t`, all rules together, each as `labels value`.
    pub fn eval_shown(&mut self, t: i64) -> Vec<String> {
        let report = self.eval(t);
        for (i, r) in report.rules.iter().enumerate() {
            assert_eq!(r.error, None, "rule {i} at {t}");
        }
        report.rules.iter().flat_map(|r| r.samples.iter().map(show)).collect()
    }

    /// An instant query, as `labels value` lines sorted.
    pub fn query(&self, q: &str, t: i64) -> Vec<String> {
        let value = self.engine.instant_query(&self.store, q, t).unwrap().value;
        let mut out: Vec<String> = match value {
            Value::Vector(v) => v.iter().map(show).collect(),
            Value::Scalar { v, .. } => vec![v.to_string()],
            other => panic!("{other:?}"),
        };
        out.sort();
        out
    }
}
