//! Parses OpenMetrics 1.0 text into the same families as the Prometheus text parser.
//!
//! Stricter about layout than the text format (single spaces, no blank lines or free comments, `# EOF` last),
//! as lenient as Prometheus 2.42 about family order and metadata repeats. Timestamps are seconds and become
//! milliseconds; exemplars are checked and dropped. `_created` samples of counters, histograms and summaries are
//! kept in their family as samples of a `<family>_created` series, as Prometheus 2.42 stores them.

use std::collections::HashMap;

use vigil_model::MetricKind;

use super::parse::{family_for, is_label_name, is_metric_name, parse_float, MAX_LABELS};
use super::{Family, ParseError, Sample, MAX_LINE_LEN};

/// Parses a whole OpenMetrics exposition, which must end with `# EOF`.
pub(super) fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    let mut eof_line = None;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let lineno = n + 1;
        let last = lines.peek().is_none();
        let err = |msg: String| ParseError { line: lineno, msg };
        if line.is_empty() && last {
            break;
        }
        if eof_line.is_some() {
            return Err(err("unexpected content after # EOF".to_owned()));
        }
        if line.len() > MAX_LINE_LEN {
            return Err(err("line too long".to_owned()));
        }
        if line == "# EOF" {
            eof_line = Some(lineno);
        } else if line.is_empty() {
            return Err(err("empty line (OpenMetrics allows none)".to_owned()));
        } else if let Some(rest) = line.strip_prefix('#') {
            let i = metadata(rest, &mut families, &mut index).map_err(err)?;
            current = Some(i);
        } else {
            let sample = sample(line).map_err(err)?;
            let i = owning_family(&sample.name, current, &families, &index)
                .unwrap_or_else(|| family_for(&mut families, &mut index, &sample.name));
            current = Some(i);
            families[i].samples.push(sample);
        }
    }
    if eof_line.is_none() {
        let line = text.split('\n').count();
        return Err(ParseError { line, msg: "missing # EOF at the end".to_owned() });
    }
    Ok(families)
}

/// Applies one `# HELP`, `# TYPE` or `# UNIT` line and returns the index of its family.
fn metadata(rest: &str, families: &mut Vec<Family>, index: &mut HashMap<String, usize>) -> Result<usize, String> {
    let rest = rest.strip_prefix(' ').ok_or("expected a space after '#'")?;
    let (word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if !matches!(word, "HELP" | "TYPE" | "UNIT") {
        return Err(format!("unexpected comment {word:?}: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF"));
    }
    let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in # {word}"));
    }
    let i = family_for(families, index, name);
    let fam = &mut families[i];
    match word {
        "HELP" => fam.help = Some(unescape(text)),
        "TYPE" => {
            fam.kind = match text {
                "counter" => Some(MetricKind::Counter),
                "gauge" => Some(MetricKind::Gauge),
                "unknown" => Some(MetricKind::Untyped),
                "histogram" | "gaugehistogram" | "summary" | "info" | "stateset" => None,
                _ => return Err(format!("unknown metric type {text:?} for {name}")),
            };
            fam.type_word = Some(text.to_owned());
        }
        _ => {
            let fits = text.is_empty() || name.strip_suffix(text).is_some_and(|base| base.ends_with('_'));
            if !fits {
                return Err(format!("unit {text:?} is not a suffix of metric name {name}"));
            }
            fam.unit = (!text.is_empty()).then(|| text.to_owned());
        }
    }
    Ok(i)
}

/// The sample name suffixes each type allows after the family name; `""` is the bare name.
fn suffixes(type_word: Option<&str>) -> &'static [&'static str] {
    match type_word {
        Some("counter") => &["_total", "_created"],
        Some("histogram") => &["_bucket", "_count", "_sum", "_created"],
        Some("gaugehistogram") => &["_bucket", "_gcount", "_gsum"],
        Some("summary") => &["", "_count", "_sum", "_created"],
        Some("info") => &["_info"],
        _ => &[""],
    }
}

fn belongs(fam: &Family, sample: &str) -> bool {
    sample.strip_prefix(fam.name.as_str()).is_some_and(|suffix| suffixes(fam.type_word.as_deref()).contains(&suffix))
}

/// The family a sample joins: the current one if the name fits, else an earlier one it fits (families should
/// not interleave, but Prometheus accepts it), else none and the sample starts a family of its own.
fn owning_family(
    sample: &str,
    current: Option<usize>,
    families: &[Family],
    index: &HashMap<String, usize>,
) -> Option<usize> {
    if let Some(i) = current.filter(|&i| belongs(&families[i], sample)) {
        return Some(i);
    }
    ["", "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info"].iter().find_map(|suffix| {
        let base = sample.strip_suffix(suffix)?;
        index.get(base).copied().filter(|&i| belongs(&families[i], sample))
    })
}

/// Parses one sample line.
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = label_set(r, &mut labels, name)?;
    }
    let rest = rest.strip_prefix(' ').ok_or_else(|| format!("expected a space and a value after {name}"))?;
    let (value, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let value = parse_float(value).ok_or_else(|| format!("invalid value {value:?} for {name}"))?;
    let mut timestamp_ms = None;
    let mut rest = rest;
    if !rest.is_empty() && !rest.starts_with('#') {
        let (ts, r) = rest.split_once(' ').unwrap_or((rest, ""));
        timestamp_ms = Some(seconds_to_ms(ts).ok_or_else(|| format!("invalid timestamp {ts:?} for {name}"))?);
        rest = r;
    }
    if !rest.is_empty() {
        let ex = rest.strip_prefix("# {").ok_or_else(|| format!("unexpected {rest:?} after the value of {name}"))?;
        exemplar(ex, name)?;
    }
    Ok(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

/// Checks an exemplar, `{labels} value [timestamp]`, whose opening brace is already consumed.
fn exemplar(s: &str, name: &str) -> Result<(), String> {
    let mut labels = Vec::new();
    let rest = label_set(s, &mut labels, name)?;
    let rest = rest.strip_prefix(' ').ok_or_else(|| format!("expected a value in the exemplar of {name}"))?;
    let mut fields = rest.split(' ');
    let value = fields.next().unwrap_or("");
    parse_float(value).ok_or_else(|| format!("invalid exemplar value {value:?} for {name}"))?;
    if let Some(ts) = fields.next() {
        seconds_to_ms(ts).ok_or_else(|| format!("invalid exemplar timestamp {ts:?} for {name}"))?;
    }
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the exemplar of {name}"));
    }
    Ok(())
}

/// Float seconds to integer milliseconds, rounded; `None` for text that is not a finite, representable time.
fn seconds_to_ms(s: &str) -> Option<i64> {
    let ms = (parse_float(s)? * 1000.0).round();
    // i64::MAX as f64 rounds up to 2^63, which no longer fits.
    (ms.abs() < 9.2e18).then_some(ms as i64)
}

/// Parses `a="b",c="d"}` (a trailing comma is allowed) and returns what follows the closing brace.
fn label_set<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>, metric: &str) -> Result<&'a str, String> {
    loop {
        if let Some(r) = s.strip_prefix('}') {
            return Ok(r);
        }
        if labels.len() >= MAX_LABELS {
            return Err(format!("more than {MAX_LABELS} labels on {metric}"));
        }
        let eq = s.find('=').ok_or_else(|| format!("label without '=' on {metric}"))?;
        let lname = &s[..eq];
        if !is_label_name(lname) {
            return Err(format!("invalid label name {lname:?} on {metric}"));
        }
        let r = s[eq + 1..].strip_prefix('"').ok_or_else(|| format!("label {lname} value must be quoted"))?;
        let end = closing_quote(r).ok_or_else(|| format!("unterminated value of label {lname} on {metric}"))?;
        let value = unescape(&r[..end]);
        if labels.iter().any(|(k, _)| k == lname) {
            return Err(format!("duplicate label {lname} on {metric}"));
        }
        labels.push((lname.to_owned(), value));
        s = &r[end + 1..];
        if let Some(r) = s.strip_prefix(',') {
            s = r;
        } else if !s.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {lname} on {metric}"));
        }
    }
}

/// The byte index of the first unescaped `"`.
fn closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Resolves `\\`, `\"` and `\n`. Other escapes and a trailing backslash are kept verbatim, as Prometheus does.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}
