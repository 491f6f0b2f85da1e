//! Alertmanager label matchers: `name="value"`, `!=`, `=~`, `!~`, single or as `{a="b",c=~"d"}` lists.
//!
//! Parsing follows Alertmanager 0.25's classic parser (`pkg/labels/parse.go`) exactly; input it rejects is
//! then tried with the UTF-8 matcher grammar of later versions (`matchers/parse`), so configs written for
//! either parse, and where both accept an input the 0.25 reading wins. Regexes are anchored at both ends.

mod classic;
mod utf8;

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use vigil_model::MatchOp;

use crate::labels::{go_quote, LabelSet};

/// Why a matcher did not parse or compile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MatcherError(pub String);

/// One label matcher. An alert without the label is matched as if its value were the empty string.
#[derive(Clone, Debug)]
pub struct Matcher(vigil_model::Matcher);

impl Matcher {
    /// Builds a matcher; a regex is compiled here, anchored as `^(?:value)$`.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, MatcherError> {
        vigil_model::Matcher::new(op, name, value).map(Matcher).map_err(|e| MatcherError(e.to_string()))
    }

    /// Parses exactly one matcher, such as `severity=~"critical|page"`.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        match classic::parse_matcher(text) {
            Ok(m) => Ok(m),
            Err(classic_err) => match utf8::parse(text) {
                Ok(ms) if ms.len() == 1 && !text.trim_start().starts_with('{') => {
                    Ok(ms.into_iter().next().expect("one matcher"))
                }
                _ => Err(classic_err),
            },
        }
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn op(&self) -> MatchOp {
        self.0.op()
    }

    pub fn value(&self) -> &str {
        self.0.value()
    }

    /// Whether a label value is accepted; pass `""` for a missing label.
    pub fn matches_value(&self, value: &str) -> bool {
        self.0.matches(value)
    }

    /// Whether the label set's value for this matcher's name (empty when missing) is accepted.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.matches(labels.get(self.name()).map_or("", String::as_str))
    }

    fn op_rank(&self) -> u8 {
        match self.op() {
            MatchOp::Equal => 0,
            MatchOp::NotEqual => 1,
            MatchOp::Regex => 2,
            MatchOp::NotRegex => 3,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Matcher {}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Matcher) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Matcher {
    /// Alertmanager's `Matchers.Less`: by name, then value, then operator (`=`, `!=`, `=~`, `!~`).
    fn cmp(&self, other: &Matcher) -> Ordering {
        self.name()
            .cmp(other.name())
            .then_with(|| self.value().cmp(other.value()))
            .then_with(|| self.op_rank().cmp(&other.op_rank()))
    }
}

impl fmt::Display for Matcher {
    /// As Alertmanager 0.25 prints it: the name bare, the value in double quotes with only `\`, newline and `"`
    /// escaped. Names only the UTF-8 grammar allows are printed quoted, as later versions do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op().as_str();
        if self.name().chars().any(is_reserved_in_name) {
            return write!(f, "{}{op}{}", go_quote(self.name()), go_quote(self.value()));
        }
        write!(f, "{}{op}\"", self.name())?;
        for c in self.value().chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

fn is_reserved_in_name(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// The matcher as Alertmanager's API v2 writes it: `{"name":…,"value":…,"isRegex":…,"isEqual":…}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatcherRepr {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let op = self.op();
        MatcherRepr {
            name: self.name().to_owned(),
            value: self.value().to_owned(),
            is_regex: matches!(op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(op, MatchOp::Equal | MatchOp::Regex),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Matcher, D::Error> {
        let r = MatcherRepr::deserialize(d)?;
        let op = match (r.is_regex, r.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, r.name, r.value).map_err(serde::de::Error::custom)
    }
}

/// Matchers that must all match. Routes and inhibition rules keep theirs sorted, as Alertmanager does,
/// since the order shows in group keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses a list: `{a="b", c=~"d"}`, `a=b,c!=d`, braces optional, a trailing comma allowed.
    pub fn parse(text: &str) -> Result<Matchers, MatcherError> {
        match classic::parse_matchers(text) {
            Ok(ms) => Ok(Matchers(ms)),
            Err(classic_err) => utf8::parse(text).map(Matchers).map_err(|_| classic_err),
        }
    }

    /// Whether every matcher accepts the label set. No matchers match everything.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    pub fn sort(&mut self) {
        self.0.sort();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }
}

impl fmt::Display for Matchers {
    /// `{a="b",c=~"d"}`: no spaces, as in Alertmanager's route keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

impl FromIterator<Matcher> for Matchers {
    fn from_iter<I: IntoIterator<Item = Matcher>>(iter: I) -> Matchers {
        Matchers(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::labels;

    fn one(s: &str) -> (String, MatchOp, String) {
        let m = Matcher::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (m.name().to_owned(), m.op(), m.value().to_owned())
    }

    fn t(n: &str, op: MatchOp, v: &str) -> (String, MatchOp, String) {
        (n.to_owned(), op, v.to_owned())
    }

    #[test]
    fn parses_the_four_operators_quoted_and_not() {
        assert_eq!(one("foo=bar"), t("foo", MatchOp::Equal, "bar"));
        assert_eq!(one(r#"foo="bar""#), t("foo", MatchOp::Equal, "bar"));
        assert_eq!(one("foo!=bar"), t("foo", MatchOp::NotEqual, "bar"));
        assert_eq!(one("foo=~bar.*"), t("foo", MatchOp::Regex, "bar.*"));
        assert_eq!(one(r#"foo!~"bar|baz""#), t("foo", MatchOp::NotRegex, "bar|baz"));
        assert_eq!(one("  foo  =  bar  "), t("foo", MatchOp::Equal, "bar"));
        assert_eq!(one("foo="), t("foo", MatchOp::Equal, ""));
        assert_eq!(one(r#"foo="""#), t("foo", MatchOp::Equal, ""));
        assert_eq!(one("job:name=x"), t("job:name", MatchOp::Equal, "x"));
        // Unquoted values keep inner spaces, as the classic parser does.
        assert_eq!(one("foo=bar baz"), t("foo", MatchOp::Equal, "bar baz"));
        // '=~' is preferred over '=' followed by '~'.
        assert_eq!(one("foo=~~x"), t("foo", MatchOp::Regex, "~x"));
    }

    #[test]
    fn classic_escapes() {
        assert_eq!(one(r#"foo="a\"b""#).2, "a\"b");
        assert_eq!(one(r#"foo="a\\b""#).2, "a\\b");
        assert_eq!(one(r#"foo="a\nb""#).2, "a\nb");
        // A spurious escape keeps its backslash.
        assert_eq!(one(r#"foo="a\tb""#).2, "a\\tb");
        assert_eq!(one(r"foo=a\"), t("foo", MatchOp::Equal, "a\\"));
        for bad in [r#"foo="bar"#, r#"foo=b"ar"#, r#"foo="b"ar""#, r#"foo="bar\""#] {
            let e = Matcher::parse(bad).unwrap_err().to_string();
            assert!(e.contains("unescaped double quote"), "{bad}: {e}");
        }
    }

    #[test]
    fn parses_lists_in_both_forms() {
        let ms = Matchers::parse(r#"{foo = "bar", dings != "bums", }"#).unwrap();
        assert_eq!(ms.to_string(), r#"{foo="bar",dings!="bums"}"#);
        assert_eq!(Matchers::parse("foo=bar,dings!=bums").unwrap().len(), 2);
        let q = Matchers::parse(r#"{quote="She said: \"Hi, ladies! That's gender-neutral…\""}"#).unwrap();
        assert_eq!(q.0[0].value(), "She said: \"Hi, ladies! That's gender-neutral…\"");
        assert_eq!(Matchers::parse(r#"statuscode=~"5..""#).unwrap().0[0].value(), "5..");
        assert!(Matchers::parse("").unwrap().is_empty());
        assert!(Matchers::parse("{}").unwrap().is_empty());
        assert!(Matchers::parse("a=b,,c=d").is_err());
    }

    #[test]
    fn utf8_grammar_is_the_fallback() {
        // Quoted and dotted label names only parse with the newer grammar.
        assert_eq!(one(r#""foo.bar"="x""#), t("foo.bar", MatchOp::Equal, "x"));
        let ms = Matchers::parse(r#"{"service.name"=~"api|web", env="prod"}"#).unwrap();
        assert_eq!(ms.0[0].name(), "service.name");
        // Like later Alertmanagers, a name is quoted only when it holds a reserved character.
        assert_eq!(ms.to_string(), r#"{service.name=~"api|web",env="prod"}"#);
        assert_eq!(Matcher::parse(r#""a b"="c""#).unwrap().to_string(), r#""a b"="c""#);
        assert_eq!(one("foo.bar=baz"), t("foo.bar", MatchOp::Equal, "baz"));
        // Where both grammars accept an input, the classic reading wins: `\t` stays two characters.
        assert_eq!(one(r#"foo="a\tb""#).2, "a\\tb");
    }

    #[test]
    fn regexes_are_anchored() {
        let m = Matcher::parse("job=~api").unwrap();
        assert!(m.matches(&labels([("job", "api")])));
        assert!(!m.matches(&labels([("job", "api-2")])));
        assert!(!m.matches(&labels([("job", "my-api")])));
        let any = Matcher::parse(r#"x=~".*""#).unwrap();
        assert!(any.matches(&LabelSet::new()));
        let ne = Matcher::parse("x!=").unwrap();
        assert!(!ne.matches(&LabelSet::new()));
        assert!(ne.matches(&labels([("x", "1")])));
        assert!(Matcher::parse("x=~(").unwrap_err().to_string().contains("regex"));
    }

    #[test]
    fn display_round_trips() {
        for s in [r#"a="b""#, r#"a!="with \"quote\"""#, r#"a=~"x\\.y""#, "a!~\"line\\nbreak\"", r#"a="""#] {
            let m = Matcher::parse(s).unwrap();
            assert_eq!(m.to_string(), s);
            assert_eq!(Matcher::parse(&m.to_string()).unwrap(), m);
        }
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for bad in [
            "",
            "=",
            "=x",
            "1a=b",
            "a",
            "a==b",
            "a=~(.{1000}){1000}",
            "{{a=b}}",
            "a=\"",
            "\"",
            "{\"a",
            "a!b",
            "a\u{0}=b",
            "{,}",
            "a=b}",
        ] {
            let _ = Matcher::parse(bad);
            let _ = Matchers::parse(bad);
        }
        assert!(Matcher::parse("a=~(.{1000}){1000}").is_err());
        let long = "a".repeat(100_000) + "=b";
        assert!(Matcher::parse(&long).is_ok());
    }

    #[test]
    fn sorts_like_alertmanager() {
        let mut ms = Matchers::parse(r#"b="1",a=~"2",a="2",a="1",a!="2""#).unwrap();
        ms.sort();
        assert_eq!(ms.to_string(), r#"{a="1",a="2",a!="2",a=~"2",b="1"}"#);
    }

    #[test]
    fn serializes_as_the_api_v2_shape() {
        let m = Matcher::parse("a!~b").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"name":"a","value":"b","isRegex":true,"isEqual":false}"#);
        let back: Matcher = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
