//! `POST /api/v1/write`: Prometheus remote_write 1.0. Answers 204 only once the tsdb's log holds the data.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_proto::remote_write::{decode_write_request, into_series, DecodeLimits, MetricType};
use vigil_tsdb::{Sample, SeriesBatch};

use crate::api::ApiState;
use crate::metadata::Metadata;

pub async fn write(State(state): State<Arc<ApiState>>, body: Body) -> Response {
    let limits = DecodeLimits::default();
    let body = match to_bytes(body, limits.max_compressed_bytes).await {
        Ok(body) => body,
        Err(_) => {
            let msg = format!("request body larger than {} bytes", limits.max_compressed_bytes);
            return (StatusCode::PAYLOAD_TOO_LARGE, msg).into_response();
        }
    };
    let result = tokio::task::spawn_blocking(move || ingest(&state, &body, &limits)).await;
    match result {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err((status, msg))) => {
            if status.is_server_error() {
                tracing::error!(error = msg, "remote_write failed");
            } else {
                tracing::debug!(error = msg, "remote_write refused");
            }
            (status, format!("{msg}\n")).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("remote_write task failed: {err}\n")).into_response(),
    }
}

/// Decodes and appends one request. A request with refused samples (out of order, too old) keeps the accepted
/// ones and answers 400, so the sender does not retry what can never be accepted.
fn ingest(state: &ApiState, body: &[u8], limits: &DecodeLimits) -> Result<(), (StatusCode, String)> {
    let bad = |e: vigil_proto::remote_write::RemoteWriteError| (StatusCode::BAD_REQUEST, e.to_string());
    let mut request = decode_write_request(body, limits).map_err(bad)?;
    let metadata = std::mem::take(&mut request.metadata);
    let series = into_series(request).map_err(bad)?;
    let batches: Vec<SeriesBatch> = series
        .into_iter()
        .filter(|s| !s.samples.is_empty())
        .map(|s| SeriesBatch {
            labels: s.labels,
            samples: s.samples.into_iter().map(|(t, v)| Sample { t, v }).collect(),
        })
        .collect();
    if !metadata.is_empty() {
        state.metadata.record(metadata.into_iter().map(|m| Metadata {
            family: m.metric_family_name,
            kind: MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown).as_str(),
            help: m.help,
            unit: m.unit,
        }));
    }
    if batches.is_empty() {
        return Ok(());
    }
    let report = state.db.append(&batches).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match &report.first_error {
        Some(first) => Err((
            StatusCode::BAD_REQUEST,
            format!("{} of {} samples refused; first: {first}", report.rejected(), report.rejected() + report.appended),
        )),
        None => Ok(()),
    }
}
