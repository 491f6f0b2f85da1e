//! Value types of `alertmanager.yml` that check themselves while parsing, so a bad value is reported at its
//! own line and column: durations, URLs, secrets, regexes, matcher lists and label names.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::labels::is_valid_label_name;
use crate::matchers::{Matcher, Matchers};

/// A Prometheus duration (`30s`, `1h30m`, `1d`), as Alertmanager's `model.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromDuration(pub Duration);

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ms = vigil_model::time::parse_duration(&s).map_err(serde::de::Error::custom)?;
        Ok(PromDuration(Duration::from_millis(ms.unsigned_abs())))
    }
}

/// A Go duration (`10s`, `1.5m`, `300ms`), for the few fields Alertmanager reads with `time.ParseDuration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_go_duration(&s).map(GoDuration).map_err(serde::de::Error::custom)
    }
}

/// Go's `time.ParseDuration` for non-negative durations: decimal numbers with units `ns us µs ms s m h`.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let body = s.strip_prefix('+').unwrap_or(s);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() || body.starts_with('-') {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = body;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += num * nanos_per;
    }
    if total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// A string that is never printed: debug output shows `<secret>`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "<secret>" })
    }
}

/// Secret files are small; a bigger one is a mistake.
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The value of a secret given either inline or as a `*_file` path (validation guarantees at most one).
/// Alertmanager reads the file each time it sends, and trims surrounding whitespace; so does this.
pub fn resolve_secret(inline: &str, file: &str) -> Result<String, String> {
    use std::io::Read;
    if file.is_empty() {
        return Ok(inline.to_owned());
    }
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_SECRET_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read secret file {file:?}: {e}"))?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!("secret file {file:?} is larger than {MAX_SECRET_FILE_BYTES} bytes"));
    }
    Ok(text.trim().to_owned())
}

/// An absolute `http` or `https` URL with a host, as Alertmanager's `config.URL` accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url(pub String);

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        check_url(s).map(|()| Url(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_url(s: &str) -> Result<(), String> {
    let scheme = match s.find(':') {
        Some(i) if s[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => &s[..i],
        _ => "",
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("unsupported scheme {:?} for URL", scheme.to_ascii_lowercase()));
    }
    let rest = &s[scheme.len() + 1..];
    let authority = rest.strip_prefix("//").map_or("", |a| &a[..a.find(['/', '?', '#']).unwrap_or(a.len())]);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err("missing host for URL".into());
    }
    if s.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(format!("parse {s:?}: invalid character in URL"));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Url::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A URL that holds a credential (a Slack or Discord webhook); checked like [`Url`], never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(pub String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // The message must not repeat the URL: it is a secret.
        check_url(&s).map_err(|e| serde::de::Error::custom(e.replace(&s, "<secret>")))?;
        Ok(SecretUrl(s))
    }
}

/// A regex from `match_re:`: kept as written and compiled anchored. Route keys print it anchored
/// (`^(?:…)$`), as Alertmanager 0.25 does for the deprecated `match_re`.
#[derive(Clone, Debug)]
pub struct AnchoredRegex {
    pub original: String,
}

impl AnchoredRegex {
    /// The anchored source, which Alertmanager's `Regexp.String()` returns.
    pub fn anchored(&self) -> String {
        format!("^(?:{})$", self.original)
    }
}

impl<'de> Deserialize<'de> for AnchoredRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let original = String::deserialize(d)?;
        Matcher::new(crate::matchers::MatchOp::Regex, "x", original.as_str()).map_err(|e| {
            let msg = e.to_string();
            let reason = msg.rsplit_once(": ").map_or(msg.as_str(), |(_, r)| r);
            serde::de::Error::custom(format!("error parsing regexp {original:?}: {reason}"))
        })?;
        Ok(AnchoredRegex { original })
    }
}

/// A `matchers:` list: each string holds one or more matchers, all parsed here and sorted.
#[derive(Clone, Debug, Default)]
pub struct MatcherList(pub Matchers);

impl<'de> Deserialize<'de> for MatcherList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines = Vec::<String>::deserialize(d)?;
        let mut all = Vec::new();
        for line in &lines {
            let parsed = Matchers::parse(line).map_err(serde::de::Error::custom)?;
            all.extend(parsed.0);
        }
        let mut ms = Matchers(all);
        ms.sort();
        Ok(MatcherList(ms))
    }
}

/// A label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelName(pub String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !is_valid_label_name(&s) {
            return Err(serde::de::Error::custom(format!("invalid label name {s:?}")));
        }
        Ok(LabelName(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1h2m3s4ms"), Ok(Duration::from_millis(3_723_004)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("1d").unwrap_err().contains("unknown unit"));
        assert!(parse_go_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("-1s").is_err());
    }

    #[test]
    fn urls_are_checked_like_alertmanager() {
        assert!(Url::parse("https://hooks.example.com/x?y=1").is_ok());
        assert!(Url::parse("http://user:pw@host:8080").is_ok());
        assert_eq!(Url::parse("ftp://x").unwrap_err(), "unsupported scheme \"ftp\" for URL");
        assert_eq!(Url::parse("example.com/x").unwrap_err(), "unsupported scheme \"\" for URL");
        assert_eq!(Url::parse("http://").unwrap_err(), "missing host for URL");
        assert_eq!(Url::parse("http:///path").unwrap_err(), "missing host for URL");
    }

    #[test]
    fn secrets_come_inline_or_from_a_file() {
        assert_eq!(resolve_secret("inline", ""), Ok("inline".to_owned()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret\n").unwrap();
        assert_eq!(resolve_secret("", path.to_str().unwrap()), Ok("s3cret".to_owned()));
        assert!(resolve_secret("", "/nonexistent/token").unwrap_err().contains("cannot read secret file"));
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "<secret>");
        assert_eq!(format!("{:?}", SecretUrl("https://x/y".into())), "<secret>");
    }
}
