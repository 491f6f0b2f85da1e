//! Go's ways of printing, so that test failures read exactly as promtool prints them: `strconv.Quote`,
//! `labels.Labels.String`, `strconv.FormatFloat(v, 'E', -1, 64)`, `time.Duration.String`, promtool's indentation.

use std::fmt::Write;

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prometheus' `labels.Labels.String`: `{a="1", b="2"}`, `__name__` included, in the order given.
pub(crate) fn labels_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&go_quote(value));
    }
    out.push('}');
    out
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: the shortest digits, `1.5E+00`, `6E+01`, `+Inf`, `NaN`.
pub(crate) fn format_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let text = format!("{v:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exp.unsigned_abs())
}

/// Go's `time.Duration.String` of a non-negative number of milliseconds: `0s`, `500ms`, `1m0s`, `2m59.999s`.
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (secs, frac) = (ms / 1000, ms % 1000);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::from(sign);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let digits = format!("{frac:03}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// promtool's `indentLines`: every line but the first gets `indent` in front.
pub(crate) fn indent_lines(lines: &str, indent: &str) -> String {
    let mut out = String::with_capacity(lines.len());
    for (i, line) in lines.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_format_e() {
        let cases = [
            (1.0, "1E+00"),
            (0.0, "0E+00"),
            (-0.0, "-0E+00"),
            (60.0, "6E+01"),
            (61.0, "6.1E+01"),
            (9_218_880_000.0, "9.21888E+09"),
            (0.1, "1E-01"),
            (1.5e-300, "1.5E-300"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float_e(v), want, "{v}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0, "0s"),
            (500, "500ms"),
            (1000, "1s"),
            (60_000, "1m0s"),
            (179_999, "2m59.999s"),
            (3_600_000, "1h0m0s"),
            (86_400_000, "24h0m0s"),
            (9_218_880_000_000, "2560800h0m0s"),
            (61_500, "1m1.5s"),
        ];
        for (ms, want) in cases {
            assert_eq!(go_duration(ms), want, "{ms}");
        }
    }

    #[test]
    fn quoting_and_labels_like_go() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
        assert_eq!(labels_string([("__name__", "up"), ("job", "a")]), r#"{__name__="up", job="a"}"#);
        assert_eq!(labels_string([]), "{}");
        assert_eq!(indent_lines("a\nb\n", "  "), "a\n  b\n  ");
    }
}
