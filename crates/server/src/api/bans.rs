//! vigil's fleet ban API: `GET /api/v1/bans` (the whole list and its generation, or `unchanged` when the
//! agent already has that generation), `POST /api/v1/bans` (add or extend), `DELETE /api/v1/bans/{ip}`.
//! Answers in the Prometheus API's `{"status":"success","data":...}` form; the protocol is in
//! `docs/fleet-bans.md`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;

use super::error::{ApiError, ErrorType};
use super::now_ms;
use super::params::Params;
use crate::bans::request::{parse_ban_ip, parse_new_ban, MAX_BODY_BYTES};
use crate::bans::{Ban, BanError, FleetBans};

/// The routes over `bans`.
pub fn router(bans: Arc<FleetBans>) -> Router {
    Router::new().route("/api/v1/bans", get(list).post(add)).route("/api/v1/bans/{ip}", delete(remove)).with_state(bans)
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

fn success(data: serde_json::Value) -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "success", "data": data }).to_string())
}

fn ban_error(e: BanError) -> Response {
    let kind = match &e {
        BanError::Invalid(_) | BanError::AllowListed { .. } => ErrorType::BadData,
        BanError::NotFound(_) => ErrorType::NotFound,
        BanError::Full { .. } => ErrorType::Unavailable,
        BanError::Store(_) | BanError::Poisoned(_) => ErrorType::Internal,
    };
    if kind == ErrorType::Internal {
        tracing::error!(err = %e, "fleet ban list change failed");
    }
    ApiError { kind, message: e.to_string() }.into_response()
}

/// Runs a change on a blocking thread (it waits for the store's fsync).
async fn blocking<T: Send + 'static>(
    bans: &Arc<FleetBans>,
    f: impl FnOnce(&FleetBans) -> Result<T, BanError> + Send + 'static,
) -> Result<T, Response> {
    let bans = bans.clone();
    match tokio::task::spawn_blocking(move || f(&bans)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ban_error(e)),
        Err(e) => Err(ApiError::internal(e.to_string()).into_response()),
    }
}

/// `?generation=N` answers `{"generation":N,"unchanged":true}` when the list still is at N.
async fn list(State(bans): State<Arc<FleetBans>>, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse(query.as_deref(), None) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let known = match params.get("generation").map(str::parse::<i64>).transpose() {
        Ok(g) => g,
        Err(_) => return ApiError::bad_data("generation: must be an integer").into_response(),
    };
    let unchanged = |generation: i64| success(serde_json::json!({ "generation": generation, "unchanged": true }));
    let now = now_ms();
    // The idle poll: nothing to expire, nothing changed, nothing to render.
    if !bans.has_due(now) {
        let generation = bans.generation();
        if known == Some(generation) {
            return unchanged(generation);
        }
    }
    let bans = bans.clone();
    let answer = tokio::task::spawn_blocking(move || {
        // Lists never show expired bans: expiry is a change like any other, with its own generation.
        if let Err(err) = bans.expire_due(now) {
            tracing::error!(%err, "expiring fleet bans failed");
        }
        bans.body(render_list)
    })
    .await;
    match answer {
        Ok((generation, _)) if known == Some(generation) => unchanged(generation),
        Ok((_, body)) => json(StatusCode::OK, body),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

fn render_list(generation: i64, bans: &mut dyn Iterator<Item = &Ban>) -> Vec<u8> {
    let mut out = format!(r#"{{"status":"success","data":{{"generation":{generation},"bans":["#).into_bytes();
    for (i, ban) in bans.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A `Value` of strings and integers always serializes.
        let _ = serde_json::to_writer(&mut out, &ban.to_json());
    }
    out.extend_from_slice(b"]}}");
    out
}

async fn add(State(bans): State<Arc<FleetBans>>, body: Body) -> Response {
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError { kind: ErrorType::BadData, message: format!("body: larger than {MAX_BODY_BYTES} bytes") };
            let mut r = e.into_response();
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return r;
        }
    };
    let new = match parse_new_ban(&body) {
        Ok(n) => n,
        Err(e) => return ban_error(e.into()),
    };
    match blocking(&bans, move |b| b.add(new, now_ms())).await {
        Ok((ban, generation)) => success(serde_json::json!({ "generation": generation, "ban": ban.to_json() })),
        Err(r) => r,
    }
}

async fn remove(State(bans): State<Arc<FleetBans>>, Path(ip): Path<String>) -> Response {
    let ip = match parse_ban_ip(&ip) {
        Ok(ip) => ip,
        Err(m) => return ApiError::bad_data(format!("ip: {m}")).into_response(),
    };
    match blocking(&bans, move |b| b.remove(ip, now_ms())).await {
        Ok(generation) => success(serde_json::json!({ "generation": generation })),
        Err(r) => r,
    }
}
