//! `GET /api/v1/notifications`: vigil's own endpoint listing what happened to recent notifications (the
//! notifier's bounded history), newest first, in the Prometheus API's `{"status":"success","data":[...]}` form.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use vigil_notify::HistoryEntry;

use super::error::ApiError;
use super::json::Json;
use super::params::Params;
use super::prometheus::success;
use super::v2::model::format_time;
use crate::alertmanager::Alertmanager;

/// The route over `am`.
pub fn router(am: Arc<Alertmanager>) -> Router {
    Router::new().route("/api/v1/notifications", get(list)).with_state(am)
}

/// `?limit=N` keeps the newest N (0 or absent: all the history holds), `?receiver=name` one receiver's.
async fn list(State(am): State<Arc<Alertmanager>>, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse(query.as_deref(), None) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let limit = match params.get("limit").map(str::parse::<usize>).transpose() {
        Ok(l) => l.filter(|&l| l > 0).unwrap_or(usize::MAX),
        Err(_) => return ApiError::bad_data("limit must be a non-negative integer").into_response(),
    };
    let receiver = params.get("receiver");
    let history = am.notifier().history();
    let entries = history.iter().rev().filter(|e| receiver.is_none_or(|r| e.receiver == r)).take(limit);
    success(
        |out| {
            out.raw("[");
            for (i, e) in entries.enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                write_entry(out, e);
            }
            out.raw("]");
        },
        &[],
        &[],
    )
}

fn write_entry(out: &mut Json, e: &HistoryEntry) {
    out.raw(r#"{"at":"#).string(&format_time(e.at));
    out.raw(r#","receiver":"#).string(&e.receiver);
    out.raw(r#","integration":"#).string(e.integration);
    out.raw(&format!(r#","index":{},"notificationId":{}"#, e.index, e.notification_id));
    out.raw(r#","groupKey":"#).string(&e.group_key);
    out.raw(r#","status":"#).string(e.status);
    out.raw(r#","outcome":"#).string(e.outcome);
    if let Some(error) = &e.error {
        out.raw(r#","error":"#).string(error);
    }
    out.raw(&format!(r#","attempts":{}"#, e.attempts));
    out.raw(&format!(r#","alerts":{{"firing":{},"resolved":{},"alertnames":["#, e.alerts.firing, e.alerts.resolved));
    for (i, name) in e.alerts.alertnames.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.string(name);
    }
    out.raw("]}}");
}
