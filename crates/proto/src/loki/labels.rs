//! Loki's stream label strings (`{job="app", host="a"}`, Prometheus label syntax with Go string escapes): parsed
//! into [`Labels`] with errors naming the offset, and written back.

use vigil_model::Labels;

/// Why a label string was rejected; `offset` is a byte offset into it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelsParseError {
    #[error("label string at byte {offset}: {reason}")]
    Syntax { offset: usize, reason: &'static str },
    #[error("label string: duplicate label name {0:?}")]
    Duplicate(String),
    #[error("label string is {bytes} bytes, more than the limit of {limit}")]
    TooLong { bytes: usize, limit: usize },
}

/// Longest label string accepted.
pub const MAX_LABELS_STRING_BYTES: usize = 64 << 10;

/// Parses `{name="value", ...}`; empty values drop the label as Prometheus does, a trailing comma is allowed.
pub fn parse_labels(s: &str) -> Result<Labels, LabelsParseError> {
    if s.len() > MAX_LABELS_STRING_BYTES {
        return Err(LabelsParseError::TooLong { bytes: s.len(), limit: MAX_LABELS_STRING_BYTES });
    }
    let mut p = Parser { s: s.as_bytes(), pos: 0 };
    p.ws();
    p.expect(b'{', "expected '{'")?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let name = p.name()?;
        p.ws();
        p.expect(b'=', "expected '=' after the label name")?;
        p.ws();
        let value = p.quoted()?;
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(LabelsParseError::Duplicate(name));
        }
        pairs.push((name, value));
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.expect(b'}', "expected ',' or '}'")?;
        break;
    }
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after '}'"));
    }
    Labels::from_pairs(pairs).map_err(|e| match e {
        vigil_model::LabelsError::Duplicate(n) => LabelsParseError::Duplicate(n),
        vigil_model::LabelsError::EmptyName => LabelsParseError::Syntax { offset: 0, reason: "empty label name" },
    })
}

/// Writes `{a="1", b="2"}` with Go's escapes for `\`, `"` and control characters.
pub fn format_labels(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&l.name);
        out.push_str("=\"");
        for c in l.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> LabelsParseError {
        self.err_at(self.pos, reason)
    }

    fn err_at(&self, offset: usize, reason: &'static str) -> LabelsParseError {
        LabelsParseError::Syntax { offset, reason }
    }

    fn ws(&mut self) {
        while self.s.get(self.pos).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), LabelsParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    fn name(&mut self) -> Result<String, LabelsParseError> {
        let start = self.pos;
        while let Some(&b) = self.s.get(self.pos) {
            let ok = b == b'_' || b.is_ascii_alphabetic() || (self.pos > start && b.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("expected a label name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn quoted(&mut self) -> Result<String, LabelsParseError> {
        self.expect(b'"', "expected '\"' to open the label value")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.pos) else { return Err(self.err("unterminated label value")) };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\n' => return Err(self.err("newline in label value")),
                b'\\' => self.escape(&mut out)?,
                b => out.push(b),
            }
        }
        // The input is a &str and escapes produce valid UTF-8, except `\x` bytes, which Go would accept too but
        // Prometheus rejects as label values.
        String::from_utf8(out).map_err(|_| self.err("label value is not valid utf-8"))
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), LabelsParseError> {
        // Errors point at the backslash.
        let at = self.pos - 1;
        let Some(&c) = self.s.get(self.pos) else { return Err(self.err_at(at, "unterminated escape")) };
        self.pos += 1;
        let simple = match c {
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let digits = match c {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => return Err(self.err_at(at, "unknown escape sequence")),
        };
        let hex = self.s.get(self.pos..self.pos + digits).ok_or_else(|| self.err_at(at, "short escape sequence"))?;
        let hex = std::str::from_utf8(hex).map_err(|_| self.err_at(at, "invalid escape sequence"))?;
        let v = u32::from_str_radix(hex, 16).map_err(|_| self.err_at(at, "invalid hex digits in escape"))?;
        self.pos += digits;
        if c == b'x' {
            out.push(v as u8);
        } else {
            let ch = char::from_u32(v).ok_or_else(|| self.err_at(at, "escape is not a unicode scalar value"))?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }
}
