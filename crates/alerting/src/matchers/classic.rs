//! Alertmanager 0.25's matcher parser (`pkg/labels/parse.go`), quirks included: commas split outside double
//! quotes, one optional brace at each end, a name of `[a-zA-Z_:][a-zA-Z0-9_:]*`, and a value that may be
//! quoted and knows only the escapes `\"`, `\\` and `\n` (any other backslash stays literal).

use super::{MatchOp, Matcher, MatcherError};

/// Go's regexp `\s`: ASCII whitespace without the vertical tab.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

pub(super) fn parse_matchers(s: &str) -> Result<Vec<Matcher>, MatcherError> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            // A comma inside quotes keeps a pending escape, as the original loop does.
            ',' => {}
            '"' if !escaped => inside_quotes = !inside_quotes,
            '"' => escaped = false,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_owned());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

pub(super) fn parse_matcher(s: &str) -> Result<Matcher, MatcherError> {
    let bad = || MatcherError(format!("bad matcher format: {s}"));
    let rest = s.trim_start_matches(is_go_space);
    let name_len = rest
        .char_indices()
        .take_while(|&(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        .count();
    if name_len == 0 {
        return Err(bad());
    }
    let (name, rest) = rest.split_at(name_len);
    let rest = rest.trim_start_matches(is_go_space);
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchOp::Regex, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchOp::Equal, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, r)
    } else {
        return Err(bad());
    };
    let raw = rest.trim_matches(is_go_space);
    let value = unescape(raw)?;
    Matcher::new(op, name, value)
}

fn unescape(raw: &str) -> Result<String, MatcherError> {
    let quote_err = || MatcherError(format!("matcher value contains unescaped double quote: {raw}"));
    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(b) => (b, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        let is_last = i + c.len_utf8() == body.len();
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if !is_last => escaped = true,
            '\\' => value.push('\\'),
            '"' if !expect_trailing_quote || !is_last => return Err(quote_err()),
            '"' => expect_trailing_quote = false,
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(quote_err());
    }
    Ok(value)
}
