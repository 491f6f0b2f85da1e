//! Alertmanager's template data (`Data`, `Alerts`, `Alert`, `KV`, `Pairs`) as template host objects, built
//! from a notification, so user templates written for Alertmanager see the same fields and methods.

use std::sync::Arc;

use vigil_alerting::labels::LabelSet;
use vigil_alerting::webhook::quote_meta;
use vigil_alerting::{AlertStatus, Notification, NotifiedAlert, Timestamp};
use vigil_template::funcs::{check_arity, strings_arg};
use vigil_template::time::Time;
use vigil_template::{FuncError, Object, Value};

/// The dot of notification templates for `n`, with only the alerts the integration sends.
pub fn template_data(n: &Notification, alerts: &[NotifiedAlert]) -> Value {
    let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) { "firing" } else { "resolved" };
    let common = |pick: fn(&NotifiedAlert) -> &LabelSet| {
        let mut it = alerts.iter().map(pick);
        let mut out = it.next().cloned().unwrap_or_default();
        for s in it {
            out.retain(|k, v| s.get(k) == Some(v));
        }
        Kv::new(out)
    };
    Value::object(Data {
        receiver: quote_meta(&n.receiver),
        status,
        alerts: Arc::new(alerts.iter().map(Alert::from).collect()),
        group_labels: Kv::new(n.group_labels.clone()),
        common_labels: common(|a| &a.labels),
        common_annotations: common(|a| &a.annotations),
        external_url: n.external_url.clone(),
    })
}

/// Alertmanager's `Data`.
#[derive(Debug)]
struct Data {
    receiver: String,
    status: &'static str,
    alerts: Arc<Vec<Alert>>,
    group_labels: Kv,
    common_labels: Kv,
    common_annotations: Kv,
    external_url: String,
}

impl Object for Data {
    fn type_name(&self) -> &str {
        "*template.Data"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Receiver" => self.receiver.as_str().into(),
            "Status" => self.status.into(),
            "Alerts" => Value::object(Alerts(self.alerts.clone())),
            "GroupLabels" => Value::object(self.group_labels.clone()),
            "CommonLabels" => Value::object(self.common_labels.clone()),
            "CommonAnnotations" => Value::object(self.common_annotations.clone()),
            "ExternalURL" => self.external_url.as_str().into(),
            _ => return None,
        })
    }
}

/// Alertmanager's `Alert`.
#[derive(Clone, Debug)]
struct Alert {
    status: &'static str,
    labels: Kv,
    annotations: Kv,
    starts_at: Time,
    ends_at: Time,
    generator_url: String,
    fingerprint: String,
}

/// Go's zero `time.Time`, which an unset end time is in Alertmanager's data.
const GO_ZERO_TIME_SECS: i64 = -62_135_596_800;

fn go_time(t: Option<Timestamp>) -> Time {
    match t {
        Some(t) => Time::from_unix(t.as_secs(), t.as_nanos().rem_euclid(1_000_000_000)),
        None => Time::from_unix(GO_ZERO_TIME_SECS, 0),
    }
}

impl From<&NotifiedAlert> for Alert {
    fn from(a: &NotifiedAlert) -> Alert {
        Alert {
            status: a.status.as_str(),
            labels: Kv::new(a.labels.clone()),
            annotations: Kv::new(a.annotations.clone()),
            starts_at: go_time(Some(a.starts_at)),
            ends_at: go_time(a.ends_at),
            generator_url: a.generator_url.clone(),
            fingerprint: a.fingerprint.to_string(),
        }
    }
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
            "EndsAt" => Value::object(self.ends_at),
            "GeneratorURL" => self.generator_url.as_str().into(),
            "Fingerprint" => self.fingerprint.as_str().into(),
            _ => return None,
        })
    }
}

/// Alertmanager's `Alerts`: a list with `Firing` and `Resolved`.
#[derive(Debug)]
struct Alerts(Arc<Vec<Alert>>);

impl Object for Alerts {
    fn type_name(&self) -> &str {
        "template.Alerts"
    }

    fn has_method(&self, name: &str) -> bool {
        matches!(name, "Firing" | "Resolved")
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        check_arity(name, args, 0)?;
        let want = if name == "Firing" { "firing" } else { "resolved" };
        let picked: Vec<Alert> = self.0.iter().filter(|a| a.status == want).cloned().collect();
        Ok(Value::object(Alerts(Arc::new(picked))))
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::list(self.0.iter().map(|a| Value::object(a.clone()))))
    }
}

/// Alertmanager's `KV`: a label set whose sorted pairs put `alertname` first.
#[derive(Clone, Debug, Default)]
struct Kv(Arc<LabelSet>);

impl Kv {
    fn new(set: LabelSet) -> Kv {
        Kv(Arc::new(set))
    }

    fn sorted_pairs(&self) -> Vec<(String, String)> {
        let first = self.0.get_key_value("alertname");
        let rest = self.0.iter().filter(|(k, _)| *k != "alertname");
        first.into_iter().chain(rest).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

fn pairs_text(pairs: &[(String, String)]) -> String {
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
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
                let kept = self.0.iter().filter(|(k, _)| !drop.contains(k));
                Value::object(Kv::new(kept.map(|(k, v)| (k.clone(), v.clone())).collect()))
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

/// Alertmanager's `Pairs`, with `Names` and `Values`.
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

/// Alertmanager's `Pair`.
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
