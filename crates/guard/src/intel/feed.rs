//! Threat-intel feed parsers: plain lists, FireHOL netsets, Spamhaus DROP (JSON lines and `drop.txt`), abuse.ch CSV.
//!
//! Feeds are untrusted downloads. Every parser reads capped bytes line by line, skips blank and comment
//! lines, and skips (and counts) lines it cannot read, keeping the first error with its line number; a feed
//! with no valid entry at all is an error. One guard protects against a feed that would block the world:
//! an entry covering more public address space than a /8 (IPv4) or a /16 (IPv6) is refused as a bad line
//! ([`FeedLimits::broadest_v4`], [`FeedLimits::broadest_v6`]); special-purpose space (private, loopback,
//! multicast, reserved; for IPv6 everything outside `2000::/3`) does not count, so FireHOL's level 1 list
//! with its bogons (`224.0.0.0/3`) still loads.

use std::fmt;
use std::str::FromStr;

use crate::intel::set::IpRange;

/// Which parser reads a feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// Detect from the content (see [`FeedFormat::detect`]).
    #[default]
    Auto,
    /// One address, network or `first-last` range per line; `#` and `;` start comments (anywhere on the
    /// line); anything after the first whitespace-separated token is ignored. Feodo's `ipblocklist.txt`
    /// and most lists are this.
    Plain,
    /// FireHOL `.netset`/`.ipset`: a plain list under a `#` header.
    FireHol,
    /// Spamhaus `drop.txt`/`drop_v6.txt`: `1.10.16.0/20 ; SBL256894` under `;` comments.
    SpamhausText,
    /// Spamhaus `drop_v4.json`/`drop_v6.json`: one JSON object per line with a `"cidr"` field, and a final
    /// `{"type":"metadata",...}` line.
    SpamhausJson,
    /// abuse.ch CSV (Feodo Tracker `ipblocklist.csv`): `#` comments, a header line, quoted fields; the
    /// address is the `dst_ip` column, found by name.
    AbuseChCsv,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 6] = [
        FeedFormat::Auto,
        FeedFormat::Plain,
        FeedFormat::FireHol,
        FeedFormat::SpamhausText,
        FeedFormat::SpamhausJson,
        FeedFormat::AbuseChCsv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::Auto => "auto",
            FeedFormat::Plain => "plain",
            FeedFormat::FireHol => "firehol",
            FeedFormat::SpamhausText => "spamhaus-text",
            FeedFormat::SpamhausJson => "spamhaus-json",
            FeedFormat::AbuseChCsv => "abusech-csv",
        }
    }

    /// Guesses the format from the first lines: a JSON object is Spamhaus JSON, a header naming `dst_ip`
    /// or a quoted first field is abuse.ch CSV, `; SBL` after the first entry is Spamhaus text, a header
    /// mentioning FireHOL or `hash:net`/`hash:ip` is FireHOL; anything else is a plain list.
    pub fn detect(bytes: &[u8]) -> FeedFormat {
        let head = &bytes[..bytes.len().min(DETECT_BYTES)];
        let mut firehol = false;
        for line in head.split(|&b| b == b'\n').take(DETECT_LINES) {
            let line = String::from_utf8_lossy(line);
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if lower.contains("dst_ip") || lower.contains("dstip") {
                return FeedFormat::AbuseChCsv;
            }
            if line.starts_with('#') || line.starts_with(';') {
                firehol |= lower.contains("firehol") || lower.contains("hash:net") || lower.contains("hash:ip");
                continue;
            }
            return if line.starts_with('{') {
                FeedFormat::SpamhausJson
            } else if line.starts_with('"') {
                FeedFormat::AbuseChCsv
            } else if line.split_once(';').is_some_and(|(_, c)| c.trim_start().starts_with("SBL")) {
                FeedFormat::SpamhausText
            } else if firehol {
                FeedFormat::FireHol
            } else {
                FeedFormat::Plain
            };
        }
        FeedFormat::Plain
    }
}

const DETECT_BYTES: usize = 64 * 1024;
const DETECT_LINES: usize = 200;

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feed format {0:?} (expected auto, plain, firehol, spamhaus-text, spamhaus-json or abusech-csv)")]
pub struct UnknownFormat(pub String);

impl FromStr for FeedFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<FeedFormat, UnknownFormat> {
        FeedFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// Limits applied to every feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedLimits {
    /// The most bytes a feed may have.
    pub max_bytes: usize,
    /// The most entries a feed may have.
    pub max_entries: usize,
    /// The shortest IPv4 prefix an entry may have, counting only public addresses (0: no limit).
    pub broadest_v4: u8,
    /// The shortest IPv6 prefix an entry may have, counting only global unicast addresses (0: no limit).
    pub broadest_v6: u8,
}

impl Default for FeedLimits {
    fn default() -> FeedLimits {
        FeedLimits { max_bytes: 64 << 20, max_entries: 1_000_000, broadest_v4: 8, broadest_v6: 16 }
    }
}

/// One entry of a feed and the line it came from (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub range: IpRange,
    pub line: usize,
}

/// Why a line of a feed was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed feed: its entries, and how many lines were skipped as unreadable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    pub name: String,
    /// The format read (never `Auto`).
    pub format: FeedFormat,
    pub entries: Vec<Entry>,
    pub bad_lines: usize,
    pub first_error: Option<LineError>,
}

impl Feed {
    /// The first skipped line's error as `feed NAME line N: ...`, for a warning.
    pub fn first_error_message(&self) -> Option<String> {
        self.first_error.as_ref().map(|e| format!("feed {} {e}", self.name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("feed {feed}: {size} bytes is more than the limit of {max}")]
    TooLarge { feed: String, size: usize, max: usize },
    #[error("feed {feed} line {line}: more than {max} entries")]
    TooManyEntries { feed: String, line: usize, max: usize },
    #[error("feed {feed}: no valid entries ({bad_lines} bad lines{})", first.as_ref().map(|e| format!("; first at {e}")).unwrap_or_default())]
    Empty { feed: String, bad_lines: usize, first: Option<LineError> },
}

/// Parses feed `name` with the default [`FeedLimits`]; what a fetcher calls with a download.
pub fn parse(format: FeedFormat, name: &str, bytes: &[u8]) -> Result<Feed, FeedError> {
    parse_with(format, name, bytes, &FeedLimits::default())
}

/// Parses feed `name` within `limits`.
pub fn parse_with(format: FeedFormat, name: &str, bytes: &[u8], limits: &FeedLimits) -> Result<Feed, FeedError> {
    if bytes.len() > limits.max_bytes {
        return Err(FeedError::TooLarge { feed: name.to_string(), size: bytes.len(), max: limits.max_bytes });
    }
    let format = if format == FeedFormat::Auto { FeedFormat::detect(bytes) } else { format };
    let mut feed = Feed { name: name.to_string(), format, entries: Vec::new(), bad_lines: 0, first_error: None };
    let mut csv_column: Option<usize> = None;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let parsed = match std::str::from_utf8(raw) {
            Err(_) => Some(Err("not utf-8 text".to_string())),
            Ok(text) => {
                let text = if i == 0 { text.trim_start_matches('\u{feff}') } else { text };
                match format {
                    FeedFormat::Auto | FeedFormat::Plain | FeedFormat::FireHol | FeedFormat::SpamhausText => {
                        plain_line(text)
                    }
                    FeedFormat::SpamhausJson => json_line(text),
                    FeedFormat::AbuseChCsv => csv_line(text, &mut csv_column),
                }
            }
        };
        let checked = parsed.map(|r| r.and_then(|range| check_breadth(range, limits)));
        match checked {
            None => {}
            Some(Ok(range)) => {
                if feed.entries.len() >= limits.max_entries {
                    return Err(FeedError::TooManyEntries { feed: feed.name, line, max: limits.max_entries });
                }
                feed.entries.push(Entry { range, line });
            }
            Some(Err(message)) => {
                feed.bad_lines += 1;
                feed.first_error.get_or_insert(LineError { line, message });
            }
        }
    }
    if feed.entries.is_empty() {
        return Err(FeedError::Empty { feed: feed.name, bad_lines: feed.bad_lines, first: feed.first_error });
    }
    Ok(feed)
}

/// What one line holds: nothing (blank, comment, metadata), an entry, or why it is unreadable.
type LineResult = Option<Result<IpRange, String>>;

fn parse_range(text: &str) -> Result<IpRange, String> {
    IpRange::parse(text, false).map_err(|e| e.to_string())
}

fn plain_line(text: &str) -> LineResult {
    let data = text.split(['#', ';']).next().unwrap_or("").trim();
    if data.is_empty() {
        return None;
    }
    // The first token is the entry and the rest are columns some lists add (counts, dates), unless the
    // entry is a range written with spaces around its dash.
    let mut tokens = data.split_whitespace();
    let first = tokens.next().unwrap_or(data);
    let mut rest = tokens.clone();
    if let (Some("-"), Some(last)) = (rest.next(), rest.next()) {
        return Some(parse_range(&format!("{first}-{last}")));
    }
    Some(parse_range(first))
}

fn json_line(text: &str) -> LineResult {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
        return None;
    }
    let fields = match json::object(text) {
        Ok(f) => f,
        Err(e) => return Some(Err(e.to_string())),
    };
    let mut cidr = None;
    let mut metadata = false;
    for (key, value) in fields {
        match (&*key, value) {
            ("cidr", json::Value::Str(s)) if cidr.is_none() => cidr = Some(s),
            ("cidr", json::Value::Str(_)) => return Some(Err("\"cidr\" given twice".to_string())),
            ("cidr", json::Value::Other) => return Some(Err("\"cidr\" is not a string".to_string())),
            ("type", json::Value::Str(t)) => metadata = t == "metadata",
            _ => {}
        }
    }
    match cidr {
        Some(c) => Some(parse_range(&c)),
        None if metadata => None,
        None => Some(Err("json object has no \"cidr\" field".to_string())),
    }
}

fn csv_line(text: &str, column: &mut Option<usize>) -> LineResult {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let comment = trimmed.strip_prefix('#');
    let Some(col) = *column else {
        // The header names the columns; older files wrote it as a comment (`# Firstseen,DstIP,...`).
        let fields = csv::fields(comment.unwrap_or(trimmed).trim()).unwrap_or_default();
        let found = fields
            .iter()
            .position(|f| f.trim().eq_ignore_ascii_case("dst_ip") || f.trim().eq_ignore_ascii_case("dstip"));
        *column = found;
        return match (found, comment) {
            (Some(_), _) | (None, Some(_)) => None,
            (None, None) => Some(Err("data before the header line naming a dst_ip column".to_string())),
        };
    };
    if comment.is_some() {
        return None;
    }
    let fields = match csv::fields(trimmed) {
        Ok(f) => f,
        Err(e) => return Some(Err(e.to_string())),
    };
    match fields.get(col) {
        Some(ip) => Some(parse_range(ip.trim())),
        None => Some(Err(format!("row has {} fields, dst_ip is field {}", fields.len(), col + 1))),
    }
}

/// Special-purpose IPv4 blocks (RFC 6890's large ones) that do not count against `broadest_v4`.
const SPECIAL_V4: [(u32, u8); 10] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space
    (0x7f00_0000, 8),  // 127.0.0.0/8
    (0xa9fe_0000, 16), // 169.254.0.0/16
    (0xac10_0000, 12), // 172.16.0.0/12
    (0xc0a8_0000, 16), // 192.168.0.0/16
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved
];

/// IPv6 global unicast, `2000::/3`: the only IPv6 space that counts against `broadest_v6`.
const GLOBAL_V6: (u128, u128) = (0x2000 << 112, (0x4000 << 112) - 1);

fn check_breadth(range: IpRange, limits: &FeedLimits) -> Result<IpRange, String> {
    let (public, limit, family, prefix) = match range {
        IpRange::V4 { start, end } => {
            let mut public = u64::from(end - start) + 1;
            for (net, len) in SPECIAL_V4 {
                let last = net | (u32::MAX >> len);
                let (lo, hi) = (start.max(net), end.min(last));
                if lo <= hi {
                    public -= u64::from(hi - lo) + 1;
                }
            }
            let limit = 1u128.checked_shl(32 - u32::from(limits.broadest_v4.min(32))).unwrap_or(u128::MAX);
            (u128::from(public), limit, "IPv4", limits.broadest_v4)
        }
        IpRange::V6 { start, end } => {
            let (lo, hi) = (start.max(GLOBAL_V6.0), end.min(GLOBAL_V6.1));
            let public = if lo <= hi { hi - lo + 1 } else { 0 };
            let limit = 1u128.checked_shl(128 - u32::from(limits.broadest_v6.min(128))).unwrap_or(u128::MAX);
            (public, limit, "IPv6", limits.broadest_v6)
        }
    };
    if prefix == 0 || public <= limit {
        return Ok(range);
    }
    Err(format!(
        "{range} covers more public {family} space than a /{prefix}, refused so one feed cannot block the world"
    ))
}

/// Just enough JSON to read one flat object per line without a JSON crate.
mod json {
    use std::borrow::Cow;

    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum Value<'a> {
        Str(Cow<'a, str>),
        /// A number, `true`, `false`, `null`, or a nested object or array (skipped).
        Other,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    pub(super) enum Error {
        #[error("not a json object")]
        NotObject,
        #[error("invalid json: expected {0}")]
        Expected(&'static str),
        #[error("invalid json string")]
        BadString,
        #[error("invalid json value")]
        BadValue,
        #[error("json nested too deeply")]
        TooDeep,
        #[error("text after the json object")]
        Trailing,
    }

    const MAX_DEPTH: usize = 32;

    struct Cursor<'a> {
        s: &'a str,
        pos: usize,
    }

    /// The fields of the object that is the whole of `text`, in order.
    pub(super) fn object(text: &str) -> Result<Vec<(Cow<'_, str>, Value<'_>)>, Error> {
        let mut c = Cursor { s: text, pos: 0 };
        c.ws();
        if !c.eat(b'{') {
            return Err(Error::NotObject);
        }
        let mut fields = Vec::new();
        c.ws();
        if !c.eat(b'}') {
            loop {
                c.ws();
                let key = c.string()?;
                c.ws();
                if !c.eat(b':') {
                    return Err(Error::Expected("':'"));
                }
                c.ws();
                let value = if c.peek() == Some(b'"') { Value::Str(c.string()?) } else { c.skip_value()? };
                fields.push((key, value));
                c.ws();
                if c.eat(b',') {
                    continue;
                }
                if c.eat(b'}') {
                    break;
                }
                return Err(Error::Expected("',' or '}'"));
            }
        }
        c.ws();
        if c.pos != c.s.len() {
            return Err(Error::Trailing);
        }
        Ok(fields)
    }

    impl<'a> Cursor<'a> {
        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.pos).copied()
        }

        fn eat(&mut self, b: u8) -> bool {
            let hit = self.peek() == Some(b);
            self.pos += usize::from(hit);
            hit
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                self.pos += 1;
            }
        }

        fn string(&mut self) -> Result<Cow<'a, str>, Error> {
            if !self.eat(b'"') {
                return Err(Error::Expected("a string"));
            }
            let start = self.pos;
            let mut owned: Option<String> = None;
            loop {
                let rest = &self.s[self.pos..];
                let stop = rest.find(['"', '\\']).ok_or(Error::BadString)?;
                let chunk = &rest[..stop];
                if chunk.bytes().any(|b| b < 0x20) {
                    return Err(Error::BadString);
                }
                self.pos += stop;
                if self.eat(b'"') {
                    return Ok(match owned {
                        Some(mut o) => {
                            o.push_str(chunk);
                            Cow::Owned(o)
                        }
                        None => Cow::Borrowed(&self.s[start..self.pos - 1]),
                    });
                }
                self.pos += 1; // the backslash
                let o = owned.get_or_insert_with(String::new);
                o.push_str(chunk);
                let esc = self.peek().ok_or(Error::BadString)?;
                self.pos += 1;
                let ch = match esc {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hex = self.s.get(self.pos..self.pos + 4).ok_or(Error::BadString)?;
                        let code = u32::from_str_radix(hex, 16).map_err(|_| Error::BadString)?;
                        self.pos += 4;
                        // Surrogate pairs never occur in an address; they decode to U+FFFD.
                        char::from_u32(code).unwrap_or('\u{fffd}')
                    }
                    _ => return Err(Error::BadString),
                };
                o.push(ch);
            }
        }

        /// Skips a number, literal, object or array.
        fn skip_value(&mut self) -> Result<Value<'a>, Error> {
            match self.peek() {
                Some(b'{' | b'[') => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek().ok_or(Error::BadValue)? {
                            b'{' | b'[' => {
                                depth += 1;
                                if depth > MAX_DEPTH {
                                    return Err(Error::TooDeep);
                                }
                                self.pos += 1;
                            }
                            b'}' | b']' => {
                                depth -= 1;
                                self.pos += 1;
                                if depth == 0 {
                                    return Ok(Value::Other);
                                }
                            }
                            b'"' => {
                                self.string()?;
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                _ => {
                    let start = self.pos;
                    while matches!(self.peek(), Some(b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'-' | b'.')) {
                        self.pos += 1;
                    }
                    let token = &self.s[start..self.pos];
                    let literal = matches!(token, "true" | "false" | "null");
                    let number = token.parse::<f64>().is_ok()
                        && token.bytes().all(|b| !b.is_ascii_alphabetic() || b == b'e' || b == b'E');
                    if literal || number {
                        Ok(Value::Other)
                    } else {
                        Err(Error::BadValue)
                    }
                }
            }
        }
    }
}

/// Comma-separated fields with RFC 4180 quoting, one line at a time.
mod csv {
    use std::borrow::Cow;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    pub(super) enum Error {
        #[error("unterminated quoted csv field")]
        Unterminated,
        #[error("text after a quoted csv field")]
        AfterQuote,
    }

    pub(super) fn fields(line: &str) -> Result<Vec<Cow<'_, str>>, Error> {
        let mut out = Vec::new();
        let mut rest = line;
        loop {
            if let Some(body) = rest.strip_prefix('"') {
                let mut value = String::new();
                let mut tail = body;
                loop {
                    let q = tail.find('"').ok_or(Error::Unterminated)?;
                    value.push_str(&tail[..q]);
                    tail = &tail[q + 1..];
                    match tail.strip_prefix('"') {
                        Some(t) => {
                            value.push('"');
                            tail = t;
                        }
                        None => break,
                    }
                }
                out.push(Cow::Owned(value));
                let tail = tail.trim_start();
                match tail.strip_prefix(',') {
                    Some(t) => rest = t,
                    None if tail.is_empty() => return Ok(out),
                    None => return Err(Error::AfterQuote),
                }
            } else {
                match rest.split_once(',') {
                    Some((field, t)) => {
                        out.push(Cow::Borrowed(field));
                        rest = t;
                    }
                    None => {
                        out.push(Cow::Borrowed(rest));
                        return Ok(out);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn entries(format: FeedFormat, text: &str) -> Vec<String> {
        parse(format, "t", text.as_bytes()).unwrap().entries.iter().map(|e| format!("{}@{}", e.range, e.line)).collect()
    }

    #[test]
    fn json_objects() {
        let f = json::object(r#" { "cidr" : "1.2.3.0\/24", "n": -1.5e3, "x": {"a": [1, "}"]}, "ok": true } "#).unwrap();
        assert_eq!(f[0], (Cow::Borrowed("cidr"), json::Value::Str(Cow::Owned("1.2.3.0/24".into()))));
        assert_eq!(f.len(), 4);
        assert_eq!(json::object("{}").unwrap(), []);
        assert_eq!(json::object(r#"{"a":"\u0041"}"#).unwrap()[0].1, json::Value::Str("A".into()));
        for bad in [
            r#"["x"]"#,
            r#"{"a" "b"}"#,
            r#"{"a":"b""#,
            r#"{"a":"b"} x"#,
            r#"{"a":nope}"#,
            r#"{"a":"\q"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":[[[["#,
            r#"{"a":1,}"#,
        ] {
            assert!(json::object(bad).is_err(), "{bad} parsed");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(json::object(&deep), Err(json::Error::TooDeep));
    }

    #[test]
    fn csv_fields() {
        assert_eq!(csv::fields(r#""a","b ""q""",c,,"""#).unwrap(), ["a", "b \"q\"", "c", "", ""]);
        assert_eq!(csv::fields("").unwrap(), [""]);
        assert_eq!(csv::fields(r#""a"#), Err(csv::Error::Unterminated));
        assert_eq!(csv::fields(r#""a"x,b"#), Err(csv::Error::AfterQuote));
    }

    #[test]
    fn plain_comments_and_columns() {
        let text =
            "# header\n\n192.0.2.1 # one\n198.51.100.0/24;two\n  203.0.113.5\t17\t2024-01-01\r\n10.0.0.1 - 10.0.0.3\n";
        assert_eq!(
            entries(FeedFormat::Plain, text),
            [
                "192.0.2.1-192.0.2.1@3",
                "198.51.100.0-198.51.100.255@4",
                "203.0.113.5-203.0.113.5@5",
                "10.0.0.1-10.0.0.3@6"
            ]
        );
    }

    #[test]
    fn breadth_guard() {
        let limits = FeedLimits::default();
        let ok = |s: &str| check_breadth(IpRange::parse(s, false).unwrap(), &limits).is_ok();
        assert!(ok("1.0.0.0/8") && ok("224.0.0.0/3") && ok("10.0.0.0/8") && ok("fc00::/7") && ok("2001::/16"));
        assert!(!ok("0.0.0.0/0") && !ok("2.0.0.0/7") && !ok("::/0") && !ok("2000::/15"));
        assert!(!ok("1.0.0.0-2.0.0.0"));
        let off = FeedLimits { broadest_v4: 0, broadest_v6: 0, ..limits };
        assert!(check_breadth(IpRange::parse("0.0.0.0/0", false).unwrap(), &off).is_ok());
        assert!(check_breadth(IpRange::parse("::/0", false).unwrap(), &off).is_ok());
        let err = check_breadth(IpRange::parse("0.0.0.0/0", false).unwrap(), &limits).unwrap_err();
        assert_eq!(err, "0.0.0.0-255.255.255.255 covers more public IPv4 space than a /8, refused so one feed cannot block the world");
    }

    #[test]
    fn format_names_round_trip() {
        for f in FeedFormat::ALL {
            assert_eq!(f.as_str().parse::<FeedFormat>(), Ok(f));
        }
        assert!("csv".parse::<FeedFormat>().is_err());
    }
}
