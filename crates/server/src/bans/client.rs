//! The client side of `vigil bans list|add|remove`: talks to a server's `/api/v1/bans` (`http://` or
//! `https://`) with the receivers' HTTP client from `vigil-notify`, as `vigil silence` does.

use std::time::Duration;

use vigil_alerting::config::HttpConfig;
use vigil_notify::http::{HttpClient, Request, Response};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an answer that is read (a list of many bans).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// What `vigil bans add` posts.
#[derive(Debug)]
pub struct AddBan {
    pub ip: String,
    /// As the API takes it: `"1h"`, `"90s"` or `"never"`.
    pub duration: String,
    pub reason: String,
    /// `None` lets the server say `manual`.
    pub jail: Option<String>,
}

async fn request(method: &'static str, url: &str, body: Option<serde_json::Value>) -> Result<Response, String> {
    let client =
        HttpClient::new(&HttpConfig::default()).map_err(|e| e.to_string())?.refusing_bodies_over(MAX_RESPONSE_BYTES);
    let req = match body {
        Some(body) => Request { method, ..Request::post_json(url, &body) },
        None => Request { method, ..Request::get(url) },
    };
    client.send(req, TIMEOUT).await.map_err(|e| format!("{method} {url}: {e}"))
}

/// The `data` of a 2xx answer, or the server's `error` message.
fn data(r: Response, what: &str) -> Result<serde_json::Value, String> {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
    if (200..300).contains(&r.status) {
        let mut v = parsed.ok_or_else(|| format!("{what}: the answer is not JSON"))?;
        return Ok(v["data"].take());
    }
    let message = match parsed.as_ref().and_then(|v| v.get("error")).and_then(|e| e.as_str()) {
        Some(m) => m.to_owned(),
        None => String::from_utf8_lossy(&r.body).trim().to_owned(),
    };
    Err(format!("{what}: server answered {}: {message}", r.status))
}

fn bans_url(base: &str) -> String {
    format!("{}/api/v1/bans", base.trim_end_matches('/'))
}

/// Adds (or extends) a ban; returns a line saying what the server now holds.
pub async fn add_ban(base: &str, ban: &AddBan) -> Result<String, String> {
    let duration = match ban.duration.parse::<u64>() {
        Ok(seconds) => serde_json::json!(seconds),
        Err(_) => serde_json::json!(ban.duration),
    };
    let mut body = serde_json::json!({ "ip": ban.ip, "duration": duration, "reason": ban.reason });
    if let Some(jail) = &ban.jail {
        body["jail"] = serde_json::json!(jail);
    }
    let data = data(request("POST", &bans_url(base), Some(body)).await?, &format!("banning {}", ban.ip))?;
    let b = &data["ban"];
    let until = b["expires_at"].as_str().unwrap_or("never");
    Ok(format!("{} banned until {until} (count {})", b["ip"].as_str().unwrap_or(&ban.ip), b["count"]))
}

/// Lifts the ban of `ip`.
pub async fn remove_ban(base: &str, ip: &str) -> Result<(), String> {
    let url = format!("{}/{ip}", bans_url(base));
    data(request("DELETE", &url, None).await?, &format!("removing the ban of {ip}")).map(drop)
}

/// The active bans as a table: IP, jail, origin, expires in, count, reason.
pub async fn list_bans(base: &str) -> Result<String, String> {
    let data = data(request("GET", &bans_url(base), None).await?, "listing bans")?;
    Ok(table(&data, crate::api::now_ms()))
}

/// Renders a list answer's `data` at `now_ms`.
fn table(data: &serde_json::Value, now_ms: i64) -> String {
    let str_of = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
    let mut rows = vec![["IP", "Jail", "Origin", "Expires In", "Count", "Reason"].map(String::from)];
    for b in data["bans"].as_array().into_iter().flatten() {
        let expires_in = match b["expires_at"].as_str().map(vigil_model::time::parse_rfc3339) {
            None => "never".to_owned(),
            Some(Ok(t)) if t <= now_ms => "expired".to_owned(),
            // Whole seconds, rounded up, so a ban is never shown shorter than it is.
            Some(Ok(t)) => vigil_model::time::format_duration((t - now_ms + 999) / 1000 * 1000),
            Some(Err(_)) => "?".to_owned(),
        };
        rows.push([
            str_of(b, "ip"),
            str_of(b, "jail"),
            str_of(b, "origin"),
            expires_in,
            b["count"].to_string(),
            str_of(b, "reason"),
        ]);
    }
    let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns() {
        let data = serde_json::json!({"generation": 5, "bans": [
            {"ip": "192.0.2.1", "jail": "sshd", "origin": "web1", "reason": "5 failures", "created_at": "x",
             "expires_at": "1970-01-01T01:00:00.000Z", "count": 2},
            {"ip": "2001:db8::1", "jail": "manual", "origin": "api", "reason": "", "created_at": "x",
             "expires_at": null, "count": 1},
        ]});
        let t = table(&data, 1_000);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "IP           Jail    Origin  Expires In  Count  Reason");
        assert_eq!(lines[1], "192.0.2.1    sshd    web1    59m59s      2      5 failures");
        assert_eq!(lines[2], "2001:db8::1  manual  api     never       1");
    }
}
