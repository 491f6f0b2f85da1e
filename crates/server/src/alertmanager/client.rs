//! The client side of `vigil silence` (like amtool's `silence add|query|expire`): talks to a server's
//! `/api/v2/silences` (`http://` or `https://`) with the receivers' HTTP client from `vigil-notify`.

use std::time::Duration;

use vigil_alerting::config::HttpConfig;
use vigil_alerting::{Matcher, Timestamp};
use vigil_notify::http::{HttpClient, Request, Response};

use crate::api::v2::model::{format_time, MatcherJson};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an answer that is read (a list of many silences).
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Sends one request with the system's CAs and no auth.
async fn request(method: &'static str, url: &str, body: Option<serde_json::Value>) -> Result<Response, String> {
    let client =
        HttpClient::new(&HttpConfig::default()).map_err(|e| e.to_string())?.refusing_bodies_over(MAX_RESPONSE_BYTES);
    let req = match body {
        Some(body) => Request { method, ..Request::post_json(url, &body) },
        None => Request { method, ..Request::get(url) },
    };
    client.send(req, TIMEOUT).await.map_err(|e| format!("{method} {url}: {e}"))
}

/// What `vigil silence add` posts.
#[derive(Debug)]
pub struct NewSilence {
    /// Matchers as written on the command line: `alertname=X`, `instance=~"a.*"`.
    pub matchers: Vec<String>,
    pub duration: Duration,
    pub author: String,
    pub comment: String,
}

fn check(r: Response, what: &str) -> Result<Vec<u8>, String> {
    if (200..300).contains(&r.status) {
        return Ok(r.body);
    }
    let text = String::from_utf8_lossy(&r.body);
    let message = serde_json::from_str::<String>(&text).unwrap_or_else(|_| text.trim().to_owned());
    Err(format!("{what}: server answered {}: {message}", r.status))
}

/// Creates a silence starting now; returns its id.
pub async fn add_silence(base: &str, s: &NewSilence) -> Result<String, String> {
    if s.matchers.is_empty() {
        return Err("at least one matcher is required".into());
    }
    let matchers = s
        .matchers
        .iter()
        .map(|m| Matcher::parse(m).map(|m| MatcherJson::of(&m)).map_err(|e| format!("matcher {m:?}: {}", e.0)))
        .collect::<Result<Vec<_>, _>>()?;
    let now = Timestamp::now();
    let body = serde_json::json!({
        "matchers": matchers,
        "startsAt": format_time(now),
        "endsAt": format_time(now + s.duration),
        "createdBy": s.author,
        "comment": s.comment,
    });
    let url = format!("{}/api/v2/silences", base.trim_end_matches('/'));
    let r = request("POST", &url, Some(body)).await?;
    let body = check(r, "creating the silence")?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("reading the answer: {e}"))?;
    v.get("silenceID").and_then(|id| id.as_str()).map(str::to_owned).ok_or_else(|| "answer has no silenceID".into())
}

/// The active silences as a table: ID, matchers, end, author, comment.
pub async fn query_silences(base: &str) -> Result<String, String> {
    let url = format!("{}/api/v2/silences", base.trim_end_matches('/'));
    let body = check(request("GET", &url, None).await?, "listing silences")?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| format!("reading the answer: {e}"))?;
    let str_of = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
    let mut rows = vec![["ID", "Matchers", "Ends At", "Created By", "Comment"].map(String::from)];
    for s in list.iter().filter(|s| s.pointer("/status/state").and_then(|x| x.as_str()) == Some("active")) {
        let matchers: Vec<String> = s
            .get("matchers")
            .and_then(|m| serde_json::from_value::<Vec<MatcherJson>>(m.clone()).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.to_matcher().ok().map(|m| m.to_string()))
            .collect();
        rows.push([
            str_of(s, "id"),
            matchers.join(" "),
            str_of(s, "endsAt"),
            str_of(s, "createdBy"),
            str_of(s, "comment"),
        ]);
    }
    let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// Expires a silence by id.
pub async fn expire_silence(base: &str, id: &str) -> Result<(), String> {
    let url = format!("{}/api/v2/silence/{id}", base.trim_end_matches('/'));
    check(request("DELETE", &url, None).await?, &format!("expiring silence {id}")).map(drop)
}
