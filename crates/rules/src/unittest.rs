//! `promtool test rules`: rule unit test files read and run as promtool does, failures printed in its words.
//!
//! Each test group loads its input series into a `MemStorage` lazily (samples up to the evaluation time only),
//! evaluates every rule group from time 0 to the largest `eval_time`, one `evaluation_interval` apart, checks
//! firing alerts at each `alert_rule_test` time as they happen, then runs the `promql_expr_test` queries. Native
//! histograms are not supported: cases using them are skipped and reported, never passed. With an expander that
//! does not expand templates ([`crate::PlainExpander`]), alert tests that depend on expanded templates are skipped
//! and reported too.
//!
//! Two things follow later promtool versions rather than 2.42: a test group without `interval` uses
//! `evaluation_interval` (2.42 loaded such series at interval 0), and an expected sample may carry a `histogram`
//! (only to be skipped).

mod format;
mod glob;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use vigil_model::Labels;
use vigil_query::series_notation::{parse_metric, parse_values, SeqValue};
use vigil_query::{Engine, EngineOptions, MemStorage, Value};

use crate::error::{has_content, read_capped, yaml_error, FileError};
use crate::file::Pairs;
use crate::template::{is_templated, Expander};
use crate::{load_rule_file, AlertState, EvalContext, Rule, RuleGroup};
use format::{format_float_e, go_duration, go_quote, indent_lines, labels_string};

/// The largest test file accepted.
pub const MAX_TEST_FILE_BYTES: u64 = 16 << 20;

const DEFAULT_EVALUATION_INTERVAL_MS: i64 = 60_000;

/// How tests run.
#[derive(Clone, Copy)]
pub struct UnitTestOptions<'a> {
    /// Expands alert templates and checks them when rule files load.
    pub expander: &'a dyn Expander,
}

/// Why a case was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NativeHistograms,
    NeedsTemplateEngine,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NativeHistograms => "native histograms are not supported",
            SkipReason::NeedsTemplateEngine => "needs the template engine",
        })
    }
}

/// A case (or a whole test group, or an input series) that was not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub reason: SkipReason,
    /// What was skipped, as `test group 2: expr: "x", time: 1m`.
    pub what: String,
}

/// The outcome of one test file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestFileReport {
    pub file: String,
    /// Failures, each as promtool prints it (possibly several lines).
    pub errors: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// Such as a `rule_files` pattern matching nothing.
    pub warnings: Vec<String>,
}

impl TestFileReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }

    /// Writes the report as promtool does: progress and success on `out`, failures on `err`; skipped cases
    /// are listed on `out`.
    pub fn write(&self, out: &mut dyn std::io::Write, err: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "Unit Testing:  {}", self.file)?;
        for w in &self.warnings {
            writeln!(err, "  WARNING: {w}")?;
        }
        for s in &self.skipped {
            writeln!(out, "  SKIPPED ({}): {}", s.reason, s.what)?;
        }
        if !self.skipped.is_empty() {
            writeln!(out, "  {} skipped", self.skipped.len())?;
        }
        if self.errors.is_empty() {
            writeln!(out, "  SUCCESS")?;
        } else {
            writeln!(err, "  FAILED:")?;
            for e in &self.errors {
                writeln!(err, "{e}")?;
                writeln!(out)?;
            }
        }
        writeln!(out)
    }
}

/// Runs one test file.
pub fn run_test_file(path: &Path, options: &UnitTestOptions<'_>) -> TestFileReport {
    let mut report = TestFileReport { file: path.display().to_string(), ..TestFileReport::default() };
    if let Err(e) = run(path, options, &mut report) {
        report.errors.push(e.to_string());
    }
    report
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestFileNode {
    #[serde(default)]
    rule_files: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    evaluation_interval: Option<Spanned<String>>,
    #[serde(default)]
    group_eval_order: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    tests: Option<Vec<Spanned<TestGroupNode>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroupNode {
    #[serde(default)]
    interval: Option<Spanned<String>>,
    #[serde(default)]
    input_series: Option<Vec<Spanned<SeriesNode>>>,
    #[serde(default)]
    alert_rule_test: Option<Vec<Spanned<AlertTestNode>>>,
    #[serde(default)]
    promql_expr_test: Option<Vec<Spanned<ExprTestNode>>>,
    #[serde(default)]
    external_labels: Option<Spanned<Pairs>>,
    #[serde(default)]
    external_url: Option<Spanned<String>>,
    #[serde(default)]
    name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesNode {
    #[serde(default)]
    series: Option<Spanned<String>>,
    #[serde(default)]
    values: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestNode {
    #[serde(default)]
    eval_time: Option<Spanned<String>>,
    #[serde(default)]
    alertname: Option<Spanned<String>>,
    #[serde(default)]
    exp_alerts: Option<Vec<Spanned<ExpAlertNode>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlertNode {
    #[serde(default)]
    exp_labels: Option<Pairs>,
    #[serde(default)]
    exp_annotations: Option<Pairs>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTestNode {
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default)]
    eval_time: Option<Spanned<String>>,
    #[serde(default)]
    exp_samples: Option<Vec<Spanned<SampleNode>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleNode {
    #[serde(default)]
    labels: Option<Spanned<String>>,
    #[serde(default)]
    value: Option<Spanned<f64>>,
    /// A native histogram; only recognised, to skip the case.
    #[serde(default)]
    histogram: Option<Spanned<String>>,
}

/// A duration of the test file (`0`, `1m`, `1d`, ...), 0 when absent.
fn duration(node: &Option<Spanned<String>>, origin: &str) -> Result<i64, FileError> {
    match node {
        None => Ok(0),
        Some(d) => vigil_model::time::parse_duration(&d.value)
            .map_err(|e| FileError::at(origin, &d.referenced, format!("not a valid duration: {e}"))),
    }
}

fn run(path: &Path, options: &UnitTestOptions<'_>, report: &mut TestFileReport) -> Result<(), FileError> {
    let origin = path.display().to_string();
    let text = read_capped(path, MAX_TEST_FILE_BYTES)?;
    let file: TestFileNode = if has_content(&text) {
        serde_saphyr::from_str(&text).map_err(|e| yaml_error(&origin, &e))?
    } else {
        TestFileNode::default()
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut rule_files: Vec<PathBuf> = Vec::new();
    for pattern in file.rule_files.unwrap_or_default() {
        let joined = if pattern.value.is_empty() || Path::new(&pattern.value).is_absolute() {
            PathBuf::from(&pattern.value)
        } else {
            base.join(&pattern.value)
        };
        let shown = joined.display().to_string();
        let found = glob::glob(&shown).map_err(|e| FileError::at(&origin, &pattern.referenced, e))?;
        if found.is_empty() {
            report.warnings.push(format!("no file match pattern {shown}"));
        }
        rule_files.extend(found);
    }
    let eval_interval = match duration(&file.evaluation_interval, &origin)? {
        0 => DEFAULT_EVALUATION_INTERVAL_MS,
        ms => ms,
    };
    let mut order: HashMap<String, usize> = HashMap::new();
    for (i, name) in file.group_eval_order.unwrap_or_default().into_iter().enumerate() {
        if order.insert(name.value.clone(), i).is_some() {
            let msg = format!("group name repeated in evaluation order: {}", name.value);
            return Err(FileError::at(&origin, &name.referenced, msg));
        }
    }
    let suite = Suite { origin: &origin, options, rule_files: &rule_files, eval_interval, order: &order };
    for (i, group) in file.tests.unwrap_or_default().into_iter().enumerate() {
        let outcome =
            GroupRun { suite: &suite, index: i + 1, name: String::new(), report: &mut *report }.run(group.value);
        if let Err(e) = outcome {
            report.errors.push(e.to_string());
        }
    }
    Ok(())
}

/// What every test group of a file shares.
struct Suite<'a> {
    origin: &'a str,
    options: &'a UnitTestOptions<'a>,
    rule_files: &'a [PathBuf],
    eval_interval: i64,
    order: &'a HashMap<String, usize>,
}

struct GroupRun<'a, 'r> {
    suite: &'a Suite<'a>,
    index: usize,
    name: String,
    report: &'r mut TestFileReport,
}

/// An input series: its samples, by time.
struct Input {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    /// How many have been loaded into the storage.
    loaded: usize,
}

/// An alert as compared: labels and annotations, each sorted by name.
type AlertView = (Vec<(String, String)>, Vec<(String, String)>);

struct AlertCase {
    eval_time: i64,
    alertname: String,
    expected: Vec<AlertView>,
}

impl GroupRun<'_, '_> {
    fn skip(&mut self, reason: SkipReason, what: String) {
        let group = if self.name.is_empty() { format!("test group {}", self.index) } else { self.name.clone() };
        self.report.skipped.push(Skipped { reason, what: format!("{group}: {what}") });
    }

    fn run(&mut self, tg: TestGroupNode) -> Result<(), FileError> {
        let origin = self.suite.origin;
        self.name = tg.name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
        let interval = match duration(&tg.interval, origin)? {
            0 => self.suite.eval_interval,
            ms => ms,
        };

        // Input series, as promtool's lazy loader reads them; a later definition of a series replaces an earlier.
        let mut inputs: Vec<Input> = Vec::new();
        let mut histogram_series: BTreeSet<String> = BTreeSet::new();
        for node in tg.input_series.unwrap_or_default() {
            let at = node.referenced;
            let node = node.value;
            let series = node.series.as_ref().map_or("", |s| s.value.as_str());
            let series_at = node.series.as_ref().map_or(at, |s| s.referenced);
            let parsed = parse_metric(series).and_then(|(labels, rest)| {
                if rest.trim().is_empty() {
                    Ok(labels)
                } else {
                    Err(format!("unexpected {:?} after the series", rest.trim()))
                }
            });
            let labels = parsed
                .map_err(|e| FileError::at(origin, &series_at, format!("invalid input series {series:?}: {e}")))?;
            let values_text = node.values.as_ref().map_or("", |v| v.value.as_str());
            let values_at = node.values.as_ref().map_or(at, |v| v.referenced);
            let values = parse_values(values_text)
                .map_err(|e| FileError::at(origin, &values_at, format!("invalid values of {series:?}: {e}")))?;
            if values.contains(&SeqValue::Histogram) {
                histogram_series.insert(labels.metric_name().unwrap_or_default().to_owned());
                self.skip(SkipReason::NativeHistograms, format!("input series {series:?}"));
                continue;
            }
            let samples = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    SeqValue::Float(f) => Some((i as i64 * interval, *f)),
                    _ => None,
                })
                .collect();
            inputs.retain(|s| s.labels != labels);
            inputs.push(Input { labels, samples, loaded: 0 });
        }

        // The rule groups, loaded anew for every test group as promtool does.
        let mut groups: Vec<RuleGroup> = Vec::new();
        let mut load_errors = Vec::new();
        for file in self.suite.rule_files {
            match load_rule_file(file, self.suite.options.expander) {
                Ok(f) => groups.extend(f.groups.into_iter().map(|g| RuleGroup::new(g, interval, false))),
                Err(errors) => load_errors.extend(errors.into_iter().map(|e| e.to_string())),
            }
        }
        if !load_errors.is_empty() {
            self.report.errors.extend(load_errors);
            return Ok(());
        }
        let order = self.suite.order;
        groups.sort_by_key(|g| order.get(g.name()).copied().unwrap_or(0));
        if let Some(rule) = groups
            .iter()
            .flat_map(|g| g.rules())
            .find(|r| histogram_series.iter().any(|name| mentions(rule_expr(r), name)))
        {
            let what = format!("every case: rule {:?} reads a native histogram series", rule.name());
            self.skip(SkipReason::NativeHistograms, what);
            return Ok(());
        }

        // Alert tests, by evaluation time.
        let mut alert_cases: Vec<AlertCase> = Vec::new();
        let mut max_eval = 0i64;
        for node in tg.alert_rule_test.unwrap_or_default() {
            let node = node.value;
            let eval_time = duration(&node.eval_time, origin)?;
            max_eval = max_eval.max(eval_time);
            let alertname = node.alertname.map(|a| a.value).unwrap_or_default();
            if alertname.is_empty() {
                let in_group =
                    if self.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", self.name) };
                let when = vigil_model::time::format_duration(eval_time);
                self.report.errors.push(format!(
                    "an item under alert_rule_test misses required attribute alertname at eval_time {when}{in_group}"
                ));
                return Ok(());
            }
            let expected: Vec<AlertView> = node
                .exp_alerts
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    let a = a.value;
                    let mut labels: BTreeMap<String, String> = pairs(a.exp_labels).into_iter().collect();
                    labels.insert(crate::ALERT_NAME_LABEL.into(), alertname.clone());
                    let mut annotations = pairs(a.exp_annotations);
                    annotations.sort();
                    (labels.into_iter().collect(), annotations)
                })
                .collect();
            let expander = self.suite.options.expander;
            if !expected.is_empty() && !expander.expands_templates() && uses_templates(&groups, &alertname) {
                let when = vigil_model::time::format_duration(eval_time);
                self.skip(SkipReason::NeedsTemplateEngine, format!("alertname: {alertname}, time: {when}"));
                continue;
            }
            alert_cases.push(AlertCase { eval_time, alertname, expected });
        }
        let expr_cases = tg.promql_expr_test.unwrap_or_default();
        for case in &expr_cases {
            max_eval = max_eval.max(duration(&case.value.eval_time, origin)?);
        }
        alert_cases.sort_by_key(|c| c.eval_time);

        let engine = Engine::new(EngineOptions {
            default_subquery_step_ms: self.suite.eval_interval,
            threads_per_query: 1,
            ..EngineOptions::default()
        });
        let external_labels = Labels::from_pairs(pairs(tg.external_labels.map(|l| l.value)))
            .map_err(|e| FileError::whole(origin, e.to_string()))?;
        let external_url = tg.external_url.map(|u| u.value).unwrap_or_default();
        let ctx = EvalContext {
            external_labels: &external_labels,
            external_url: &external_url,
            ..EvalContext::new(&engine, self.suite.options.expander)
        };
        let mut storage = MemStorage::new();
        let mut next_alert_case = 0;
        let mut t = 0i64;
        while t <= max_eval {
            load_until(&mut inputs, &mut storage, t);
            let mut eval_errors = Vec::new();
            for group in &mut groups {
                group.eval(t, &ctx, &mut storage);
                for rule in group.rules() {
                    if let Some(e) = rule.last_error() {
                        eval_errors.push(format!("    rule: {}, time: {}, err: {e}", rule.name(), go_duration(t)));
                    }
                }
            }
            if !eval_errors.is_empty() {
                self.report.errors.extend(eval_errors);
                return Ok(());
            }
            // The alerts of an evaluation answer the cases in [t, t + evaluation interval).
            while next_alert_case < alert_cases.len()
                && alert_cases[next_alert_case].eval_time < t + self.suite.eval_interval
            {
                let case = &alert_cases[next_alert_case];
                next_alert_case += 1;
                if case.eval_time < t {
                    continue;
                }
                let mut got: Vec<AlertView> = groups
                    .iter()
                    .flat_map(|g| g.rules())
                    .filter_map(Rule::as_alerting)
                    .filter(|r| r.name() == case.alertname)
                    .flat_map(|r| r.active_alerts())
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| {
                        let labels = a.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                        (labels, a.annotations.clone())
                    })
                    .collect();
                got.sort();
                let mut expected = case.expected.clone();
                expected.sort();
                if got != expected {
                    let name = if self.name.is_empty() { String::new() } else { format!("    name: {},\n", self.name) };
                    let indent = "            ";
                    self.report.errors.push(format!(
                        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        vigil_model::time::format_duration(case.eval_time),
                        indent_lines(&alerts_string(&expected), indent),
                        indent_lines(&alerts_string(&got), indent),
                    ));
                }
            }
            t += self.suite.eval_interval;
        }

        for case in expr_cases {
            let case = case.value;
            let expr = case.expr.as_ref().map_or("", |e| e.value.as_str());
            let eval_time = duration(&case.eval_time, origin)?;
            let when = vigil_model::time::format_duration(eval_time);
            let head = format!("    expr: {}, time: {when}", go_quote(expr));
            let samples = case.exp_samples.unwrap_or_default();
            if samples.iter().any(|s| s.value.histogram.is_some())
                || histogram_series.iter().any(|name| mentions(expr, name))
            {
                self.skip(SkipReason::NativeHistograms, format!("expr: {}, time: {when}", go_quote(expr)));
                continue;
            }
            let got = match engine.instant_query(&storage, expr, eval_time) {
                Ok(r) => match r.value {
                    Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.v)).collect::<Vec<_>>(),
                    Value::Scalar { v, .. } => vec![(Labels::default(), v)],
                    _ => {
                        self.report.errors.push(format!("{head}, err: rule result is not a vector or scalar"));
                        continue;
                    }
                },
                Err(e) => {
                    self.report.errors.push(format!("{head}, err: {e}"));
                    continue;
                }
            };
            let mut expected = Vec::new();
            let mut bad_labels = None;
            for s in samples {
                let text = s.value.labels.as_ref().map_or("", |l| l.value.as_str());
                match parse_expected_labels(text) {
                    Ok(labels) => expected.push((labels, s.value.value.map_or(0.0, |v| v.value))),
                    Err(e) => {
                        bad_labels = Some(format!("{head}, err: labels {}: {e}", go_quote(text)));
                        break;
                    }
                }
            }
            if let Some(e) = bad_labels {
                self.report.errors.push(e);
                continue;
            }
            let mut got = got;
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            got.sort_by(|a, b| a.0.cmp(&b.0));
            // Values compare as Go's `==` does (NaN never equals anything).
            let same = expected.len() == got.len() && expected.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
            if !same {
                self.report.errors.push(format!(
                    "    expr: {}, time: {when},\n        exp: {}\n        got: {}",
                    go_quote(expr),
                    samples_string(&expected),
                    samples_string(&got)
                ));
            }
        }
        Ok(())
    }
}

/// Loads every input sample at or before `t`.
fn load_until(inputs: &mut [Input], storage: &mut MemStorage, t: i64) {
    for input in inputs {
        let upto = input.samples.partition_point(|s| s.0 <= t);
        if upto > input.loaded {
            storage.add(input.labels.clone(), input.samples[input.loaded..upto].iter().copied());
            input.loaded = upto;
        }
    }
}

fn pairs(p: Option<Pairs>) -> Vec<(String, String)> {
    p.map(|p| p.0.into_iter().map(|(k, v)| (k.value, v.value)).collect()).unwrap_or_default()
}

fn rule_expr(rule: &Rule) -> &str {
    match rule {
        Rule::Recording(r) => r.expr(),
        Rule::Alerting(r) => r.expr(),
    }
}

/// Whether an alerting rule named `alertname` has labels or annotations that are templates.
fn uses_templates(groups: &[RuleGroup], alertname: &str) -> bool {
    groups
        .iter()
        .flat_map(|g| g.rules())
        .filter_map(Rule::as_alerting)
        .filter(|r| r.name() == alertname)
        .any(|r| r.labels().iter().chain(r.annotations()).any(|(_, v)| is_templated(v)))
}

/// Whether `text` uses the identifier `name` (not as part of a longer one).
fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Labels of an expected sample, in the series notation (`metric{a="b"}`, `{a="b"}`); empty for no labels.
fn parse_expected_labels(text: &str) -> Result<Labels, String> {
    if text.trim().is_empty() {
        return Ok(Labels::default());
    }
    let (labels, rest) = parse_metric(text)?;
    if !rest.trim().is_empty() {
        return Err(format!("unexpected {:?} after the labels", rest.trim()));
    }
    Ok(labels)
}

fn label_pairs(labels: &Labels) -> impl Iterator<Item = (&str, &str)> {
    labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))
}

/// promtool's `parsedSamplesString`.
fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(|(labels, v)| format!("{} {}", labels_string(label_pairs(labels)), format_float_e(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// promtool's `labelsAndAnnotations.String`.
fn alerts_string(alerts: &[AlertView]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let one = |(labels, annotations): &AlertView| {
        let strs = |p: &[(String, String)]| labels_string(p.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        format!("Labels:{}\nAnnotations:{}", strs(labels), strs(annotations))
    };
    let mut s = format!("[\n0:{}", indent_lines(&format!("\n{}", one(&alerts[0])), "  "));
    for (i, a) in alerts.iter().enumerate().skip(1) {
        s.push_str(&format!(",\n{i}:{}", indent_lines(&format!("\n{}", one(a)), "  ")));
    }
    s.push_str("\n]");
    s
}

#[cfg(test)]
mod tests {
    use super::{mentions, parse_expected_labels};

    #[test]
    fn mentions_whole_identifiers_only() {
        assert!(mentions("rate(h[5m])", "h"));
        assert!(mentions("sum(h) + 1", "h"));
        assert!(!mentions("rate(hh[5m])", "h"));
        assert!(!mentions("h:rate", "h"));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn expected_labels_are_series_notation_or_nothing() {
        assert_eq!(parse_expected_labels("").unwrap().len(), 0);
        assert_eq!(parse_expected_labels("{}").unwrap().len(), 0);
        assert_eq!(parse_expected_labels(r#"up{job="a"}"#).unwrap().to_string(), r#"up{job="a"}"#);
        assert_eq!(parse_expected_labels("up 1").unwrap_err(), "unexpected \"1\" after the labels");
    }
}
