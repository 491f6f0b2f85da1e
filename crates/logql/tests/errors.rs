//! Parse errors with positions, hostile queries and lines, and the evaluation limits.

use std::time::{Duration, Instant};

use vigil_logql::{parse, query, Direction, EvalError, Limits, MemLogStorage, Params, QueryResult};

use crate::fixture::*;

#[test]
fn parse_errors_have_positions() {
    assert_eq!(
        parse_err(r#"{app="x"} |= "#),
        "parse error at line 1, col 14: syntax error: unexpected $end, expecting STRING"
    );
    assert_eq!(
        parse_err(r#"{app="x"} | json | foo > "#),
        "parse error at line 1, col 26: syntax error: unexpected $end, expecting NUMBER, DURATION or BYTES"
    );
    assert_eq!(parse_err("{app=\"x\"}\n  | nope"), "parse error at line 2, col 5: syntax error: unexpected IDENTIFIER");
    assert_eq!(
        parse_err(r#"sum(rate({app="x"}[5m])"#),
        "parse error at line 1, col 24: syntax error: unexpected $end, expecting )"
    );
    assert_eq!(
        parse_err(r#"sum(rate({app="x"}[5m]) by (a))"#),
        "parse error at line 1, col 9: grouping not allowed for rate aggregation"
    );
    assert_eq!(parse_err(r#"{app="x"} |= "a" )"#), "parse error at line 1, col 18: syntax error: unexpected )");
    assert_eq!(parse_err(r#"{app="x"#), "parse error at line 1, col 6: syntax error: unterminated string");
    assert_eq!(parse_err("{}"), "parse error at line 1, col 1: syntax error: unexpected }");
    assert_eq!(
        parse_err(r#"{app=~".*"}"#),
        "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible \
         value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"
    );
    assert_eq!(
        parse_err(r#"sum_over_time({a="b"}[5m])"#),
        "parse error at line 1, col 14: invalid aggregation sum_over_time without unwrap"
    );
    assert_eq!(
        parse_err(r#"count_over_time({a="b"} | unwrap x [5m])"#),
        "parse error at line 1, col 16: invalid aggregation count_over_time with unwrap"
    );
    assert_eq!(
        parse_err(r#"count_over_time({a="b"}[5m]) by (x)"#),
        "parse error at line 1, col 16: grouping not allowed for count_over_time aggregation"
    );
    assert!(parse_err(r#"{a="b"} |~ "((""#).contains("error parsing regexp"));
    assert!(parse_err(r#"{a=~"(("}"#).contains("invalid regex"));
    assert!(parse_err(r#"{a="b"} | regexp "(\\d+)""#).contains("at least one named capture must be supplied"));
    assert!(parse_err(r#"{a="b"} | pattern "<_>""#).contains("at least one named capture"));
    assert!(parse_err(r#"{a="b"} | line_format "{{.a""#).contains("template"));
    assert!(parse_err(r#"{a="b"} | line_format "{{ nosuch .a }}""#).contains("function \"nosuch\" not defined"));
    assert!(parse_err(r#"{a="b"} | label_format x=a, x=b"#).contains("multiple label name 'x' not allowed"));
    assert!(parse_err(r#"{a="b"} | label_format __error__=a"#).contains("__error__ cannot be formatted"));
    assert!(parse_err(r#"{a="b"} | line_format "{{.a""#).contains("invalid line template: template: line:1:"));
    assert!(parse_err(r#"{a="b"} | json x="a..b""#).contains("invalid json expression"));
    assert!(parse_err(r#"rate({a="b"}[5m]) and 1"#).contains("set operator"));
    assert!(parse_err("1 > 2").contains("comparisons between scalars must use BOOL modifier"));
    assert!(parse_err(r#"{a="b"} + 1"#).contains("binary operations need metric queries"));
    assert!(parse_err(r#"sum({a="b"})"#).contains("need a metric query"));
    assert!(parse_err(r#"topk(0, rate({a="b"}[5m]))"#).contains("invalid parameter"));
    assert!(parse_err(r#"rate({a="b"}[5x])"#).contains("invalid range"));
    assert!(parse_err(r#"label_replace(rate({a="b"}[5m]), "a", "b", "c", "d")"#).contains("not supported"));
    assert!(parse_err(r#"{a="b"} | logfmt --nope"#).contains("unknown logfmt flag"));
    // Flags parse.
    parse(r#"{a="b"} | logfmt --strict --keep-empty | json | unpack | decolorize"#).unwrap();
}

#[test]
fn hostile_queries_are_rejected() {
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(parse_err(&deep).contains("nesting is deeper than"));
    let deep_sum = format!(r#"{}rate({{a="b"}}[1m]){}"#, "sum(".repeat(200), ")".repeat(200));
    assert!(parse_err(&deep_sum).contains("nesting is deeper than"));
    let chain = format!("1{}", "+1".repeat(10_000));
    assert!(parse_err(&chain).contains("binary operators"));
    let pow = format!("1{}", "^1".repeat(300));
    assert!(parse_err(&pow).contains("deeper than"));
    let filters = format!(r#"{{a="b"}} | {}x="1"{}"#, "(".repeat(300), ")".repeat(300));
    assert!(parse_err(&filters).contains("deeper than"));
    assert!(parse_err(&format!(r#"{{a="{}"}}"#, "x".repeat(200_000))).contains("more than the 131072 allowed"));
    // A regex whose compiled program is huge is refused with a clear error, in filters and matchers.
    let e = parse_err(r#"{a="b"} |~ "((a{100}){100}){100}""#);
    assert!(e.contains("regex too large"), "{e}");
    let e = parse_err(r#"{a=~"((a{100}){100}){100}"}"#);
    assert!(e.contains("too large"), "{e}");
    // Moderate nesting is fine.
    let ok = format!(r#"{}rate({{a="b"}}[1m]){}"#, "sum(".repeat(20), ")".repeat(20));
    parse(&ok).unwrap();
}

#[test]
fn hostile_lines_are_errors_not_crashes() {
    let mut store = MemLogStorage::new();
    let l = labels(&[("app", "evil")]);
    store.push(&l, S, &format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)));
    store.push(&l, 2 * S, &format!("{{\"a\":{}", "[".repeat(100_000)));
    store.push(&l, 3 * S, "{\"a\":\"\\ud800\",\"b\":\"\\u00zz\"}");
    store.push(&l, 4 * S, "k=\"unterminated v=\\");
    let params = Params { start_ns: 0, end_ns: 10 * S, step_ns: 0, limit: 10, direction: Direction::Forward };
    let QueryResult::Streams(s) =
        query(&store, r#"{app="evil"} | json | logfmt --strict | json x="a.b[0]""#, &params, &Limits::default())
            .unwrap()
    else {
        panic!()
    };
    let n: usize = s.iter().map(|s| s.entries.len()).sum();
    assert_eq!(n, 4);
    assert!(s.iter().all(|s| s.labels.get("__error__").is_some()), "{s:?}");
    assert!(s.iter().any(|s| s.labels.get("__error_details__").is_some_and(|d| d.contains("nesting"))));
}

#[test]
fn limits() {
    let q = r#"count_over_time({env=~".+"}[1m])"#;
    let at = Params::instant(60 * S);
    let e = eval_err(q, &at, &Limits { max_entries_scanned: 5, ..Limits::default() });
    assert_eq!(e, EvalError::TooManyEntries { limit: 5 });
    assert_eq!(eval_err(q, &at, &Limits { max_series: 2, ..Limits::default() }), EvalError::TooManySeries { limit: 2 });
    let e = eval_err(&format!("sum({q})"), &at, &Limits { max_samples: 3, ..Limits::default() });
    assert_eq!(e, EvalError::TooManySamples { limit: 3 });
    let e = eval_err(q, &Params::range(0, 100 * S, 1), &Limits::default());
    assert_eq!(e, EvalError::TooManySteps { limit: 11_000 });
    let past = Limits { deadline: Some(Instant::now() - Duration::from_secs(1)), ..Limits::default() };
    assert_eq!(eval_err(q, &at, &past), EvalError::Timeout);
    assert_eq!(eval_err(r#"{app="nginx"}"#, &Params::range(0, 60 * S, S), &past), EvalError::Timeout);
    assert_eq!(eval_err(r#"{app="nginx"}"#, &at, &Limits::default()), EvalError::InstantLogQuery);
    assert_eq!(
        eval_err(q, &Params::range(0, 60 * S, 0), &Limits::default()).to_string(),
        "invalid parameters: zero or negative query resolution step widths are not accepted. Try a positive integer"
    );
    let e = eval_err(r#"{env=~".+"}"#, &Params::range(0, 60 * S, S), &Limits { max_streams: 2, ..Limits::default() });
    assert!(e.to_string().contains("max_streams"), "{e}");
}
