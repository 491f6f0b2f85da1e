//! Duration expressions (Prometheus 3's `promql-duration-expr` syntax), which `promql-parser` cannot parse:
//! arithmetic in range and subquery brackets (`x[26m+4m]`, `x[1m:10*3s]`) and after `offset` (`x offset (1h/2)`).
//! Each is evaluated before parsing and replaced by the duration literal it amounts to (`x[30m]`); plain literals
//! are left as they are. As in Prometheus' `promql/durations.go`, numbers are seconds, the arithmetic is done in
//! floating point and the result is truncated to whole milliseconds.

use std::borrow::Cow;
use std::fmt::Write;

use super::parse::{skip_comment, skip_string, MAX_DEPTH};
use super::QueryError;

/// The longest duration Prometheus accepts, in seconds: 2^63 ns, the range of a Go `time.Duration`.
const MAX_SECONDS: f64 = 9_223_372_036.854_776;

/// Units of duration literals in the only order they may appear in, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Binding strength of `^`, the only operator that binds tighter than a unary sign.
const POW: u8 = 3;

/// Longest excerpt of an expression quoted in an error.
const MAX_EXCERPT: usize = 60;

/// `query` with every duration expression replaced by the literal of its value.
pub(crate) fn evaluate_durations(query: &str) -> Result<Cow<'_, str>, QueryError> {
    let bytes = query.as_bytes();
    if !query.contains('[') && !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"offset")) {
        return Ok(query.into());
    }
    let mut out = String::new();
    let (mut copied, mut braces, mut i) = (0, 0usize, 0);
    while i < bytes.len() {
        let rewrite = match bytes[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(bytes, i) + 1;
                continue;
            }
            b'#' => {
                i = skip_comment(bytes, i);
                continue;
            }
            b'{' => {
                braces += 1;
                None
            }
            b'}' => {
                braces = braces.saturating_sub(1);
                None
            }
            _ if braces > 0 => None,
            b'[' => bracket(query, i).map_err(QueryError::Parse)?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = word_end(bytes, i);
                let is_offset = query[i..end].eq_ignore_ascii_case("offset") && follows_expression(query, i);
                let rewrite = if is_offset { offset(query, i, end).map_err(QueryError::Parse)? } else { None };
                if rewrite.is_none() {
                    i = end;
                    continue;
                }
                rewrite
            }
            _ => None,
        };
        match rewrite {
            Some(r) => {
                out.push_str(&query[copied..r.start]);
                out.push_str(&r.text);
                (copied, i) = (r.end, r.end);
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Ok(query.into());
    }
    out.push_str(&query[copied..]);
    Ok(out.into())
}

/// Replace `start..end` of the query with `text`.
struct Rewrite {
    start: usize,
    end: usize,
    text: String,
}

/// The rewrite of the range or subquery bracket opening at `open`, if either side holds an expression.
fn bracket(query: &str, open: usize) -> Result<Option<Rewrite>, String> {
    let bytes = query.as_bytes();
    let is_content = |b: &u8| b.is_ascii_alphanumeric() || b.is_ascii_whitespace() || b"_.:+-*/%^()".contains(b);
    let close = open + 1 + bytes[open + 1..].iter().take_while(|b| is_content(b)).count();
    if bytes.get(close) != Some(&b']') {
        return Ok(None);
    }
    let mut sides = query[open + 1..close].split(':');
    let (range, step) = (sides.next().unwrap_or(""), sides.next());
    if sides.next().is_some() {
        return Ok(None);
    }
    let new_range = bracket_side(range)?;
    let new_step = step.map(bracket_side).transpose()?.flatten();
    if new_range.is_none() && new_step.is_none() {
        return Ok(None);
    }
    let mut text = format!("[{}", new_range.as_deref().unwrap_or(range));
    if let Some(step) = step {
        text.push(':');
        text.push_str(new_step.as_deref().unwrap_or(step));
    }
    text.push(']');
    Ok(Some(Rewrite { start: open, end: close + 1, text }))
}

/// The literal for one side of a bracket (range or step), unless it is empty or a single token already.
fn bracket_side(text: &str) -> Result<Option<String>, String> {
    let mut p = Parser::new(text, 0);
    let first = p.peek();
    p.bump(first);
    if first.kind == Kind::End || p.peek().kind == Kind::End {
        return Ok(None);
    }
    let mut p = Parser::new(text, 0);
    let ms = p.whole().and_then(|secs| to_millis(secs, true)).map_err(|e| p.error(&e))?;
    Ok(Some(literal(ms)))
}

/// The rewrite of an `offset` modifier whose keyword spans `keyword..after`, if a duration expression follows it.
///
/// As in Prometheus' grammar, a (signed) literal ends the offset, so `x offset 2 ^ 2` is `(x offset 2) ^ 2` and is
/// left alone, and so does a signed parenthesis (`x offset -(1m) * 2`). An unsigned parenthesis continues with the
/// operators after it: `x offset (1m) * 2` is an offset of 2m.
fn offset(query: &str, keyword: usize, after: usize) -> Result<Option<Rewrite>, String> {
    let mut p = Parser::new(query, after);
    let first = p.peek();
    let value = match first.kind {
        Kind::Open => p.expr(0),
        Kind::Op(sign @ (b'+' | b'-')) => {
            let mut ahead = p.clone();
            ahead.bump(first);
            match ahead.peek().kind {
                Kind::Open => {
                    p = ahead;
                    p.primary().map(|v| if sign == b'-' { -v } else { v })
                }
                Kind::Op(b'+' | b'-') => p.expr(0),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let ms = value.and_then(|secs| to_millis(secs, false)).map_err(|e| p.error(&e))?;
    // An offset of zero is no offset; `promql-parser` rejects a zero literal.
    let (start, text) = if ms == 0 { (keyword, String::new()) } else { (after, format!(" {}", literal(ms))) };
    Ok(Some(Rewrite { start, end: p.pos, text }))
}

/// Whether the word at `start` follows an expression, so that an `offset` there is the modifier and not a label
/// name (`by (offset)`) or a metric name (`x and offset`).
fn follows_expression(query: &str, start: usize) -> bool {
    let before = query[..start].trim_end().as_bytes();
    let Some(&last) = before.last() else { return false };
    if matches!(last, b')' | b']' | b'}') {
        return true;
    }
    if !is_word_byte(last) {
        return false;
    }
    let word_start = before.iter().rposition(|b| !is_word_byte(*b)).map_or(0, |i| i + 1);
    let word = &before[word_start..];
    !["and", "or", "unless", "atan2", "bool"].iter().any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn word_end(bytes: &[u8], start: usize) -> usize {
    start + bytes[start..].iter().take_while(|b| is_word_byte(**b)).count()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A number or duration literal.
    Literal,
    /// One of `+ - * / % ^`.
    Op(u8),
    Open,
    Close,
    End,
    /// Anything else: the end of an offset expression, or an error.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// A recursive-descent parser that evaluates a duration expression as it goes, to seconds.
#[derive(Clone)]
struct Parser<'a> {
    src: &'a str,
    /// Where the expression starts.
    start: usize,
    pos: usize,
    /// The end of the furthest token looked at, for error messages.
    seen: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, start: usize) -> Parser<'a> {
        Parser { src, start, pos: start, seen: start, depth: 0 }
    }

    fn peek(&mut self) -> Token {
        let bytes = self.src.as_bytes();
        let start = self.pos + bytes[self.pos..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let (kind, end) = match bytes.get(start) {
            None => (Kind::End, start),
            Some(&c @ (b'+' | b'-' | b'*' | b'/' | b'%' | b'^')) => (Kind::Op(c), start + 1),
            Some(b'(') => (Kind::Open, start + 1),
            Some(b')') => (Kind::Close, start + 1),
            Some(b'0'..=b'9' | b'.') => (Kind::Literal, literal_end(bytes, start)),
            Some(&c) if is_word_byte(c) => (Kind::Other, word_end(bytes, start)),
            Some(_) => (Kind::Other, start + self.src[start..].chars().next().map_or(1, char::len_utf8)),
        };
        self.seen = self.seen.max(end);
        Token { kind, start, end }
    }

    fn bump(&mut self, t: Token) {
        self.pos = t.end;
    }

    /// The value of the whole text, which must be one expression.
    fn whole(&mut self) -> Result<f64, String> {
        let v = self.expr(0)?;
        match self.peek() {
            t if t.kind == Kind::End => Ok(v),
            t => Err(self.unexpected(t)),
        }
    }

    /// An expression of operators binding at least as strongly as `min_prec` (precedence climbing).
    fn expr(&mut self, min_prec: u8) -> Result<f64, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek();
            let Kind::Op(op) = t.kind else { break };
            let prec = precedence(op);
            if prec < min_prec {
                break;
            }
            self.bump(t);
            // `^` is right-associative, the others left-associative.
            let rhs = self.expr(if op == b'^' { prec } else { prec + 1 })?;
            lhs = apply(op, lhs, rhs)?;
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// A sign applies to what follows up to the next operator weaker than `^`: `-2^2` is -4, `-2*3` is (-2)*3.
    fn unary(&mut self) -> Result<f64, String> {
        let t = self.peek();
        match t.kind {
            Kind::Op(sign @ (b'+' | b'-')) => {
                self.bump(t);
                let v = self.expr(POW)?;
                Ok(if sign == b'-' { -v } else { v })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<f64, String> {
        let t = self.peek();
        match t.kind {
            Kind::Literal => {
                self.bump(t);
                literal_value(&self.src[t.start..t.end])
            }
            Kind::Open => {
                self.bump(t);
                let v = self.expr(0)?;
                let close = self.peek();
                if close.kind != Kind::Close {
                    return Err(format!("{}, expected \")\"", self.unexpected(close)));
                }
                self.bump(close);
                Ok(v)
            }
            _ => Err(format!("{}, expected a number, a duration or \"(\"", self.unexpected(t))),
        }
    }

    fn unexpected(&self, t: Token) -> String {
        match t.kind {
            Kind::End => "unexpected end of expression".into(),
            _ => format!("unexpected {:?}", &self.src[t.start..t.end]),
        }
    }

    /// `problem` with the part of the expression read so far.
    fn error(&self, problem: &str) -> String {
        let text = self.src[self.start..self.seen].trim();
        let excerpt = match text.char_indices().nth(MAX_EXCERPT) {
            Some((i, _)) => format!("{}...", &text[..i]),
            None => text.to_string(),
        };
        format!("invalid duration expression {excerpt:?}: {problem}")
    }
}

fn precedence(op: u8) -> u8 {
    match op {
        b'+' | b'-' => 1,
        b'*' | b'/' | b'%' => 2,
        _ => POW,
    }
}

fn apply(op: u8, a: f64, b: f64) -> Result<f64, String> {
    Ok(match op {
        b'+' => a + b,
        b'-' => a - b,
        b'*' => a * b,
        b'/' if b == 0.0 => return Err("division by zero".into()),
        b'/' => a / b,
        b'%' if b == 0.0 => return Err("modulo by zero".into()),
        // Rust's float remainder takes the sign of the dividend, as Go's math.Mod does.
        b'%' => a % b,
        _ => a.powf(b),
    })
}

/// The end of the number or duration literal starting at `start` (a digit or `.`): a run of letters, digits, `_`
/// and `.`, with the sign of a decimal exponent (`1e-3`).
fn literal_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        let exponent_sign = matches!(b, b'+' | b'-')
            && i > start + 1
            && matches!(bytes[i - 1], b'e' | b'E')
            && bytes[start..i - 1].iter().all(|c| c.is_ascii_digit() || *c == b'.')
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}

/// The value in seconds of a number (`90`, `1.5`, `0x10`) or duration (`1h30m`) literal.
fn literal_value(word: &str) -> Result<f64, String> {
    let is_duration =
        !word.contains(['x', 'X']) && word.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'));
    let secs = if is_duration {
        duration_seconds(word)?
    } else {
        number_value(word).ok_or_else(|| format!("bad number or duration syntax: {word:?}"))?
    };
    if secs.abs() > MAX_SECONDS {
        return Err(format!("duration out of range: {word:?}"));
    }
    Ok(secs)
}

/// A hexadecimal (`0x1f`), octal (`017`) or decimal (`1.5e3`) number.
fn number_value(word: &str) -> Option<f64> {
    if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if word.len() > 1 && word.starts_with('0') && word.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u64::from_str_radix(word, 8).ok().map(|v| v as f64);
    }
    word.parse().ok()
}

/// The seconds of a duration literal: numbers with units, largest unit first, each unit at most once.
fn duration_seconds(word: &str) -> Result<f64, String> {
    let bad = || format!("bad number or duration syntax: {word:?}");
    let (mut rest, mut ms, mut next_unit) = (word, 0u64, 0);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        // A run of ASCII digits fails to parse only by overflowing.
        let n: u64 = rest[..digits].parse().map_err(|_| if digits == 0 { bad() } else { out_of_range(word) })?;
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") {
            6
        } else {
            UNITS[..6].iter().position(|(u, _)| rest.starts_with(u)).ok_or_else(bad)?
        };
        if unit < next_unit {
            return Err(bad());
        }
        let (name, size) = UNITS[unit];
        ms = n.checked_mul(size).and_then(|v| v.checked_add(ms)).ok_or_else(|| out_of_range(word))?;
        (rest, next_unit) = (&rest[name.len()..], unit + 1);
    }
    Ok(ms as f64 / 1000.0)
}

fn out_of_range(word: &str) -> String {
    format!("duration out of range: {word:?}")
}

/// The value in whole milliseconds (truncated toward zero, as Prometheus does), checked as Prometheus checks the
/// result of a duration expression; only an offset may be zero or negative.
fn to_millis(secs: f64, positive: bool) -> Result<i64, String> {
    if positive && secs <= 0.0 {
        return Err("duration must be greater than 0".into());
    }
    if secs.is_nan() || secs.abs() > MAX_SECONDS {
        return Err("duration is out of range".into());
    }
    let ms = (secs * 1000.0) as i64;
    if positive && ms == 0 {
        return Err("duration must be at least 1ms".into());
    }
    Ok(ms)
}

/// A duration literal `promql-parser` reads back exactly, such as `1d2h3m4s5ms` or `-5m`. Units no larger than a
/// day keep every number within the `u32` the parser takes per unit.
fn literal(ms: i64) -> String {
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (unit, size) in UNITS[2..].iter().copied() {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(query: &str) -> String {
        match evaluate_durations(query) {
            Ok(q) => q.into_owned(),
            Err(e) => panic!("{query}: {e}"),
        }
    }

    fn error(query: &str) -> String {
        match evaluate_durations(query) {
            Ok(q) => panic!("{query}: expected an error, got {q}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn range_and_subquery_expressions_become_literals() {
        let cases = [
            ("x[26m+4m]", "x[30m]"),
            ("x[30m+0s]", "x[30m]"),
            ("x[60*30]", "x[30m]"),
            ("x[2m*(10+5)]", "x[30m]"),
            ("x[24m+((1.5*2m)+2m)]", "x[29m]"),
            ("x[-5m+35m]", "x[30m]"),
            ("x[1h/2]", "x[30m]"),
            ("x[1h30m % 1h]", "x[30m]"),
            ("x[30m1s-30m1s % 1m]", "x[30m]"),
            ("x[(9m30s+30s)*3]", "x[30m]"),
            ("x[ 1 + 0.5 ]", "x[1s500ms]"),
            ("x[2^10]", "x[17m4s]"),
            ("x[2^3^2]", "x[8m32s]"),
            ("x[-2^2+10]", "x[6s]"),
            ("x[--1m]", "x[1m]"),
            ("x[+1m]", "x[1m]"),
            ("x[1e3*2]", "x[33m20s]"),
            ("x[0x10*2]", "x[32s]"),
            ("x[017+0]", "x[15s]"),
            ("x[019+0]", "x[19s]"),
            ("x[1d+1w-1y+1y]", "x[8d]"),
            ("x[0.001+0.0005]", "x[1ms]"),
            ("x[29s+1s:5s+5s]", "x[30s:10s]"),
            ("x[5m:5s+5s]", "x[5m:10s]"),
            ("x[29s+1s:]", "x[30s:]"),
            ("x[29s+1s:1m]", "x[30s:1m]"),
            ("x[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms]", "x[30s:10s]"),
            ("rate(x{a=\"b\"}[1m*5]) + rate(y[2m+3m])", "rate(x{a=\"b\"}[5m]) + rate(y[5m])"),
        ];
        for (query, expected) in cases {
            assert_eq!(rewritten(query), expected, "{query}");
        }
    }

    #[test]
    fn plain_literals_and_everything_else_are_untouched() {
        for query in [
            "x[5m]",
            "x[ 5m ]",
            "x[1800]",
            "x[1.5]",
            "x[5m:]",
            "x[5m:1m]",
            "x[foo]",
            "x[-]",
            "x[]",
            "x[1:2:3+4]",
            "x[5m",
            "x offset 5m",
            "x offset -5m",
            "x OFFSET +5m",
            "x offset -4",
            "x offset 100 + 2",
            "x offset 2 ^ 2",
            "x offset -2 * 2",
            "sum by (offset) (x)",
            "sum(x) by (a, offset)",
            "x and offset - (5)",
            "offset - (5)",
            "x{a=\"[1+2]\"}",
            "x{a=~\"b+\", c=\"offset (5)\"}",
            "label_replace(x, \"a\", \"[1m+1m]\", 'b', `offset (2)`)",
            "x # comment [1m+1m] offset (5)\n",
            "x[5m] offset 1m",
            "holt_winters(x[5m], 0.5, 0.5)",
        ] {
            assert!(matches!(evaluate_durations(query), Ok(Cow::Borrowed(q)) if q == query), "{query}");
        }
    }

    #[test]
    fn offset_expressions_become_literals() {
        let cases = [
            ("x offset (100 + 2)", "x offset 1m42s"),
            ("x offset (2 ^ 2)", "x offset 4s"),
            ("x offset (-2 * 2)", "x offset -4s"),
            ("x offset (-2 ^ 2)", "x offset -4s"),
            ("x offset -(1m + 1m)", "x offset -2m"),
            ("x offset +(1m + 1m)", "x offset 2m"),
            ("x offset -(1m) * 2", "x offset -1m * 2"),
            ("x offset (1m) * 2 > y", "x offset 2m > y"),
            ("x offset (1m) + 1", "x offset 1m1s"),
            ("x offset --1m", "x offset 1m"),
            ("x OFFSET(1m)", "x OFFSET 1m"),
            ("x offset (1m - 1m) > 1", "x  > 1"),
            ("x[1m] offset (30s*2)", "x[1m] offset 1m"),
            ("(x) offset (1m)", "(x) offset 1m"),
            ("x{a=\"b\"} offset (1m)", "x{a=\"b\"} offset 1m"),
            ("x @ 100 offset (1m)", "x @ 100 offset 1m"),
            (
                "sum_over_time(m[29s+1s:20*500ms] offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms)))",
                "sum_over_time(m[30s:10s] offset -3m20s)",
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(rewritten(query), expected, "{query}");
        }
    }

    #[test]
    fn errors_name_the_expression_and_the_problem() {
        let cases = [
            ("x[5m-10m]", "invalid duration expression \"5m-10m\": duration must be greater than 0"),
            ("x[1m-1m]", "duration must be greater than 0"),
            ("x[1m:1s-1s]", "invalid duration expression \"1s-1s\": duration must be greater than 0"),
            ("x[-5m]", "duration must be greater than 0"),
            ("x[0.0001*1]", "duration must be at least 1ms"),
            ("x[1m/0]", "division by zero"),
            ("x[1m/(1-1)]", "division by zero"),
            ("x[1m%0]", "modulo by zero"),
            ("x[10^400]", "duration is out of range"),
            ("x[(10^400)%3]", "duration is out of range"),
            ("x[1y*300]", "duration is out of range"),
            ("x[99999999999s+1]", "duration out of range: \"99999999999s\""),
            ("x[99999999999999999999999s+1]", "duration out of range"),
            ("x[1e400+1]", "duration out of range"),
            ("x[1.5h+1]", "bad number or duration syntax: \"1.5h\""),
            ("x[1m1h+1]", "bad number or duration syntax: \"1m1h\""),
            ("x[5x+1]", "bad number or duration syntax: \"5x\""),
            ("x[0x+1]", "bad number or duration syntax: \"0x\""),
            ("x[1_000+1]", "bad number or duration syntax"),
            ("x[1m+]", "unexpected end of expression"),
            ("x[(1m+1m]", "unexpected end of expression, expected \")\""),
            ("x[1m+1m)]", "unexpected \")\""),
            ("x[1m 1m]", "unexpected \"1m\""),
            ("x[1m+foo]", "unexpected \"foo\", expected a number, a duration or \"(\""),
            ("x offset (1m / 0)", "invalid duration expression \"(1m / 0)\": division by zero"),
            ("x offset (1m) - y", "invalid duration expression \"(1m) - y\": unexpected \"y\""),
            ("x offset (foo)", "unexpected \"foo\""),
            ("x offset -(1m", "unexpected end of expression"),
        ];
        for (query, expected) in cases {
            let e = error(query);
            assert!(e.starts_with("parse error: invalid duration expression "), "{query}: {e}");
            assert!(e.contains(expected), "{query}: {e}");
        }
    }

    #[test]
    fn hostile_input_is_refused_without_panicking() {
        let deep = format!("x[{}1m{}]", "(".repeat(MAX_DEPTH + 5), ")".repeat(MAX_DEPTH + 5));
        assert!(error(&deep).contains("nested deeper than"));
        let signs = format!("x[{}1m]", "-".repeat(MAX_DEPTH * 2));
        assert!(error(&signs).contains("nested deeper than"));
        let long = format!("x[{}+]", "1+".repeat(1000));
        assert!(error(&long).contains("...\": unexpected end of expression"));
        for query in ["x[", "x[(", "x offset", "x offset (", "x offset -", "x[.]", "x[.+1]", "x[1e+]", "x offset (ü)"]
        {
            let _ = evaluate_durations(query);
        }
        assert!(error("x offset (1m) + ü").contains("unexpected \"ü\""));
    }

    #[test]
    fn literals_read_back_as_the_same_milliseconds() {
        let cases = [
            (1, "1ms"),
            (1500, "1s500ms"),
            (90_000, "1m30s"),
            (-300_000, "-5m"),
            (86_400_000 * 400 + 1, "400d1ms"),
            (9_223_372_036_854, "106751d23h47m16s854ms"),
        ];
        for (ms, text) in cases {
            assert_eq!(literal(ms), text);
            let back = promql_parser::util::parse_duration(text.trim_start_matches('-')).unwrap();
            assert_eq!(back.as_millis() as i64, ms.abs(), "{text}");
        }
    }
}
