//! `POST /loki/api/v1/push`: Loki's push API, snappy protobuf (Promtail, Alloy) or JSON. Answers 204 only once
//! the log store's write-ahead log holds the entries.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_proto::loki::{decode_push, decode_push_json, PushLimits, CONTENT_TYPE_JSON};

use crate::api::ApiState;

pub async fn push(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    let limits = PushLimits::default();
    let Ok(body) = to_bytes(body, limits.max_body_bytes).await else {
        let msg = format!("request body larger than {} bytes\n", limits.max_body_bytes);
        return (StatusCode::PAYLOAD_TOO_LARGE, msg).into_response();
    };
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE_JSON)));
    let result = tokio::task::spawn_blocking(move || ingest(&state, &body, json, &limits)).await;
    match result {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err((status, msg))) => {
            if status.is_server_error() {
                tracing::error!(error = msg, "loki push failed");
            } else {
                tracing::debug!(error = msg, "loki push refused");
            }
            (status, format!("{msg}\n")).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("loki push task failed: {err}\n")).into_response(),
    }
}

/// Decodes and appends one push. Entries the store refuses (a line too long, a timestamp far in the future) do
/// not stop the others; the push then answers 400, as Loki does, so that the sender does not retry them.
fn ingest(state: &ApiState, body: &[u8], json: bool, limits: &PushLimits) -> Result<(), (StatusCode, String)> {
    let decoded = if json { decode_push_json(body, limits) } else { decode_push(body, limits) };
    let streams = decoded.map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    if streams.iter().all(|(_, entries)| entries.is_empty()) {
        return Ok(());
    }
    let stats = state.logs.append(&streams).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match stats.first_rejection {
        Some(first) => Err((
            StatusCode::BAD_REQUEST,
            format!(
                "{} of {} entries refused; first: stream {}: {}",
                stats.rejected,
                stats.rejected + stats.entries,
                vigil_proto::loki::format_labels(&first.labels),
                first.reason
            ),
        )),
        None => Ok(()),
    }
}
