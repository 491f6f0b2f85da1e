//! Metric queries: range aggregations (with and without unwrap), vector aggregations, binary operators.

use crate::fixture::*;

const NGINX: &str = r#"{app="nginx", env="prod"}"#;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn log_range_aggregations() {
    assert_eq!(instant(r#"count_over_time({app="nginx"}[20s])"#, 50), [(NGINX.to_string(), 2.0)]);
    // Windows are (t - range, t]: each step sees exactly one of the records ten seconds apart.
    assert_eq!(
        range(r#"count_over_time({app="nginx"}[10s])"#, 10, 50, 10),
        [(NGINX.to_string(), vec![(10, 1.0), (20, 1.0), (30, 1.0), (40, 1.0), (50, 1.0)])]
    );
    assert_eq!(
        range(r#"count_over_time({app="nginx"}[10s])"#, 5, 25, 10),
        [(NGINX.to_string(), vec![(15, 1.0), (25, 1.0)])]
    );
    assert_eq!(value(r#"rate({app="nginx"}[50s])"#, 50), 0.1);
    let last = r#"10.0.0.2 - - [21/Nov/2026:10:00:50 +0000] "GET /index.html HTTP/1.1" 200 1024"#.len() as f64;
    assert_eq!(value(r#"bytes_over_time({app="nginx"}[10s])"#, 50), last);
    assert_eq!(value(r#"bytes_rate({app="nginx"}[10s])"#, 50), last / 10.0);
    assert_eq!(value(r#"count_over_time({app="nginx"}[20s] offset 10s)"#, 50), 2.0);
    assert_eq!(value(r#"count_over_time({app="nginx"} |= "GET" [20s] offset 10s)"#, 50), 2.0);
    assert_eq!(value(r#"count_over_time({app="nginx"}[60s] |= "GET")"#, 60), 4.0);
    assert_eq!(value(r#"count_over_time(({app="nginx"} |= "GET")[60s])"#, 60), 4.0);
    assert!(instant(r#"count_over_time({app="nginx"}[5s])"#, 59).is_empty());
    // Extracted labels make series.
    assert_eq!(
        instant(r#"count_over_time({app="api"} | logfmt | keep level [1m])"#, 60),
        [
            (r#"{level="error"}"#.to_string(), 2.0),
            (r#"{level="info"}"#.to_string(), 2.0),
            (r#"{level="warn"}"#.to_string(), 1.0)
        ]
    );
}

#[test]
fn absent_over_time() {
    let r = range(r#"absent_over_time({app="nginx"}[5s])"#, 10, 30, 5);
    assert_eq!(r, [(r#"{app="nginx"}"#.to_string(), vec![(15, 1.0), (25, 1.0)])]);
    assert_eq!(instant(r#"absent_over_time({app="nope", env=~".+"}[1m])"#, 60), [(r#"{app="nope"}"#.to_string(), 1.0)]);
    assert!(instant(r#"absent_over_time({app="nginx"}[1m])"#, 60).is_empty());
}

#[test]
fn unwrapped_range_aggregations() {
    let q = |agg: &str| format!(r#"{agg}({{app="api"}} | logfmt | unwrap status [1m]) by (app)"#);
    let statuses = [200.0, 500.0, 200.0, 504.0, 201.0];
    assert_eq!(instant(&q("sum_over_time"), 60), [(r#"{app="api"}"#.to_string(), 1605.0)]);
    assert_eq!(value(&q("avg_over_time"), 60), 321.0);
    assert_eq!(value(&q("min_over_time"), 60), 200.0);
    assert_eq!(value(&q("max_over_time"), 60), 504.0);
    assert_eq!(value(&q("first_over_time"), 60), 200.0);
    assert_eq!(value(&q("last_over_time"), 60), 201.0);
    assert_eq!(value(&q("rate"), 60), 1605.0 / 60.0);
    let mean = 321.0;
    let var = statuses.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
    assert!(close(value(&q("stdvar_over_time"), 60), var));
    assert!(close(value(&q("stddev_over_time"), 60), var.sqrt()));
    assert_eq!(
        instant(r#"avg_over_time({app="api"} | logfmt | unwrap status [1m]) by (level)"#, 60),
        [
            (r#"{level="error"}"#.to_string(), 502.0),
            (r#"{level="info"}"#.to_string(), 200.5),
            (r#"{level="warn"}"#.to_string(), 200.0)
        ]
    );
    // Latencies 0.12, 2.5, 0.8, 5 and 0.09 seconds.
    let dq =
        |q: f64| format!(r#"quantile_over_time({q}, {{app="api"}} | logfmt | unwrap duration(latency) [1m]) by (app)"#);
    assert!(close(value(&dq(0.5), 60), 0.8));
    assert!(close(value(&dq(0.99), 60), 2.5 * 0.04 + 5.0 * 0.96));
    assert_eq!(value(r#"sum_over_time({app="api"} | logfmt | unwrap bytes(size) [1m]) by (env)"#, 60), 6512.0);
    assert_eq!(value(r#"sum(sum_over_time({app="api"} | logfmt | unwrap duration_seconds(latency) [1m]))"#, 60), 8.51);
    // The unwrapped label leaves the series' labels.
    let r = instant(r#"max_over_time({app="api"} | logfmt | keep app, status, level | unwrap status [1m])"#, 60);
    assert_eq!(r[0].0, r#"{app="api", level="error"}"#);
    assert_eq!(r[0].1, 504.0);
    assert_eq!(instant(r#"max_over_time({app="api"} | logfmt | unwrap status [1m]) by (status)"#, 60).len(), 4);
    assert_eq!(
        instant(r#"max_over_time({app="api"} | logfmt | unwrap status [1m]) without (msg, latency, size, level)"#, 60),
        [(r#"{app="api", env="prod"}"#.to_string(), 504.0)]
    );
    // Entries without the label give no sample.
    assert_eq!(value(r#"sum(count_over_time({app="api"} | logfmt | level="error" [1m]))"#, 60), 2.0);
    assert_eq!(value(r#"sum(sum_over_time({env="prod"} | logfmt | unwrap status [1m]))"#, 60), 1605.0);
}

#[test]
fn pipeline_errors_in_metric_queries() {
    let err = eval_err(
        r#"count_over_time({app="json"} | json [1m])"#,
        &vigil_logql::Params::instant(60 * S),
        &vigil_logql::Limits::default(),
    );
    assert!(err.to_string().starts_with("pipeline error: 'JSONParserErr' for series: "), "{err}");
    assert_eq!(value(r#"sum(count_over_time({app="json"} | json | __error__="" [1m]))"#, 60), 3.0);
    // The line that is no JSON has no latency_ms, so gives no sample and no error.
    assert_eq!(value(r#"sum(sum_over_time({app="json"} | json | unwrap latency_ms [1m]))"#, 60), 319.5);
    assert_eq!(value(r#"sum(sum_over_time({app="json"} | json | __error__="" | unwrap latency_ms [1m]))"#, 60), 319.5);
    assert_eq!(value(r#"sum(sum_over_time({app="json"} | json | unwrap latency_ms | __error__="" [1m]))"#, 60), 319.5);
    let err = eval_err(
        r#"sum_over_time({app="api"} | logfmt | unwrap latency [1m]) by (app)"#,
        &vigil_logql::Params::instant(60 * S),
        &vigil_logql::Limits::default(),
    );
    assert!(err.to_string().contains("'SampleExtractionErr'"), "{err}");
    // A filter after unwrap drops the samples that failed conversion.
    assert!(
        instant(r#"sum_over_time({app="api"} | logfmt | unwrap latency | __error__="" [1m]) by (app)"#, 60).is_empty()
    );
    assert_eq!(value(r#"sum_over_time({app="api"} | logfmt | unwrap status | status > 500 [1m]) by (app)"#, 60), 504.0);
}

#[test]
fn vector_aggregations() {
    // Per stream, lines without 10.0.0.2: nginx 3, api 5, json 4.
    let inner = r#"count_over_time({env=~".+"} != "10.0.0.2" [1m])"#;
    let v = |agg: &str| instant(&format!("{agg}({inner})"), 60);
    assert_eq!(v("sum"), [("{}".to_string(), 12.0)]);
    assert_eq!(v("avg"), [("{}".to_string(), 4.0)]);
    assert_eq!(v("min"), [("{}".to_string(), 3.0)]);
    assert_eq!(v("max"), [("{}".to_string(), 5.0)]);
    assert_eq!(v("count"), [("{}".to_string(), 3.0)]);
    assert!(close(v("stdvar")[0].1, 2.0 / 3.0));
    assert!(close(v("stddev")[0].1, (2.0f64 / 3.0).sqrt()));
    assert_eq!(
        instant(&format!("sum by (env) ({inner})"), 60),
        [(r#"{env="dev"}"#.to_string(), 4.0), (r#"{env="prod"}"#.to_string(), 8.0)]
    );
    assert_eq!(instant(&format!("sum({inner}) by (env)"), 60), instant(&format!("sum by (env) ({inner})"), 60));
    assert_eq!(instant(&format!("sum without (app) ({inner})"), 60), instant(&format!("sum by (env) ({inner})"), 60));
    assert_eq!(instant(&format!("max without (app, env) ({inner})"), 60), [("{}".to_string(), 5.0)]);
    let names = |r: Vec<(String, f64)>| r.into_iter().map(|(l, v)| format!("{l} {v}")).collect::<Vec<_>>();
    assert_eq!(
        names(instant(&format!("topk(2, {inner})"), 60)),
        [r#"{app="api", env="prod"} 5"#, r#"{app="json", env="dev"} 4"#]
    );
    assert_eq!(names(instant(&format!("bottomk(1, {inner})"), 60)), [r#"{app="nginx", env="prod"} 3"#]);
    assert_eq!(
        names(instant(&format!("topk by (env) (1, {inner})"), 60)),
        [r#"{app="api", env="prod"} 5"#, r#"{app="json", env="dev"} 4"#]
    );
    assert_eq!(
        names(instant(&format!("sort_desc({inner})"), 60)),
        [r#"{app="api", env="prod"} 5"#, r#"{app="json", env="dev"} 4"#, r#"{app="nginx", env="prod"} 3"#]
    );
    assert_eq!(
        names(instant(&format!("sort({inner})"), 60)),
        [r#"{app="nginx", env="prod"} 3"#, r#"{app="json", env="dev"} 4"#, r#"{app="api", env="prod"} 5"#]
    );
    // Over a range, topk picks per step.
    let all = range(r#"bytes_over_time({env="prod"}[10s])"#, 10, 30, 5);
    let top = range(r#"topk(1, bytes_over_time({env="prod"}[10s]))"#, 10, 30, 5);
    for t in [10, 15, 20, 25, 30] {
        let best = all
            .iter()
            .filter_map(|(l, p)| p.iter().find(|p| p.0 == t).map(|p| (l, p.1)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let picked: Vec<_> = top.iter().filter_map(|(l, p)| p.iter().find(|p| p.0 == t).map(|p| (l, p.1))).collect();
        assert_eq!(picked, [best], "step {t}");
    }
    assert!(top.iter().all(|(_, p)| !p.is_empty()));
}

#[test]
fn binary_operators() {
    assert_eq!(instant("vector(1)+vector(1)", 60), [("{}".to_string(), 2.0)]);
    assert_eq!(range("vector(1)+vector(1)", 0, 20, 10), [("{}".to_string(), vec![(0, 2.0), (10, 2.0), (20, 2.0)])]);
    assert_eq!(value("1 + 2 * 3", 0), 7.0);
    assert_eq!(value("2 ^ 3 ^ 2", 0), 512.0);
    assert_eq!(value("(1 + 2) * 3 - -1", 0), 10.0);
    assert_eq!(value("7 % 4 / 2", 0), 1.5);
    assert_eq!(value("2 > bool 1", 0), 1.0);
    let c = r#"count_over_time({app="nginx"}[1m])"#;
    assert_eq!(value(&format!("{c} * 2"), 60), 10.0);
    assert_eq!(value(&format!("10 - {c}"), 60), 5.0);
    assert_eq!(value(&format!("{c} > 4"), 60), 5.0);
    assert!(instant(&format!("{c} > 5"), 60).is_empty());
    assert_eq!(value(&format!("{c} > bool 5"), 60), 0.0);
    assert_eq!(value(&format!("{c} == bool 5"), 60), 1.0);
    let get = r#"count_over_time({app="nginx"} |= "GET" [1m])"#;
    assert_eq!(instant(&format!("{c} + {get}"), 60), [(NGINX.to_string(), 9.0)]);
    assert_eq!(instant(&format!("{c} / on(app) {get}"), 60), [(r#"{app="nginx"}"#.to_string(), 1.25)]);
    assert_eq!(instant(&format!("{c} - ignoring(env) {get}"), 60), [(r#"{app="nginx"}"#.to_string(), 1.0)]);
    assert_eq!(value(&format!("{c} > {get}"), 60), 5.0);
    assert!(instant(&format!("{get} > {c}"), 60).is_empty());
    let all = r#"count_over_time({env=~".+"}[1m])"#;
    let api = r#"count_over_time({app="api"}[1m])"#;
    let keys = |r: Vec<(String, f64)>| r.into_iter().map(|(l, _)| l).collect::<Vec<_>>();
    assert_eq!(keys(instant(&format!("{all} and {api}"), 60)), [r#"{app="api", env="prod"}"#]);
    assert_eq!(keys(instant(&format!("{all} unless {api}"), 60)), [r#"{app="json", env="dev"}"#, NGINX]);
    assert_eq!(keys(instant(&format!("{api} or {c}"), 60)), [r#"{app="api", env="prod"}"#, NGINX]);
    assert_eq!(instant(&format!(r#"{all} and on(env) count_over_time({{env="dev"}}[1m])"#), 60).len(), 1);
    assert_eq!(instant(r#"count_over_time({app="nope"}[1m]) or vector(0)"#, 60), [("{}".to_string(), 0.0)]);
    // group_left copies labels from the one side.
    let per_env = r#"sum by (env) (count_over_time({env=~".+"}[1m]))"#;
    assert_eq!(
        instant(&format!("{all} / on(env) group_left {per_env}"), 60),
        [
            (r#"{app="api", env="prod"}"#.to_string(), 0.5),
            (r#"{app="json", env="dev"}"#.to_string(), 1.0),
            (NGINX.to_string(), 0.5)
        ]
    );
    let err = eval_err(
        &format!("{all} / on(env) {per_env}"),
        &vigil_logql::Params::instant(60 * S),
        &vigil_logql::Limits::default(),
    );
    assert!(err.to_string().contains("many-to-one matching must be explicit"), "{err}");
    // A range query of a binary operation works step by step.
    let r = range(r#"count_over_time({app="nginx"}[20s]) - count_over_time({app="nginx"} |= "GET" [20s])"#, 20, 50, 10);
    assert_eq!(r, [(NGINX.to_string(), vec![(20, 1.0), (30, 1.0), (40, 0.0), (50, 0.0)])]);
}
