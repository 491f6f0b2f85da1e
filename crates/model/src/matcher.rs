//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus semantics, and the literal analysis the index uses.

use std::fmt;

use regex::{Regex, RegexBuilder};

/// The largest compiled regex program accepted, in bytes. Hostile patterns such as `(.{1000}){1000}` exceed it
/// and are rejected instead of using unbounded memory and time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a matcher compares a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `name="value"`.
    Equal,
    /// `name!="value"`.
    NotEqual,
    /// `name=~"regex"`, fully anchored.
    Regex,
    /// `name!~"regex"`, fully anchored.
    NotRegex,
}

impl MatchOp {
    /// The operator as written in a selector.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// Whether the operator negates its positive form (`!=` negates `=`, `!~` negates `=~`).
    pub fn is_negative(self) -> bool {
        matches!(self, MatchOp::NotEqual | MatchOp::NotRegex)
    }
}

/// Why a matcher could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    #[error("empty label name in matcher")]
    EmptyName,
    #[error("regex {pattern:?} for label {name:?} is too large to compile")]
    RegexTooLarge { name: String, pattern: String },
    #[error("invalid regex {pattern:?} for label {name:?}: {reason}")]
    InvalidRegex { name: String, pattern: String, reason: String },
}

/// One label matcher. A series without the label is matched as if the label's value were the empty string.
///
/// The fields are private so the compiled regex always agrees with the pattern; read them through
/// [`Matcher::name`], [`Matcher::op`] and [`Matcher::value`].
#[derive(Clone, Debug)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    /// The anchored regex, for `=~` and `!~`.
    regex: Option<Regex>,
    /// The exact set of strings the positive form accepts, when it is a finite set of literals.
    alternatives: Option<Vec<String>>,
    /// A non-empty prefix every string the positive regex accepts starts with.
    prefix: Option<String>,
    /// Whether the matcher accepts the empty string, computed once.
    matches_empty: bool,
}

impl Matcher {
    /// Builds a matcher; regexes are compiled once, here, and anchored at both ends as in Prometheus.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, MatcherError> {
        let name = name.into();
        let value = value.into();
        if name.is_empty() {
            return Err(MatcherError::EmptyName);
        }
        let (regex, alternatives, prefix) = match op {
            MatchOp::Equal | MatchOp::NotEqual => (None, Some(vec![value.clone()]), None),
            MatchOp::Regex | MatchOp::NotRegex => {
                let regex = compile_anchored(&name, &value)?;
                (Some(regex), literal_alternatives(&value), literal_prefix(&value))
            }
        };
        let mut matcher = Matcher { name, op, value, regex, alternatives, prefix, matches_empty: false };
        matcher.matches_empty = matcher.matches("");
        Ok(matcher)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn op(&self) -> MatchOp {
        self.op
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value is accepted. Pass `""` for a series that lacks the label.
    pub fn matches(&self, s: &str) -> bool {
        match self.op {
            MatchOp::Equal => s == self.value,
            MatchOp::NotEqual => s != self.value,
            MatchOp::Regex => self.regex_matches(s),
            MatchOp::NotRegex => !self.regex_matches(s),
        }
    }

    /// Whether the matcher accepts the empty string, that is, series lacking the label.
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// The exact, deduplicated set of strings the positive form of the matcher accepts, when that set is a
    /// finite list of literals: the value itself for `=` and `!=`, and patterns such as `a`, `a|b|c`, `(a|b)` or
    /// `foo\.bar` for `=~` and `!~`. For the negative operators the matcher accepts everything else.
    pub fn literal_alternatives(&self) -> Option<&[String]> {
        self.alternatives.as_deref()
    }

    /// A non-empty prefix that every string accepted by the positive regex starts with, for patterns such as
    /// `foo.*`, `foo.+` or `foo(bar|baz)`. Only regex matchers have one. A string with the prefix still has to
    /// be checked with [`Matcher::matches`].
    pub fn literal_prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    fn regex_matches(&self, s: &str) -> bool {
        match &self.alternatives {
            Some(alternatives) => alternatives.iter().any(|a| a == s),
            None => self.regex.as_ref().is_some_and(|r| r.is_match(s)),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Display for Matcher {
    /// Prometheus' notation, such as `job=~"node|vigil"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Compiles `^(?:pattern)$` with a size limit. The bare pattern is compiled first so that one with unbalanced
/// parentheses, such as `a)|(b`, cannot escape the anchoring group.
fn compile_anchored(name: &str, pattern: &str) -> Result<Regex, MatcherError> {
    build(name, pattern, pattern)?;
    build(name, pattern, &format!("^(?:{pattern})$"))
}

fn build(name: &str, pattern: &str, source: &str) -> Result<Regex, MatcherError> {
    RegexBuilder::new(source).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| match e
    {
        regex::Error::CompiledTooBig(_) => {
            MatcherError::RegexTooLarge { name: name.to_string(), pattern: pattern.to_string() }
        }
        other => MatcherError::InvalidRegex {
            name: name.to_string(),
            pattern: pattern.to_string(),
            reason: last_line(&other.to_string()),
        },
    })
}

/// The last non-empty line of the regex crate's multi-line error, which names the problem.
fn last_line(message: &str) -> String {
    message.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(message).trim().to_string()
}

/// Characters with a meaning in regex syntax; every other character stands for itself.
const META: &str = r"\.+*?()|[]{}^$";

/// Characters that may be escaped with a backslash to stand for themselves. Other escapes (`\d`, `\b`, `\<`, ...)
/// have meanings and end the literal analysis.
const ESCAPABLE: &str = r"\.+*?()|[]{}^$-/#&~ ";

/// One unit of a pattern for the literal analysis: a literal character or something else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    Meta(char),
    /// An escape that is not a literal, such as `\d`.
    Other,
}

/// Splits a pattern into tokens, decoding escaped punctuation into literals.
fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e) if ESCAPABLE.contains(e) => out.push(Token::Literal(e)),
                _ => out.push(Token::Other),
            }
        } else if META.contains(c) {
            out.push(Token::Meta(c));
        } else {
            out.push(Token::Literal(c));
        }
    }
    out
}

/// The strings a pattern matches when it is a list of literal alternatives, optionally wrapped in one group.
fn literal_alternatives(pattern: &str) -> Option<Vec<String>> {
    let mut toks = tokens(pattern);
    // One group around the whole pattern, `(a|b)` or `(?:a|b)`, does not change what it matches. Any other
    // parenthesis makes the pattern non-literal below, so the closing one must pair with the opening one.
    if toks.first() == Some(&Token::Meta('(')) && toks.last() == Some(&Token::Meta(')')) {
        let start =
            if toks.get(1) == Some(&Token::Meta('?')) && toks.get(2) == Some(&Token::Literal(':')) { 3 } else { 1 };
        toks = toks[start..toks.len() - 1].to_vec();
    }
    let mut alternatives = vec![String::new()];
    for t in toks {
        match t {
            Token::Literal(c) => alternatives.last_mut()?.push(c),
            Token::Meta('|') => alternatives.push(String::new()),
            _ => return None,
        }
    }
    alternatives.sort_unstable();
    alternatives.dedup();
    Some(alternatives)
}

/// A non-empty literal prefix of every string a pattern matches, when one can be read off its start.
fn literal_prefix(pattern: &str) -> Option<String> {
    let toks = tokens(pattern);
    // An alternation at the top level (`foo|bar`) means matches need not share the prefix. Parentheses inside a
    // character class are literal and would confuse the depth count, so after any class every `|` gives up.
    let mut depth = 0usize;
    let mut saw_class = false;
    for t in &toks {
        match t {
            Token::Meta('[') => saw_class = true,
            Token::Meta('(') => depth += 1,
            Token::Meta(')') => depth = depth.saturating_sub(1),
            Token::Meta('|') if depth == 0 || saw_class => return None,
            _ => {}
        }
    }
    let mut prefix = String::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Literal(c) => {
                // A quantifier after a literal (`fo*`, `fo?`, `fo{0,2}`) makes that literal optional.
                if matches!(toks.get(i + 1), Some(Token::Meta('*' | '?' | '+' | '{'))) {
                    break;
                }
                prefix.push(*c);
            }
            _ => break,
        }
    }
    (!prefix.is_empty()).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, value: &str) -> Matcher {
        Matcher::new(op, "a", value).unwrap()
    }

    #[test]
    fn regexes_are_fully_anchored() {
        let r = m(MatchOp::Regex, "foo|bar");
        assert!(r.matches("foo") && r.matches("bar"));
        assert!(!r.matches("foobar") && !r.matches("xfoo") && !r.matches("barx") && !r.matches(""));
        let r = m(MatchOp::Regex, "b.");
        assert!(r.matches("bc") && !r.matches("abc") && !r.matches("bcd"));
        let n = m(MatchOp::NotRegex, "foo|bar");
        assert!(!n.matches("foo") && n.matches("foobar") && n.matches(""));
    }

    #[test]
    fn unbalanced_parentheses_cannot_escape_anchoring() {
        assert!(matches!(Matcher::new(MatchOp::Regex, "a", "a)|(b"), Err(MatcherError::InvalidRegex { .. })));
        assert!(matches!(Matcher::new(MatchOp::Regex, "a", "("), Err(MatcherError::InvalidRegex { .. })));
    }

    #[test]
    fn matches_empty_follows_each_operator() {
        assert!(m(MatchOp::Equal, "").matches_empty());
        assert!(!m(MatchOp::Equal, "x").matches_empty());
        assert!(!m(MatchOp::NotEqual, "").matches_empty());
        assert!(m(MatchOp::NotEqual, "x").matches_empty());
        assert!(m(MatchOp::Regex, ".*").matches_empty());
        assert!(m(MatchOp::Regex, "x|").matches_empty());
        assert!(!m(MatchOp::Regex, ".+").matches_empty());
        assert!(!m(MatchOp::NotRegex, ".*").matches_empty());
        assert!(m(MatchOp::NotRegex, ".+").matches_empty());
    }

    #[test]
    fn literal_alternatives_are_exact() {
        assert_eq!(m(MatchOp::Regex, "b|a|b").literal_alternatives(), Some(&["a".to_string(), "b".into()][..]));
        assert_eq!(m(MatchOp::Regex, "(?:x|y)").literal_alternatives().map(<[String]>::len), Some(2));
        assert_eq!(m(MatchOp::Regex, "(x|y)").literal_alternatives().map(<[String]>::len), Some(2));
        assert_eq!(m(MatchOp::Regex, r"a\.b").literal_alternatives(), Some(&["a.b".to_string()][..]));
        assert_eq!(m(MatchOp::Regex, "a|").literal_alternatives(), Some(&["".to_string(), "a".into()][..]));
        assert_eq!(m(MatchOp::Equal, "a.b").literal_alternatives(), Some(&["a.b".to_string()][..]));
        for pattern in ["a.b", "a*", "(a)|(b)", "(?i)a", r"\d", r"a\<", "[ab]", "(a|b)c", "^a"] {
            assert_eq!(m(MatchOp::Regex, pattern).literal_alternatives(), None, "{pattern}");
        }
    }

    #[test]
    fn literal_prefixes_are_safe() {
        assert_eq!(m(MatchOp::Regex, "foo.*").literal_prefix(), Some("foo"));
        assert_eq!(m(MatchOp::Regex, "foo.+").literal_prefix(), Some("foo"));
        assert_eq!(m(MatchOp::Regex, r"foo\.bar.*").literal_prefix(), Some("foo.bar"));
        assert_eq!(m(MatchOp::Regex, "foo(bar|baz)").literal_prefix(), Some("foo"));
        assert_eq!(m(MatchOp::Regex, "fo*").literal_prefix(), Some("f"));
        assert_eq!(m(MatchOp::Regex, "fo+x").literal_prefix(), Some("f"));
        assert_eq!(m(MatchOp::Regex, "fo{0,2}").literal_prefix(), Some("f"));
        assert_eq!(m(MatchOp::Equal, "foo").literal_prefix(), None);
        for pattern in ["foo.*|bar", ".*foo", "f*", "(?i)foo", "fo[(]|x", "^foo"] {
            assert_eq!(m(MatchOp::Regex, pattern).literal_prefix(), None, "{pattern}");
        }
    }

    #[test]
    fn analysis_agrees_with_the_regex() {
        let inputs = ["", "a", "b", "ab", "foo", "foobar", "foo.bar", "fooxbar", "f", "fo", "x", "y", "a.b", "A"];
        let patterns = ["a|b", "(a|b)", "(?:foo|bar)", r"foo\.bar", "foo.*", "foo.+", "fo*", "a|", "(?i)a", "x|y|x"];
        for pattern in patterns {
            let fast = m(MatchOp::Regex, pattern);
            let slow = Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for input in inputs {
                assert_eq!(fast.matches(input), slow.is_match(input), "{pattern} on {input:?}");
                if let Some(prefix) = fast.literal_prefix() {
                    assert!(!slow.is_match(input) || input.starts_with(prefix), "{pattern} prefix on {input:?}");
                }
            }
        }
    }

    #[test]
    fn hostile_regexes_fail_cleanly() {
        let err = Matcher::new(MatchOp::Regex, "a", "(.{1000}){1000}").unwrap_err();
        assert!(matches!(err, MatcherError::RegexTooLarge { .. }), "{err}");
        let err = Matcher::new(MatchOp::NotRegex, "a", r"\w{500}\w{500}").unwrap_err();
        assert!(matches!(err, MatcherError::RegexTooLarge { .. }), "{err}");
        assert_eq!(Matcher::new(MatchOp::Equal, "", "x"), Err(MatcherError::EmptyName));
        let err = Matcher::new(MatchOp::Regex, "a", "[").unwrap_err();
        assert!(err.to_string().starts_with("invalid regex \"[\" for label \"a\": "), "{err}");
    }

    #[test]
    fn display_uses_selector_notation() {
        assert_eq!(m(MatchOp::NotRegex, "x|y").to_string(), "a!~\"x|y\"");
    }
}
