//! Parses the Prometheus text format 0.0.4 into families of samples, with line numbers on every error.
//!
//! The parser takes untrusted input: it never panics, caps line length and label count, and reports the first
//! malformed line as `line N: what is wrong`.

use std::collections::HashMap;

use vigil_model::MetricKind;

/// Lines longer than this are rejected rather than parsed.
pub const MAX_LINE_LEN: usize = 64 * 1024;
pub(super) const MAX_LABELS: usize = 256;

/// One family: its name, help, type and samples (including `_sum`/`_count`/`_bucket` children).
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    pub kind: Option<MetricKind>,
    /// The raw `# TYPE` word, kept for types this crate does not model (histogram, summary).
    pub type_word: Option<String>,
    /// The OpenMetrics `# UNIT`; always `None` in the Prometheus text format.
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

/// Parses a whole exposition. Families appear in input order.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        let err = |msg: &str| ParseError { line: lineno, msg: msg.to_owned() };
        if line.len() > MAX_LINE_LEN {
            return Err(err("line too long"));
        }
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let (word, rest) = split_word(rest);
            if word != "HELP" && word != "TYPE" {
                continue;
            }
            let (name, text) = split_word(rest.trim_start());
            if !is_metric_name(name) {
                return Err(err(&format!("invalid metric name {name:?} in # {word}")));
            }
            let i = family_for(&mut families, &mut index, name);
            let fam = &mut families[i];
            if word == "HELP" {
                fam.help = Some(unescape_help(text));
            } else {
                let t = text.trim();
                fam.kind = match t {
                    "counter" => Some(MetricKind::Counter),
                    "gauge" => Some(MetricKind::Gauge),
                    "untyped" | "unknown" => Some(MetricKind::Untyped),
                    "histogram" | "summary" | "gaugehistogram" | "info" | "stateset" => None,
                    _ => return Err(err(&format!("unknown metric type {t:?}"))),
                };
                fam.type_word = Some(t.to_owned());
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|m| err(&m))?;
        let fam_name = owning_family(&families, &index, &sample.name);
        let i = family_for(&mut families, &mut index, fam_name.as_deref().unwrap_or(&sample.name));
        families[i].samples.push(sample);
    }
    Ok(families)
}

pub(super) fn family_for(families: &mut Vec<Family>, index: &mut HashMap<String, usize>, name: &str) -> usize {
    if let Some(&i) = index.get(name) {
        return i;
    }
    families.push(Family {
        name: name.to_owned(),
        help: None,
        kind: None,
        type_word: None,
        unit: None,
        samples: Vec::new(),
    });
    index.insert(name.to_owned(), families.len() - 1);
    families.len() - 1
}

/// A `_sum`, `_count` or `_bucket` sample belongs to the histogram or summary family declared before it.
fn owning_family(families: &[Family], index: &HashMap<String, usize>, sample: &str) -> Option<String> {
    for suffix in ["_bucket", "_sum", "_count", "_total", "_created", "_info"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if let Some(&i) = index.get(base) {
                if families[i].type_word.is_some() && families[i].name != sample {
                    return Some(base.to_owned());
                }
            }
        }
    }
    None
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

pub(super) fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(super) fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = parse_labels(r, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields.next().ok_or_else(|| format!("missing value for {name}"))?;
    let value = parse_float(value).ok_or_else(|| format!("invalid value {value:?} for {name}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| format!("invalid timestamp {t:?} for {name}"))?),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the value of {name}"));
    }
    Ok(Sample { name: name.to_owned(), labels, value, timestamp_ms })
}

/// Parses `a="b",c="d"}` and returns what follows the closing brace.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(r) = s.strip_prefix('}') {
            return Ok(r);
        }
        if labels.len() >= MAX_LABELS {
            return Err(format!("more than {MAX_LABELS} labels"));
        }
        let eq = s.find('=').ok_or("label without '='")?;
        let lname = s[..eq].trim();
        if !is_label_name(lname) {
            return Err(format!("invalid label name {lname:?}"));
        }
        s = s[eq + 1..].trim_start();
        s = s.strip_prefix('"').ok_or_else(|| format!("label {lname} value must be quoted"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {lname}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value of label {lname}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == lname) {
            return Err(format!("duplicate label {lname}"));
        }
        labels.push((lname.to_owned(), value));
        s = s[end + 1..].trim_start();
        if let Some(r) = s.strip_prefix(',') {
            s = r;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}' after a label".to_owned());
        }
    }
}

pub(super) fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "+inf" | "Inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

fn unescape_help(s: &str) -> String {
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
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::TextEncoder;
    use vigil_model::{Desc, MetricSink};

    #[test]
    fn parses_what_the_encoder_writes() {
        let mut enc = TextEncoder::new();
        enc.sample(&Desc::counter("x_total", "Help \\ me.\nPlease."), &[("a", "q\"\\\n")], 2.5);
        enc.sample(&Desc::gauge("y", "Y."), &[], f64::INFINITY);
        let mut text = String::new();
        enc.finish(&mut text);
        let fams = parse(&text).unwrap();
        assert_eq!(fams.len(), 2);
        assert_eq!(fams[0].name, "x_total");
        assert_eq!(fams[0].help.as_deref(), Some("Help \\ me.\nPlease."));
        assert_eq!(fams[0].kind, Some(MetricKind::Counter));
        assert_eq!(fams[0].samples[0].labels, vec![("a".into(), "q\"\\\n".into())]);
        assert_eq!(fams[0].samples[0].value, 2.5);
        assert_eq!(fams[1].samples[0].value, f64::INFINITY);
    }

    #[test]
    fn histogram_children_join_their_family() {
        let text =
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2 1700000000000\n";
        let fams = parse(text).unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].samples.len(), 4);
        assert_eq!(fams[0].samples[3].timestamp_ms, Some(1_700_000_000_000));
    }

    #[test]
    fn bad_lines_name_the_line() {
        for (text, line, needle) in [
            ("ok 1\nbad{ 1\n", 2, "label"),
            ("a{b=\"c\" 1\n", 1, "expected ','"),
            ("a{b=c} 1\n", 1, "quoted"),
            ("1a 1\n", 1, "invalid metric name"),
            ("a xyz\n", 1, "invalid value"),
            ("a 1 2 3\n", 1, "unexpected"),
            ("# TYPE a bogus\n", 1, "unknown metric type"),
            ("a{b=\"1\",b=\"2\"} 1\n", 1, "duplicate label"),
            ("a{b=\"\\", 1, "unterminated"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.msg.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn never_panics_on_truncations_of_valid_input() {
        let text = "# HELP a_total Help.\n# TYPE a_total counter\na_total{x=\"1\",y=\"2\\\"\"} 1.5e3 123\n";
        for end in 0..=text.len() {
            if text.is_char_boundary(end) {
                let _ = parse(&text[..end]);
            }
        }
    }
}
