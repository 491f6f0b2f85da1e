//! Byte escapes in string literals. PromQL strings are Go strings, that is bytes: `"\xc3\xbf"` is `ÿ`, and `"\xff"`
//! is not UTF-8 at all. `promql-parser` instead reads each `\xNN` (or octal `\NNN`) escape as the character U+00NN.
//! Before parsing, every run of such escapes above 0x7f is replaced by `\u` escapes of the characters its bytes
//! encode, and bytes that are not UTF-8 by U+FFFD, which label functions reject as a label name as Prometheus
//! rejects names that are not UTF-8.

use std::borrow::Cow;
use std::fmt::Write;

use super::parse::{skip_comment, skip_string};

/// `query` with the byte escapes of its string literals decoded as Go decodes them.
pub(crate) fn decode_byte_escapes(query: &str) -> Cow<'_, str> {
    if !query.contains('\\') {
        return query.into();
    }
    let bytes = query.as_bytes();
    let mut out = Output { query, text: String::new(), copied: 0 };
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            b'"' | b'\'' => out.literal(i) + 1,
            b'`' => skip_string(bytes, i) + 1,
            b'#' => skip_comment(bytes, i),
            _ => i + 1,
        };
    }
    if out.copied == 0 {
        return query.into();
    }
    out.text.push_str(&query[out.copied..]);
    out.text.into()
}

/// The rewritten query so far: `text`, then `query[copied..]`.
struct Output<'a> {
    query: &'a str,
    text: String,
    copied: usize,
}

impl Output<'_> {
    /// Rewrites the byte escapes of the string literal opening at `start`; returns the index of its closing quote.
    fn literal(&mut self, start: usize) -> usize {
        let bytes = self.query.as_bytes();
        let quote = bytes[start];
        let (mut run, mut run_start) = (Vec::new(), 0);
        let mut i = start + 1;
        while i < bytes.len() && bytes[i] != quote {
            let escape = (bytes[i] == b'\\').then(|| high_byte_escape(&bytes[i..])).flatten();
            match escape {
                Some(byte) => {
                    if run.is_empty() {
                        run_start = i;
                    }
                    run.push(byte);
                    i += 4;
                    continue;
                }
                None => self.replace_run(&mut run, run_start, i),
            }
            // Skips the escaped character too, so that `\\` and `\"` are not taken for more.
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        self.replace_run(&mut run, run_start, i.min(bytes.len()));
        i
    }

    /// Replaces the escapes at `start..end`, which encode `run`, by those of the characters the bytes encode.
    fn replace_run(&mut self, run: &mut Vec<u8>, start: usize, end: usize) {
        if run.is_empty() {
            return;
        }
        self.text.push_str(&self.query[self.copied..start]);
        for c in String::from_utf8_lossy(run).chars() {
            let _ = match u32::from(c) {
                c @ 0..=0xffff => write!(self.text, "\\u{c:04x}"),
                c => write!(self.text, "\\U{c:08x}"),
            };
        }
        self.copied = end;
        run.clear();
    }
}

/// The byte of an escape `\xNN` or `\NNN` (octal) at the start of `s`, if it is above 0x7f (below, it is ASCII,
/// which `promql-parser` decodes right).
fn high_byte_escape(s: &[u8]) -> Option<u8> {
    let digits = s.get(2..4)?;
    let value = match s.get(1)? {
        b'x' => u8::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?,
        first @ b'0'..=b'3' if digits.iter().all(|d| (b'0'..=b'7').contains(d)) => {
            (first - b'0') * 64 + (digits[0] - b'0') * 8 + (digits[1] - b'0')
        }
        _ => return None,
    };
    (value > 0x7f).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_escapes_become_the_characters_they_encode() {
        let cases = [
            (r#"x{a="\xc3\xbf"}"#, r#"x{a="\u00ff"}"#),
            (r#"x{a='\303\277'}"#, r#"x{a='\u00ff'}"#),
            (r#"x{a="\xe4\xb8\x96-\xf0\x9f\x98\x80"}"#, r#"x{a="\u4e16-\U0001f600"}"#),
            (r#"label_replace(x, "\xff", "", "a", "b")"#, r#"label_replace(x, "\ufffd", "", "a", "b")"#),
            (r#"x{a="\xc3"} + y{b="\x41\xff\x41"}"#, r#"x{a="\ufffd"} + y{b="\x41\ufffd\x41"}"#),
            (r#"x{a="\xC3\xBF\"\xff"}"#, r#"x{a="\u00ff\"\ufffd"}"#),
        ];
        for (query, expected) in cases {
            assert_eq!(decode_byte_escapes(query), expected, "{query}");
            assert!(promql_parser::parser::parse(&decode_byte_escapes(query)).is_ok(), "{query}");
        }
    }

    #[test]
    fn everything_else_is_untouched() {
        for query in [
            r#"x{a="\x41\u00ff\n\t\\xff\"", b='\101'}"#,
            r#"x{a=`\xff`}"#,
            r#"x # "\xff"
            "#,
            "x{a=\"ÿ\"}",
            r#"x{a="\xf"}"#,
            r#"x{a="\400"}"#,
            r#"x{a="\"#,
            r#"x{a="\x"#,
        ] {
            assert!(matches!(decode_byte_escapes(query), Cow::Borrowed(q) if q == query), "{query}");
        }
    }
}
