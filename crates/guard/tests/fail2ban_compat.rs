//! Accuracy against fail2ban's own annotated sshd test logs (Debian's fail2ban 1.0.2, unpacked by
//! `../shared/peers/install.sh`): for every line, vigil's sshd filter must agree with the `# failJSON`
//! annotation on match/no-match and on the host. The files are GPL and read here at test time only.
//!
//! The test mirrors fail2ban's `samplestestcase.py`: `# filterOptions:` starts a block run once per listed
//! option set (the sshd `mode`), each option set keeps its own filter (and connection memory) across the
//! blocks that name it, `# fileOptions:` applies to the whole file, `constraint`s skip a line for option
//! sets they exclude, and lines without an annotation must not match.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use vigil_guard::parse::parse_line;
use vigil_guard::sshd_filter::{Mode, Source, SshdFilter};

fn logs_dir() -> PathBuf {
    let home = std::env::var_os("PEERS_HOME").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("vigil-peers")
    });
    home.join("root/usr/lib/python3/dist-packages/fail2ban/tests/files/logs")
}

/// One option set of a `filterOptions` block.
#[derive(Clone, Debug)]
struct Opts {
    mode: Mode,
    /// The fail2ban filter name this option set makes (its cache key): the options other than `test.*`.
    key: String,
}

fn opts_of(common: &serde_json::Map<String, Value>, v: &Value) -> Option<Opts> {
    let mut all = common.clone();
    if let Value::Object(m) = v {
        all.extend(m.clone());
    }
    if let Some(cond) = all.get("test.condition").and_then(Value::as_str) {
        if !eval_condition(cond, None) {
            return None;
        }
    }
    let mode = match all.get("mode").and_then(Value::as_str) {
        None | Some("normal") => Mode::Normal,
        Some("ddos") => Mode::Ddos,
        Some("extra") => Mode::Extra,
        Some("aggressive") => Mode::Aggressive,
        Some(other) => panic!("unknown sshd mode {other:?} in fail2ban's test log"),
    };
    let mut key: Vec<String> =
        all.iter().filter(|(k, _)| !k.starts_with("test.")).map(|(k, v)| format!("{k}={v}")).collect();
    key.sort();
    Some(Opts { mode, key: key.join(",") })
}

/// The Python expressions fail2ban's sshd samples use: `name == 'sshd'` and `opts.get('mode') ==/!= '...'`.
fn eval_condition(expr: &str, mode: Option<Mode>) -> bool {
    let e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    if e == "name=='sshd'" {
        return true;
    }
    if let Some(rest) = e.strip_prefix("opts.get('mode')") {
        let mode = mode.map(Mode::as_str);
        let (eq, val) = if let Some(v) = rest.strip_prefix("==") {
            (true, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (false, v)
        } else {
            panic!("unsupported constraint {expr:?}");
        };
        let val = val.trim_matches('\'');
        // fail2ban's normal mode has no `mode` option at all.
        let actual = mode.filter(|m| *m != "normal");
        return (actual == Some(val)) == eq;
    }
    panic!("unsupported constraint {expr:?}");
}

#[derive(Default)]
struct Tally {
    checks: usize,
    agreed: usize,
    disagreements: Vec<String>,
}

fn check_file(name: &str) -> Tally {
    let path = logs_dir().join(name);
    let meta = std::fs::metadata(&path).unwrap_or_else(|e| {
        panic!(
            "fail2ban's test log {} is missing ({e}): run ../shared/peers/install.sh fail2ban (scripts/setup does)",
            path.display()
        )
    });
    assert!(meta.len() < 4 << 20, "{} is unexpectedly large", path.display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));

    let mut filters: HashMap<String, SshdFilter> = HashMap::new();
    let mut common = serde_json::Map::new();
    let mut block: Vec<Opts> = Vec::new();
    let mut ignore_block = false;
    let mut tally = Tally::default();
    let mut lines = text.lines().enumerate();
    while let Some((idx, line)) = lines.next() {
        let annotation = line
            .trim_start_matches('#')
            .strip_prefix(' ')
            .or_else(|| Some(line.trim_start_matches('#')))
            .filter(|_| line.starts_with('#'))
            .and_then(|rest| {
                ["failJSON", "fileOptions", "filterOptions", "addFILE"]
                    .iter()
                    .find_map(|k| rest.strip_prefix(k).and_then(|r| r.strip_prefix(':')).map(|r| (*k, r)))
            });
        let (faildata, lineno, log_line) = match annotation {
            Some((kind, json)) => {
                let v: Value = serde_json::from_str(json.trim())
                    .unwrap_or_else(|e| panic!("{name}:{}: bad annotation json: {e}", idx + 1));
                match kind {
                    "fileOptions" => {
                        common = v.as_object().cloned().unwrap_or_default();
                        continue;
                    }
                    "filterOptions" => {
                        let list = match v {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        block = list.iter().filter_map(|o| opts_of(&common, o)).collect();
                        ignore_block = block.is_empty();
                        continue;
                    }
                    "addFILE" => continue,
                    _ => {}
                }
                let Some((next_idx, next)) = lines.next() else { break };
                (v, next_idx + 1, next)
            }
            None if ignore_block || line.starts_with('#') || line.trim().is_empty() => continue,
            None => (Value::Object(Default::default()), idx + 1, line),
        };
        if ignore_block {
            continue;
        }
        if block.is_empty() {
            block = vec![opts_of(&common, &Value::Null).expect("default options")];
        }
        let want_match = faildata.get("match").and_then(Value::as_bool).unwrap_or(false);
        let want_host = faildata.get("host").and_then(Value::as_str);
        for opts in &block {
            if let Some(c) = faildata.get("constraint").and_then(Value::as_str) {
                if !eval_condition(c, Some(opts.mode)) {
                    continue;
                }
            }
            let filter = filters.entry(opts.key.clone()).or_insert_with(|| SshdFilter::new(opts.mode));
            let got = parse_line(log_line).and_then(|ev| filter.observe(&ev, 0));
            let agree = match (&got, want_match) {
                (None, false) => true,
                (Some(_), false) | (None, true) => false,
                (Some(source), true) => want_host.is_none_or(|h| host_matches(h, source)),
            };
            tally.checks += 1;
            if agree {
                tally.agreed += 1;
            } else {
                let got = got.map_or("no match".to_string(), |s| format!("match {s}"));
                let want = if want_match { format!("match {}", want_host.unwrap_or("?")) } else { "no match".into() };
                tally
                    .disagreements
                    .push(format!("{name}:{lineno} mode={} want {want}, vigil {got}: {log_line}", opts.mode.as_str()));
            }
        }
    }
    tally
}

/// fail2ban reports the host as logged; vigil as a canonical IP address (IPv4-mapped IPv6 unmapped, as
/// fail2ban does) or, for a name, as logged. A failure carried over from earlier in the connection has the
/// connection's address, not this line's.
fn host_matches(want: &str, got: &Source) -> bool {
    match got {
        Source::Ip(ip) => want.parse::<std::net::IpAddr>().is_ok_and(|w| w == *ip),
        Source::Name(n) => &**n == want,
    }
}

fn check(name: &str) {
    let t = check_file(name);
    let pct = 100.0 * t.agreed as f64 / t.checks.max(1) as f64;
    println!("fail2ban sample {name}: {}/{} annotated checks agree ({pct:.1} %)", t.agreed, t.checks);
    for d in &t.disagreements {
        println!("  disagreement: {d}");
    }
    assert!(t.checks >= 100, "{name}: only {} checks; did the file format change?", t.checks);
    assert!(pct >= 99.0, "{name}: agreement {pct:.1} % is below 99 %");
}

#[test]
fn sshd_sample_log_agrees_with_fail2ban() {
    check("sshd");
}

#[test]
fn sshd_journal_sample_log_agrees_with_fail2ban() {
    check("sshd-journal");
}
