//! A small JSON scanner for `| json`: flattens an object's fields into labels (nested keys joined with `_`,
//! arrays skipped, as Loki does) or looks up `a.b[0]` paths. Strings are borrowed unless they hold escapes;
//! nesting is capped and bad input is an error, never a panic.

use std::borrow::Cow;

/// Deepest nesting of objects and arrays accepted in a line.
pub(crate) const MAX_DEPTH: usize = 64;

type Result<T> = std::result::Result<T, String>;

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        match self.peek() {
            None => Err(format!("unexpected end of input, expecting {what}")),
            Some(b) => Err(format!("unexpected {:?} at offset {}, expecting {what}", b as char, self.pos)),
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// A string at the cursor (on its opening quote), unescaped.
    fn string(&mut self) -> Result<Cow<'a, str>> {
        self.expect(b'"', "string")?;
        let start = self.pos;
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b'"' => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => return self.string_escaped(start).map(Cow::Owned),
                0..=0x1f => return self.fail("string character"),
                _ => self.pos += 1,
            }
        }
        self.fail("closing quote")
    }

    fn string_escaped(&mut self, start: usize) -> Result<String> {
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let Some(b) = self.peek() else { return self.fail("closing quote") };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else { return self.fail("escape") };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\x08'),
                        b'f' => out.push('\x0c'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi) && self.text[self.pos..].starts_with("\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            return self.fail("escape character");
                        }
                    }
                }
                0..=0x1f => return self.fail("string character"),
                _ => {
                    // Copy the run up to the next quote or backslash; it starts and ends on char boundaries.
                    let run = self.text[self.pos..].find(['"', '\\']).unwrap_or(self.text.len() - self.pos);
                    let chunk = &self.text[self.pos..self.pos + run];
                    if chunk.bytes().any(|b| b < 0x20) {
                        let bad = chunk.bytes().position(|b| b < 0x20).unwrap_or(0);
                        self.pos += bad;
                        return self.fail("string character");
                    }
                    out.push_str(chunk);
                    self.pos += run;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits =
            self.text.get(self.pos..self.pos + 4).ok_or_else(|| "unexpected end of input in \\u escape".to_string())?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| format!("invalid \\u escape at offset {}", self.pos))?;
        self.pos += 4;
        Ok(v)
    }

    /// A number or literal at the cursor, as its text.
    fn scalar(&mut self) -> Result<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'n') => self.word("null"),
            Some(b'-' | b'0'..=b'9') => {
                self.pos += 1;
                while matches!(self.peek(), Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
                    self.pos += 1;
                }
                Ok(&self.text[start..self.pos])
            }
            _ => self.fail("value"),
        }
    }

    fn word(&mut self, w: &'static str) -> Result<&'a str> {
        if self.text[self.pos..].starts_with(w) {
            self.pos += w.len();
            Ok(w)
        } else {
            self.fail(w)
        }
    }

    /// Skips the value at the cursor, `depth` being the nesting it sits at.
    fn skip_value(&mut self, depth: usize) -> Result<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                self.pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.expect(b':', "':'")?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return self.fail("',' or closing bracket"),
                    }
                }
            }
            _ => self.scalar().map(drop),
        }
    }

    fn at_end(&mut self) -> Result<()> {
        self.ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("end of input"),
        }
    }
}

/// Appends `key` to `out` with Loki's label-name sanitising: characters outside `[a-zA-Z0-9_]` become `_`,
/// and a name starting with a digit gets a leading `_`.
pub(crate) fn push_sanitized(out: &mut String, key: &str, first: bool) {
    let key = key.trim();
    if first && key.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
}

/// Calls `emit(name, value)` for every scalar field of the JSON object `line`, nested objects flattened with
/// `_`; arrays and nulls are skipped. A key seen twice is emitted twice (the later value wins downstream).
pub(crate) fn extract_all(line: &str, emit: &mut dyn FnMut(&str, &str)) -> Result<()> {
    let mut s = Scanner::new(line);
    s.ws();
    if s.peek() != Some(b'{') {
        return s.fail("'{'");
    }
    let mut prefix = String::new();
    object(&mut s, &mut prefix, 1, emit)?;
    s.at_end()
}

fn object(s: &mut Scanner<'_>, prefix: &mut String, depth: usize, emit: &mut dyn FnMut(&str, &str)) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
    }
    s.expect(b'{', "'{'")?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
        return Ok(());
    }
    loop {
        s.ws();
        let key = s.string()?;
        s.ws();
        s.expect(b':', "':'")?;
        s.ws();
        let before = prefix.len();
        if before > 0 {
            prefix.push('_');
        }
        push_sanitized(prefix, &key, before == 0);
        match s.peek() {
            Some(b'"') => {
                let v = s.string()?;
                emit(prefix, &v);
            }
            Some(b'{') => object(s, prefix, depth + 1, emit)?,
            Some(b'[') => s.skip_value(depth)?,
            _ => {
                let v = s.scalar()?;
                if v != "null" {
                    emit(prefix, v);
                }
            }
        }
        prefix.truncate(before);
        s.ws();
        match s.peek() {
            Some(b',') => s.pos += 1,
            Some(b'}') => {
                s.pos += 1;
                return Ok(());
            }
            _ => return s.fail("',' or '}'"),
        }
    }
}

/// Checks that `line` is one valid JSON value.
pub(crate) fn validate(line: &str) -> Result<()> {
    let mut s = Scanner::new(line);
    s.ws();
    s.skip_value(0)?;
    s.at_end()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path of `| json name="a.b[0]"`: keys by `.name` or `["name"]`, array elements by `[n]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    pub fn parse(path: &str) -> Result<JsonPath> {
        let bad = |why: &str| Err(format!("invalid json expression {path:?}: {why}"));
        let mut steps = Vec::new();
        let mut rest = path;
        let mut expect_key = true;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else { return bad("missing ']'") };
                let inner = r[..end].trim();
                if let Some(quoted) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                    steps.push(Step::Key(quoted.replace("\\\"", "\"")));
                } else {
                    match inner.parse() {
                        Ok(i) => steps.push(Step::Index(i)),
                        Err(_) => return bad("index must be a number or a quoted key"),
                    }
                }
                rest = &r[end + 1..];
                expect_key = false;
                continue;
            }
            if let Some(r) = rest.strip_prefix('.') {
                if expect_key {
                    return bad("empty key");
                }
                rest = r;
                expect_key = true;
                continue;
            }
            if !expect_key {
                return bad("expected '.' or '['");
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Key(rest[..end].to_string()));
            rest = &rest[end..];
            expect_key = false;
        }
        if steps.is_empty() || expect_key && !path.is_empty() && path.ends_with('.') {
            return bad("empty key");
        }
        Ok(JsonPath(steps))
    }

    /// The value at the path in the JSON text `line` (strings unescaped, other values as written), or `None`
    /// if absent. `line` should have been validated.
    pub(crate) fn lookup<'a>(&self, line: &'a str) -> Result<Option<Cow<'a, str>>> {
        let mut s = Scanner::new(line);
        s.ws();
        for (depth, step) in self.0.iter().enumerate() {
            if depth >= MAX_DEPTH {
                return Ok(None);
            }
            let found = match step {
                Step::Key(k) => seek_key(&mut s, k, depth)?,
                Step::Index(i) => seek_index(&mut s, *i, depth)?,
            };
            if !found {
                return Ok(None);
            }
            s.ws();
        }
        match s.peek() {
            Some(b'"') => s.string().map(Some),
            Some(b'{' | b'[') => {
                let start = s.pos;
                s.skip_value(self.0.len())?;
                Ok(Some(Cow::Borrowed(&line[start..s.pos])))
            }
            _ => {
                let v = s.scalar()?;
                Ok(Some(Cow::Borrowed(if v == "null" { "" } else { v })))
            }
        }
    }
}

/// Moves the cursor from an object to the value of `key`; false if the value is no object or lacks the key.
fn seek_key(s: &mut Scanner<'_>, key: &str, depth: usize) -> Result<bool> {
    if s.peek() != Some(b'{') {
        return Ok(false);
    }
    s.pos += 1;
    s.ws();
    if s.peek() == Some(b'}') {
        return Ok(false);
    }
    loop {
        s.ws();
        let k = s.string()?;
        s.ws();
        s.expect(b':', "':'")?;
        s.ws();
        if k == key {
            return Ok(true);
        }
        s.skip_value(depth + 1)?;
        s.ws();
        match s.peek() {
            Some(b',') => s.pos += 1,
            _ => return Ok(false),
        }
    }
}

fn seek_index(s: &mut Scanner<'_>, index: usize, depth: usize) -> Result<bool> {
    if s.peek() != Some(b'[') {
        return Ok(false);
    }
    s.pos += 1;
    s.ws();
    if s.peek() == Some(b']') {
        return Ok(false);
    }
    for _ in 0..index {
        s.ws();
        s.skip_value(depth + 1)?;
        s.ws();
        match s.peek() {
            Some(b',') => s.pos += 1,
            _ => return Ok(false),
        }
    }
    s.ws();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(line: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        extract_all(line, &mut |k, v| out.push((k.to_string(), v.to_string())))?;
        Ok(out)
    }

    #[test]
    fn flattens_objects_and_skips_arrays() {
        let got =
            all(r#"{"a":1,"b":{"c d":"x\"y","e":{"f":true}},"g":[1,{"h":2}],"1x":null,"u":"\u00e9\ud83d\ude00"}"#)
                .unwrap();
        let want = [("a", "1"), ("b_c_d", "x\"y"), ("b_e_f", "true"), ("u", "é😀")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        for bad in [
            "",
            "[1]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":1} x"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\u12"}"#,
        ] {
            assert!(all(bad).is_err(), "{bad}");
            assert!(validate(bad).is_err() || bad == "[1]", "{bad}");
        }
        let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert!(all(&deep).unwrap_err().contains("nesting"));
        let deep_array = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(all(&deep_array).unwrap_err().contains("nesting"));
        assert!(validate(&deep_array).is_err());
    }

    #[test]
    fn paths() {
        let line = r#"{"a":{"b":[10,{"c":"x"}]},"k.d":"y","s":"q\"q"}"#;
        let get = |p: &str| JsonPath::parse(p).unwrap().lookup(line).unwrap().map(|c| c.into_owned());
        assert_eq!(get("a.b[0]").as_deref(), Some("10"));
        assert_eq!(get("a.b[1].c").as_deref(), Some("x"));
        assert_eq!(get("a.b[1]").as_deref(), Some(r#"{"c":"x"}"#));
        assert_eq!(get(r#"["k.d"]"#).as_deref(), Some("y"));
        assert_eq!(get("s").as_deref(), Some("q\"q"));
        assert_eq!(get("a.z"), None);
        assert_eq!(get("a.b[5]"), None);
        assert!(JsonPath::parse("a..b").is_err());
        assert!(JsonPath::parse("a[x]").is_err());
    }
}
