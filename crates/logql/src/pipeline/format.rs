//! `line_format` and `label_format` templates: Go templates over the entry's labels, with the functions Loki
//! adds to Go's builtins (string helpers, sprig's common ones, `__line__`, `__timestamp__`).

use std::sync::OnceLock;

use vigil_template::funcs::string_arg;
use vigil_template::{Arity, Call, Env, FuncError, FuncResult, Functions, MissingKey, Options, Template, Value};

use crate::units::{parse_bytes, parse_duration_secs};

/// What `__line__` and `__timestamp__` read during one execution.
pub(crate) struct LineHost {
    pub line: String,
    pub ts_ns: i64,
}

/// Most bytes one template execution may write.
const MAX_OUTPUT: usize = 64 * 1024;

/// Parses a template as Loki does (missing labels print as the empty string).
pub(crate) fn compile(text: &str) -> Result<Template, String> {
    let options =
        Options { missing_key: MissingKey::Zero, max_output: MAX_OUTPUT, max_steps: 100_000, ..Options::default() };
    Template::parse_with("line", text, functions(), options).map_err(|e| e.to_string())
}

/// Whether the template reads the line or its time, so the caller must pass a [`LineHost`].
pub(crate) fn needs_line(text: &str) -> bool {
    text.contains("__line__") || text.contains("__timestamp__")
}

pub(crate) fn execute(t: &Template, data: &Value, host: Option<&LineHost>) -> Result<String, String> {
    let env = match host {
        Some(h) => Env::new().host(h),
        None => Env::new(),
    };
    t.execute(data, &env).map_err(|e| e.to_string())
}

fn int_arg(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => Ok(*f as i64),
        Value::Bool(b) => Ok(*b as i64),
        Value::String(s) => Ok(s.trim().parse::<f64>().map(|f| f as i64).unwrap_or(0)),
        Value::Nil => Ok(0),
        other => Err(FuncError::wrong_type("int", other)),
    }
}

fn float_arg(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::String(s) => Ok(s.trim().parse().unwrap_or(0.0)),
        Value::Nil => Ok(0.0),
        other => Err(FuncError::wrong_type("float64", other)),
    }
}

/// sprig's `toString`-like view used by its string functions: strings as they are, numbers printed.
fn text_arg(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

fn s(v: impl Into<String>) -> FuncResult {
    Ok(Value::from(v.into()))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::String(s) => s.is_empty(),
        Value::Int(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::Bool(b) => !b,
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Object(_) => false,
    }
}

fn chars_take(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn pad(n: i64, s: &str, left: bool) -> String {
    let n = n.clamp(0, MAX_OUTPUT as i64) as usize;
    let len = s.chars().count();
    if len >= n {
        return chars_take(s, n);
    }
    let fill = " ".repeat(n - len);
    if left {
        format!("{s}{fill}")
    } else {
        format!("{fill}{s}")
    }
}

fn capped(n: i64, unit: usize) -> Result<usize, FuncError> {
    let n = n.max(0) as usize;
    if n.saturating_mul(unit.max(1)) > MAX_OUTPUT {
        return Err(FuncError::new(format!("result longer than {MAX_OUTPUT} bytes")));
    }
    Ok(n)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64enc(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64dec(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn urldecode(s: &str) -> Result<String, FuncError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex =
                    s.get(i + 1..i + 3).ok_or_else(|| FuncError::new(format!("invalid URL escape {:?}", &s[i..])))?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| FuncError::new(format!("invalid URL escape \"%{hex}\"")))?,
                );
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn regex_replace(call: &mut Call<'_>, args: &[Value], literal: bool) -> FuncResult {
    let re = call.regex(string_arg(&args[0])?).map_err(FuncError::new)?;
    let text = text_arg(&args[1]);
    let repl = text_arg(&args[2]);
    let out =
        if literal { re.replace_all(&text, regex::NoExpand(&repl)) } else { re.replace_all(&text, repl.as_str()) };
    s(out.into_owned())
}

/// Loki's template functions, built once.
pub(crate) fn functions() -> &'static Functions {
    static FUNCS: OnceLock<Functions> = OnceLock::new();
    FUNCS.get_or_init(|| {
        let mut f = Functions::new();
        f.add("__line__", Arity::Exact(0), |call, _| {
            s(call.host::<LineHost>().map(|h| h.line.clone()).unwrap_or_default())
        });
        f.add("__timestamp__", Arity::Exact(0), |call, _| {
            let ns = call.host::<LineHost>().map_or(0, |h| h.ts_ns);
            Ok(Value::object(vigil_template::time::Time::from_unix(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000),
            )))
        });
        for name in ["ToLower", "lower"] {
            f.add(name, Arity::Exact(1), |_, a| s(text_arg(&a[0]).to_lowercase()));
        }
        for name in ["ToUpper", "upper"] {
            f.add(name, Arity::Exact(1), |_, a| s(text_arg(&a[0]).to_uppercase()));
        }
        f.add("title", Arity::Exact(1), |_, a| {
            let mut prev_letter = false;
            s(text_arg(&a[0])
                .chars()
                .map(|c| {
                    let out = if prev_letter { c } else { c.to_uppercase().next().unwrap_or(c) };
                    prev_letter = c.is_alphanumeric();
                    out
                })
                .collect::<String>())
        });
        f.add("Replace", Arity::Exact(4), |_, a| {
            let (text, old, new, n) = (text_arg(&a[0]), text_arg(&a[1]), text_arg(&a[2]), int_arg(&a[3])?);
            if n < 0 {
                s(text.replace(&old, &new))
            } else {
                s(text.replacen(&old, &new, n as usize))
            }
        });
        f.add("replace", Arity::Exact(3), |_, a| s(text_arg(&a[2]).replace(&text_arg(&a[0]), &text_arg(&a[1]))));
        f.add("Trim", Arity::Exact(2), |_, a| {
            let cut: Vec<char> = text_arg(&a[1]).chars().collect();
            s(text_arg(&a[0]).trim_matches(cut.as_slice()))
        });
        f.add("TrimLeft", Arity::Exact(2), |_, a| {
            let cut: Vec<char> = text_arg(&a[1]).chars().collect();
            s(text_arg(&a[0]).trim_start_matches(cut.as_slice()))
        });
        f.add("TrimRight", Arity::Exact(2), |_, a| {
            let cut: Vec<char> = text_arg(&a[1]).chars().collect();
            s(text_arg(&a[0]).trim_end_matches(cut.as_slice()))
        });
        f.add("trimAll", Arity::Exact(2), |_, a| {
            let cut: Vec<char> = text_arg(&a[0]).chars().collect();
            s(text_arg(&a[1]).trim_matches(cut.as_slice()))
        });
        f.add("TrimPrefix", Arity::Exact(2), |_, a| {
            let (t, p) = (text_arg(&a[0]), text_arg(&a[1]));
            s(t.strip_prefix(p.as_str()).unwrap_or(&t))
        });
        f.add("trimPrefix", Arity::Exact(2), |_, a| {
            let (p, t) = (text_arg(&a[0]), text_arg(&a[1]));
            s(t.strip_prefix(p.as_str()).unwrap_or(&t))
        });
        f.add("TrimSuffix", Arity::Exact(2), |_, a| {
            let (t, p) = (text_arg(&a[0]), text_arg(&a[1]));
            s(t.strip_suffix(p.as_str()).unwrap_or(&t))
        });
        f.add("trimSuffix", Arity::Exact(2), |_, a| {
            let (p, t) = (text_arg(&a[0]), text_arg(&a[1]));
            s(t.strip_suffix(p.as_str()).unwrap_or(&t))
        });
        for name in ["TrimSpace", "trim"] {
            f.add(name, Arity::Exact(1), |_, a| s(text_arg(&a[0]).trim()));
        }
        f.add("contains", Arity::Exact(2), |_, a| Ok(Value::Bool(text_arg(&a[1]).contains(&text_arg(&a[0])))));
        f.add("hasPrefix", Arity::Exact(2), |_, a| Ok(Value::Bool(text_arg(&a[1]).starts_with(&text_arg(&a[0])))));
        f.add("hasSuffix", Arity::Exact(2), |_, a| Ok(Value::Bool(text_arg(&a[1]).ends_with(&text_arg(&a[0])))));
        f.add("regexReplaceAll", Arity::Exact(3), |call, a| regex_replace(call, a, false));
        f.add("regexReplaceAllLiteral", Arity::Exact(3), |call, a| regex_replace(call, a, true));
        f.add("count", Arity::Exact(2), |call, a| {
            let re = call.regex(string_arg(&a[0])?).map_err(FuncError::new)?;
            Ok(Value::Int(re.find_iter(&text_arg(&a[1])).count() as i64))
        });
        f.add("default", Arity::Exact(2), |_, a| Ok(if is_empty(&a[1]) { a[0].clone() } else { a[1].clone() }));
        f.add("trunc", Arity::Exact(2), |_, a| {
            let (n, t) = (int_arg(&a[0])?, text_arg(&a[1]));
            let len = t.chars().count() as i64;
            s(if n >= 0 { chars_take(&t, n as usize) } else { t.chars().skip((len + n).max(0) as usize).collect() })
        });
        // Loki's substr: a negative start means from the beginning, a negative end to the end.
        f.add("substr", Arity::Exact(3), |_, a| {
            let (start, end, t) = (int_arg(&a[0])?, int_arg(&a[1])?, text_arg(&a[2]));
            let chars: Vec<char> = t.chars().collect();
            let len = chars.len() as i64;
            let (start, end) = (start.min(len), end.min(len));
            let (from, to) = match (start < 0, end < 0) {
                (true, true) => (0, 0),
                (true, false) => (0, end),
                (false, true) => (start, len),
                (false, false) if start > end => (0, 0),
                (false, false) => (start, end),
            };
            s(chars[from as usize..to as usize].iter().collect::<String>())
        });
        f.add("repeat", Arity::Exact(2), |_, a| {
            let t = text_arg(&a[1]);
            s(t.repeat(capped(int_arg(&a[0])?, t.len())?))
        });
        f.add("indent", Arity::Exact(2), |_, a| {
            let pad = " ".repeat(capped(int_arg(&a[0])?, 1)?);
            s(format!("{pad}{}", text_arg(&a[1]).replace('\n', &format!("\n{pad}"))))
        });
        f.add("nindent", Arity::Exact(2), |_, a| {
            let pad = " ".repeat(capped(int_arg(&a[0])?, 1)?);
            s(format!("\n{pad}{}", text_arg(&a[1]).replace('\n', &format!("\n{pad}"))))
        });
        f.add("alignLeft", Arity::Exact(2), |_, a| s(pad(int_arg(&a[0])?, &text_arg(&a[1]), true)));
        f.add("alignRight", Arity::Exact(2), |_, a| s(pad(int_arg(&a[0])?, &text_arg(&a[1]), false)));
        f.add("int", Arity::Exact(1), |_, a| Ok(Value::Int(int_arg(&a[0])?)));
        f.add("float64", Arity::Exact(1), |_, a| Ok(Value::Float(float_arg(&a[0])?)));
        f.add("add", Arity::AtLeast(1), |_, a| Ok(Value::Int(a.iter().map(int_arg).sum::<Result<i64, _>>()?)));
        f.add("addf", Arity::AtLeast(1), |_, a| Ok(Value::Float(a.iter().map(float_arg).sum::<Result<f64, _>>()?)));
        f.add("sub", Arity::Exact(2), |_, a| Ok(Value::Int(int_arg(&a[0])?.wrapping_sub(int_arg(&a[1])?))));
        f.add("subf", Arity::Exact(2), |_, a| Ok(Value::Float(float_arg(&a[0])? - float_arg(&a[1])?)));
        f.add("mul", Arity::AtLeast(1), |_, a| {
            Ok(Value::Int(a.iter().map(int_arg).try_fold(1i64, |acc, v| v.map(|v| acc.wrapping_mul(v)))?))
        });
        f.add("mulf", Arity::AtLeast(1), |_, a| Ok(Value::Float(a.iter().map(float_arg).product::<Result<f64, _>>()?)));
        f.add("div", Arity::Exact(2), |_, a| {
            let (x, y) = (int_arg(&a[0])?, int_arg(&a[1])?);
            x.checked_div(y).map(Value::Int).ok_or_else(|| FuncError::new("integer divide by zero"))
        });
        f.add("divf", Arity::Exact(2), |_, a| Ok(Value::Float(float_arg(&a[0])? / float_arg(&a[1])?)));
        f.add("mod", Arity::Exact(2), |_, a| {
            let (x, y) = (int_arg(&a[0])?, int_arg(&a[1])?);
            x.checked_rem(y).map(Value::Int).ok_or_else(|| FuncError::new("integer divide by zero"))
        });
        f.add("max", Arity::AtLeast(1), |_, a| {
            Ok(Value::Int(a.iter().map(int_arg).try_fold(i64::MIN, |m, v| v.map(|v| m.max(v)))?))
        });
        f.add("min", Arity::AtLeast(1), |_, a| {
            Ok(Value::Int(a.iter().map(int_arg).try_fold(i64::MAX, |m, v| v.map(|v| m.min(v)))?))
        });
        f.add("ceil", Arity::Exact(1), |_, a| Ok(Value::Float(float_arg(&a[0])?.ceil())));
        f.add("floor", Arity::Exact(1), |_, a| Ok(Value::Float(float_arg(&a[0])?.floor())));
        f.add("round", Arity::AtLeast(2), |_, a| {
            let p = 10f64.powi(int_arg(&a[1])?.clamp(0, 15) as i32);
            Ok(Value::Float((float_arg(&a[0])? * p).round() / p))
        });
        f.add("urlencode", Arity::Exact(1), |_, a| s(urlencode(&text_arg(&a[0]))));
        f.add("urldecode", Arity::Exact(1), |_, a| s(urldecode(&text_arg(&a[0]))?));
        f.add("b64enc", Arity::Exact(1), |_, a| s(b64enc(text_arg(&a[0]).as_bytes())));
        f.add("b64dec", Arity::Exact(1), |_, a| {
            let bytes = b64dec(&text_arg(&a[0])).ok_or_else(|| FuncError::new("illegal base64 data"))?;
            s(String::from_utf8_lossy(&bytes).into_owned())
        });
        f.add("bytes", Arity::Exact(1), |_, a| {
            let t = text_arg(&a[0]);
            parse_bytes(&t).map(|b| Value::Int(b as i64)).ok_or_else(|| FuncError::new(format!("invalid size {t:?}")))
        });
        for name in ["duration", "duration_seconds"] {
            f.add(name, Arity::Exact(1), |_, a| {
                let t = text_arg(&a[0]);
                parse_duration_secs(&t)
                    .map(Value::Float)
                    .ok_or_else(|| FuncError::new(format!("invalid duration {t:?}")))
            });
        }
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &str, pairs: &[(&str, &str)]) -> String {
        let t = compile(t).unwrap();
        let data = Value::string_map(pairs.iter().copied());
        execute(&t, &data, Some(&LineHost { line: "the line".into(), ts_ns: 0 })).unwrap()
    }

    #[test]
    fn loki_functions() {
        assert_eq!(run("{{.a | ToUpper}} {{.missing}}|{{ToLower .a}}", &[("a", "Hi")]), "HI |hi");
        assert_eq!(run(r#"{{ Replace .a "l" "L" -1 }} {{ .a | replace "l" "_" }}"#, &[("a", "hello")]), "heLLo he__o");
        assert_eq!(run(r#"{{ regexReplaceAll "(\\d+)" .a "<$1>" }}"#, &[("a", "a1b22")]), "a<1>b<22>");
        assert_eq!(
            run(r#"{{ .x | default "none" }} {{ Trim .a "-" }} {{ TrimPrefix .a "-" }}"#, &[("a", "-x-")]),
            "none x x-"
        );
        assert_eq!(run("{{ __line__ }}", &[]), "the line");
        assert_eq!(
            run(r#"{{ .a | trunc 3 }} {{ substr 1 3 .a }} {{ alignRight 6 .a }}"#, &[("a", "abcdef")]),
            "abc bc abcdef"
        );
        assert_eq!(
            run(r#"{{ add .a 2 }} {{ divf .a 4 }} {{ b64enc .a }} {{ b64dec "MTA=" }}"#, &[("a", "10")]),
            "12 2.5 MTA= 10"
        );
        assert_eq!(run(r#"{{ urlencode .a }} {{ urldecode "a%20b+c" }}"#, &[("a", "a b/c")]), "a+b%2Fc a b c");
        assert_eq!(run(r#"{{ bytes "1KiB" }} {{ duration "1m30s" }}"#, &[]), "1024 90");
        assert!(compile("{{ nosuchfn .a }}").is_err());
        assert!(execute(&compile(r#"{{ repeat 100000000 "x" }}"#).unwrap(), &Value::Nil, None).is_err());
    }
}
