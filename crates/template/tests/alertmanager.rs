//! Alertmanager's functions and notification templates: its data model (`Data`, `Alerts`, `KV`, `Pairs`)
//! built on the `Object` trait as the alerting crate would, the cases of Alertmanager's `template_test.go`,
//! and an excerpt of its 0.25 `default.tmpl` executed on sample alerts.

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_template::funcs::{check_arity, strings_arg};
use vigil_template::time::Time;
use vigil_template::{alertmanager, Env, FuncError, Object, Template, Value};

/// Alertmanager's `KV`: a label set whose `SortedPairs` put `alertname` first.
#[derive(Clone, Debug, Default)]
struct Kv(Arc<BTreeMap<String, String>>);

impl Kv {
    fn new(pairs: &[(&str, &str)]) -> Kv {
        Kv(Arc::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
    }

    fn sorted_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(i) = pairs.iter().position(|(k, _)| k == "alertname") {
            let first = pairs.remove(i);
            pairs.insert(0, first);
        }
        pairs
    }
}

fn pairs_text(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

impl Object for Kv {
    fn type_name(&self) -> &str {
        "template.KV"
    }

    fn has_method(&self, name: &str) -> bool {
        matches!(name, "SortedPairs" | "Names" | "Values" | "Remove" | "String")
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        check_arity(name, args, usize::from(name == "Remove"))?;
        let pairs = self.sorted_pairs();
        Ok(match name {
            "SortedPairs" => Value::object(Pairs(pairs)),
            "Names" => Value::list(pairs.into_iter().map(|(k, _)| k)),
            "Values" => Value::list(pairs.into_iter().map(|(_, v)| v)),
            "Remove" => {
                let drop = strings_arg(&args[0])?;
                let kept = self.0.iter().filter(|(k, _)| !drop.contains(k)).map(|(k, v)| (k.clone(), v.clone()));
                Value::object(Kv(Arc::new(kept.collect())))
            }
            _ => pairs_text(&pairs).into(),
        })
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::string_map(self.0.iter().map(|(k, v)| (k.clone(), v.clone()))))
    }

    fn display(&self) -> Option<String> {
        Some(pairs_text(&self.sorted_pairs()))
    }
}

/// Alertmanager's `Pairs`, a list of `Pair`s with `Names` and `Values`.
#[derive(Debug)]
struct Pairs(Vec<(String, String)>);

impl Object for Pairs {
    fn type_name(&self) -> &str {
        "template.Pairs"
    }

    fn has_method(&self, name: &str) -> bool {
        matches!(name, "Names" | "Values")
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        check_arity(name, args, 0)?;
        let pick = |p: &(String, String)| if name == "Names" { p.0.clone() } else { p.1.clone() };
        Ok(Value::list(self.0.iter().map(pick)))
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(|(k, v)| Value::object(Pair(k.clone(), v.clone())))))
    }

    fn display(&self) -> Option<String> {
        Some(pairs_text(&self.0))
    }
}

#[derive(Debug)]
struct Pair(String, String);

impl Object for Pair {
    fn type_name(&self) -> &str {
        "template.Pair"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(self.0.as_str().into()),
            "Value" => Some(self.1.as_str().into()),
            _ => None,
        }
    }

    fn display(&self) -> Option<String> {
        Some(format!("{{{} {}}}", self.0, self.1))
    }
}

#[derive(Clone, Debug)]
struct Alert {
    status: &'static str,
    labels: Kv,
    annotations: Kv,
    starts_at: Time,
    generator_url: String,
}

impl Object for Alert {
    fn type_name(&self) -> &str {
        "template.Alert"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Status" => self.status.into(),
            "Labels" => Value::object(self.labels.clone()),
            "Annotations" => Value::object(self.annotations.clone()),
            "StartsAt" => Value::object(self.starts_at),
            "EndsAt" => Value::object(Time::from_unix(-62_135_596_800, 0)),
            "GeneratorURL" => self.generator_url.as_str().into(),
            "Fingerprint" => "0123456789abcdef".into(),
            _ => return None,
        })
    }
}

/// Alertmanager's `Alerts`, with `Firing` and `Resolved`.
#[derive(Debug)]
struct Alerts(Vec<Alert>);

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }

    fn has_method(&self, name: &str) -> bool {
        matches!(name, "Firing" | "Resolved")
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        check_arity(name, args, 0)?;
        let status = if name == "Firing" { "firing" } else { "resolved" };
        Ok(Value::list(self.0.iter().filter(|a| a.status == status).map(|a| Value::object(a.clone()))))
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(|a| Value::object(a.clone()))))
    }
}

/// Alertmanager's `Data`, the dot of notification templates.
#[derive(Debug)]
struct Data {
    alerts: Vec<Alert>,
    group_labels: Kv,
    common_labels: Kv,
    common_annotations: Kv,
}

impl Object for Data {
    fn type_name(&self) -> &str {
        "*template.Data"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Receiver" => "team-x".into(),
            "Status" => (if self.alerts.iter().any(|a| a.status == "firing") { "firing" } else { "resolved" }).into(),
            "Alerts" => Value::object(Alerts(self.alerts.clone())),
            "GroupLabels" => Value::object(self.group_labels.clone()),
            "CommonLabels" => Value::object(self.common_labels.clone()),
            "CommonAnnotations" => Value::object(self.common_annotations.clone()),
            "ExternalURL" => "http://am.example:9093".into(),
            _ => return None,
        })
    }
}

fn alert(status: &'static str, instance: &str) -> Alert {
    Alert {
        status,
        labels: Kv::new(&[
            ("alertname", "HighLatency"),
            ("instance", &format!("{instance}:9090")),
            ("job", "api"),
            ("severity", "critical"),
        ]),
        annotations: Kv::new(&[("summary", &format!("Latency high on {instance}")), ("runbook", "http://rb/latency")]),
        starts_at: Time::from_unix(1_704_096_930, 0),
        generator_url: format!("http://prom/{instance}"),
    }
}

fn sample_data() -> Value {
    Value::object(Data {
        alerts: vec![alert("firing", "a"), alert("firing", "b"), alert("resolved", "c")],
        group_labels: Kv::new(&[("alertname", "HighLatency")]),
        common_labels: Kv::new(&[("alertname", "HighLatency"), ("job", "api"), ("severity", "critical")]),
        common_annotations: Kv::new(&[("runbook", "http://rb/latency")]),
    })
}

/// The template set Alertmanager loads: its default templates (here the excerpt) with its functions.
fn defaults() -> Template {
    Template::parse_with(
        "default.tmpl",
        include_str!("data/alertmanager_default.tmpl"),
        &alertmanager::functions(),
        alertmanager::options(),
    )
    .unwrap()
}

/// Alertmanager's `ExecuteTextString`: `text` parsed as the root `""` next to the default templates.
fn execute_text(text: &str, data: &Value) -> Result<String, String> {
    let t = defaults().with_root("", text).map_err(|e| e.to_string())?;
    t.execute(data, &Env::new()).map_err(|e| e.to_string())
}

#[test]
fn template_test_go_cases() {
    let group = Value::object(Data {
        alerts: Vec::new(),
        group_labels: Kv::new(&[("key1", "key1"), ("key2", "key2"), ("key3", "key3"), ("key4", "key4")]),
        common_labels: Kv::default(),
        common_annotations: Kv::default(),
    });
    let jan1 = Value::object(Time::from_unix(1_704_096_930, 0));
    let cases: Vec<(&str, Value, Result<&str, &str>)> = vec![
        ("abc", Value::Nil, Ok("abc")),
        ("{{ \"abc\" }}", Value::Nil, Ok("abc")),
        ("{{ ", Value::Nil, Err("template: :1: unclosed action")),
        ("{{ \"abc\" | toUpper }}", Value::Nil, Ok("ABC")),
        ("{{ \"ABC\" | toLower }}", Value::Nil, Ok("abc")),
        ("{{ \"abc\" | title }}", Value::Nil, Ok("Abc")),
        ("{{ \"aa bb CC\" | title }}", Value::Nil, Ok("Aa Bb Cc")),
        ("{{ \" a b c \" | trimSpace }}", Value::Nil, Ok("a b c")),
        ("{{ if match \"^a\" \"abc\"}}abc{{ end }}", Value::Nil, Ok("abc")),
        ("{{ if match \"abcd\" \"abc\" }}abc{{ end }}", Value::Nil, Ok("")),
        ("{{ . | join \",\" }}", Value::list(["a", "b", "c"]), Ok("a,b,c")),
        ("{{ \"<b>\" }}", Value::Nil, Ok("<b>")),
        ("{{ reReplaceAll \"ab\" \"AB\" \"abcdabcda\"}}", Value::Nil, Ok("ABcdABcda")),
        (
            "{{ with .GroupLabels }}{{ with .Remove (stringSlice \"key1\" \"key3\") }}{{ .SortedPairs.Values }}{{ end }}{{ end }}",
            group,
            Ok("[key2 key4]"),
        ),
        ("{{ . | date \"2006-01-02\" }}", jan1.clone(), Ok("2024-01-01")),
        ("{{ . | tz \"UTC\" }}", jan1.clone(), Ok("2024-01-01 08:15:30 +0000 UTC")),
        (
            "{{ . | tz \"Invalid/Timezone\" }}",
            jan1,
            Err("template: :1:7: executing \"\" at <tz \"Invalid/Timezone\">: error calling tz: unknown time zone Invalid/Timezone"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            Value::list([0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]),
            Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
        ),
        ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Value::list(["0", "1", "60", "3600", "86400"]), Ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:")),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            Value::list([0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            Ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (
            "{{ humanizeDuration \"one\" }}",
            Value::Nil,
            Err("template: :1:3: executing \"\" at <humanizeDuration \"one\">: error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax"),
        ),
        ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Value::list([0, -1, 1, 1234567]), Ok("0s:-1s:1s:14d 6h 56m 7s:")),
    ];
    let mut failures = Vec::new();
    for (text, data, want) in &cases {
        let got = execute_text(text, data);
        if got.as_deref().map_err(String::as_str) != *want {
            failures.push(format!("{text}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn since_feeds_humanize_duration() {
    let hour_ago = Time::now().add(vigil_template::time::Duration(-3_600_000_000_000));
    assert_eq!(execute_text("{{ . | since | humanizeDuration }}", &Value::object(hour_ago)).unwrap(), "1h 0m 0s");
    let out = execute_text("{{ since . }}", &Value::object(hour_ago)).unwrap();
    assert!(out.starts_with("1h0m0."), "{out}");
}

#[test]
fn default_slack_templates() {
    let t = defaults();
    let data = sample_data();
    let run = |name: &str| t.execute_template(name, &data, &Env::new()).unwrap();
    assert_eq!(run("slack.default.title"), "[FIRING:2] HighLatency (api critical)");
    assert_eq!(run("slack.default.username"), "Alertmanager");
    assert_eq!(run("slack.default.titlelink"), "http://am.example:9093/#/alerts?receiver=team-x");
    assert_eq!(
        run("slack.default.fallback"),
        "[FIRING:2] HighLatency (api critical) | http://am.example:9093/#/alerts?receiver=team-x"
    );
    assert_eq!(run("slack.default.text"), "");
    assert_eq!(run("email.default.subject"), "[FIRING:2] HighLatency (api critical)");
    // A user's Slack text, executed next to the defaults as a receiver's `text:` field is.
    let text = "{{ range .Alerts.Firing }}• {{ .Annotations.summary }} ({{ .Labels.instance }})\n{{ end }}\
                {{ with .Alerts.Resolved }}resolved: {{ len . }}{{ end }}";
    assert_eq!(
        execute_text(text, &data).unwrap(),
        "• Latency high on a (a:9090)\n• Latency high on b (b:9090)\nresolved: 1"
    );
}

fn alert_block(instance: &str) -> String {
    format!(
        "Labels:\n - alertname = HighLatency\n - instance = {instance}:9090\n - job = api\n - severity = critical\n\
         Annotations:\n - runbook = http://rb/latency\n - summary = Latency high on {instance}\n\
         Source: http://prom/{instance}\n"
    )
}

#[test]
fn default_opsgenie_description_trims_as_go() {
    let t = defaults();
    let got = t.execute_template("opsgenie.default.description", &sample_data(), &Env::new()).unwrap();
    let want = format!(
        "http://rb/latency\nAlerts Firing:\n{}{}\nAlerts Resolved:\n{}",
        alert_block("a"),
        alert_block("b"),
        alert_block("c")
    );
    assert_eq!(got, want);
}

#[test]
fn default_email_html() {
    let t = defaults();
    let got = t.execute_template("email.default.html", &sample_data(), &Env::new()).unwrap();
    let alert = |i: &str| {
        format!(
            "\n<strong>Labels</strong><br />\n\
             alertname = HighLatency<br />instance = {i}:9090<br />job = api<br />severity = critical<br />\n\
             <strong>Annotations</strong><br />\n\
             runbook = http://rb/latency<br />summary = Latency high on {i}<br />\n\
             <a href=\"http://prom/{i}\">Source</a><br />\n"
        )
    };
    let want = format!(
        "\n<title>[FIRING:2] HighLatency (api critical)</title>\n<td>\n  3 alerts for \n    alertname=HighLatency\n  \n</td>\n\
         <a href=\"http://am.example:9093/#/alerts?receiver=team-x\">View in Alertmanager</a>\n\
         \n<strong>[2] Firing</strong>\n\n{}{}\n\
         \n  \n<hr />\n  \n<strong>[1] Resolved</strong>\n\n{}\n\
         <a href=\"http://am.example:9093\">Sent by Alertmanager</a>\n",
        alert("a"),
        alert("b"),
        alert("c")
    );
    assert_eq!(got, want);
}

#[test]
fn notification_data_reads_as_in_go() {
    let cases = [
        ("{{ .CommonLabels }}", "alertname=HighLatency, job=api, severity=critical"),
        ("{{ .CommonLabels.SortedPairs }}", "alertname=HighLatency, job=api, severity=critical"),
        ("{{ .CommonLabels.Names }} {{ .CommonLabels.Values | join \"/\" }}", "[alertname job severity] HighLatency/api/critical"),
        ("[{{ .GroupLabels.Remove (stringSlice \"alertname\") }}]", "[]"),
        ("{{ .CommonLabels.job }} {{ index .CommonLabels \"severity\" }} [{{ .CommonLabels.nope }}] {{ len .CommonLabels }}", "api critical [] 3"),
        ("{{ range .CommonLabels.SortedPairs }}{{ .Name }}:{{ .Value }} {{ end }}", "alertname:HighLatency job:api severity:critical "),
        ("{{ range $k, $v := .GroupLabels }}{{ $k }}={{ $v }}{{ end }}", "alertname=HighLatency"),
        ("{{ len .Alerts }} {{ len .Alerts.Firing }} {{ (index .Alerts 2).Status }}", "3 2 resolved"),
        ("{{ with index .Alerts 0 }}{{ .StartsAt }} | {{ .StartsAt.Format \"15:04\" }} | {{ .StartsAt.Unix }}{{ end }}", "2024-01-01 08:15:30 +0000 UTC | 08:15 | 1704096930"),
        ("{{ (index .Alerts 0).EndsAt.IsZero }} {{ (index .Alerts.Firing 1).Labels.instance | reReplaceAll \":.*\" \"\" }}", "true b"),
        ("{{ range .Alerts }}{{ if eq .Status \"firing\" }}{{ .Labels.instance }} {{ end }}{{ end }}", "a:9090 b:9090 "),
        ("{{ .Alerts.Firing.Nope }}", "ERR"),
    ];
    let data = sample_data();
    for (text, want) in cases {
        let got = execute_text(text, &data);
        if want == "ERR" {
            assert_eq!(got.unwrap_err(), "template: :1:10: executing \"\" at <.Alerts.Firing.Nope>: can't evaluate field Nope in type []interface {}");
        } else {
            assert_eq!(got.as_deref(), Ok(want), "{text}");
        }
    }
}

#[test]
fn jira_priority_uses_assignment_and_else_if() {
    // Alertmanager 0.28's `jira.default.priority`, which needs `=` assignment and `else if` chains.
    let text = r#"{{- define "jira.default.priority" -}}
{{- $priority := "" }}
{{- range .Alerts.Firing -}}
    {{- $severity := index .Labels "severity" -}}
    {{- if (eq $severity "critical") -}}
        {{- $priority = "High" -}}
    {{- else if (and (eq $severity "warning") (ne $priority "High")) -}}
        {{- $priority = "Medium" -}}
    {{- else if (and (eq $severity "info") (eq $priority "")) -}}
        {{- $priority = "Low" -}}
    {{- end -}}
{{- end -}}
{{- $priority -}}
{{- end -}}"#;
    let mut t = defaults();
    t.add("jira.tmpl", text).unwrap();
    assert_eq!(t.execute_template("jira.default.priority", &sample_data(), &Env::new()).unwrap(), "High");
    let warning = Value::object(Data {
        alerts: vec![Alert { labels: Kv::new(&[("severity", "warning")]), ..alert("firing", "x") }],
        group_labels: Kv::default(),
        common_labels: Kv::default(),
        common_annotations: Kv::default(),
    });
    assert_eq!(t.execute_template("jira.default.priority", &warning, &Env::new()).unwrap(), "Medium");
}

#[test]
fn wrong_types_are_errors() {
    let cases = [
        ("{{ join \",\" \"a\" }}", "template: :1:12: executing \"\" at <\"a\">: wrong type for value; expected []string; got string"),
        ("{{ toUpper 1 }}", "template: :1:11: executing \"\" at <1>: wrong type for value; expected string; got int"),
        ("{{ stringSlice \"a\" 2 }}", "template: :1:19: executing \"\" at <2>: wrong type for value; expected string; got int"),
        ("{{ date \"2006\" \"x\" }}", "template: :1:15: executing \"\" at <\"x\">: wrong type for value; expected time.Time; got string"),
        ("{{ .CommonLabels.Remove }}", "template: :1:16: executing \"\" at <.CommonLabels.Remove>: wrong number of args for Remove: want 1 got 0"),
        ("{{ match \"(\" \"x\" }}", "template: :1:3: executing \"\" at <match \"(\" \"x\">: error calling match: error parsing regexp: unclosed group: `(`"),
    ];
    let data = sample_data();
    for (text, want) in cases {
        assert_eq!(execute_text(text, &data).unwrap_err(), want, "{text}");
    }
}
