//! A logfmt decoder for `| logfmt`, following go-logfmt's rules: `key=value`, `key="quoted \"value\""`, bare
//! `key` (empty value). Malformed pairs are skipped, or end the line in strict mode.

use std::borrow::Cow;

/// Calls `emit(key, value)` for every pair of `line`, keys as written. In strict mode the first malformed
/// pair ends decoding with its error; otherwise it is skipped and the error of the first one returned after
/// decoding the rest (callers ignore it outside strict mode).
pub(crate) fn decode(line: &str, strict: bool, emit: &mut dyn FnMut(&str, Cow<'_, str>)) -> Result<(), String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut first_err = None;
    while i < b.len() {
        while i < b.len() && b[i] <= b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        match pair(line, &mut i) {
            Ok((key, value)) => emit(key, value),
            Err(e) => {
                if strict {
                    return Err(e);
                }
                first_err.get_or_insert(e);
                while i < b.len() && b[i] > b' ' {
                    i += 1;
                }
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn pair<'a>(line: &'a str, i: &mut usize) -> Result<(&'a str, Cow<'a, str>), String> {
    let b = line.as_bytes();
    let start = *i;
    while *i < b.len() && b[*i] > b' ' && b[*i] != b'=' {
        if b[*i] == b'"' {
            return Err(format!("logfmt syntax error at pos {}: unexpected '\"'", *i + 1));
        }
        *i += 1;
    }
    if *i == start {
        return Err(format!("logfmt syntax error at pos {}: unexpected '='", *i + 1));
    }
    let key = &line[start..*i];
    if *i >= b.len() || b[*i] != b'=' {
        return Ok((key, Cow::Borrowed("")));
    }
    *i += 1;
    if *i < b.len() && b[*i] == b'"' {
        return quoted(line, i).map(|v| (key, v));
    }
    let vstart = *i;
    while *i < b.len() && b[*i] > b' ' {
        if b[*i] == b'"' || b[*i] == b'=' {
            return Err(format!("logfmt syntax error at pos {}: unexpected '{}'", *i + 1, b[*i] as char));
        }
        *i += 1;
    }
    Ok((key, Cow::Borrowed(&line[vstart..*i])))
}

/// A quoted value at `line[*i]` (its opening quote), with Go's escapes.
fn quoted<'a>(line: &'a str, i: &mut usize) -> Result<Cow<'a, str>, String> {
    let b = line.as_bytes();
    let start = *i + 1;
    let mut j = start;
    let mut escaped = false;
    while j < b.len() {
        match b[j] {
            b'"' => {
                *i = j + 1;
                let raw = &line[start..j];
                return if escaped { unescape(raw).map(Cow::Owned) } else { Ok(Cow::Borrowed(raw)) };
            }
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
    *i = b.len();
    Err(format!("logfmt syntax error at pos {}: unterminated quoted value", b.len() + 1))
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("logfmt syntax error: invalid escape")?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' | '"' | '/' | '\'' => out.push(e),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).map_err(|_| "logfmt syntax error: invalid \\u escape")?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            _ => return Err(format!("logfmt syntax error: invalid escape \\{e}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(line: &str, strict: bool) -> (Vec<(String, String)>, Result<(), String>) {
        let mut out = Vec::new();
        let r = decode(line, strict, &mut |k, v| out.push((k.to_string(), v.into_owned())));
        (out, r)
    }

    #[test]
    fn decodes_pairs() {
        let (p, r) = pairs(r#"level=info msg="hello \"world\"" flag dur=1.5s  path=/x"#, true);
        assert!(r.is_ok());
        let want = [("level", "info"), ("msg", "hello \"world\""), ("flag", ""), ("dur", "1.5s"), ("path", "/x")];
        assert_eq!(p, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn malformed_pairs() {
        let (p, r) = pairs(r#"a=1 =x b="2 c=3"#, false);
        assert_eq!(p, [("a".to_string(), "1".to_string())]);
        assert!(r.is_err());
        let (p, r) = pairs("a=1 b=x=y c=3", false);
        assert_eq!(p.len(), 2);
        assert!(r.unwrap_err().contains("unexpected '='"));
        let (p, r) = pairs("a=1 b=x=y c=3", true);
        assert_eq!(p.len(), 1);
        assert!(r.is_err());
    }
}
