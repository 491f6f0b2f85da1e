//! Prometheus' template functions and rule templates, with the cases of Prometheus' `template_test.go`
//! (its `error executing template test: ` wrapper is Prometheus' own and left out).

use std::sync::{Arc, Mutex};

use vigil_template::prometheus::{self, Querier, QueryContext, Sample};
use vigil_template::{Env, MissingKey, Options, Template, Value};

use crate::check_all;

/// A querier that answers every query with the same samples and records what it was asked.
struct Fixed {
    samples: Vec<Sample>,
    asked: Mutex<Vec<(String, i64)>>,
}

impl Querier for Fixed {
    fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<Sample>, String> {
        self.asked.lock().unwrap().push((expr.to_string(), time_ms));
        if expr == "fail" {
            return Err("query timed out".into());
        }
        Ok(self.samples.clone())
    }
}

fn sample(labels: &[(&str, &str)], value: f64) -> Sample {
    Sample { labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value }
}

/// Prometheus' `Expander.Expand` with the options it defaults to (`missingkey=zero`), the external URL of
/// its tests, and `samples` as every query's result.
fn expand(text: &str, input: &Value, samples: Vec<Sample>) -> Result<String, String> {
    let funcs = prometheus::functions("http://testhost:9090/path/prefix");
    let options = Options { missing_key: MissingKey::Zero, ..Options::default() };
    let t = Template::parse_with("test", text, &funcs, options).map_err(|e| e.to_string())?;
    let ctx = QueryContext { querier: Arc::new(Fixed { samples, asked: Mutex::default() }), time_ms: 0 };
    t.execute(input, &Env::new().host(&ctx)).map_err(|e| e.to_string())
}

fn floats(v: &[f64]) -> Value {
    Value::list(v.iter().copied())
}

fn ints(v: &[i64]) -> Value {
    Value::list(v.iter().copied())
}

fn strings(v: &[&str]) -> Value {
    Value::list(v.iter().copied())
}

#[test]
fn template_test_go_cases_without_data() {
    let e = |pos: &str, at: &str, msg: &str| format!("template: test:{pos}: executing \"test\" at <{at}>: {msg}");
    let cases: Vec<(&str, Result<String, String>)> = vec![
        ("plain text", Ok("plain text".into())),
        ("{{ 1 }}", Ok("1".into())),
        ("{{ \u{a0}}}", Err("template: test:1: unrecognized character in action: U+00A0".into())),
        ("{{ \"<b>\" }}", Ok("<b>".into())),
        ("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}", Ok("1 2".into())),
        ("{{ \"foo.example.com\" | stripPort }}", Ok("foo.example.com".into())),
        ("{{ \"foo.example.com:12345\" | stripPort }}", Ok("foo.example.com".into())),
        ("{{ \"192.0.2.1\" | stripPort }}", Ok("192.0.2.1".into())),
        ("{{ \"192.0.2.1:12345\" | stripPort }}", Ok("192.0.2.1".into())),
        ("{{ \"2001:0DB8::1\" | stripPort }}", Ok("2001:0DB8::1".into())),
        ("{{ \"[2001:0DB8::1]:12345\" | stripPort }}", Ok("2001:0DB8::1".into())),
        ("{{ \"[2001:0DB8::1]::12345\" | stripPort }}", Ok("[2001:0DB8::1]::12345".into())),
        ("{{ .Foo }}", Ok("<no value>".into())),
        ("{{", Err("template: test:1: unclosed action".into())),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Ok("xa".into())),
        (
            "{{ humanize \"one\" }}",
            Err(e("1:3", "humanize \"one\"", "error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax")),
        ),
        (
            "{{ humanize1024 \"one\" }}",
            Err(e("1:3", "humanize1024 \"one\"", "error calling humanize1024: strconv.ParseFloat: parsing \"one\": invalid syntax")),
        ),
        (
            "{{ humanizeDuration \"one\" }}",
            Err(e("1:3", "humanizeDuration \"one\"", "error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax")),
        ),
        (
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            Ok("-22.22%:0%:12.35%:123.5%".into()),
        ),
        (
            "{{ \"-0.22222\" | humanizePercentage }}:{{ \"0.0\" | humanizePercentage }}:{{ \"0.1234567\" | humanizePercentage }}:{{ \"1.23456\" | humanizePercentage }}",
            Ok("-22.22%:0%:12.35%:123.5%".into()),
        ),
        (
            "{{ \"one\" | humanizePercentage }}",
            Err(e("1:11", "humanizePercentage", "error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax")),
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", Ok("2015-06-23 13:19:44.128 +0000 UTC".into())),
        ("{{ \"1435065584.128\" | humanizeTimestamp }}", Ok("2015-06-23 13:19:44.128 +0000 UTC".into())),
        ("{{ (1435065584.128 | toTime).Format \"2006\" }}", Ok("2015".into())),
        ("{{ (\"1435065584.128\" | toTime).Format \"2006\" }}", Ok("2015".into())),
        ("{{ \"aa bb CC\" | title }}", Ok("Aa Bb CC".into())),
        ("{{ \"aa bb CC\" | toUpper }}", Ok("AA BB CC".into())),
        ("{{ \"aA bB CC\" | toLower }}", Ok("aa bb cc".into())),
        ("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", Ok("true false".into())),
        ("{{ graphLink \"up\" }}", Ok("/graph?g0.expr=up&g0.tab=0".into())),
        ("{{ tableLink \"up\" }}", Ok("/graph?g0.expr=up&g0.tab=1".into())),
        ("{{ pathPrefix }}", Ok("/path/prefix".into())),
        ("{{ externalURL }}", Ok("http://testhost:9090/path/prefix".into())),
        ("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", Ok("3720.01".into())),
        ("{{ \"foo.example.com\" | stripDomain }}", Ok("foo".into())),
        ("{{ \"foo.example.com:12345\" | stripDomain }}", Ok("foo:12345".into())),
        ("{{ \"192.0.2.1\" | stripDomain }}", Ok("192.0.2.1".into())),
        ("{{ \"192.0.2.1:12345\" | stripDomain }}", Ok("192.0.2.1:12345".into())),
        ("{{ \"2001:0DB8::1\" | stripDomain }}", Ok("2001:0DB8::1".into())),
        ("{{ \"[2001:0DB8::1]:12345\" | stripDomain }}", Ok("[2001:0DB8::1]:12345".into())),
        ("{{ \"[2001:0DB8::1]::12345\" | stripDomain }}", Ok("[2001:0DB8::1]::12345".into())),
    ];
    let cases: Vec<(&str, Result<&str, &str>)> =
        cases.iter().map(|(t, w)| (*t, w.as_deref().map_err(String::as_str))).collect();
    check_all(&cases, |t| expand(t, &Value::Nil, Vec::new()));
}

#[test]
fn template_test_go_cases_over_data() {
    let range = |f: &str| format!("{{{{ range . }}}}{{{{ {f} . }}}}:{{{{ end }}}}");
    let all =
        "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    let inf = "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:";
    // Go's uint64 inputs are given as the floats they convert to.
    let max_u64 = u64::MAX as f64;
    let cases: Vec<(String, Value, Result<&str, String>)> = vec![
        (range("humanize"), floats(&[0.0, 1.0, 1234567.0, 0.12]), Ok("0:1:1.235M:120m:")),
        (range("humanize"), strings(&["0.0", "1.0", "1234567.0", ".12"]), Ok("0:1:1.235M:120m:")),
        (range("humanize"), ints(&[0, -1, 1, 1234567, i64::MAX]), Ok("0:-1:1:1.235M:9.223E:")),
        (range("humanize"), floats(&[0.0, 1.0, 1234567.0, max_u64]), Ok("0:1:1.235M:18.45E:")),
        (range("humanize1024"), floats(&[0.0, 1.0, 1048576.0, 0.12]), Ok("0:1:1Mi:0.12:")),
        (range("humanize1024"), strings(&["0.0", "1.0", "1048576.0", ".12"]), Ok("0:1:1Mi:0.12:")),
        (range("humanize1024"), ints(&[0, -1, 1, 1234567, i64::MAX]), Ok("0:-1:1:1.177Mi:8Ei:")),
        (range("humanize1024"), floats(&[0.0, 1.0, 1234567.0, max_u64]), Ok("0:1:1.177Mi:16Ei:")),
        (
            range("humanizeDuration"),
            floats(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]),
            Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
        ),
        (range("humanizeDuration"), strings(&["0", "1", "60", "3600", "86400"]), Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:")),
        (
            range("humanizeDuration"),
            floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (
            range("humanizeDuration"),
            strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
            Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (range("humanizeDuration"), ints(&[0, -1, 1, 1234567]), Ok("0s:-1s:1s:14d 6h 56m 7s:")),
        (all.to_string(), floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]), Ok(inf)),
        (all.to_string(), strings(&["+Inf", "-Inf", "NaN"]), Ok(inf)),
        (range("humanizePercentage"), ints(&[0, -1, 1, 1234567, i64::MAX]), Ok("0%:-100%:100%:1.235e+08%:9.223e+20%:")),
        (range("humanizePercentage"), floats(&[0.0, 1.0, 1234567.0, max_u64]), Ok("0%:100%:1.235e+08%:1.845e+21%:")),
        (
            range("humanizeTimestamp"),
            ints(&[0, -1, 1, 1234567, 9223372036]),
            Ok("1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"),
        ),
        (
            range("humanizeTimestamp"),
            ints(&[i64::MIN, i64::MAX]),
            Err("template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64".into()),
        ),
        (
            range("humanizeTimestamp"),
            floats(&[max_u64]),
            Err("template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: 1.8446744073709552e+19 cannot be represented as a nanoseconds timestamp since it overflows int64".into()),
        ),
    ];
    let mut failures = Vec::new();
    for (text, input, want) in &cases {
        let got = expand(text, input, Vec::new());
        let want = want.as_ref().map(|s| s.to_string()).map_err(Clone::clone);
        if got != want {
            failures.push(format!("{text} over {input:?}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn template_test_go_query_cases() {
    let metric_a = || vec![sample(&[("__name__", "metric"), ("instance", "a")], 11.0)];
    let cases = [
        ("{{ query \"1.5\" | first | value }}", vec![sample(&[], 1.5)], Ok("1.5")),
        ("{{ query \"metric{instance='a'}\" | first | value }}", metric_a(), Ok("11")),
        ("{{ query \"metric{instance='a'}\" | first | label \"instance\" }}", metric_a(), Ok("a")),
        ("{{ query \"metric{__value__='a'}\" | first | strvalue }}", vec![sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)], Ok("a")),
        ("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", metric_a(), Ok("")),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", metric_a(), Ok("")),
        (
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
            vec![sample(&[("__name__", "metric"), ("instance", "b")], 21.0), sample(&[("__name__", "metric"), ("instance", "a")], 11.0)],
            Ok("a:11: b:21: "),
        ),
        (
            "{{ query \"missing\" | first }}",
            Vec::new(),
            Err("template: test:1:21: executing \"test\" at <first>: error calling first: first() called on vector with no elements"),
        ),
        (
            "{{ (query \"missing\").banana }}",
            Vec::new(),
            Err("template: test:1:10: executing \"test\" at <\"missing\">: can't evaluate field banana in type template.queryResult"),
        ),
        ("{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}", vec![sample(&[], 1234.0)], Ok("1.234k")),
        ("{{ range query \"up == 0\" }}{{ .Labels.job }}/{{ .Labels.instance }} {{ end }}", metric_a(), Ok("/a ")),
        ("{{ len (query \"up\") }} {{ query \"up\" | first }}", metric_a(), Ok("1 {map[__name__:metric instance:a] 11}")),
        ("{{ query \"fail\" }}", Vec::new(), Err("template: test:1:3: executing \"test\" at <query \"fail\">: error calling query: query timed out")),
    ];
    let mut failures = Vec::new();
    for (text, samples, want) in cases {
        let got = expand(text, &Value::Nil, samples);
        if got.as_deref().map_err(String::as_str) != want {
            failures.push(format!("{text}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rule_templates_see_prometheus_variables() {
    let funcs = prometheus::functions("https://prom.example.com");
    let data = prometheus::rule_data(
        [("alertname", "HighCPU"), ("instance", "db1:9100"), ("job", "node")],
        [("region", "eu-west")],
        "https://prom.example.com",
        0.8712,
    );
    let expand = |text: &str| -> Result<String, String> {
        let t = prometheus::parse_rule_template("summary", text, &funcs).map_err(|e| e.to_string())?;
        prometheus::expand(&t, &data, None).map_err(|e| e.to_string())
    };
    let cases = [
        ("{{ $labels.instance }} is at {{ $value | humanizePercentage }}", Ok("db1:9100 is at 87.12%")),
        ("{{ .Labels.job }} {{ .Value }} {{ $externalLabels.region }} {{ $externalURL }}", Ok("node 0.8712 eu-west https://prom.example.com")),
        ("[{{ $labels.missing }}]{{ if not $labels.missing }}none{{ end }}", Ok("[]none")),
        ("{{ $labels.instance | stripPort | toUpper }} {{ if gt $value 0.8 }}critical{{ end }} {{ if gt $value 80 }}x{{ else }}ok{{ end }}", Ok("DB1 critical ok")),
        ("{{ printf \"%.1f\" $value }}% {{ $value | printf \"%.2f\" }}", Ok("0.9% 0.87")),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", Ok("alertname=HighCPU;instance=db1:9100;job=node;")),
        ("{{ query \"up\" }}", Err("template: summary:1:3: executing \"summary\" at <query \"up\">: error calling query: no query engine available")),
        ("{{ .Foo }}", Err("template: summary:1:3: executing \"summary\" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }")),
        ("\n  {{ $value.Foo }}", Err("template: summary:2:11: executing \"summary\" at <$value.Foo>: can't evaluate field Foo in type float64")),
        ("{{ $nope }}", Err("template: summary:1: undefined variable \"$nope\"")),
        ("{{ $labels | nosuch }}", Err("template: summary:1: function \"nosuch\" not defined")),
    ];
    check_all(&cases, expand);
}

#[test]
fn query_runs_at_the_evaluation_time() {
    let funcs = prometheus::functions("");
    let querier = Arc::new(Fixed { samples: vec![sample(&[("job", "api")], 0.0)], asked: Mutex::default() });
    let ctx = QueryContext { querier: querier.clone(), time_ms: 1_700_000_000_000 };
    let t =
        prometheus::parse_rule_template("d", "{{ range query \"up == 0\" }}{{ .Labels.job }} is down{{ end }}", &funcs)
            .unwrap();
    let data = prometheus::rule_data([("a", "b")], [("c", "d")], "", 0.0);
    assert_eq!(prometheus::expand(&t, &data, Some(&ctx)).unwrap(), "api is down");
    assert_eq!(*querier.asked.lock().unwrap(), [("up == 0".to_string(), 1_700_000_000_000)]);
}
