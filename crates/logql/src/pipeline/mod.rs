//! A compiled log pipeline: what each stage does to a line and its labels, the label builder the stages share,
//! and the tokens every matching line must contain (for the store's bloom filters).

pub(crate) mod format;
pub(crate) mod json;
pub(crate) mod logfmt;
pub(crate) mod pattern;

use std::borrow::Cow;

use regex::{Regex, RegexBuilder};
use vigil_model::Labels;
use vigil_template::{Template, Value};

use crate::ast::{CmpOp, Conversion, LabelFilter, LabelFmt, LabelSel, LineFilter, LineFilterOp, Stage};
use crate::units::{parse_bytes, parse_duration_secs};

pub(crate) const ERROR: &str = "__error__";
pub(crate) const ERROR_DETAILS: &str = "__error_details__";

/// ANSI escape sequences (colours, cursor moves, OSC titles), as the common `stripansi` pattern finds them.
const ANSI_ESCAPES: &str = r"[\x1b\x{9b}][\[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x07)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))";

/// Largest compiled program of a query's regex; bigger ones are rejected, not built.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT * 2).build().map_err(|e| {
        match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("regex too large: {pattern:.64?} compiles to more than {limit} bytes")
            }
            regex::Error::Syntax(s) => {
                let reason = s.lines().last().unwrap_or(&s).trim_start_matches("error: ").to_string();
                format!("error parsing regexp: {reason}: `{pattern:.256}`")
            }
            e => format!("error parsing regexp: {e}"),
        }
    })
}

/// A line filter's regex: unanchored, as Go's `regexp.MatchString`.
pub(crate) fn compile_line_regex(pattern: &str) -> Result<Regex, String> {
    compile_regex(pattern)
}

/// The regex of `| regexp`, which must name at least one group with a valid label name.
pub(crate) fn compile_regexp_stage(pattern: &str) -> Result<Regex, String> {
    let re = compile_regex(pattern)?;
    let mut named = 0;
    for name in re.capture_names().flatten() {
        if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(format!("invalid extracted label name '{name}'"));
        }
        named += 1;
    }
    if named == 0 {
        return Err("at least one named capture must be supplied".to_string());
    }
    Ok(re)
}

/// The labels of one entry as the pipeline changes them: the stream's labels plus what stages set or removed.
/// The strings of set labels are kept across entries and reused, so a parser allocates only for new names.
#[derive(Debug)]
pub struct LabelsBuilder {
    base: Labels,
    /// Labels set by stages: the first `add_len` entries are live, the rest spare allocations.
    add: Vec<(String, String)>,
    add_len: usize,
    /// Which of the base labels a stage deleted, by position, and how many.
    del: Vec<bool>,
    n_del: usize,
    err: Option<(&'static str, String)>,
}

impl LabelsBuilder {
    pub fn new(base: Labels) -> LabelsBuilder {
        let del = vec![false; base.len()];
        LabelsBuilder { base, add: Vec::new(), add_len: 0, del, n_del: 0, err: None }
    }

    /// Forgets the previous entry's changes.
    pub fn reset(&mut self) {
        self.add_len = 0;
        if self.n_del > 0 {
            self.del.fill(false);
            self.n_del = 0;
        }
        self.err = None;
    }

    fn added(&self) -> &[(String, String)] {
        &self.add[..self.add_len]
    }

    /// Whether no stage changed the stream's labels.
    pub fn unchanged(&self) -> bool {
        self.add_len == 0 && self.n_del == 0 && self.err.is_none()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            ERROR => return self.err.as_ref().map(|e| e.0),
            ERROR_DETAILS => return self.err.as_ref().map(|e| e.1.as_str()).filter(|d| !d.is_empty()),
            _ => {}
        }
        if let Some((_, v)) = self.added().iter().find(|(n, _)| n == name) {
            return Some(v);
        }
        let i = self.base_index(name)?;
        (!self.del[i]).then(|| self.base.as_slice()[i].value.as_str())
    }

    fn base_index(&self, name: &str) -> Option<usize> {
        self.base.as_slice().binary_search_by(|l| l.name.as_str().cmp(name)).ok()
    }

    pub fn set(&mut self, name: &str, value: &str) {
        if self.n_del > 0 {
            if let Some(i) = self.base_index(name).filter(|&i| self.del[i]) {
                self.del[i] = false;
                self.n_del -= 1;
            }
        }
        let live = self.add_len;
        if let Some((_, v)) = self.add[..live].iter_mut().find(|(n, _)| n == name) {
            v.clear();
            v.push_str(value);
            return;
        }
        if live < self.add.len() {
            let (n, v) = &mut self.add[live];
            n.clear();
            n.push_str(name);
            v.clear();
            v.push_str(value);
        } else {
            self.add.push((name.to_string(), value.to_string()));
        }
        self.add_len += 1;
    }

    /// Sets a label a parser extracted: one clashing with a stream label gets the `_extracted` suffix.
    pub fn set_extracted(&mut self, name: &str, value: &str) {
        if self.base.get(name).is_some() {
            self.set(&format!("{name}_extracted"), value);
        } else {
            self.set(name, value);
        }
    }

    /// Adds an entry's structured metadata (the store's fields) as labels, as Loki 3 does, so label filters,
    /// templates and groupings see them. Names are made label names (`event.action` becomes `event_action`); one
    /// clashing with a stream label gets the `_extracted` suffix. Fields with an empty name are skipped.
    pub fn set_fields(&mut self, fields: &[(String, String)]) {
        for (name, value) in fields {
            if is_label_name(name) {
                self.set_extracted(name, value);
            } else if !name.is_empty() {
                self.set_extracted(&to_label_name(name), value);
            }
        }
    }

    pub fn delete(&mut self, name: &str) {
        match name {
            ERROR => self.err = None,
            ERROR_DETAILS => {
                if let Some(e) = self.err.as_mut() {
                    e.1.clear();
                }
            }
            _ => {
                if let Some(i) = self.added().iter().position(|(n, _)| n == name) {
                    // Keep the allocation: move the entry past the live ones.
                    self.add[i..self.add_len].rotate_left(1);
                    self.add_len -= 1;
                }
                if let Some(i) = self.base_index(name).filter(|&i| !self.del[i]) {
                    self.del[i] = true;
                    self.n_del += 1;
                }
            }
        }
    }

    /// Deletes every label for which `keep` is false, except the error labels.
    pub fn keep(&mut self, keep: impl Fn(&str, &str) -> bool) {
        let mut i = 0;
        while i < self.add_len {
            let (n, v) = &self.add[i];
            if keep(n, v) {
                i += 1;
            } else {
                self.add[i..self.add_len].rotate_left(1);
                self.add_len -= 1;
            }
        }
        for (l, deleted) in self.base.iter().zip(self.del.iter_mut()) {
            if !*deleted && !keep(&l.name, &l.value) {
                *deleted = true;
                self.n_del += 1;
            }
        }
    }

    /// Records the first error of the entry (`__error__` and `__error_details__`).
    pub fn set_err(&mut self, kind: &'static str, details: String) {
        if self.err.is_none() {
            self.err = Some((kind, details));
        }
    }

    pub fn has_err(&self) -> bool {
        self.err.is_some()
    }

    /// Every current label, unordered.
    pub fn for_each<'s>(&'s self, mut f: impl FnMut(&'s str, &'s str)) {
        let added = self.added();
        for (l, deleted) in self.base.iter().zip(&self.del) {
            if !deleted && !added.iter().any(|(n, _)| *n == l.name) {
                f(&l.name, &l.value);
            }
        }
        for (n, v) in added {
            f(n, v);
        }
        if let Some((kind, details)) = &self.err {
            f(ERROR, kind);
            if !details.is_empty() {
                f(ERROR_DETAILS, details);
            }
        }
    }

    /// The current labels with non-empty values, sorted by name, into `out`: the entry's label set without
    /// building it. `keep` selects names (grouping).
    pub fn sorted_pairs<'s>(&'s self, out: &mut Vec<(&'s str, &'s str)>, mut keep: impl FnMut(&str) -> bool) {
        out.clear();
        self.for_each(|n, v| {
            if !v.is_empty() && keep(n) {
                out.push((n, v));
            }
        });
        out.sort_by(|a, b| a.0.cmp(b.0));
        // A parser may have extracted a label named like the error label: the error wins, as `get` says.
        out.dedup_by(|later, first| later.0 == first.0);
    }

    /// The entry's final label set.
    pub fn labels(&self) -> Labels {
        if self.unchanged() {
            return self.base.clone();
        }
        let mut out = self.base.clone();
        if self.n_del > 0 {
            let mut deleted = self.del.iter();
            out.retain(|_| !deleted.next().copied().unwrap_or(false));
        }
        for (n, v) in self.added() {
            out.set(n, v);
        }
        if let Some((kind, details)) = &self.err {
            out.set(ERROR, kind);
            out.set(ERROR_DETAILS, details);
        }
        out
    }

    fn template_data(&self) -> Value {
        let mut pairs = Vec::new();
        self.for_each(|n, v| pairs.push((n.to_string(), v.to_string())));
        Value::string_map(pairs)
    }
}

enum Compiled {
    LineFilter { op: LineFilterOp, literals: Vec<String>, regexes: Vec<Regex> },
    JsonAll,
    JsonPaths(Vec<(String, json::JsonPath)>),
    Logfmt { strict: bool, keep_empty: bool, fields: Vec<(String, String)> },
    Regexp(Regex),
    Pattern(pattern::Pattern),
    Unpack,
    LabelFilter(LabelFilter),
    LineFormat { template: Template, needs_line: bool },
    LabelFormat(Vec<(String, LabelFmtC)>),
    Drop(Vec<LabelSel>),
    Keep(Vec<LabelSel>),
    Decolorize(Regex),
}

enum LabelFmtC {
    Rename(String),
    Template { template: Template, needs_line: bool },
}

/// A pipeline ready to run over entries.
pub struct Pipeline {
    stages: Vec<Compiled>,
    needles: Vec<String>,
    /// Whether two streams' entries may end up with the same labels (through drop, keep or label_format).
    pub may_merge_streams: bool,
}

impl Pipeline {
    pub fn new(stages: &[Stage]) -> Result<Pipeline, String> {
        let mut out = Vec::with_capacity(stages.len());
        let mut needles = Vec::new();
        let mut line_changed = false;
        let mut may_merge_streams = false;
        for stage in stages {
            let c = match stage {
                Stage::LineFilter(LineFilter { op, values }) => {
                    if *op == LineFilterOp::Contains && values.len() == 1 && !line_changed {
                        needles.push(values[0].clone());
                    }
                    let regexes = match op {
                        LineFilterOp::Match | LineFilterOp::NotMatch => {
                            values.iter().map(|v| compile_line_regex(v)).collect::<Result<_, _>>()?
                        }
                        _ => Vec::new(),
                    };
                    Compiled::LineFilter { op: *op, literals: values.clone(), regexes }
                }
                Stage::Json(paths) if paths.is_empty() => Compiled::JsonAll,
                Stage::Json(paths) => Compiled::JsonPaths(
                    paths
                        .iter()
                        .map(|(n, p)| json::JsonPath::parse(p).map(|p| (n.clone(), p)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Logfmt { strict, keep_empty, fields } => {
                    Compiled::Logfmt { strict: *strict, keep_empty: *keep_empty, fields: fields.clone() }
                }
                Stage::Regexp(re) => Compiled::Regexp(compile_regexp_stage(re)?),
                Stage::Pattern(p) => Compiled::Pattern(pattern::Pattern::parse(p)?),
                Stage::Unpack => Compiled::Unpack,
                Stage::LabelFilter(f) => Compiled::LabelFilter(f.clone()),
                Stage::LineFormat(text) => {
                    Compiled::LineFormat { template: format::compile(text)?, needs_line: format::needs_line(text) }
                }
                Stage::LabelFormat(fmts) => {
                    may_merge_streams = true;
                    let mut c = Vec::new();
                    for f in fmts {
                        c.push(match f {
                            LabelFmt::Rename { dst, src } => (dst.clone(), LabelFmtC::Rename(src.clone())),
                            LabelFmt::Template { dst, template } => (
                                dst.clone(),
                                LabelFmtC::Template {
                                    template: format::compile(template)?,
                                    needs_line: format::needs_line(template),
                                },
                            ),
                        });
                    }
                    Compiled::LabelFormat(c)
                }
                Stage::Drop(sel) => {
                    may_merge_streams = true;
                    Compiled::Drop(sel.clone())
                }
                Stage::Keep(sel) => {
                    may_merge_streams = true;
                    Compiled::Keep(sel.clone())
                }
                Stage::Decolorize => Compiled::Decolorize(compile_regex(ANSI_ESCAPES)?),
            };
            if matches!(
                stage,
                Stage::Json(_)
                    | Stage::Logfmt { .. }
                    | Stage::Regexp(_)
                    | Stage::Pattern(_)
                    | Stage::Unpack
                    | Stage::LineFormat(_)
                    | Stage::Decolorize
            ) {
                line_changed = true;
            }
            out.push(c);
        }
        needles.sort_unstable();
        needles.dedup();
        Ok(Pipeline { stages: out, needles, may_merge_streams })
    }

    /// Text every line the pipeline lets through contains: its single-valued `|=` filters before any stage
    /// that rewrites the line.
    pub fn needles(&self) -> Vec<&str> {
        self.needles.iter().map(String::as_str).collect()
    }

    /// Runs the entry through the stages: `None` if filtered out, else the (possibly rewritten) line, the
    /// labels left in `b`.
    pub fn process<'l>(&self, ts_ns: i64, line: &'l str, b: &mut LabelsBuilder) -> Option<Cow<'l, str>> {
        let mut cur: Cow<'l, str> = Cow::Borrowed(line);
        for stage in &self.stages {
            match stage {
                Compiled::LineFilter { op, literals, regexes } => {
                    let hit = match op {
                        LineFilterOp::Contains | LineFilterOp::NotContains => {
                            literals.iter().any(|l| cur.contains(l.as_str()))
                        }
                        LineFilterOp::Match | LineFilterOp::NotMatch => regexes.iter().any(|r| r.is_match(&cur)),
                    };
                    let keep = matches!(op, LineFilterOp::Contains | LineFilterOp::Match) == hit;
                    if !keep {
                        return None;
                    }
                }
                Compiled::JsonAll => {
                    if let Err(e) = json::extract_all(&cur, &mut |k, v| b.set_extracted(k, v)) {
                        b.set_err("JSONParserErr", e);
                    }
                }
                Compiled::JsonPaths(paths) => match json::validate(&cur) {
                    Ok(()) => {
                        for (name, path) in paths {
                            match path.lookup(&cur) {
                                Ok(v) => b.set_extracted(name, v.as_deref().unwrap_or("")),
                                Err(e) => b.set_err("JSONParserErr", e),
                            }
                        }
                    }
                    Err(e) => b.set_err("JSONParserErr", e),
                },
                Compiled::Logfmt { strict, keep_empty, fields } => {
                    let mut key = String::new();
                    let r = logfmt::decode(&cur, *strict, &mut |k, v| {
                        if v.is_empty() && !keep_empty {
                            return;
                        }
                        if fields.is_empty() {
                            key.clear();
                            json::push_sanitized(&mut key, k, true);
                            if !key.is_empty() {
                                b.set_extracted(&key, &v);
                            }
                        } else {
                            for (name, _) in fields.iter().filter(|(_, src)| src == k) {
                                b.set_extracted(name, &v);
                            }
                        }
                    });
                    if let (Err(e), true) = (r, *strict) {
                        b.set_err("LogfmtParserErr", e);
                    }
                }
                Compiled::Regexp(re) => {
                    if let Some(caps) = re.captures(&cur) {
                        for name in re.capture_names().flatten() {
                            if let Some(m) = caps.name(name) {
                                b.set_extracted(name, m.as_str());
                            }
                        }
                    }
                }
                Compiled::Pattern(p) => p.matches(&cur, &mut |k, v| b.set_extracted(k, v)),
                Compiled::Unpack => {
                    let mut entry = None;
                    let r = json::extract_all(&cur, &mut |k, v| {
                        if k == "_entry" {
                            entry = Some(v.to_string());
                        } else {
                            b.set_extracted(k, v);
                        }
                    });
                    match r {
                        Err(e) => b.set_err("JSONParserErr", e),
                        Ok(()) => {
                            if let Some(e) = entry {
                                cur = Cow::Owned(e);
                            }
                        }
                    }
                }
                Compiled::LabelFilter(f) => {
                    if !eval_label_filter(f, b) {
                        return None;
                    }
                }
                Compiled::LineFormat { template, needs_line } => {
                    let host = needs_line.then(|| format::LineHost { line: cur.to_string(), ts_ns });
                    match format::execute(template, &b.template_data(), host.as_ref()) {
                        Ok(s) => cur = Cow::Owned(s),
                        Err(e) => b.set_err("TemplateFormatErr", e),
                    }
                }
                Compiled::LabelFormat(fmts) => {
                    let data =
                        fmts.iter().any(|(_, f)| matches!(f, LabelFmtC::Template { .. })).then(|| b.template_data());
                    for (dst, f) in fmts {
                        match f {
                            LabelFmtC::Rename(src) => {
                                if let Some(v) = b.get(src).map(str::to_string) {
                                    b.set(dst, &v);
                                    if src != dst {
                                        b.delete(src);
                                    }
                                }
                            }
                            LabelFmtC::Template { template, needs_line } => {
                                let host = needs_line.then(|| format::LineHost { line: cur.to_string(), ts_ns });
                                match format::execute(template, data.as_ref().unwrap_or(&Value::Nil), host.as_ref()) {
                                    Ok(s) => b.set(dst, &s),
                                    Err(e) => b.set_err("TemplateFormatErr", e),
                                }
                            }
                        }
                    }
                }
                Compiled::Drop(sels) => {
                    for sel in sels {
                        let Some(v) = b.get(&sel.name) else { continue };
                        if sel.matcher.as_ref().is_none_or(|m| m.matches(v)) {
                            b.delete(&sel.name);
                        }
                    }
                }
                Compiled::Keep(sels) => {
                    b.keep(|n, v| sels.iter().any(|s| s.name == n && s.matcher.as_ref().is_none_or(|m| m.matches(v))))
                }
                Compiled::Decolorize(re) => {
                    if re.is_match(&cur) {
                        cur = Cow::Owned(re.replace_all(&cur, "").into_owned());
                    }
                }
            }
        }
        Some(cur)
    }
}

/// Reads a label value as a number the way `conversion` says.
pub(crate) fn convert(v: &str, conversion: Conversion) -> Result<f64, String> {
    match conversion {
        Conversion::Float => {
            v.trim().parse::<f64>().map_err(|_| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax"))
        }
        Conversion::Duration => parse_duration_secs(v.trim()).ok_or_else(|| format!("time: invalid duration {v:?}")),
        Conversion::Bytes => parse_bytes(v).ok_or_else(|| format!("invalid size {v:?}")),
    }
}

/// Whether the entry passes a label filter. Numeric comparisons on a value that is not a number let the
/// entry through with `__error__="LabelFilterErr"`, and are skipped for entries already in error, as in Loki.
pub(crate) fn eval_label_filter(f: &LabelFilter, b: &mut LabelsBuilder) -> bool {
    match f {
        LabelFilter::And(l, r) => eval_label_filter(l, b) && eval_label_filter(r, b),
        LabelFilter::Or(l, r) => eval_label_filter(l, b) || eval_label_filter(r, b),
        LabelFilter::String(m) => m.matches(b.get(m.name()).unwrap_or("")),
        LabelFilter::Number { name, op, conversion, value } => {
            if b.has_err() {
                return true;
            }
            let Some(v) = b.get(name) else { return false };
            match convert(v, *conversion) {
                Ok(x) => cmp(*op, x, *value),
                Err(e) => {
                    b.set_err("LabelFilterErr", e);
                    true
                }
            }
        }
    }
}

fn cmp(op: CmpOp, a: f64, b: f64) -> bool {
    op.apply(a, b)
}

/// Whether `name` is a Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `name` with every byte outside `[a-zA-Z0-9_]` replaced by `_`, and `_` in front of a leading digit.
fn to_label_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_reuses_slots_without_leaking_values() {
        let base = Labels::from_pairs([("app", "a"), ("env", "prod")]).unwrap();
        let mut b = LabelsBuilder::new(base);
        b.set_extracted("app", "x");
        b.set("level", "info");
        b.delete("env");
        b.set_err("JSONParserErr", "bad".into());
        assert_eq!(
            b.labels().to_string(),
            r#"{__error__="JSONParserErr", __error_details__="bad", app="a", app_extracted="x", level="info"}"#
        );
        b.reset();
        assert!(b.unchanged());
        assert_eq!(b.get("level"), None);
        assert_eq!(b.get("env"), Some("prod"));
        b.set("status", "200");
        b.set("level", "warn");
        b.delete("status");
        b.keep(|n, _| n != "app");
        assert_eq!(b.labels().to_string(), r#"{env="prod", level="warn"}"#);
        let mut pairs = Vec::new();
        b.sorted_pairs(&mut pairs, |_| true);
        assert_eq!(pairs, [("env", "prod"), ("level", "warn")]);
        b.set("app", "back");
        assert_eq!(b.get("app"), Some("back"));
    }
}
