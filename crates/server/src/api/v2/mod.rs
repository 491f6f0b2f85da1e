//! Alertmanager 0.25's API v2, the subset Prometheus and amtool use: alerts, alert groups, silences, status
//! and receivers, mounted under `/api/v2`.

mod alerts;
pub mod model;
mod silences;
mod status;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::alertmanager::{Alertmanager, AlertmanagerError};

/// The largest request body accepted (a Prometheus batch of alerts is far smaller).
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// The `/api/v2` routes over `am`.
pub fn router(am: Arc<Alertmanager>) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(alerts::list).post(alerts::post))
        .route("/api/v2/alerts/groups", get(alerts::groups))
        .route("/api/v2/silences", get(silences::list).post(silences::post))
        .route("/api/v2/silence/{id}", get(silences::get_one).delete(silences::delete))
        .route("/api/v2/status", get(status::status))
        .route("/api/v2/receivers", get(status::receivers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(am)
}

/// A JSON body with status 200.
fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

/// An error as Alertmanager answers it: the message as a JSON string.
fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::to_vec(message).unwrap_or_default();
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn am_error(e: AlertmanagerError) -> Response {
    match e {
        AlertmanagerError::Invalid(m) => bad_request(&m),
        AlertmanagerError::NotFound => StatusCode::NOT_FOUND.into_response(),
        AlertmanagerError::Store(m) => error(StatusCode::INTERNAL_SERVER_ERROR, &m),
    }
}

/// Runs a state change on a blocking thread (it waits for the store's fsync).
async fn blocking<T: Send + 'static>(
    am: &Arc<Alertmanager>,
    f: impl FnOnce(&Alertmanager) -> T + Send + 'static,
) -> Result<T, Response> {
    let am = am.clone();
    tokio::task::spawn_blocking(move || f(&am))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}
