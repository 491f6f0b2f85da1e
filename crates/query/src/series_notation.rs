//! Prometheus' series notation, as test scripts and rule unit tests write input data:
//! `metric{label="value"} 1+2x3 _ stale {{...}}`.
//!
//! A series is a metric (`name`, `name{a="b", ...}`, `{__name__="x"}` or `{"x", a="b"}`) followed by a value
//! sequence: numbers, `_` (no sample), `stale` (the staleness marker), `a+bxN` / `a-bxN` (N more values, each
//! `b` more or less than the previous one), `axN`, `_xN`. Native histograms (`{{...}}`) are recognised but not
//! read: vigil does not store them.

use vigil_model::Labels;

/// One position of a value sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeqValue {
    Omitted,
    Float(f64),
    /// A native histogram; vigil does not store them, so cases using them are skipped.
    Histogram,
}

/// Prometheus' staleness marker.
pub const STALE_NAN: f64 = f64::from_bits(crate::storage::STALE_NAN_BITS);

/// Parses `metric{labels} values...` into labels and the value sequence.
pub fn parse_series_line(line: &str) -> Result<(Labels, Vec<SeqValue>), String> {
    let (labels, rest) = parse_metric(line)?;
    Ok((labels, parse_values(rest)?))
}

/// Parses the metric part (`name{a="b", ...}`, `{__name__="x"}`, `{"x", a="b"}`), returning the rest of the text.
/// Errors read `1:COLUMN: parse error: ...`, the column counted in characters of `line`.
pub fn parse_metric(line: &str) -> Result<(Labels, &str), String> {
    let s = line.trim_start();
    let offset = line.len() - s.len();
    let err = |rest: &str, message: String| {
        let column = line[..line.len() - rest.len()].chars().count() + 1;
        format!("1:{column}: parse error: {message}")
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())))
        .map_or(s.len(), |(i, _)| i);
    if name_len > 0 {
        pairs.push(("__name__".into(), s[..name_len].to_string()));
    } else if !s.starts_with('{') {
        return Err(err(&line[offset..], format!("invalid series description {line:?}")));
    }
    let mut rest = &s[name_len..];
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let Some(first) = rest.chars().next() else {
                return Err(err(rest, "unexpected end of input inside braces".into()));
            };
            let (name, quoted, r) = if matches!(first, '"' | '\'' | '`') {
                let (name, r) = parse_string(rest).map_err(|e| err(rest, e))?;
                (name, true, r)
            } else if first.is_ascii_alphabetic() || first == '_' {
                let n = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                (rest[..n].to_string(), false, &rest[n..])
            } else {
                return Err(err(rest, format!("unexpected {}", describe(rest, " inside braces"))));
            };
            let r = r.trim_start();
            if let Some(r) = r.strip_prefix('=') {
                let r = r.trim_start();
                let (value, r) = parse_string(r).map_err(|e| err(r, e))?;
                pairs.push((name, value));
                rest = r;
            } else if quoted {
                // A bare quoted string is the metric name.
                pairs.push(("__name__".into(), name));
                rest = r;
            } else {
                return Err(err(r, format!("unexpected {}", describe(r, &format!(" after label name {name:?}")))));
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err(err(rest, format!("unexpected {}", describe(rest, " inside braces"))));
            }
        }
    }
    let labels = Labels::from_pairs(pairs).map_err(|e| err(&line[offset..], e.to_string()))?;
    Ok((labels, rest))
}

/// How an error names what it found at the start of `rest`, `place` (such as " inside braces") included.
fn describe(rest: &str, place: &str) -> String {
    match rest.chars().next() {
        Some(c) => format!("character{place}: {c:?}"),
        None => format!("end of input{place}"),
    }
}

/// A Go string literal: `"..."` with escapes, `'...'`, or a raw `` `...` ``. Returns the string and the rest.
pub fn parse_string(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("expected a quoted string, found end of input")?;
    if !matches!(quote, '"' | '\'' | '`') {
        return Err(format!("expected a quoted string at {s:?}"));
    }
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &s[1 + i + 1..]));
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let (_, e) = chars.next().ok_or("unterminated escape")?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    Err(format!("unterminated quoted string {s:?}"))
}

/// Parses a value sequence: `_`, `_xN`, `stale`, numbers, `a+bxN`, `a-bxN`, `axN`, `{{...}}` histograms.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            // Histogram items may contain spaces; skip to the closing braces and any `x`/`+` suffix.
            let mut end = rest.find("}}").ok_or("unterminated histogram")? + 2;
            let mut repeat = 1usize;
            loop {
                let tail = &rest[end..];
                if tail.starts_with("+{{") || tail.starts_with("-{{") {
                    end += tail.find("}}").ok_or("unterminated histogram")? + 2;
                } else if let Some(t) = tail.strip_prefix('x') {
                    let n = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
                    repeat = t[..n].parse::<usize>().map_err(|e| e.to_string())? + 1;
                    end += 1 + n;
                    break;
                } else {
                    break;
                }
            }
            out.extend(std::iter::repeat_n(SeqValue::Histogram, repeat));
            rest = rest[end..].trim_start();
            continue;
        }
        let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..token_end];
        rest = rest[token_end..].trim_start();
        parse_item(token, &mut out)?;
    }
    Ok(out)
}

fn parse_item(token: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if token == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = token.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|e| format!("bad repeat in {token:?}: {e}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    if token.eq_ignore_ascii_case("stale") {
        out.push(SeqValue::Float(STALE_NAN));
        return Ok(());
    }
    let (start, rest) = scan_number(token).ok_or_else(|| format!("bad value {token:?}"))?;
    if rest.is_empty() {
        out.push(SeqValue::Float(start));
        return Ok(());
    }
    let (step, rest) = if rest.starts_with(['+', '-']) {
        scan_number(rest).ok_or_else(|| format!("bad increment in {token:?}"))?
    } else {
        (0.0, rest)
    };
    let times: u64 = rest
        .strip_prefix('x')
        .ok_or_else(|| format!("bad value {token:?}"))?
        .parse()
        .map_err(|e| format!("bad repeat in {token:?}: {e}"))?;
    let mut v = start;
    out.push(SeqValue::Float(v));
    for _ in 0..times {
        v += step;
        out.push(SeqValue::Float(v));
    }
    Ok(())
}

/// Reads a number at the start of `s` (sign, digits, fraction, exponent, `Inf`, `NaN`). In sequences `0x3`
/// means "0, three more times", so hexadecimal is not accepted.
pub fn scan_number(s: &str) -> Option<(f64, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'+') => {
            i = 1;
            false
        }
        Some(b'-') => {
            i = 1;
            true
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let body = &s[i..];
    for (word, value) in [("infinity", f64::INFINITY), ("inf", f64::INFINITY), ("nan", f64::NAN)] {
        if body.len() >= word.len()
            && body.is_char_boundary(word.len())
            && body[..word.len()].eq_ignore_ascii_case(word)
        {
            return Some((sign * value, &body[word.len()..]));
        }
    }
    let mut j = 0;
    let b = body.as_bytes();
    while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
        j += 1;
    }
    if j == 0 {
        return None;
    }
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < b.len() && b[k].is_ascii_digit() {
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let v: f64 = body[..j].parse().ok()?;
    Some((sign * v, &body[j..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_expand_as_in_promqltest() {
        let v = parse_values("1+2x3 _ _x2 stale -1-1x1 5x2 {{schema:0 sum:1 count:1}}x1 Inf -NaN 1e3").unwrap();
        let floats: Vec<String> = v
            .iter()
            .map(|x| match x {
                SeqValue::Omitted => "_".to_string(),
                SeqValue::Histogram => "h".to_string(),
                SeqValue::Float(f) if f.to_bits() == STALE_NAN.to_bits() => "stale".to_string(),
                SeqValue::Float(f) => f.to_string(),
            })
            .collect();
        assert_eq!(
            floats,
            ["1", "3", "5", "7", "_", "_", "_", "stale", "-1", "-2", "5", "5", "5", "h", "h", "inf", "NaN", "1000"]
        );
    }

    #[test]
    fn metrics_with_quoted_names_and_escapes() {
        let (l, rest) = parse_metric(r#"{"some.metric", a="x\"y", b='z'} 1"#).unwrap();
        assert_eq!(l.get("__name__"), Some("some.metric"));
        assert_eq!(l.get("a"), Some("x\"y"));
        assert_eq!(l.get("b"), Some("z"));
        assert_eq!(rest.trim(), "1");
        let (l, rest) = parse_metric("up{job=\"a\",} 1").unwrap();
        assert_eq!((l.to_string().as_str(), rest), ("up{job=\"a\"}", " 1"));
        let (l, rest) = parse_metric("empty\t{{}}").unwrap();
        assert_eq!((l.metric_name(), rest), (Some("empty"), "\t{{}}"));
    }

    #[test]
    fn malformed_metrics_are_errors_with_a_column() {
        let cases = [
            (
                r#"up{job="prometheus", instance="localhost:9090" 0+0x1440"#,
                "1:48: parse error: unexpected character inside braces: '0'",
            ),
            (r#"up{job="prometheus""#, "1:20: parse error: unexpected end of input inside braces"),
            ("up{job}", "1:7: parse error: unexpected character after label name \"job\": '}'"),
            ("up{1=\"a\"}", "1:4: parse error: unexpected character inside braces: '1'"),
            ("up{a=b}", "1:6: parse error: expected a quoted string at \"b}\""),
            ("up{a=\"1\", a=\"2\"}", "1:1: parse error: duplicate label name \"a\""),
            ("  5", "1:3: parse error: invalid series description \"  5\""),
        ];
        for (line, want) in cases {
            assert_eq!(parse_metric(line).unwrap_err(), want, "{line}");
        }
    }
}
