//! Prometheus 2.42's template functions (`template/template.go`: `humanize`, `query`, `stripPort`...) and the
//! data its alerting rules give templates: the dot and the `$labels`, `$externalLabels`, `$externalURL` and
//! `$value` variables Prometheus defines by prefixing the rule's text.

use std::sync::Arc;

use super::text::{join_host_port, split_host_port, title, to_lower, to_upper};
use super::{convert_to_float, escape, string_arg, Arity, Functions};
use crate::error::{FuncError, TemplateError};
use crate::strconv::{can_backquote, format_float, quote};
use crate::time::Time;
use crate::value::{Map, Object, Value};
use crate::{Env, MissingKey, Options, Template};

/// Evaluates PromQL for the `query` function.
pub trait Querier: Send + Sync {
    /// The instant vector `expr` evaluates to at `time_ms` (milliseconds since the epoch), or an error message.
    fn query(&self, expr: &str, time_ms: i64) -> Result<Vec<Sample>, String>;
}

/// A borrowed `query` evaluator for [`Env::querier`]: the expression in, the instant vector at the host's
/// evaluation time out.
pub type QueryHook<'a> = dyn Fn(&str) -> Result<Vec<Sample>, String> + 'a;

/// One element of a query result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// What `query` needs at execution: give it to [`Env::host`] (or to [`expand`]).
#[derive(Clone)]
pub struct QueryContext {
    pub querier: Arc<dyn Querier>,
    /// The evaluation time of the rule, in milliseconds since the epoch.
    pub time_ms: i64,
}

/// The variables Prometheus defines for rule templates, in the order it defines them.
pub const RULE_VARIABLES: [&str; 4] = ["$labels", "$externalLabels", "$externalURL", "$value"];

/// Prometheus' template functions. `externalURL` and `pathPrefix` return the server's external URL and its
/// path; `query` needs a [`QueryContext`] at execution.
pub fn functions(external_url: &str) -> Functions {
    let mut f = Functions::new();
    f.add("query", Arity::Exact(1), |call, args| {
        let expr = string_arg(&args[0])?;
        let samples = match call.querier {
            Some(hook) => hook(expr),
            None => {
                let ctx = call.host::<QueryContext>().ok_or_else(|| FuncError::new("no query engine available"))?;
                ctx.querier.query(expr, ctx.time_ms)
            }
        }
        .map_err(FuncError::new)?;
        Ok(QueryResult::value(samples.into_iter().map(SampleObject::from_sample).collect()))
    });
    f.add("first", Arity::Exact(1), |_, args| {
        let items = query_result(&args[0])?;
        items.first().cloned().ok_or_else(|| FuncError::new("first() called on vector with no elements"))
    });
    f.add("label", Arity::Exact(2), |_, args| {
        let label = string_arg(&args[0])?;
        Ok(sample(&args[1])?.label(label).into())
    });
    f.add("value", Arity::Exact(1), |_, args| Ok(Value::Float(sample(&args[0])?.value)));
    f.add("strvalue", Arity::Exact(1), |_, args| Ok(sample(&args[0])?.label("__value__").into()));
    f.add("args", Arity::AtLeast(0), |_, args| {
        // Maps nested without bound (`$x = args $x` in a loop) would overflow the stack when dropped.
        if args.iter().any(|a| nesting(a, MAX_NESTING) > MAX_NESTING) {
            return Err(FuncError::new(format!("arguments nested more than {MAX_NESTING} deep")));
        }
        Ok(args.iter().enumerate().map(|(i, a)| (format!("arg{i}"), a.clone())).collect::<Map>().into())
    });
    f.add("reReplaceAll", Arity::Exact(3), re_replace_all);
    f.add("safeHtml", Arity::Exact(1), |_, args| Ok(string_arg(&args[0])?.into()));
    f.add("match", Arity::Exact(2), re_match);
    f.add("title", Arity::Exact(1), |_, args| Ok(title(string_arg(&args[0])?, false).into()));
    f.add("toUpper", Arity::Exact(1), |_, args| Ok(to_upper(string_arg(&args[0])?).into()));
    f.add("toLower", Arity::Exact(1), |_, args| Ok(to_lower(string_arg(&args[0])?).into()));
    f.add("graphLink", Arity::Exact(1), |_, args| Ok(graph_link(string_arg(&args[0])?, 0).into()));
    f.add("tableLink", Arity::Exact(1), |_, args| Ok(graph_link(string_arg(&args[0])?, 1).into()));
    f.add("sortByLabel", Arity::Exact(2), |_, args| {
        let label = string_arg(&args[0])?;
        let mut items = query_result(&args[1])?;
        items.sort_by_key(|a| sample_label(a, label));
        Ok(QueryResult::value(items))
    });
    f.add("stripPort", Arity::Exact(1), |_, args| {
        let hostport = string_arg(&args[0])?;
        Ok(split_host_port(hostport).map_or(hostport, |(host, _)| host).into())
    });
    f.add("stripDomain", Arity::Exact(1), |_, args| Ok(strip_domain(string_arg(&args[0])?).into()));
    f.add("humanize", Arity::Exact(1), |_, args| Ok(humanize(convert_to_float(&args[0])?).into()));
    f.add("humanize1024", Arity::Exact(1), |_, args| Ok(humanize1024(convert_to_float(&args[0])?).into()));
    f.add("humanizeDuration", Arity::Exact(1), |_, args| Ok(humanize_duration(convert_to_float(&args[0])?).into()));
    f.add("humanizePercentage", Arity::Exact(1), |_, args| {
        Ok(format!("{}%", format_float(convert_to_float(&args[0])? * 100.0, 'g', 4)).into())
    });
    f.add("humanizeTimestamp", Arity::Exact(1), |_, args| {
        let v = convert_to_float(&args[0])?;
        if !v.is_finite() {
            return Ok(format_float(v, 'g', 4).into());
        }
        Ok(float_to_time(v)?.to_string().into())
    });
    f.add("toTime", Arity::Exact(1), |_, args| Ok(Value::object(float_to_time(convert_to_float(&args[0])?)?)));
    let url = external_url.to_string();
    let path = url_path(external_url).to_string();
    f.add("externalURL", Arity::Exact(0), move |_, _| Ok(url.as_str().into()));
    f.add("pathPrefix", Arity::Exact(0), move |_, _| Ok(path.as_str().into()));
    f.add("parseDuration", Arity::Exact(1), |_, args| {
        let d = string_arg(&args[0])?;
        parse_duration(d).map(Value::Float).map_err(FuncError::new)
    });
    f
}

/// Options for rule templates: Prometheus' `missingkey=zero` and its four variables.
pub fn rule_options() -> Options {
    Options {
        missing_key: MissingKey::Zero,
        variables: RULE_VARIABLES.iter().map(|v| v.to_string()).collect(),
        ..Options::default()
    }
}

/// Parses an alerting rule's annotation or label template as Prometheus does, which checks it when loading
/// the rule. Prometheus prefixes the text with `{{$labels := .Labels}}...`; here those variables are predefined
/// instead, so positions in errors count from the start of `text`.
pub fn parse_rule_template(name: &str, text: &str, funcs: &Functions) -> Result<Template, TemplateError> {
    Template::parse_with(name, text, funcs, rule_options())
}

/// The data of a rule template (Prometheus' `AlertTemplateData`): the alert's labels, the external labels and
/// URL, and the value of the sample that made the alert.
pub fn rule_data<K, V, K2, V2>(
    labels: impl IntoIterator<Item = (K, V)>,
    external_labels: impl IntoIterator<Item = (K2, V2)>,
    external_url: &str,
    value: f64,
) -> Value
where
    K: Into<String>,
    V: Into<String>,
    K2: Into<String>,
    V2: Into<String>,
{
    Value::object(RuleData {
        labels: Value::string_map(labels),
        external_labels: Value::string_map(external_labels),
        external_url: external_url.into(),
        value: Value::Float(value),
    })
}

/// Expands a rule template over [`rule_data`], with `$labels` and the other variables taken from it.
pub fn expand(t: &Template, data: &Value, query: Option<&QueryContext>) -> Result<String, TemplateError> {
    let field = |name: &str| data.as_object().and_then(|o| o.field(name)).unwrap_or_default();
    let mut env = Env::new()
        .var("$labels", field("Labels"))
        .var("$externalLabels", field("ExternalLabels"))
        .var("$externalURL", field("ExternalURL"))
        .var("$value", field("Value"));
    if let Some(q) = query {
        env = env.host(q);
    }
    t.execute(data, &env)
}

const MAX_NESTING: usize = 64;

/// How deeply lists and maps nest in `v`, counting no further than `limit + 1`.
fn nesting(v: &Value, limit: usize) -> usize {
    if limit == 0 {
        return 1;
    }
    let inner = |items: &mut dyn Iterator<Item = &Value>| items.map(|i| nesting(i, limit - 1)).max().unwrap_or(0);
    match v {
        Value::List(l) => 1 + inner(&mut l.iter()),
        Value::Map(m) => 1 + inner(&mut m.iter().map(|(_, v)| v)),
        _ => 0,
    }
}

/// The dot of a rule template.
#[derive(Debug)]
struct RuleData {
    labels: Value,
    external_labels: Value,
    external_url: Value,
    value: Value,
}

impl Object for RuleData {
    fn type_name(&self) -> &str {
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(self.labels.clone()),
            "ExternalLabels" => Some(self.external_labels.clone()),
            "ExternalURL" => Some(self.external_url.clone()),
            "Value" => Some(self.value.clone()),
            _ => None,
        }
    }

    fn display(&self) -> Option<String> {
        let parts = [&self.labels, &self.external_labels, &self.external_url, &self.value];
        Some(format!("{{{}}}", parts.map(|p| crate::format::sprint(std::slice::from_ref(p))).join(" ")))
    }
}

/// A sample of a query result (Go's `*sample`): `.Labels` and `.Value`.
#[derive(Debug)]
struct SampleObject {
    labels: Arc<Map>,
    value: f64,
}

impl SampleObject {
    fn from_sample(s: Sample) -> Value {
        let mut labels = Map::strings();
        for (k, v) in s.labels {
            labels.insert(k, v);
        }
        Value::object(SampleObject { labels: Arc::new(labels), value: s.value })
    }

    fn label(&self, name: &str) -> String {
        self.labels.get(name).and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

impl Object for SampleObject {
    fn type_name(&self) -> &str {
        "*template.sample"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(Value::Map(self.labels.clone())),
            "Value" => Some(Value::Float(self.value)),
            _ => None,
        }
    }

    fn display(&self) -> Option<String> {
        Some(format!(
            "{{{} {}}}",
            crate::format::sprint(&[Value::Map(self.labels.clone())]),
            format_float(self.value, 'g', -1)
        ))
    }
}

/// A query result (Go's `queryResult`): a list of samples.
#[derive(Debug)]
struct QueryResult(Arc<[Value]>);

impl QueryResult {
    fn value(items: Vec<Value>) -> Value {
        Value::object(QueryResult(items.into()))
    }
}

impl Object for QueryResult {
    fn type_name(&self) -> &str {
        "template.queryResult"
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::List(self.0.clone()))
    }
}

/// A query result, or a plain list such as `slice` makes of one.
fn query_result(v: &Value) -> Result<Vec<Value>, FuncError> {
    match (v, v.as_object().and_then(|o| o.downcast_ref::<QueryResult>())) {
        (_, Some(r)) => Ok(r.0.to_vec()),
        (Value::List(items), None) => Ok(items.to_vec()),
        _ => Err(FuncError::wrong_type("template.queryResult", v)),
    }
}

fn sample(v: &Value) -> Result<&SampleObject, FuncError> {
    v.as_object()
        .and_then(|o| o.downcast_ref::<SampleObject>())
        .ok_or_else(|| FuncError::wrong_type("*template.sample", v))
}

fn sample_label(v: &Value, name: &str) -> String {
    v.as_object().and_then(|o| o.downcast_ref::<SampleObject>()).map(|s| s.label(name)).unwrap_or_default()
}

/// Go's `regexp.MustCompile` message when the pattern does not compile.
fn must_compile_error(pattern: &str, err: String) -> FuncError {
    let shown = if can_backquote(pattern) { format!("`{pattern}`") } else { quote(pattern, false) };
    FuncError::new(format!("regexp: Compile({shown}): {err}"))
}

/// `reReplaceAll pattern replacement text`, with Go's `$1` and `${name}` expansion.
pub(crate) fn re_replace_all(call: &mut super::Call<'_>, args: &[Value]) -> super::FuncResult {
    let pattern = string_arg(&args[0])?;
    let replacement = string_arg(&args[1])?;
    let text = string_arg(&args[2])?;
    let re = call.regex(pattern).map_err(|e| must_compile_error(pattern, e))?;
    Ok(re.replace_all(text, replacement).into_owned().into())
}

/// `match pattern text`: whether the pattern matches anywhere in the text.
pub(crate) fn re_match(call: &mut super::Call<'_>, args: &[Value]) -> super::FuncResult {
    let pattern = string_arg(&args[0])?;
    let text = string_arg(&args[1])?;
    let re = call.regex(pattern).map_err(FuncError::new)?;
    Ok(re.is_match(text).into())
}

fn graph_link(expr: &str, tab: u8) -> String {
    format!("/graph?g0.expr={}&g0.tab={tab}", escape::query(expr))
}

fn strip_domain(hostport: &str) -> String {
    let (host, port) = split_host_port(hostport).unwrap_or((hostport, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hostport.to_string();
    }
    let host = host.split('.').next().unwrap_or(host);
    if port.is_empty() {
        host.to_string()
    } else {
        join_host_port(host, port)
    }
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_float(v, 'g', 4);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", format_float(v, 'g', 4))
}

fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_float(v, 'g', 4);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", format_float(v, 'g', 4))
}

/// Prometheus' (and Alertmanager's) `humanizeDuration`: seconds as `1d 2h 3m 4s`, or with an SI prefix below
/// one second.
pub(crate) fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return format_float(v, 'g', 4);
    }
    if v == 0.0 {
        return format!("{}s", format_float(v, 'g', 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let total = v as i64;
        let (seconds, minutes, hours, days) = (total % 60, total / 60 % 60, total / 3600 % 24, total / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", format_float(v, 'g', 4))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_float(v, 'g', 4))
}

/// Prometheus' `floatToTime`: seconds to a time, truncated to the millisecond as Prometheus' model.Time is.
fn float_to_time(v: f64) -> Result<Time, FuncError> {
    if !v.is_finite() {
        return Err(FuncError::new("value is NaN or Inf"));
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(FuncError::new(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', -1)
        )));
    }
    Ok(Time::from_unix_millis(ns as i64 / 1_000_000))
}

/// The path of a URL (Go's `url.URL.Path`).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').map_or("", |i| &rest[i..])
}

/// Prometheus' `model.ParseDuration` in seconds: `1h30m`, `2d`, `500ms`, units from `y` down to `ms`, each at
/// most once and in that order.
fn parse_duration(s: &str) -> Result<f64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    match s {
        "0" => return Ok(0.0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", quote(s, false));
    let mut rest = s;
    let mut total_ms: u64 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!("unknown unit {} in duration {}", quote(unit, false), quote(s, false)));
        };
        if last_unit.is_some_and(|last| pos <= last) {
            return Err(invalid());
        }
        last_unit = Some(pos);
        total_ms = n
            .checked_mul(UNITS[pos].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .filter(|ms| *ms <= (i64::MAX as u64) / 1_000_000)
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total_ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.12), "120m");
        assert_eq!(humanize(-0.000001), "-1u");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize_duration(0.5), "500ms");
        assert_eq!(humanize_duration(93784.0), "1d 2h 3m 4s");
        assert_eq!(humanize_duration(-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0)), "-2d 3h 4m 5s");
    }

    #[test]
    fn helpers_match_go() {
        assert_eq!(url_path("http://testhost:9090/path/prefix"), "/path/prefix");
        assert_eq!(url_path("http://testhost:9090"), "");
        assert_eq!(parse_duration("1h2m10ms"), Ok(3720.01));
        assert_eq!(parse_duration("1m1h"), Err("not a valid duration string: \"1m1h\"".into()));
        assert_eq!(parse_duration("5x"), Err("unknown unit \"x\" in duration \"5x\"".into()));
        assert_eq!(strip_domain("foo.example.com:12345"), "foo:12345");
        assert_eq!(strip_domain("[2001:0DB8::1]:12345"), "[2001:0DB8::1]:12345");
    }
}
