//! The UTF-8 matcher grammar of Alertmanager 0.27 and later (`matchers/parse`): label names and values are
//! either double-quoted Go strings or unquoted runs of non-reserved characters, so names like
//! `"service.name"` can be matched. Used only for input the 0.25 parser rejects.

use super::{MatchOp, Matcher, MatcherError};

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    Comma,
    Op(MatchOp),
    Quoted(&'a str),
    Unquoted(&'a str),
}

fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\"'`".contains(c)
}

fn err(msg: impl Into<String>) -> MatcherError {
    MatcherError(msg.into())
}

fn lex(input: &str) -> Result<Vec<Token<'_>>, MatcherError> {
    let mut tokens = Vec::new();
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        let (tok, len) = match c {
            c if c.is_whitespace() => {
                rest = &rest[c.len_utf8()..];
                continue;
            }
            '{' => (Token::Open, 1),
            '}' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            '=' if rest.starts_with("=~") => (Token::Op(MatchOp::Regex), 2),
            '=' => (Token::Op(MatchOp::Equal), 1),
            '!' if rest.starts_with("!=") => (Token::Op(MatchOp::NotEqual), 2),
            '!' if rest.starts_with("!~") => (Token::Op(MatchOp::NotRegex), 2),
            '!' => return Err(err(format!("{rest}: expected one of '=~'"))),
            '"' => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| err(format!("{rest}: missing end \"")))?;
                (Token::Quoted(&rest[..=end]), end + 1)
            }
            c if !is_reserved(c) => {
                let len = rest.find(is_reserved).unwrap_or(rest.len());
                (Token::Unquoted(&rest[..len]), len)
            }
            c => return Err(err(format!("{c}: invalid input"))),
        };
        tokens.push(tok);
        rest = &rest[len..];
    }
    Ok(tokens)
}

/// Parses zero or more matchers: `{a="b", "c.d"=~e}`, braces optional but balanced, a trailing comma allowed.
pub(super) fn parse(input: &str) -> Result<Vec<Matcher>, MatcherError> {
    let tokens = lex(input)?;
    let mut it = tokens.iter().peekable();
    let open = it.next_if_eq(&&Token::Open).is_some();
    let mut matchers = Vec::new();
    loop {
        match it.peek() {
            None | Some(Token::Close) => break,
            _ => {}
        }
        let name = text(it.next(), "expected label name")?;
        let op = match it.next() {
            Some(Token::Op(op)) => *op,
            _ => return Err(err("expected an operator such as '=', '!=', '=~' or '!~'")),
        };
        let value = text(it.next(), "expected label value")?;
        matchers.push(Matcher::new(op, name, value)?);
        match it.peek() {
            Some(Token::Comma) => {
                it.next();
            }
            None | Some(Token::Close) => {}
            Some(_) => return Err(err("expected a comma or close brace")),
        }
    }
    match (open, it.next()) {
        (true, Some(Token::Close)) | (false, None) => {}
        (true, _) => return Err(err("expected close brace")),
        (false, Some(_)) => return Err(err("expected opening brace")),
    }
    if it.next().is_some() {
        return Err(err("expected end of input"));
    }
    Ok(matchers)
}

fn text(tok: Option<&Token<'_>>, what: &str) -> Result<String, MatcherError> {
    match tok {
        Some(Token::Unquoted(s)) => Ok((*s).to_owned()),
        Some(Token::Quoted(s)) => go_unquote(s).ok_or_else(|| err(format!("{s}: invalid input"))),
        _ => Err(err(what)),
    }
}

/// Go's `strconv.Unquote` for a double-quoted string; `None` where Go reports a syntax error, or where the
/// escapes spell bytes that are not UTF-8.
fn go_unquote(s: &str) -> Option<String> {
    let body = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v * 16 + chars.next()?.to_digit(16)?;
        }
        Some(v)
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return None,
            '\\' => {
                let e = chars.next()?;
                let simple = match e {
                    'a' => Some(7u8),
                    'b' => Some(8),
                    'f' => Some(12),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(11),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    out.push(b);
                    continue;
                }
                match e {
                    'x' => out.push(u8::try_from(hex(&mut chars, 2)?).ok()?),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.to_digit(8)?;
                        }
                        out.push(u8::try_from(v).ok()?);
                    }
                    'u' | 'U' => {
                        let c = char::from_u32(hex(&mut chars, if e == 'u' { 4 } else { 8 })?)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return None,
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_like_go() {
        assert_eq!(go_unquote(r#""a\tb""#).as_deref(), Some("a\tb"));
        assert_eq!(go_unquote(r#""\x41\101\u00e9\U0001F600""#).as_deref(), Some("AAé😀"));
        assert_eq!(go_unquote(r#""\q""#), None);
        assert_eq!(go_unquote(r#""\xff""#), None);
        assert_eq!(go_unquote("\"a\nb\""), None);
    }

    #[test]
    fn grammar_errors() {
        for bad in ["{a=b", "a=b}", "a=b c=d", "a", "a=", "=b", "a~b", "{a=b}}", "\"a"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("{}").unwrap().len(), 0);
        assert_eq!(parse("").unwrap().len(), 0);
        assert_eq!(parse("a=b,").unwrap().len(), 1);
        assert_eq!(parse("{a=b,}").unwrap().len(), 1);
    }
}
