//! Dashboards as code: the YAML schema of a dashboard file (title, variables, rows of panels with PromQL or
//! LogQL queries, units, thresholds, legends), read strictly and checked, with `file:line:col` errors. The
//! result is plain data for the server to serve; see `docs/dashboards.md`.

use serde::{Deserialize, Serialize};
use serde_saphyr::Location;

use crate::{ConfigError, Located};

/// The largest dashboard file accepted.
pub const MAX_DASHBOARD_BYTES: u64 = 1024 * 1024;
/// The most panels one dashboard may hold: more is a generated mistake, and a browser would choke on it.
pub const MAX_PANELS: usize = 200;

/// A dashboard as written in its file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardFile {
    title: Located<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    variables: Vec<Located<VariableFile>>,
    rows: Vec<Located<RowFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableFile {
    name: Located<String>,
    #[serde(default)]
    label: Option<String>,
    /// `label_values(<selector>, <label>)` or `label_values(<label>)`, as Grafana writes it.
    query: Located<String>,
    /// No picker: the value is the first label value the query gives, with the other variables substituted.
    #[serde(default)]
    hide: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowFile {
    title: Located<String>,
    #[serde(default)]
    collapsed: bool,
    panels: Vec<Located<PanelFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PanelFile {
    title: Located<String>,
    #[serde(rename = "type")]
    kind: Located<PanelKind>,
    #[serde(default)]
    description: Option<String>,
    query: Option<Located<String>>,
    legend: Option<String>,
    queries: Option<Located<Vec<Located<QueryFile>>>>,
    #[serde(default)]
    unit: Option<Located<Unit>>,
    #[serde(default)]
    thresholds: Vec<Located<Threshold>>,
    width: Option<Located<u8>>,
    #[serde(default)]
    stack: bool,
    min: Option<f64>,
    max: Option<f64>,
    limit: Option<Located<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    query: Located<String>,
    legend: Option<String>,
}

/// What a panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelKind {
    /// Lines over the time range (PromQL range queries).
    Timeseries,
    /// One number per series at the end of the range (PromQL instant query).
    Stat,
    /// Log lines (a LogQL log query).
    Logs,
}

/// How a panel's numbers are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Unit {
    /// 0–100.
    #[serde(rename = "percent")]
    Percent,
    /// Bytes, in binary multiples (KiB, MiB, GiB).
    #[serde(rename = "bytes")]
    Bytes,
    #[serde(rename = "bytes/s")]
    BytesPerSecond,
    #[serde(rename = "seconds")]
    Seconds,
    /// A plain number with k, M, G suffixes.
    #[serde(rename = "short")]
    Short,
}

/// A value from which the panel's color changes.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub value: f64,
    pub color: Color,
}

/// The threshold colors; the UI picks the shade for its theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Blue,
    Yellow,
    Orange,
    Red,
    Purple,
    Gray,
}

/// A checked dashboard, as the API serves it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dashboard {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub variables: Vec<Variable>,
    pub rows: Vec<Row>,
}

/// A `$name` the panels' queries use, chosen from the values of a label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: String,
    pub label: String,
    /// The series whose label values are offered (`match[]`), empty for every series.
    #[serde(rename = "match")]
    pub matcher: String,
    /// The label whose values are offered.
    pub label_name: String,
    /// Derived, not picked: its value is the first label value, once the variables before it are set.
    pub hide: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub title: String,
    pub collapsed: bool,
    pub panels: Vec<Panel>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Panel {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: PanelKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub queries: Vec<Query>,
    pub unit: Unit,
    pub thresholds: Vec<Threshold>,
    /// Columns out of 12 on a wide screen.
    pub width: u8,
    pub stack: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Log panels: the most lines shown.
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Query {
    pub query: String,
    /// A series' name in the legend, `{{label}}` replaced by the label's value; empty for the label set.
    pub legend: String,
}

/// The variables every dashboard has, filled by the UI: Grafana's names.
pub const BUILTIN_VARIABLES: &[&str] = &["__rate_interval", "__interval", "__range"];

impl Dashboard {
    /// Parses and checks a dashboard file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Dashboard, ConfigError> {
        if !crate::has_content(text) {
            return Err(ConfigError::whole(origin, "empty dashboard: it needs a title and rows"));
        }
        let file: DashboardFile = serde_saphyr::from_str(text).map_err(|e| ConfigError::yaml(origin, &e))?;
        file.check(origin)
    }
}

impl DashboardFile {
    fn check(self, origin: &str) -> Result<Dashboard, ConfigError> {
        let title = non_empty(origin, "title", &self.title)?;
        let mut variables = Vec::new();
        for v in &self.variables {
            let variable = v.value.check(origin)?;
            if variables.iter().any(|o: &Variable| o.name == variable.name) {
                return Err(ConfigError::at(
                    origin,
                    &v.value.name.referenced,
                    format!("variable {:?} is defined twice", variable.name),
                ));
            }
            variables.push(variable);
        }
        let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
        let mut rows = Vec::new();
        let mut count = 0;
        for r in self.rows {
            let row_title = non_empty(origin, "row title", &r.value.title)?;
            let mut panels = Vec::new();
            for p in r.value.panels {
                count += 1;
                if count > MAX_PANELS {
                    return Err(ConfigError::at(origin, &p.referenced, format!("more than {MAX_PANELS} panels")));
                }
                panels.push(p.value.check(origin, &p.referenced, &names)?);
            }
            rows.push(Row { title: row_title, collapsed: r.value.collapsed, panels });
        }
        if rows.is_empty() {
            return Err(ConfigError::at(origin, &self.title.referenced, "rows: a dashboard needs at least one row"));
        }
        Ok(Dashboard { title, description: self.description, variables, rows })
    }
}

impl VariableFile {
    fn check(&self, origin: &str) -> Result<Variable, ConfigError> {
        let name = &self.name.value;
        if !is_identifier(name) || BUILTIN_VARIABLES.contains(&name.as_str()) {
            let message =
                format!("variable name {name:?} must be a label-like name (letters, digits, _) and not a built-in one");
            return Err(ConfigError::at(origin, &self.name.referenced, message));
        }
        let (matcher, label_name) = parse_label_values(&self.query.value).ok_or_else(|| {
            let message = format!(
                "variable {name:?}: query {:?} must be label_values(<selector>, <label>) or label_values(<label>)",
                self.query.value
            );
            ConfigError::at(origin, &self.query.referenced, message)
        })?;
        if !matcher.is_empty() {
            promql_parser::parser::parse(&matcher).map_err(|e| {
                ConfigError::at(origin, &self.query.referenced, format!("variable {name:?}: selector {matcher:?}: {e}"))
            })?;
        }
        let label = self.label.clone().unwrap_or_else(|| name.clone());
        Ok(Variable { name: name.clone(), label, matcher, label_name, hide: self.hide })
    }
}

impl PanelFile {
    fn check(self, origin: &str, at: &Location, variables: &[&str]) -> Result<Panel, ConfigError> {
        let title = non_empty(origin, "panel title", &self.title)?;
        let kind = self.kind.value;
        let queries = match (self.query, self.queries) {
            (Some(q), None) => vec![(q, self.legend.unwrap_or_default())],
            (None, Some(list)) if !list.value.is_empty() => {
                if self.legend.is_some() {
                    let message = format!("panel {title:?}: legend goes with each of queries:, not beside them");
                    return Err(ConfigError::at(origin, &list.referenced, message));
                }
                list.value.into_iter().map(|q| (q.value.query, q.value.legend.unwrap_or_default())).collect()
            }
            (Some(q), Some(_)) => {
                let message = format!("panel {title:?}: query and queries are exclusive");
                return Err(ConfigError::at(origin, &q.referenced, message));
            }
            _ => return Err(ConfigError::at(origin, at, format!("panel {title:?}: it needs a query (or queries)"))),
        };
        if kind == PanelKind::Logs && queries.len() != 1 {
            return Err(ConfigError::at(origin, at, format!("panel {title:?}: a logs panel has one query")));
        }
        let mut checked = Vec::new();
        for (q, legend) in queries {
            check_query(origin, &title, kind, &q, variables)?;
            checked.push(Query { query: q.value, legend });
        }
        let width = match self.width {
            Some(w) if !(1..=12).contains(&w.value) => {
                let message = format!("panel {title:?}: width {} is not between 1 and 12", w.value);
                return Err(ConfigError::at(origin, &w.referenced, message));
            }
            Some(w) => w.value,
            None => match kind {
                PanelKind::Stat => 3,
                PanelKind::Timeseries => 6,
                PanelKind::Logs => 12,
            },
        };
        let limit = match self.limit {
            Some(l) if l.value == 0 || l.value > 5000 => {
                let message = format!("panel {title:?}: limit {} is not between 1 and 5000", l.value);
                return Err(ConfigError::at(origin, &l.referenced, message));
            }
            Some(l) => l.value,
            None => 200,
        };
        let mut thresholds: Vec<Threshold> = self.thresholds.into_iter().map(|t| t.value).collect();
        if let Some(t) = thresholds.iter().find(|t| !t.value.is_finite()) {
            return Err(ConfigError::at(origin, at, format!("panel {title:?}: threshold {} is not a number", t.value)));
        }
        thresholds.sort_by(|a, b| a.value.total_cmp(&b.value));
        Ok(Panel {
            title,
            kind,
            description: self.description,
            queries: checked,
            unit: self.unit.map_or(Unit::Short, |u| u.value),
            thresholds,
            width,
            stack: self.stack,
            min: self.min,
            max: self.max,
            limit,
        })
    }
}

/// Checks a query's variables are defined, then its syntax with every variable replaced by a stand-in value.
fn check_query(
    origin: &str,
    title: &str,
    kind: PanelKind,
    q: &Located<String>,
    variables: &[&str],
) -> Result<(), ConfigError> {
    if q.value.trim().is_empty() {
        return Err(ConfigError::at(origin, &q.referenced, format!("panel {title:?}: empty query")));
    }
    let mut unknown = None;
    let text = substitute(&q.value, |name| {
        if BUILTIN_VARIABLES.contains(&name) {
            Some("5m".to_owned())
        } else if variables.contains(&name) {
            Some("x".to_owned())
        } else {
            unknown.get_or_insert_with(|| name.to_owned());
            None
        }
    });
    if let Some(name) = unknown {
        let message = format!("panel {title:?}: ${name} is not a variable of this dashboard");
        return Err(ConfigError::at(origin, &q.referenced, message));
    }
    let result = match kind {
        PanelKind::Logs => vigil_logql::parse(&text).map(|_| ()).map_err(|e| e.to_string()),
        PanelKind::Timeseries | PanelKind::Stat => {
            promql_parser::parser::parse(&text).map(|_| ()).map_err(|e| e.to_string())
        }
    };
    result.map_err(|e| ConfigError::at(origin, &q.referenced, format!("panel {title:?}: {e}")))
}

/// Replaces `$name` and `${name}` where `value` knows the name; others are left as written.
pub fn substitute(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], end)
        };
        match (name.is_empty(), value(name)) {
            (false, Some(v)) => {
                out.push_str(&v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `label_values(<selector>, <label>)` or `label_values(<label>)` split into selector and label.
fn parse_label_values(query: &str) -> Option<(String, String)> {
    let inner = query.trim().strip_prefix("label_values")?.trim_start().strip_prefix('(')?.strip_suffix(')')?;
    let (selector, label) = match inner.rfind(',') {
        Some(i) => (inner[..i].trim(), inner[i + 1..].trim()),
        None => ("", inner.trim()),
    };
    is_identifier(label).then(|| (selector.to_owned(), label.to_owned()))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn non_empty(origin: &str, what: &str, value: &Located<String>) -> Result<String, ConfigError> {
    if value.value.trim().is_empty() {
        return Err(ConfigError::at(origin, &value.referenced, format!("{what} is empty")));
    }
    Ok(value.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "title: Host
variables:
  - name: host
    query: label_values(node_uname_info, instance)
rows:
  - title: CPU
    panels:
      - title: CPU busy
        type: stat
        query: 100 * (1 - avg(rate(node_cpu_seconds_total{mode=\"idle\",instance=\"$host\"}[$__rate_interval])))
        unit: percent
        thresholds: [{value: 90, color: red}, {value: 70, color: orange}]
      - title: Memory
        type: timeseries
        queries:
          - {query: 'node_memory_MemTotal_bytes{instance=\"$host\"}', legend: total}
          - {query: 'node_memory_MemAvailable_bytes{instance=\"${host}\"}', legend: available}
        unit: bytes
  - title: Logs
    panels:
      - title: Recent logs
        type: logs
        query: '{host=\"$host\"}'
";

    fn err(text: &str) -> String {
        Dashboard::parse(text, "d.yml").unwrap_err().to_string()
    }

    #[test]
    fn a_hidden_variable_is_derived_from_the_ones_before_it() {
        let text = "title: T\nvariables:\n  - name: host\n    query: label_values(node_uname_info, instance)\n  - name: nodename\n    query: label_values(node_uname_info{instance=\"$host\"}, nodename)\n    hide: true\nrows:\n  - title: R\n    panels:\n      - {title: L, type: logs, query: '{host=\"$nodename\"}'}\n";
        let d = Dashboard::parse(text, "d.yml").unwrap();
        assert_eq!(d.variables.iter().map(|v| v.hide).collect::<Vec<_>>(), [false, true]);
        assert_eq!(d.variables[1].matcher, "node_uname_info{instance=\"$host\"}");
        assert_eq!(d.variables[1].label_name, "nodename");
    }

    #[test]
    fn reads_a_dashboard_with_defaults_filled_in() {
        let d = Dashboard::parse(GOOD, "d.yml").unwrap();
        assert_eq!(d.title, "Host");
        assert_eq!(
            d.variables,
            [Variable {
                name: "host".into(),
                label: "host".into(),
                matcher: "node_uname_info".into(),
                label_name: "instance".into(),
                hide: false,
            }]
        );
        let stat = &d.rows[0].panels[0];
        assert_eq!((stat.kind, stat.unit, stat.width), (PanelKind::Stat, Unit::Percent, 3));
        assert_eq!(stat.thresholds[0].value, 70.0, "thresholds are sorted");
        let mem = &d.rows[0].panels[1];
        assert_eq!(mem.queries.len(), 2);
        assert_eq!(mem.queries[1].legend, "available");
        assert_eq!(d.rows[1].panels[0].width, 12);
        assert_eq!(d.rows[1].panels[0].limit, 200);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(err("title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: graph\n        query: up\n").split(": ").next(), Some("d.yml:6:15"));
        let e = err("title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: stat\n        query: 'sum(up'\n");
        assert!(e.starts_with("d.yml:7:16: panel \"p\": "), "{e}");
        let e = err("title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: stat\n        query: up{a=\"$nope\"}\n");
        assert_eq!(e, "d.yml:7:16: panel \"p\": $nope is not a variable of this dashboard");
        let e = err(
            "title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: logs\n        query: 'nope'\n",
        );
        assert!(e.starts_with("d.yml:7:16: panel \"p\": "), "{e}");
        let e = err("title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: stat\n        query: up\n        colour: red\n");
        assert!(e.starts_with("d.yml:8:9: ") && e.contains("unknown field `colour`"), "{e}");
        let e = err("title: x\nvariables:\n  - name: h\n    query: values(up, instance)\nrows: []\n");
        assert!(e.starts_with("d.yml:4:12: variable \"h\": query"), "{e}");
        assert_eq!(err("title: x\nrows: []\n"), "d.yml:1:8: rows: a dashboard needs at least one row");
        assert_eq!(err("# nothing\n"), "d.yml: empty dashboard: it needs a title and rows");
        let e = err("title: x\nrows:\n  - title: r\n    panels:\n      - title: p\n        type: stat\n        query: up\n        width: 13\n");
        assert_eq!(e, "d.yml:8:16: panel \"p\": width 13 is not between 1 and 12");
    }

    #[test]
    fn substitutes_plain_and_braced_variables() {
        let v = |n: &str| (n == "host").then(|| "web-1".to_owned());
        assert_eq!(substitute("a{h=\"$host\"} ${host}x $other $ ${", v), "a{h=\"web-1\"} web-1x $other $ ${");
    }

    #[test]
    fn label_values_forms() {
        assert_eq!(
            parse_label_values("label_values(up{job=\"a,b\"}, instance)"),
            Some(("up{job=\"a,b\"}".into(), "instance".into()))
        );
        assert_eq!(parse_label_values("label_values(instance)"), Some((String::new(), "instance".into())));
        assert_eq!(parse_label_values("label_values(up, 1x)"), None);
    }
}
