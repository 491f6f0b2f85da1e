//! The client side of `vigil logs`: a LogQL query against a server's (or Loki's) `query_range`, printed oldest
//! first, and `--follow`, which polls for lines newer than the last one printed.

use std::time::Duration;

use vigil_alerting::config::HttpConfig;
use vigil_notify::http::{HttpClient, Request};

const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// How `vigil logs` prints lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `time {labels} line`.
    Default,
    /// The line alone.
    Raw,
    /// One JSON object per line: `{"time":..., "labels":{...}, "line":...}`.
    Jsonl,
}

/// One line of a log query's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub ts_ns: i64,
    /// The stream's labels as the server gave them, as a JSON object.
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub line: String,
}

/// What a query answered: log lines (oldest first), or the text of a metric result.
pub enum Answer {
    Lines(Vec<Line>),
    Metric(String),
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `query` over `[start_ns, end_ns]`; for log queries, at most `limit` lines, the newest ones unless
/// `forward`.
pub async fn query(
    base: &str,
    query: &str,
    start_ns: i64,
    end_ns: i64,
    limit: usize,
    forward: bool,
) -> Result<Answer, String> {
    let client =
        HttpClient::new(&HttpConfig::default()).map_err(|e| e.to_string())?.refusing_bodies_over(MAX_RESPONSE_BYTES);
    let direction = if forward { "forward" } else { "backward" };
    let url = format!(
        "{}/loki/api/v1/query_range?query={}&start={start_ns}&end={end_ns}&limit={limit}&direction={direction}",
        base.trim_end_matches('/'),
        encode(query)
    );
    let r = client.send(Request::get(&url), TIMEOUT).await.map_err(|e| format!("GET {url}: {e}"))?;
    if !(200..300).contains(&r.status) {
        return Err(format!("server answered {}: {}", r.status, String::from_utf8_lossy(&r.body).trim()));
    }
    let body: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| format!("reading the answer: {e}"))?;
    let data = &body["data"];
    if data["resultType"] != "streams" {
        return Ok(Answer::Metric(metric_text(data)));
    }
    let mut lines = Vec::new();
    for stream in data["result"].as_array().into_iter().flatten() {
        let labels = stream["stream"].as_object().cloned().unwrap_or_default();
        for value in stream["values"].as_array().into_iter().flatten() {
            let ts_ns = value[0].as_str().and_then(|t| t.parse().ok()).ok_or("answer has a bad timestamp")?;
            let line = value[1].as_str().unwrap_or_default().to_owned();
            lines.push(Line { ts_ns, labels: labels.clone(), line });
        }
    }
    lines.sort_by_key(|l| l.ts_ns);
    Ok(Answer::Lines(lines))
}

/// `{labels} value` per series, the last point of each for a matrix.
fn metric_text(data: &serde_json::Value) -> String {
    let mut out = String::new();
    for series in data["result"].as_array().into_iter().flatten() {
        let point = series.get("value").or_else(|| series["values"].as_array().and_then(|v| v.last()));
        let value = point.and_then(|p| p[1].as_str()).unwrap_or_default();
        out.push_str(&format!("{} {value}\n", labels_text(series["metric"].as_object())));
    }
    out
}

fn labels_text(labels: Option<&serde_json::Map<String, serde_json::Value>>) -> String {
    let pairs: Vec<String> = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.as_str().unwrap_or_default().to_owned())))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// `line` as `output` says, with its newline.
pub fn format_line(line: &Line, output: Output) -> String {
    match output {
        Output::Raw => format!("{}\n", line.line),
        Output::Default => format!(
            "{} {} {}\n",
            vigil_model::time::format_rfc3339(line.ts_ns.div_euclid(1_000_000)),
            labels_text(Some(&line.labels)),
            line.line
        ),
        Output::Jsonl => {
            let v = serde_json::json!({
                "time": vigil_model::time::format_rfc3339(line.ts_ns.div_euclid(1_000_000)),
                "ts_ns": line.ts_ns.to_string(),
                "labels": line.labels,
                "line": line.line,
            });
            format!("{v}\n")
        }
    }
}
