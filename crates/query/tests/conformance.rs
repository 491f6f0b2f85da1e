//! Runs Prometheus' PromQL test scripts (`shared/conformance/promql/*.test`) against the engine.
//!
//! Every passing case is listed in `conformance_passing.txt` as `file:line`; the test fails if a listed case
//! fails (a regression) and prints cases that pass but are not listed yet. `VIGIL_CONFORMANCE_UPDATE=1`
//! rewrites the list. Cases that need native histograms are skipped and counted separately.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use promql_parser::parser::{Expr, VectorSelector};
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_query::{Engine, EngineOptions, MemStorage, QueryResult, Value};

use crate::promqltest::compare::{check_annotations, check_failure, check_value};
use crate::promqltest::script::{parse_script, Command, Eval, Timing};
use vigil_query::series_notation::SeqValue;

const BASELINE: &str = "tests/conformance_passing.txt";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn test_dir() -> PathBuf {
    crate_dir().join("../../../shared/conformance/promql")
}

enum Outcome {
    Pass,
    Fail(String),
}

#[derive(Default)]
struct FileReport {
    passed: Vec<usize>,
    failed: Vec<(usize, String, String)>,
    skipped: usize,
}

#[test]
fn promql_conformance() {
    let dir = test_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let mut passing: BTreeSet<String> = BTreeSet::new();
    let (mut total_pass, mut total_fail, mut total_skip) = (0, 0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let report = run_file(path);
        println!(
            "{name}: {} passed, {} failed, {} skipped (native histograms)",
            report.passed.len(),
            report.failed.len(),
            report.skipped
        );
        for (line, expr, err) in &report.failed {
            let err: String = err.lines().next().unwrap_or("").chars().take(240).collect();
            let expr: String = expr.chars().take(100).collect();
            println!("  {name}:{line}: {expr}\n      {err}");
        }
        total_pass += report.passed.len();
        total_fail += report.failed.len();
        total_skip += report.skipped;
        passing.extend(report.passed.iter().map(|l| format!("{name}:{l}")));
    }
    println!("total: {total_pass} passed, {total_fail} failed, {total_skip} skipped (native histograms)");

    let baseline_path = crate_dir().join(BASELINE);
    if std::env::var("VIGIL_CONFORMANCE_UPDATE").is_ok_and(|v| v == "1") {
        let text: String = passing.iter().map(|c| format!("{c}\n")).collect();
        std::fs::write(&baseline_path, text).expect("writing the baseline");
        println!("baseline rewritten with {} cases", passing.len());
        return;
    }
    let baseline: BTreeSet<String> = std::fs::read_to_string(&baseline_path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = passing.difference(&baseline).collect();
    if !new.is_empty() {
        println!("{} newly passing cases (add them to {BASELINE}):", new.len());
        for c in new {
            println!("  {c}");
        }
    }
    let regressions: Vec<&String> = baseline.difference(&passing).collect();
    assert!(regressions.is_empty(), "conformance regressions (listed as passing, now failing): {regressions:?}");
}

fn run_file(path: &Path) -> FileReport {
    let text = std::fs::read_to_string(path).expect("reading test file");
    let mut report = FileReport::default();
    let cmds = match parse_script(&text) {
        Ok(c) => c,
        Err(e) => {
            report.failed.push((0, String::new(), format!("script parse error: {e}")));
            return report;
        }
    };
    let engine = Engine::new(EngineOptions::default());
    let mut storage = MemStorage::new();
    let mut histograms: Vec<Labels> = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                storage.clear();
                histograms.clear();
            }
            Command::Load(load) => {
                for (labels, values) in load.series {
                    if load.with_nhcb {
                        if let Some(base) = nhcb_labels(&labels) {
                            histograms.push(base);
                        }
                    }
                    if values.contains(&SeqValue::Histogram) {
                        histograms.push(labels);
                        continue;
                    }
                    let samples = values.iter().enumerate().filter_map(|(i, v)| match v {
                        SeqValue::Float(f) => Some((i as i64 * load.interval_ms, *f)),
                        _ => None,
                    });
                    storage.add(labels, samples);
                }
            }
            Command::Eval(eval) => {
                if eval.uses_histograms || touches_histograms(&eval.expr, &histograms) {
                    report.skipped += 1;
                    continue;
                }
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_eval(&engine, &storage, &eval)))
                        .unwrap_or_else(|_| Outcome::Fail("engine panicked".into()));
                match outcome {
                    Outcome::Pass => report.passed.push(eval.line),
                    Outcome::Fail(e) => report.failed.push((eval.line, eval.expr.clone(), e)),
                }
            }
        }
    }
    report
}

fn run_eval(engine: &Engine, storage: &MemStorage, eval: &Eval) -> Outcome {
    let expect_fail = eval.fail || eval.expect.fail.is_some();
    let ordered = eval.ordered || eval.expect.ordered;
    let result = match eval.timing {
        Timing::Instant(t) => engine.instant_query(storage, &eval.expr, t),
        Timing::Range { start, end, step } => engine.range_query(storage, &eval.expr, start, end, step),
    };
    let res: QueryResult = match result {
        Err(e) => {
            return match check_failure(eval, &e) {
                Ok(()) => Outcome::Pass,
                Err(m) => Outcome::Fail(m),
            }
        }
        Ok(_) if expect_fail => return Outcome::Fail("expected an error but the query succeeded".into()),
        Ok(r) => r,
    };
    if let Err(e) = check_annotations(eval, &res) {
        return Outcome::Fail(e);
    }
    if let Err(e) = check_value(eval, &res.value, ordered) {
        return Outcome::Fail(e);
    }
    // As promqltest does, an instant query must give the same result in range mode (checked at the middle step).
    if let Timing::Instant(t) = eval.timing {
        let context_fn = ["start()", "end()", "range()", "step()"].iter().any(|f| eval.expr.contains(f));
        if !ordered && !context_fn && matches!(res.value, Value::Vector(_) | Value::Scalar { .. }) {
            let range = match engine.range_query(storage, &eval.expr, t - 60_000, t + 60_000, 60_000) {
                Ok(r) => r,
                Err(e) => return Outcome::Fail(format!("range mode: {e}")),
            };
            let Value::Matrix(series) = range.value else {
                return Outcome::Fail("range mode did not return a matrix".into());
            };
            let at_t: Vec<vigil_query::Sample> = series
                .iter()
                .filter_map(|s| {
                    s.points.iter().find(|p| p.0 == t).map(|p| vigil_query::Sample {
                        labels: s.labels.clone(),
                        t,
                        v: p.1,
                    })
                })
                .collect();
            let value = match res.value {
                Value::Scalar { .. } => match at_t.first() {
                    Some(s) => Value::Scalar { t, v: s.v },
                    None => return Outcome::Fail("range mode: no scalar value at the evaluation time".into()),
                },
                _ => Value::Vector(at_t),
            };
            if let Err(e) = check_value(eval, &value, false) {
                return Outcome::Fail(format!("range mode: {e}"));
            }
        }
    }
    Outcome::Pass
}

/// The native histogram `load_with_nhcb` derives from a classic `_bucket`/`_sum`/`_count` series.
fn nhcb_labels(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s))?;
    let mut l = labels.clone();
    l.remove("le");
    l.set("__name__", base);
    Some(l)
}

/// Whether any selector of the query selects a series holding native histograms.
fn touches_histograms(query: &str, histograms: &[Labels]) -> bool {
    if histograms.is_empty() {
        return false;
    }
    let Ok(expr) = promql_parser::parser::parse(query) else { return false };
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    selectors.iter().any(|vs| histograms.iter().any(|h| selector_matches(vs, h)))
}

fn collect_selectors<'e>(expr: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
    match expr {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect_selectors(a, out)),
        _ => {}
    }
}

fn selector_matches(vs: &VectorSelector, labels: &Labels) -> bool {
    use promql_parser::label::MatchOp as P;
    let name_ok = vs.name.as_ref().is_none_or(|n| labels.metric_name() == Some(n.as_str()));
    let check = |ms: &[promql_parser::label::Matcher]| {
        ms.iter().all(|m| {
            let op = match m.op {
                P::Equal => MatchOp::Equal,
                P::NotEqual => MatchOp::NotEqual,
                P::Re(_) => MatchOp::Regex,
                P::NotRe(_) => MatchOp::NotRegex,
            };
            Matcher::new(op, m.name.as_str(), m.value.as_str())
                .is_ok_and(|matcher| matcher.matches(labels.get(&m.name).unwrap_or("")))
        })
    };
    let matchers_ok = if vs.matchers.or_matchers.is_empty() {
        check(&vs.matchers.matchers)
    } else {
        vs.matchers.or_matchers.iter().any(|alt| check(alt))
    };
    name_ok && matchers_ok
}
