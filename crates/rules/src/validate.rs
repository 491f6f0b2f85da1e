//! Checks a parsed rule file as `promtool check rules` (Prometheus 2.42) does, each error pointing at the node at
//! fault; and the duplicate-rule lint.

use serde_saphyr::{Location, Spanned};

use crate::error::FileError;
use crate::file::{FileNode, GroupNode, GroupSpec, Pairs, QueryLanguage, RuleFile, RuleKind, RuleNode, RuleSpec};
use crate::template::Expander;

pub(crate) fn validate(
    node: FileNode,
    origin: &str,
    expander: &dyn Expander,
    language: QueryLanguage,
) -> Result<RuleFile, Vec<FileError>> {
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for group in node.groups.unwrap_or_default() {
        let at = group.referenced;
        let group = group.value;
        let name = group.name.as_ref().map_or("", |n| n.value.as_str()).to_owned();
        let name_at = group.name.as_ref().map_or(at, |n| n.referenced);
        if name.is_empty() {
            errors.push(FileError::at(origin, &name_at, "group name must not be empty"));
        } else if !seen.insert(name.clone()) {
            errors.push(FileError::at(origin, &name_at, format!("groupname: {name:?} is repeated in the same file")));
        }
        if let Some(spec) = validate_group(group, name, origin, expander, language, &mut errors) {
            groups.push(spec);
        }
    }
    if errors.is_empty() {
        Ok(RuleFile { origin: origin.to_owned(), groups })
    } else {
        Err(errors)
    }
}

fn validate_group(
    group: GroupNode,
    name: String,
    origin: &str,
    expander: &dyn Expander,
    language: QueryLanguage,
    errors: &mut Vec<FileError>,
) -> Option<GroupSpec> {
    let before = errors.len();
    let interval_ms = group.interval.as_ref().and_then(|d| duration(d, "interval", origin, errors));
    let limit = match &group.limit {
        Some(l) if l.value < 0 => {
            errors.push(FileError::at(origin, &l.referenced, "limit must not be negative"));
            0
        }
        Some(l) => usize::try_from(l.value).unwrap_or(usize::MAX),
        None => 0,
    };
    let mut rules = Vec::new();
    for (i, rule) in group.rules.unwrap_or_default().into_iter().enumerate() {
        let mut ctx = RuleCtx { origin, group: &name, index: i + 1, rule_name: String::new(), language, errors };
        if let Some(spec) = validate_rule(rule, &mut ctx, expander) {
            rules.push(spec);
        }
    }
    (errors.len() == before).then(|| GroupSpec {
        name,
        file: origin.to_owned(),
        interval_ms: interval_ms.filter(|&ms| ms > 0),
        limit,
        rules,
        language,
    })
}

/// Where a rule's errors go, with the `group "g", rule N, "name": ` prefix Prometheus puts on them.
struct RuleCtx<'a> {
    origin: &'a str,
    group: &'a str,
    index: usize,
    rule_name: String,
    language: QueryLanguage,
    errors: &'a mut Vec<FileError>,
}

impl RuleCtx<'_> {
    fn error(&mut self, at: &Location, message: impl std::fmt::Display) {
        let message = format!("group {:?}, rule {}, {:?}: {message}", self.group, self.index, self.rule_name);
        self.errors.push(FileError::at(self.origin, at, message));
    }
}

fn validate_rule(rule: Spanned<RuleNode>, ctx: &mut RuleCtx<'_>, expander: &dyn Expander) -> Option<RuleSpec> {
    let before = ctx.errors.len();
    let at = rule.referenced;
    let rule = rule.value;
    let record = rule.record.as_ref().filter(|r| !r.value.is_empty());
    let alert = rule.alert.as_ref().filter(|a| !a.value.is_empty());
    ctx.rule_name = alert.or(record).map(|n| n.value.clone()).unwrap_or_default();
    match (record, alert) {
        (Some(r), Some(_)) => ctx.error(&r.referenced, "only one of 'record' and 'alert' must be set"),
        (None, None) => ctx.error(&at, "one of 'record' or 'alert' must be set"),
        _ => {}
    }
    let expr = rule.expr.as_ref().filter(|e| !e.value.trim().is_empty());
    match expr {
        None => ctx.error(rule.expr.as_ref().map_or(&at, |e| &e.referenced), "field 'expr' must be set in rule"),
        Some(e) => match ctx.language {
            QueryLanguage::PromQL => {
                if let Err(err) = vigil_query::check_query(&e.value) {
                    ctx.error(&e.referenced, format_args!("could not parse expression: {err}"));
                }
            }
            // Loki's ruler takes metric queries only: a rule needs numbers.
            QueryLanguage::LogQL => match vigil_logql::parse(&e.value) {
                Err(err) => ctx.error(&e.referenced, format_args!("could not parse expression: {err}")),
                Ok(vigil_logql::Expr::Log(_)) => ctx.error(
                    &e.referenced,
                    "could not parse expression: a log query is not a metric query (rules need numbers)",
                ),
                Ok(vigil_logql::Expr::Metric(_)) => {}
            },
        },
    }
    let hold_ms = rule.hold.as_ref().and_then(|d| rule_duration(d, "for", ctx)).unwrap_or(0);
    let keep_ms = rule.keep_firing_for.as_ref().and_then(|d| rule_duration(d, "keep_firing_for", ctx)).unwrap_or(0);
    if let (Some(record), None) = (record, alert) {
        if let Some(a) = rule.annotations.as_ref().filter(|a| !a.value.0.is_empty()) {
            ctx.error(&a.referenced, "invalid field 'annotations' in recording rule");
        }
        if let Some(d) = rule.hold.as_ref().filter(|_| hold_ms != 0) {
            ctx.error(&d.referenced, "invalid field 'for' in recording rule");
        }
        if let Some(d) = rule.keep_firing_for.as_ref().filter(|_| keep_ms != 0) {
            ctx.error(&d.referenced, "invalid field 'keep_firing_for' in recording rule");
        }
        if !is_metric_name(&record.value) {
            ctx.error(&record.referenced, format_args!("invalid recording rule name: {}", record.value));
        }
    }
    let labels = rule.labels.map(|l| l.value).unwrap_or(Pairs(Vec::new()));
    for (name, _) in &labels.0 {
        if !is_label_name(&name.value) || name.value == vigil_model::METRIC_NAME {
            ctx.error(&name.referenced, format_args!("invalid label name: {}", name.value));
        }
    }
    let annotations = rule.annotations.map(|a| a.value).unwrap_or(Pairs(Vec::new()));
    for (name, _) in &annotations.0 {
        if !is_label_name(&name.value) {
            ctx.error(&name.referenced, format_args!("invalid annotation name: {}", name.value));
        }
    }
    if let Some(alert) = alert {
        let template_name = format!("__alert_{}", alert.value);
        for (what, pairs) in [("label", &labels), ("annotation", &annotations)] {
            for (name, value) in &pairs.0 {
                if let Err(e) = expander.check(&template_name, &value.value) {
                    ctx.error(&value.referenced, format_args!("{what} {:?}: {e}", name.value));
                }
            }
        }
    }
    if ctx.errors.len() != before {
        return None;
    }
    let kind = match alert {
        Some(_) => RuleKind::Alerting { hold_ms, keep_firing_for_ms: keep_ms, annotations: sorted(annotations) },
        None => RuleKind::Recording,
    };
    Some(RuleSpec {
        name: ctx.rule_name.clone(),
        expr: expr.map(|e| e.value.clone()).unwrap_or_default(),
        labels: sorted(labels),
        kind,
    })
}

fn sorted(pairs: Pairs) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs.0.into_iter().map(|(k, v)| (k.value, v.value)).collect();
    out.sort();
    out
}

fn duration(d: &Spanned<String>, field: &str, origin: &str, errors: &mut Vec<FileError>) -> Option<i64> {
    vigil_model::time::parse_duration(&d.value)
        .map_err(|e| errors.push(FileError::at(origin, &d.referenced, format!("{field}: {e}"))))
        .ok()
}

fn rule_duration(d: &Spanned<String>, field: &str, ctx: &mut RuleCtx<'_>) -> Option<i64> {
    vigil_model::time::parse_duration(&d.value).map_err(|e| ctx.error(&d.referenced, format_args!("{field}: {e}"))).ok()
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Rules of one file that record or alert under the same name with the same labels, which `promtool check rules`
/// reports as a lint warning.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DuplicateRule {
    /// The `record` or `alert` name.
    pub metric: String,
    /// The rules' `labels`, sorted by name.
    pub labels: Vec<(String, String)>,
}

/// The duplicated (name, labels) pairs of a file, across all its groups, each once, sorted.
pub fn duplicate_rules(file: &RuleFile) -> Vec<DuplicateRule> {
    let mut all: Vec<DuplicateRule> = file
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| DuplicateRule { metric: r.name.clone(), labels: r.labels.clone() })
        .collect();
    all.sort();
    let mut out: Vec<DuplicateRule> = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[1]) {
            out.push(w[1].clone());
        }
    }
    out
}

/// promtool's lint message for duplicates (without its `lint error` prefix).
pub fn duplicates_message(duplicates: &[DuplicateRule]) -> String {
    let mut msg = format!("{} duplicate rule(s) found.\n", duplicates.len());
    for d in duplicates {
        msg.push_str(&format!("Metric: {}\nLabel(s):\n", d.metric));
        for (name, value) in &d.labels {
            msg.push_str(&format!("\t{name}: {value}\n"));
        }
    }
    msg.push_str("Might cause inconsistency while recording expressions");
    msg
}
