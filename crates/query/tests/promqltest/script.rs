//! Test scripts as commands: `load`, `clear` and `eval` with their expectations, as promqltest reads them.

use regex::Regex;
use vigil_model::Labels;

use vigil_query::series_notation::{parse_metric, parse_series_line, parse_values, scan_number, SeqValue};

#[derive(Debug)]
pub enum Command {
    Load(Load),
    Clear,
    Eval(Box<Eval>),
}

#[derive(Debug)]
pub struct Load {
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histograms are also stored as native histograms (which vigil lacks).
    pub with_nhcb: bool,
    pub series: Vec<(Labels, Vec<SeqValue>)>,
}

#[derive(Debug)]
pub enum Timing {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// An `expect warn|info ... msg:|regex:` line.
#[derive(Debug)]
pub enum Pattern {
    Any,
    Message(String),
    Regex(Regex),
}

impl Pattern {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Message(m) => m == s,
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

#[derive(Debug, Default)]
pub struct Expectations {
    pub warn: Vec<Pattern>,
    pub info: Vec<Pattern>,
    pub no_warn: bool,
    pub no_info: bool,
    pub fail: Option<Pattern>,
    pub ordered: bool,
}

#[derive(Debug)]
pub struct Eval {
    /// 1-based line of the `eval` command.
    pub line: usize,
    pub expr: String,
    pub timing: Timing,
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub ordered: bool,
    pub fail_message: Option<String>,
    pub fail_regex: Option<Regex>,
    pub expect: Expectations,
    /// Expected scalar result.
    pub scalar: Option<f64>,
    /// Expected series with their 1-based position among the result lines.
    pub series: Vec<(Labels, Vec<SeqValue>, usize)>,
    /// The expected result mentions native histograms.
    pub uses_histograms: bool,
}

pub fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let instant = Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .map_err(|e| e.to_string())?;
    let range = Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
        .map_err(|e| e.to_string())?;
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let interval = l.split_whitespace().nth(1).ok_or(format!("line {}: load without interval", i + 1))?;
            let mut load = Load {
                interval_ms: parse_duration(interval).map_err(|e| format!("line {}: {e}", i + 1))?,
                with_nhcb: word == "load_with_nhcb",
                series: Vec::new(),
            };
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                load.series.push(parse_series_line(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?);
                i += 1;
            }
            cmds.push(Command::Load(load));
        } else if word.starts_with("eval") {
            let (eval, next) = parse_eval(&lines, i, &instant, &range)?;
            cmds.push(Command::Eval(Box::new(eval)));
            i = next;
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}

fn parse_eval(lines: &[String], start: usize, instant: &Regex, range: &Regex) -> Result<(Eval, usize), String> {
    let l = &lines[start];
    let err = |m: String| format!("line {}: {m}", start + 1);
    let (modifier, expr, timing) = if let Some(c) = instant.captures(l) {
        let at = c.get(2).map_or("0", |m| m.as_str());
        (c.get(1).map(|m| m.as_str()), c[3].to_string(), Timing::Instant(parse_duration(at).map_err(err)?))
    } else if let Some(c) = range.captures(l) {
        let timing = Timing::Range {
            start: parse_duration(&c[2]).map_err(err)?,
            end: parse_duration(&c[3]).map_err(err)?,
            step: parse_duration(&c[4]).map_err(err)?,
        };
        (c.get(1).map(|m| m.as_str()), c[5].to_string(), timing)
    } else {
        return Err(err(format!("invalid eval command {l:?}")));
    };
    let mut eval = Eval {
        line: start + 1,
        expr,
        timing,
        fail: modifier == Some("fail"),
        warn: modifier == Some("warn"),
        info: modifier == Some("info"),
        ordered: modifier == Some("ordered"),
        fail_message: None,
        fail_regex: None,
        expect: Expectations::default(),
        scalar: None,
        series: Vec::new(),
        uses_histograms: false,
    };
    let mut i = start + 1;
    let mut pos = 0;
    while i < lines.len() && !lines[i].is_empty() {
        let def = &lines[i];
        i += 1;
        if eval.fail {
            if let Some(m) = def.strip_prefix("expected_fail_message") {
                eval.fail_message = Some(m.trim().to_string());
                break;
            }
            if let Some(r) = def.strip_prefix("expected_fail_regexp") {
                eval.fail_regex = Some(Regex::new(r.trim()).map_err(|e| e.to_string())?);
                break;
            }
        }
        if def.split(' ').next() == Some("expect") {
            parse_expect(def, &mut eval.expect).map_err(|e| format!("line {i}: {e}"))?;
            continue;
        }
        pos += 1;
        if let Some(v) = parse_number(def) {
            eval.scalar = Some(v);
            break;
        }
        if def.contains("{{") {
            eval.uses_histograms = true;
            continue;
        }
        let (labels, rest) = parse_metric(def).map_err(|e| format!("line {i}: {e}"))?;
        let values = parse_values(rest).map_err(|e| format!("line {i}: {e}"))?;
        eval.series.push((labels, values, pos));
    }
    // Skip any lines left after an early `break`.
    while i < lines.len() && !lines[i].is_empty() {
        i += 1;
    }
    Ok((eval, i))
}

fn parse_expect(line: &str, e: &mut Expectations) -> Result<(), String> {
    let re = Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .map_err(|e| e.to_string())?;
    let c = re.captures(line.trim()).ok_or_else(|| format!("invalid expect line {line:?}"))?;
    let pattern = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
        (Some("msg"), Some(m)) => Pattern::Message(m.as_str().trim().to_string()),
        (Some("regex"), Some(m)) => Pattern::Regex(Regex::new(m.as_str().trim()).map_err(|e| e.to_string())?),
        _ => Pattern::Any,
    };
    match &c[1] {
        "ordered" => e.ordered = true,
        "fail" => e.fail = Some(pattern),
        "warn" => e.warn.push(pattern),
        "info" => e.info.push(pattern),
        "no_warn" => e.no_warn = true,
        _ => e.no_info = true,
    }
    Ok(())
}

/// A whole line that is a number (Go's `ParseInt(s, 0, 64)` or `ParseFloat`).
fn parse_number(s: &str) -> Option<f64> {
    match scan_number(s) {
        Some((v, "")) => Some(v),
        _ => None,
    }
}

/// Prometheus durations: `0`, `90s`, `1h30m`, `5m`, `100ms`, `1d`, `1w`, `1y`, optionally negative.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body == "0" {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let mut rest = body;
    if rest.is_empty() {
        return Err(format!("invalid duration {s:?}"));
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if n == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let value: i64 = rest[..n].parse().map_err(|e| format!("invalid duration {s:?}: {e}"))?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            other => return Err(format!("invalid unit {other:?} in duration {s:?}")),
        };
        rest = &rest[u..];
        total += value * unit;
    }
    Ok(if negative { -total } else { total })
}
