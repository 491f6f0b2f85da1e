//! A small strict JSON reader and string escaper for `meta.json`; the engine crates carry no JSON library.
//!
//! It accepts objects, arrays, strings and integers (what `meta.json` holds), records where each member of the
//! top-level object starts so the checksum's extent can be found, and refuses deep nesting.

/// A parsed JSON value. Numbers must be integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Object(Vec<Member>),
    Array(Vec<Value>),
    String(String),
    Integer(i128),
}

/// One member of an object, with the offset of the quote that opens its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Member {
    pub key: String,
    pub value: Value,
    pub offset: usize,
}

/// Where and why parsing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct JsonError {
    pub offset: usize,
    pub reason: &'static str,
}

const MAX_DEPTH: usize = 8;
/// More digits than any i64 or u64 has, so longer numbers are refused before they overflow the i128.
const MAX_DIGITS: usize = 20;

/// Parses one JSON value surrounded by optional whitespace.
pub(super) fn parse(text: &[u8]) -> Result<Value, JsonError> {
    let mut p = Parser { text, pos: 0 };
    let value = p.value(0)?;
    p.skip_whitespace();
    if p.pos != text.len() {
        return Err(p.error("data after the value"));
    }
    Ok(value)
}

/// Appends `s` as a JSON string literal.
pub(super) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError { offset: self.pos, reason }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(reason));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            let offset = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.expect(b':', "expected ':'")?;
            let value = self.value(depth + 1)?;
            members.push(Member { key, value, offset });
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn integer(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.text[digits_start..self.pos];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') || digits.len() > MAX_DIGITS {
            return Err(JsonError { offset: start, reason: "invalid integer" });
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.error("numbers must be integers"));
        }
        let magnitude = digits.iter().fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
        Ok(Value::Integer(if negative { -magnitude } else { magnitude }))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else { return Err(self.error("unterminated string")) };
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return Err(self.error("control character in string")),
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("string is not UTF-8"))
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let Some(byte) = self.peek() else { return Err(self.error("unterminated string")) };
        self.pos += 1;
        let ch = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xd800..0xdc00).contains(&first) {
                    if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(self.error("unpaired surrogate"));
                    }
                    self.pos += 2;
                    let second = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&second) {
                        return Err(self.error("unpaired surrogate"));
                    }
                    0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                } else {
                    first
                };
                char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))?
            }
            _ => return Err(self.error("invalid escape")),
        };
        let mut buf = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or_else(|| self.error("short \\u escape"))?;
        let mut code = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or_else(|| self.error("invalid \\u escape"))?;
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_meta_json_holds() {
        let text = br#" {"a": -12, "b": ["x\"y\u00e9\ud83d\ude00", "\\"], "c": {}} "#;
        let Value::Object(members) = parse(text).unwrap() else { panic!("not an object") };
        assert_eq!(members[0], Member { key: "a".into(), value: Value::Integer(-12), offset: 2 });
        assert_eq!(members[1].value, Value::Array(vec![Value::String("x\"yé😀".into()), Value::String("\\".into())]));
        assert_eq!(members[2].value, Value::Object(Vec::new()));
    }

    #[test]
    fn escaped_strings_read_back() {
        let s = "a\"b\\c\n\u{1}é";
        let mut out = String::new();
        write_string(&mut out, s);
        assert_eq!(parse(out.as_bytes()), Ok(Value::String(s.into())));
    }

    #[test]
    fn refuses_what_is_not_strict_json() {
        for bad in [
            &b"{"[..],
            b"{\"a\" 1}",
            b"{\"a\": 01}",
            b"{\"a\": 1.5}",
            b"{\"a\": 1,}",
            b"[1] x",
            b"\"\\ud800\"",
            b"\"\x01\"",
            b"123456789012345678901",
            b"true",
            b"[[[[[[[[[[]]]]]]]]]]",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
