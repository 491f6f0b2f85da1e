//! `POST /api/v1/write`: Prometheus remote_write 1.0. Answers 204 only once the tsdb's log holds the data.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_proto::remote_write::{decompress, DecodeLimits, MetricType, RemoteWriteError, RequestView};
use vigil_tsdb::SeriesSamples;

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

/// Decodes and appends one request. The labels are read in place from the decompressed body: a series the
/// head knows costs no allocation. A request with refused samples (out of order, too old) keeps the accepted
/// ones and answers 400, so the sender does not retry what can never be accepted.
fn ingest(state: &ApiState, body: &[u8], limits: &DecodeLimits) -> Result<(), (StatusCode, String)> {
    let bad = |e: RemoteWriteError| (StatusCode::BAD_REQUEST, e.to_string());
    let raw = decompress(body, limits).map_err(bad)?;
    let mut request = RequestView::parse(&raw, limits).map_err(bad)?;
    request.validate().map_err(bad)?;
    let metadata = std::mem::take(&mut request.metadata);
    if !metadata.is_empty() {
        state.metadata.record(metadata.into_iter().map(|m| Metadata {
            family: m.metric_family_name,
            kind: MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown).as_str(),
            help: m.help,
            unit: m.unit,
        }));
    }
    let batch: Vec<SeriesSamples> = request
        .series()
        .filter(|s| !s.samples.is_empty())
        .map(|s| SeriesSamples { labels: s.labels, samples: s.samples })
        .collect();
    if batch.is_empty() {
        return Ok(());
    }
    let report = state.db.append_samples(&batch).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if !state.ingest_watch.is_idle() {
        state.ingest_watch.touched(batch.iter().filter_map(|s| metric_name(s.labels)));
    }
    match &report.first_error {
        Some(first) => Err((
            StatusCode::BAD_REQUEST,
            format!("{} of {} samples refused; first: {first}", report.rejected(), report.rejected() + report.appended),
        )),
        None => Ok(()),
    }
}

/// The `__name__` of sorted label pairs.
fn metric_name<'a>(labels: &[(&'a str, &'a str)]) -> Option<&'a str> {
    labels.binary_search_by(|(name, _)| name.cmp(&vigil_model::METRIC_NAME)).ok().map(|i| labels[i].1)
}
