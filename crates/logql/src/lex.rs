//! The LogQL lexer: text to tokens with their line and column, strings unquoted with Go's escapes.

use crate::error::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    /// A number, possibly with a unit suffix (`5m`, `1.5KB`, `1e3`): the parser decides what it is.
    Num(String),
    /// `--strict`, `--keep-empty`.
    Flag(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    /// `|=`
    PipeEq,
    /// `|~`
    PipeRe,
    Pipe,
    Gt,
    Ge,
    Lt,
    Le,
    /// `==`
    EqEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl Tok {
    /// The token as Loki's parser names it in `unexpected ...`.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => match s.as_str() {
                "by" | "without" | "on" | "ignoring" | "offset" | "bool" | "and" | "or" | "unless" => s.to_uppercase(),
                _ => "IDENTIFIER".to_string(),
            },
            Tok::Str(_) => "STRING".to_string(),
            Tok::Num(n) if n.bytes().all(|b| b.is_ascii_digit() || b == b'.') => "NUMBER".to_string(),
            Tok::Num(_) => "DURATION".to_string(),
            Tok::Flag(f) => format!("--{f}"),
            Tok::Eof => "$end".to_string(),
            other => other.symbol().to_string(),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrack => "[",
            Tok::RBrack => "]",
            Tok::Comma => ",",
            Tok::Eq => "=",
            Tok::Neq => "!=",
            Tok::Re => "=~",
            Tok::Nre => "!~",
            Tok::PipeEq => "|=",
            Tok::PipeRe => "|~",
            Tok::Pipe => "|",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::EqEq => "==",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::Pow => "^",
            _ => "?",
        }
    }
}

/// A token and where it starts: 1-based line and column (in characters).
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

/// Longest query text accepted.
pub(crate) const MAX_QUERY_LEN: usize = 128 * 1024;

pub(crate) fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    if text.len() > MAX_QUERY_LEN {
        return Err(ParseError::plain(format!(
            "query is {} bytes long, more than the {MAX_QUERY_LEN} allowed",
            text.len()
        )));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0, 1, 1);
    while i < chars.len() {
        let c = chars[i];
        let (start_line, start_col) = (line, col);
        let err = |msg: String| ParseError::at(start_line, start_col, msg);
        if c == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let next = chars.get(i + 1).copied();
        let mut len = 1;
        let tok = match c {
            '"' | '`' => {
                let (s, used, newlines) = lex_string(&chars[i..]).map_err(err)?;
                len = used;
                if newlines > 0 {
                    // Columns after a multi-line raw string restart on its last line.
                    line += newlines;
                    let last_nl = chars[i..i + used].iter().rposition(|&c| c == '\n').unwrap_or(0);
                    col = used - last_nl;
                    i += used;
                    out.push(Token { tok: Tok::Str(s), line: start_line, col: start_col });
                    continue;
                }
                Tok::Str(s)
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                    j += 1;
                }
                if j < chars.len()
                    && matches!(chars[j], 'e' | 'E')
                    && (chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())
                        || (matches!(chars.get(j + 1), Some('+' | '-'))
                            && chars.get(j + 2).is_some_and(|c| c.is_ascii_digit())))
                {
                    j += 2;
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '.') {
                    j += 1;
                }
                len = j - i;
                Tok::Num(chars[i..j].iter().collect())
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == ':') {
                    j += 1;
                }
                len = j - i;
                Tok::Ident(chars[i..j].iter().collect())
            }
            '-' if next == Some('-') && chars.get(i + 2).is_some_and(|c| c.is_ascii_alphabetic()) => {
                let mut j = i + 2;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '-' || chars[j] == '_') {
                    j += 1;
                }
                len = j - i;
                Tok::Flag(chars[i + 2..j].iter().collect())
            }
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBrack,
            ']' => Tok::RBrack,
            ',' => Tok::Comma,
            '+' => Tok::Add,
            '-' => Tok::Sub,
            '*' => Tok::Mul,
            '/' => Tok::Div,
            '%' => Tok::Mod,
            '^' => Tok::Pow,
            '=' => match next {
                Some('~') => (len = 2, Tok::Re).1,
                Some('=') => (len = 2, Tok::EqEq).1,
                _ => Tok::Eq,
            },
            '!' => match next {
                Some('=') => (len = 2, Tok::Neq).1,
                Some('~') => (len = 2, Tok::Nre).1,
                _ => return Err(err("syntax error: unexpected character: '!'".to_string())),
            },
            '|' => match next {
                Some('=') => (len = 2, Tok::PipeEq).1,
                Some('~') => (len = 2, Tok::PipeRe).1,
                _ => Tok::Pipe,
            },
            '>' => match next {
                Some('=') => (len = 2, Tok::Ge).1,
                _ => Tok::Gt,
            },
            '<' => match next {
                Some('=') => (len = 2, Tok::Le).1,
                _ => Tok::Lt,
            },
            other => return Err(err(format!("syntax error: unexpected character: {other:?}"))),
        };
        out.push(Token { tok, line: start_line, col: start_col });
        i += len;
        col += len;
    }
    out.push(Token { tok: Tok::Eof, line, col });
    Ok(out)
}

/// Reads a quoted string at the start of `s`: its value, the characters used and the newlines inside.
fn lex_string(s: &[char]) -> Result<(String, usize, usize), String> {
    let quote = s[0];
    let mut out = String::new();
    let mut i = 1;
    let mut newlines = 0;
    while i < s.len() {
        let c = s[i];
        if c == quote {
            return Ok((out, i + 1, newlines));
        }
        if quote == '`' {
            if c == '\n' {
                newlines += 1;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '\n' {
            return Err("syntax error: newline in string".to_string());
        }
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *s.get(i + 1).ok_or("syntax error: unterminated string")?;
        i += 2;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => {
                i -= 1;
                (3, 8)
            }
            _ => return Err(format!("syntax error: invalid escape sequence \\{e}")),
        };
        let hex: String = s.get(i..i + digits).ok_or("syntax error: unterminated string")?.iter().collect();
        let code = u32::from_str_radix(&hex, radix)
            .map_err(|_| format!("syntax error: invalid escape sequence in {hex:?}"))?;
        i += digits;
        match char::from_u32(code) {
            Some(c) if radix == 8 || e == 'x' => {
                // \xHH and octal escapes are bytes; only their ASCII range makes valid UTF-8 alone.
                if code < 0x80 {
                    out.push(c)
                } else {
                    return Err(format!("syntax error: escape \\{e}{hex} is not valid UTF-8 on its own"));
                }
            }
            Some(c) => out.push(c),
            None => return Err(format!("syntax error: invalid unicode code point {code:#x}")),
        }
    }
    Err("syntax error: unterminated string".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_selectors_filters_and_numbers() {
        assert_eq!(
            toks(r#"{a="b\n"} |= `x\y` != "z" | x >= 1.5e3 [5m]"#),
            [
                Tok::LBrace,
                Tok::Ident("a".into()),
                Tok::Eq,
                Tok::Str("b\n".into()),
                Tok::RBrace,
                Tok::PipeEq,
                Tok::Str("x\\y".into()),
                Tok::Neq,
                Tok::Str("z".into()),
                Tok::Pipe,
                Tok::Ident("x".into()),
                Tok::Ge,
                Tok::Num("1.5e3".into()),
                Tok::LBrack,
                Tok::Num("5m".into()),
                Tok::RBrack,
                Tok::Eof
            ]
        );
        assert_eq!(toks("--strict 1KB"), [Tok::Flag("strict".into()), Tok::Num("1KB".into()), Tok::Eof]);
        assert_eq!(toks(r#""\u00e9\x41\101""#), [Tok::Str("éAA".into()), Tok::Eof]);
    }

    #[test]
    fn positions_and_errors() {
        let t = lex("{a=\"b\"}\n  |= \"x\"").unwrap();
        assert_eq!((t[5].line, t[5].col), (2, 3));
        assert_eq!(
            lex("{a=\"b}").unwrap_err().to_string(),
            "parse error at line 1, col 4: syntax error: unterminated string"
        );
        assert!(lex("\"\\q\"").is_err());
    }
}
