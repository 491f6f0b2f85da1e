//! `/api/v1/targets`: the scrape targets with their health, in Prometheus' JSON shape.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{Request, State};
use axum::response::Response;
use vigil_scrape::Health;

use super::prometheus::{rfc3339, success};
use super::ApiState;

pub async fn targets(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let wanted = request.uri().query().unwrap_or("");
    let (show_active, show_dropped) = match wanted.split('&').find_map(|p| p.strip_prefix("state=")) {
        Some("active") => (true, false),
        Some("dropped") => (false, true),
        _ => (true, true),
    };
    let manager = state.scrapes.read().unwrap_or_else(|e| e.into_inner()).clone();
    let (active, dropped) = match &manager {
        Some(m) => (m.targets(), m.dropped_targets()),
        None => (Vec::new(), Vec::new()),
    };
    success(
        |out| {
            out.raw(r#"{"activeTargets":["#);
            for (i, t) in active.iter().enumerate().filter(|_| show_active) {
                if i > 0 {
                    out.raw(",");
                }
                let health = match t.health {
                    Health::Up => "up",
                    Health::Down => "down",
                    Health::Unknown => "unknown",
                };
                let last_scrape = t.last_scrape.and_then(|s| s.duration_since(UNIX_EPOCH).ok());
                let last_scrape =
                    last_scrape.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), |d| rfc3339(d.as_millis() as i64));
                out.raw(r#"{"discoveredLabels":"#).labels(&t.discovered_labels);
                out.raw(r#","labels":"#).labels(&t.labels);
                out.raw(r#","scrapePool":"#).string(&t.job);
                out.raw(r#","scrapeUrl":"#).string(&t.scrape_url);
                out.raw(r#","globalUrl":"#).string(&t.scrape_url);
                out.raw(r#","lastError":"#).string(t.last_error.as_deref().unwrap_or(""));
                out.raw(r#","lastScrape":"#).string(&last_scrape);
                out.raw(&format!(r#","lastScrapeDuration":{}"#, t.last_scrape_duration.as_secs_f64()));
                out.raw(r#","health":"#).string(health);
                out.raw(r#","scrapeInterval":"#)
                    .string(&vigil_model::time::format_duration(t.scrape_interval.as_millis() as i64));
                out.raw(r#","scrapeTimeout":"#)
                    .string(&vigil_model::time::format_duration(t.scrape_timeout.as_millis() as i64));
                out.raw("}");
            }
            out.raw(r#"],"droppedTargets":["#);
            for (i, t) in dropped.iter().enumerate().filter(|_| show_dropped) {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"discoveredLabels":"#).labels(&t.discovered_labels).raw("}");
            }
            out.raw("]}");
        },
        &[],
        &[],
    )
}
