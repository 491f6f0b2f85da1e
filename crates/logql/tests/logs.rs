//! Log queries: filters, parsers, label filters, formatters, direction and limit, required tokens.

use vigil_logql::{query, Direction, Limits, Params, QueryResult};

use crate::fixture::*;

#[test]
fn line_filters() {
    assert_eq!(times(r#"{app="nginx"} |= "GET""#), [10, 30, 40, 50]);
    assert_eq!(times(r#"{app="nginx"} != "GET""#), [20]);
    assert_eq!(times(r#"{app="nginx"} |~ "api/(login|data)""#), [20, 40]);
    assert_eq!(times(r#"{app="nginx"} !~ "index""#), [20, 30, 40]);
    assert_eq!(times(r#"{app="nginx"} |= "GET" != "index""#), [30, 40]);
    assert_eq!(times(r#"{app="nginx"} |= "login" or "missing""#), [20, 30]);
    assert_eq!(times(r#"{app="nginx"} != "login" or "missing""#), [10, 40, 50]);
    assert_eq!(times(r#"{app="nginx"} |~ `" 5\d\d `"#), [40]);
    assert_eq!(times(r#"{app="nginx"} |~ "(?i)get /API""#), [40]);
    assert_eq!(times("{app=\"nginx\"} |= \"\\\"POST\""), [20]);
    assert_eq!(times(r#"{app=~"ngi.+", env!="dev", app!~"x|y"} |= "200""#), [10, 50]);
}

#[test]
fn direction_and_limit() {
    let back = logs_with(r#"{env="prod"}"#, Direction::Backward, 3);
    let got: Vec<(&str, i64)> = back.iter().map(|e| (e.0.as_str(), e.1)).collect();
    // Grouped into streams by labels (sorted), each stream newest first; the three newest entries overall.
    assert_eq!(
        got,
        [(r#"{app="api", env="prod"}"#, 55), (r#"{app="api", env="prod"}"#, 45), (r#"{app="nginx", env="prod"}"#, 50)]
    );
    let fwd = logs_with(r#"{env="prod"}"#, Direction::Forward, 3);
    let got: Vec<(&str, i64)> = fwd.iter().map(|e| (e.0.as_str(), e.1)).collect();
    assert_eq!(
        got,
        [
            (r#"{app="api", env="prod"}"#, 15),
            (r#"{app="nginx", env="prod"}"#, 10),
            (r#"{app="nginx", env="prod"}"#, 20)
        ]
    );
    // End is exclusive, start inclusive.
    let params = Params { start_ns: 10 * S, end_ns: 50 * S, step_ns: 0, limit: 100, direction: Direction::Forward };
    let QueryResult::Streams(s) = query(&store(), r#"{app="nginx"}"#, &params, &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!(s[0].entries.iter().map(|e| e.0 / S).collect::<Vec<_>>(), [10, 20, 30, 40]);
}

#[test]
fn backward_limit_reads_only_what_it_needs() {
    let store = store();
    let params = Params { start_ns: 0, end_ns: 60 * S, step_ns: 0, limit: 1, direction: Direction::Backward };
    let limits = Limits { max_entries_scanned: 1, ..Limits::default() };
    let QueryResult::Streams(s) = query(&store, r#"{env="prod"}"#, &params, &limits).unwrap() else { panic!() };
    assert_eq!((s.len(), s[0].entries[0].0 / S), (1, 55));
}

#[test]
fn logfmt_and_label_filters() {
    let e = logs_with(r#"{app="api"} | logfmt | level="error""#, Direction::Forward, 100);
    assert_eq!(e.iter().map(|e| e.1).collect::<Vec<_>>(), [25, 45]);
    assert_eq!(
        e[0].0,
        r#"{app="api", env="prod", latency="2.5s", level="error", msg="db down", size="3KB", status="500"}"#
    );
    assert_eq!(times(r#"{app="api"} | logfmt | status >= 500"#), [25, 45]);
    assert_eq!(times(r#"{app="api"} | logfmt | status == 200"#), [15, 35]);
    assert_eq!(times(r#"{app="api"} | logfmt | status != 200"#), [25, 45, 55]);
    assert_eq!(times(r#"{app="api"} | logfmt | status < 201"#), [15, 35]);
    assert_eq!(times(r#"{app="api"} | logfmt | status <= 201 | status > 200"#), [55]);
    assert_eq!(times(r#"{app="api"} | logfmt | latency > 1s"#), [25, 45]);
    assert_eq!(times(r#"{app="api"} | logfmt | latency <= 120ms"#), [15, 55]);
    assert_eq!(times(r#"{app="api"} | logfmt | size > 1KB"#), [25, 55]);
    assert_eq!(times(r#"{app="api"} | logfmt | size >= 1KiB"#), [25, 55]);
    assert_eq!(times(r#"{app="api"} | logfmt | level="error" or status==201"#), [25, 45, 55]);
    assert_eq!(times(r#"{app="api"} | logfmt | (level="info" or level="warn"), status==200"#), [15, 35]);
    assert_eq!(times(r#"{app="api"} | logfmt | level="info" and status==200"#), [15]);
    assert_eq!(times(r#"{app="api"} | logfmt | level=~"err.*""#), [25, 45]);
    assert_eq!(times(r#"{app="api"} | logfmt | level!~"info|warn""#), [25, 45]);
    assert_eq!(times(r#"{app="api"} | logfmt | level!="info""#), [25, 35, 45]);
    assert_eq!(times(r#"{app="api"} | logfmt | missing="""#), [15, 25, 35, 45, 55]);
    // A value that is no number: the entry passes with an error label.
    let e = logs_with(r#"{app="api"} | logfmt | msg > 1"#, Direction::Forward, 100);
    assert_eq!(e.len(), 5);
    assert!(e[0].0.contains(r#"__error__="LabelFilterErr""#), "{}", e[0].0);
    assert!(times(r#"{app="api"} | logfmt | msg > 1 | __error__="""#).is_empty());
    // Selected keys only.
    let e = logs_with(r#"{app="api"} | logfmt lvl="level", status | lvl="warn""#, Direction::Forward, 100);
    assert_eq!(e[0].0, r#"{app="api", env="prod", lvl="warn", status="200"}"#);
}

#[test]
fn json_parser_and_errors() {
    let e = logs_with(r#"{app="json"} | json"#, Direction::Forward, 100);
    assert_eq!(e.len(), 4);
    assert_eq!(
        e.iter().find(|e| e.1 == 12).unwrap().0,
        r#"{app="json", env="dev", latency_ms="12.5", level="info", req_method="GET", req_path="/a", req_status="200"}"#
    );
    // A stream label of the same name gets `_extracted`.
    assert!(e.iter().find(|e| e.1 == 42).unwrap().0.contains(r#"env_extracted="collide""#));
    let bad = e.iter().find(|e| e.1 == 32).unwrap();
    assert!(bad.0.contains(r#"__error__="JSONParserErr""#) && bad.0.contains("__error_details__"), "{}", bad.0);
    assert_eq!(times(r#"{app="json"} | json | __error__="""#), [12, 22, 42]);
    assert_eq!(times(r#"{app="json"} | json | __error__!="""#), [32]);
    assert_eq!(times(r#"{app="json"} | json | __error__="" | req_status >= 400"#), [22, 42]);
    assert_eq!(times(r#"{app="json"} | json | drop __error__, __error_details__ | level="""#), [32]);
    let e = logs_with(
        r#"{app="json"} | json method="req.method", first_tag="tags[0]", lat="latency_ms" | __error__="""#,
        Direction::Forward,
        100,
    );
    assert_eq!(e[0].0, r#"{app="json", env="dev", first_tag="x", lat="12.5", method="GET"}"#);
    assert_eq!(e[1].0, r#"{app="json", env="dev", lat="300", method="POST"}"#);
}

#[test]
fn regexp_and_pattern() {
    let e = logs_with(
        r#"{app="nginx"} | regexp `^(?P<ip>\S+) .* (?P<status>\d{3}) (?P<size>\d+)$` | status="404""#,
        Direction::Forward,
        100,
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, r#"{app="nginx", env="prod", ip="10.0.0.1", size="64", status="404"}"#);
    let e = logs_with(
        r#"{app="nginx"} | pattern `<ip> - - <_> "<method> <uri> <_>" <status> <size>` | method="POST""#,
        Direction::Forward,
        100,
    );
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].0,
        r#"{app="nginx", env="prod", ip="10.0.0.2", method="POST", size="128", status="401", uri="/api/login"}"#
    );
    assert_eq!(times(r#"{app="nginx"} | pattern "<_> - - <_> \"<method> <_>" | method="GET""#), [10, 30, 40, 50]);
}

#[test]
fn formatters() {
    let e = logs_with(
        r#"{app="api"} | logfmt | line_format "{{.level | ToUpper}} {{.status}}{{.nope}}""#,
        Direction::Forward,
        2,
    );
    assert_eq!(e.iter().map(|e| e.2.as_str()).collect::<Vec<_>>(), ["INFO 200", "ERROR 500"]);
    // Line filters after line_format see the new line.
    assert_eq!(times(r#"{app="api"} | logfmt | line_format "{{.status}}" |= "50""#), [25, 45]);
    let e = logs_with(r#"{app="api"} | logfmt | label_format lvl=level | keep lvl, app"#, Direction::Forward, 1);
    assert_eq!(e[0].0, r#"{app="api", lvl="info"}"#);
    let e = logs_with(
        r#"{app="api"} | logfmt | label_format combo="{{.level}}-{{.status}}", app="x" | keep combo, app"#,
        Direction::Forward,
        1,
    );
    assert_eq!(e[0].0, r#"{app="x", combo="info-200"}"#);
    let e = logs_with(r#"{app="api"} | logfmt | drop msg, latency, size, level="info""#, Direction::Forward, 2);
    let at = |t: i64| e.iter().find(|e| e.1 == t).unwrap().0.as_str();
    assert_eq!(at(15), r#"{app="api", env="prod", status="200"}"#);
    assert_eq!(at(25), r#"{app="api", env="prod", level="error", status="500"}"#);
    // Renaming a label that is absent changes nothing; keep takes matchers.
    let e = logs_with(r#"{app="api"} | logfmt | label_format x=nope | keep app, level="error""#, Direction::Forward, 2);
    assert_eq!(e.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), [r#"{app="api"}"#, r#"{app="api", level="error"}"#]);
    let e = logs_with(
        r#"{app="api"} | line_format "{{ substr 6 10 __line__ }}|{{ substr -1 5 __line__ }}""#,
        Direction::Forward,
        1,
    );
    assert_eq!(e[0].2, "info|level");
    let e = logs_with(r#"{app="api"} | line_format "{{ __line__ | trunc 8 }}""#, Direction::Forward, 1);
    assert_eq!(e[0].2, "level=in");
    assert_eq!(logs_with(r#"{app="color"} | decolorize"#, Direction::Forward, 10)[0].2, "red text");
    let e = logs_with(r#"{app="packed"} | unpack"#, Direction::Forward, 10);
    assert_eq!((e[0].0.as_str(), e[0].2.as_str()), (r#"{app="packed", pod="p1"}"#, "original line"));
}

#[test]
fn needles_are_passed_to_the_store() {
    let store = store();
    let params = Params::range(0, 60 * S, S);
    query(
        &store,
        r#"{app="nginx"} |= "GET /index.html HTTP" |= "x 10.0.0 y" | logfmt |= "zzz top q""#,
        &params,
        &Limits::default(),
    )
    .unwrap();
    let reads = store.take_reads();
    assert_eq!(reads, [vec!["GET /index.html HTTP".to_string(), "x 10.0.0 y".into()]]);
    query(
        &store,
        r#"sum(count_over_time({env="prod"} |= "a login b" [1m]))"#,
        &Params::instant(60 * S),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(store.take_reads(), [vec!["a login b".to_string()], vec!["a login b".to_string()]]);
    query(&store, r#"{app="nginx"} |~ "GET /index" |= "a" or "b""#, &params, &Limits::default()).unwrap();
    assert_eq!(store.take_reads(), [Vec::<String>::new()]);
}
