//! `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_alerting::{Matchers, Silence, SilenceState, Timestamp};

use super::model::{GettableSilence, PostableSilenceJson};
use super::{am_error, bad_request, blocking, json};
use crate::alertmanager::Alertmanager;
use crate::api::params::Params;

/// Alertmanager's order: active ones ending soonest first, then pending ones starting soonest, then expired
/// ones that ended last.
fn sort(silences: &mut [Silence], now: Timestamp) {
    let rank = |s: &Silence| match s.state(now) {
        SilenceState::Active => (0, s.ends_at.as_nanos()),
        SilenceState::Pending => (1, s.starts_at.as_nanos()),
        SilenceState::Expired => (2, -s.ends_at.as_nanos()),
    };
    silences.sort_by_key(rank);
}

pub(super) async fn list(State(am): State<Arc<Alertmanager>>, RawQuery(query): RawQuery) -> Response {
    let params = match Params::parse(query.as_deref(), None) {
        Ok(p) => p,
        Err(e) => return bad_request(&e.message),
    };
    let mut filter = Vec::new();
    for f in params.all("filter") {
        match Matchers::parse(f) {
            Ok(ms) => filter.extend(ms.0),
            Err(e) => return bad_request(&format!("bad matcher format: {}", e.0)),
        }
    }
    let now = Timestamp::now();
    // A silence is shown when, for each filter matcher, it has the same matcher.
    let mut silences: Vec<Silence> = am
        .read(|d, _| d.silences().iter().filter(|s| filter.iter().all(|f| s.matchers.contains(f))).cloned().collect());
    sort(&mut silences, now);
    json(&silences.iter().map(|s| GettableSilence::new(s, now)).collect::<Vec<_>>())
}

pub(super) async fn post(State(am): State<Arc<Alertmanager>>, body: Bytes) -> Response {
    let parsed: PostableSilenceJson = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("parsing silence body failed: {e}")),
    };
    let silence = match parsed.into_postable() {
        Ok(s) => s,
        Err(m) => return bad_request(&m),
    };
    match blocking(&am, move |am| am.put_silence(silence)).await {
        Ok(Ok(id)) => json(&serde_json::json!({ "silenceID": id })),
        Ok(Err(e)) => am_error(e),
        Err(r) => r,
    }
}

pub(super) async fn get_one(State(am): State<Arc<Alertmanager>>, Path(id): Path<String>) -> Response {
    let now = Timestamp::now();
    match am.read(|d, _| d.silences().get(&id).map(|s| GettableSilence::new(s, now))) {
        Some(s) => json(&s),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) async fn delete(State(am): State<Arc<Alertmanager>>, Path(id): Path<String>) -> Response {
    match blocking(&am, move |am| am.expire_silence(&id)).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => am_error(e),
        Err(r) => r,
    }
}
