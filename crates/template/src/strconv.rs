//! Go's strconv as templates need it: quoting and unquoting Go literals, parsing Go number syntax, and formatting
//! floats the way `strconv.FormatFloat` does.

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii` is set).
pub(crate) fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if (!ascii || c.is_ascii()) && is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// An approximation of Go's `unicode.IsPrint` without Unicode tables: control, format, private-use and
/// separator characters other than the ASCII space are not printable.
pub(crate) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x100 {
        return (0x20..=0x7e).contains(&u) || ((0xa1..=0xff).contains(&u) && u != 0xad);
    }
    if c.is_whitespace() || c.is_control() {
        return false;
    }
    !matches!(u,
        0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f
        | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff | 0x110bd | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

/// Go's `strconv.Unquote` for the three literal forms. Byte escapes that do not form UTF-8 become U+FFFD.
pub(crate) fn unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 || bytes[0] != bytes[bytes.len() - 1] {
        return None;
    }
    let quote = bytes[0];
    let body = &s[1..s.len() - 1];
    match quote {
        b'`' => {
            if body.contains('`') {
                return None;
            }
            // Go drops carriage returns from raw strings.
            Some(body.replace('\r', ""))
        }
        b'"' | b'\'' => {
            if body.contains('\n') {
                return None;
            }
            let mut out = Vec::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (value, tail) = unquote_char(rest, quote as char)?;
                match value {
                    Unquoted::Rune(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    Unquoted::Byte(b) => out.push(b),
                }
                rest = tail;
                if quote == b'\'' && !rest.is_empty() {
                    return None;
                }
            }
            if quote == b'\'' && out.is_empty() {
                return None;
            }
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        _ => None,
    }
}

/// A character decoded from a Go literal: a rune, or a single byte from a `\x` or octal escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unquoted {
    Rune(char),
    Byte(u8),
}

impl Unquoted {
    pub(crate) fn code(self) -> u32 {
        match self {
            Unquoted::Rune(c) => c as u32,
            Unquoted::Byte(b) => b.into(),
        }
    }
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape of `s`, returning it and the rest.
pub(crate) fn unquote_char(s: &str, quote: char) -> Option<(Unquoted, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((Unquoted::Rune(c), chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((Unquoted::Rune(c), rest));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            let v = u32::from_str_radix(digits, 16).ok().filter(|_| digits.bytes().all(|b| b.is_ascii_hexdigit()))?;
            if e == 'x' {
                return Some((Unquoted::Byte(v as u8), &rest[n..]));
            }
            Some((Unquoted::Rune(char::from_u32(v)?), &rest[n..]))
        }
        '0'..='7' => {
            let digits = rest.get(..2)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = (e as u32 - '0' as u32) * 64 + u32::from_str_radix(digits, 8).ok()?;
            let byte = u8::try_from(v).ok()?;
            Some((Unquoted::Byte(byte), &rest[2..]))
        }
        _ => None,
    }
}

/// Go's `underscoreOK`: underscores may only separate digits, or follow a base prefix.
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.bytes() {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char).to_digit(16)?;
        if d >= base {
            return None;
        }
        n = n.checked_mul(base.into())?.checked_add(d.into())?;
    }
    if underscores && !underscores_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(rest)?;
    if neg {
        if u > 1 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// Why Go's `strconv.ParseFloat` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal and hexadecimal literals, underscores between digits, and
/// `inf`, `infinity`, `nan` in any case.
pub(crate) fn parse_float(s: &str) -> Result<f64, FloatError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    if body.contains('_') && !underscores_ok(s) {
        return Err(FloatError::Syntax);
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean.as_bytes()[..2].eq_ignore_ascii_case(b"0x") {
        parse_hex_float(&clean[2..])?
    } else {
        if !is_decimal_float(&clean) {
            return Err(FloatError::Syntax);
        }
        clean.parse::<f64>().map_err(|_| FloatError::Syntax)?
    };
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(if neg { -v } else { v })
}

fn is_decimal_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

fn parse_hex_float(s: &str) -> Result<f64, FloatError> {
    let (mantissa, exp) = s.split_once(['p', 'P']).ok_or(FloatError::Syntax)?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(FloatError::Syntax);
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16).ok_or(FloatError::Syntax)?);
    }
    let exp: i32 = exp.parse().map_err(|_| FloatError::Syntax)?;
    let shift = i32::try_from(frac.len()).map_err(|_| FloatError::Range)? * 4;
    Ok(v * 2f64.powi(exp.saturating_sub(shift)))
}

/// Decimal digits of a float's magnitude: the value is `0.DIGITS × 10^point`. Zero is the digit `0` with
/// point 1.
struct Digits {
    digits: Vec<u8>,
    point: i32,
}

impl Digits {
    /// Parses Rust's `{:e}` output for a non-negative finite value, e.g. `1.2345e6`.
    fn from_exp(s: &str) -> Digits {
        let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
        Digits { digits, point: exp + 1 }
    }

    /// The shortest digits that read back as `v`.
    fn shortest(v: f64) -> Digits {
        Digits::from_exp(&format!("{v:e}"))
    }

    /// `v` rounded to `n` significant digits (at least one), trailing zeros dropped.
    fn significant(v: f64, n: usize) -> Digits {
        Digits::from_exp(&format!("{:.*e}", n.max(1) - 1, v))
    }

    fn digit(&self, i: i32) -> u8 {
        usize::try_from(i).ok().and_then(|i| self.digits.get(i)).copied().unwrap_or(b'0')
    }

    fn is_zero(&self) -> bool {
        self.digits == [b'0']
    }

    /// `d.ddde±XX` with `frac` digits after the point.
    fn write_e(&self, out: &mut String, frac: usize, upper: bool) {
        out.push(self.digit(0) as char);
        if frac > 0 {
            out.push('.');
            for i in 1..=frac {
                out.push(self.digit(i32::try_from(i).unwrap_or(i32::MAX)) as char);
            }
        }
        let exp = if self.is_zero() { 0 } else { self.point - 1 };
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        let exp = exp.unsigned_abs();
        if exp < 10 {
            out.push('0');
        }
        out.push_str(&exp.to_string());
    }

    /// `ddd.ddd` with `frac` digits after the point.
    fn write_f(&self, out: &mut String, frac: usize) {
        if self.point > 0 {
            for i in 0..self.point {
                out.push(self.digit(i) as char);
            }
        } else {
            out.push('0');
        }
        if frac > 0 {
            out.push('.');
            for i in 0..frac {
                out.push(self.digit(self.point + i32::try_from(i).unwrap_or(i32::MAX)) as char);
            }
        }
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for the formats `e`, `E`, `f`, `g` and `G`; a negative
/// precision asks for the shortest representation that reads back as `v`.
pub(crate) fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    let shortest = prec < 0;
    let prec_us = usize::try_from(prec).unwrap_or(0);
    match fmt {
        'e' | 'E' => {
            if shortest {
                let d = Digits::shortest(a);
                d.write_e(&mut out, d.digits.len() - 1, fmt == 'E');
            } else {
                let d = Digits::from_exp(&format!("{a:.prec_us$e}"));
                d.write_e(&mut out, prec_us, fmt == 'E');
            }
        }
        'f' | 'F' => {
            if shortest {
                let d = Digits::shortest(a);
                let frac = (d.digits.len() as i32 - d.point).max(0);
                d.write_f(&mut out, usize::try_from(frac).unwrap_or(0));
            } else {
                out.push_str(&format!("{a:.prec_us$}"));
            }
        }
        _ => {
            let upper = fmt == 'G';
            let (d, mut eprec) = if shortest {
                (Digits::shortest(a), 6)
            } else {
                let d = Digits::significant(a, prec_us.max(1));
                let p = prec.max(1);
                let nd = d.digits.len() as i32;
                let eprec = if p > nd && nd >= d.point { nd } else { p };
                (d, eprec)
            };
            if d.is_zero() {
                eprec = eprec.max(1);
            }
            let nd = d.digits.len() as i32;
            let exp = if d.is_zero() { 0 } else { d.point - 1 };
            if exp < -4 || exp >= eprec {
                let p = if shortest { nd } else { prec.max(1).min(nd) };
                d.write_e(&mut out, usize::try_from(p - 1).unwrap_or(0), upper);
            } else {
                let p = if shortest || prec.max(1) > d.point { nd } else { prec.max(1) };
                d.write_f(&mut out, usize::try_from((p - d.point).max(0)).unwrap_or(0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_as_go() {
        let cases: &[(f64, char, i32, &str)] = &[
            (1e6, 'g', -1, "1e+06"),
            (100000.0, 'g', -1, "100000"),
            (1234567.0, 'g', -1, "1.234567e+06"),
            (0.1, 'g', -1, "0.1"),
            (3.25, 'g', -1, "3.25"),
            (0.0001, 'g', -1, "0.0001"),
            (0.00001, 'g', -1, "1e-05"),
            (0.0, 'g', -1, "0"),
            (-0.0, 'g', -1, "-0"),
            (1e21, 'g', -1, "1e+21"),
            (123456789.0, 'g', -1, "1.23456789e+08"),
            (1.234567, 'g', 4, "1.235"),
            (120.00000000000001, 'g', 4, "120"),
            (0.0, 'g', 4, "0"),
            (123456700.0, 'g', 4, "1.235e+08"),
            (18.446744073709553, 'g', 4, "18.45"),
            (1.2345, 'g', 4, "1.234"),
            (12.345, 'g', 4, "12.35"),
            (100.0, 'g', 4, "100"),
            (1e5, 'g', 4, "1e+05"),
            (3720.01, 'f', 2, "3720.01"),
            (2.5, 'f', 0, "2"),
            (1.0, 'e', 3, "1.000e+00"),
            (1234.5678, 'e', -1, "1.2345678e+03"),
            (1e100, 'e', 2, "1.00e+100"),
            (0.5, 'f', -1, "0.5"),
            (1e21, 'f', -1, "1000000000000000000000"),
            (f64::INFINITY, 'g', -1, "+Inf"),
            (f64::NEG_INFINITY, 'f', 2, "-Inf"),
            (f64::NAN, 'g', 4, "NaN"),
        ];
        for &(v, f, p, want) in cases {
            assert_eq!(format_float(v, f, p), want, "{v} {f} {p}");
        }
    }

    #[test]
    fn numbers_parse_as_go() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("1__000"), None);
        assert_eq!(parse_int("08"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_uint("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert_eq!(parse_float(".12"), Ok(0.12));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("one"), Err(FloatError::Syntax));
        assert_eq!(parse_float("1e999"), Err(FloatError::Range));
        assert_eq!(parse_float("1e"), Err(FloatError::Syntax));
        assert_eq!(parse_float("€1"), Err(FloatError::Syntax));
        assert_eq!(parse_int("€"), None);
    }

    #[test]
    fn literals_unquote_and_quote_as_go() {
        assert_eq!(unquote(r#""a\tb\x41\u00e9\101""#).as_deref(), Some("a\tbAéA"));
        assert_eq!(unquote("`a\r\\n`").as_deref(), Some("a\\n"));
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote(r#""\q""#), None);
        assert_eq!(quote("a\"b\n\u{a0}é", false), r#""a\"b\n\u00a0é""#);
        assert_eq!(quote("é", true), r#""\u00e9""#);
        assert_eq!(quote_rune('x', false), "'x'");
    }
}
