//! `GET /api/v2/status` (cluster disabled, the configuration as written, uptime, version) and
//! `GET /api/v2/receivers`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::json as json_response;
use super::model::format_time;
use crate::alertmanager::Alertmanager;

pub(super) async fn status(State(am): State<Arc<Alertmanager>>) -> Response {
    let original = am.read(|_, c| c.original.clone());
    let body = json!({
        "cluster": { "peers": [], "status": "disabled" },
        "config": { "original": original },
        "uptime": format_time(am.started_at()),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
    });
    json_response(&body)
}

pub(super) async fn receivers(State(am): State<Arc<Alertmanager>>) -> Response {
    let names: Vec<serde_json::Value> =
        am.read(|_, c| c.config.receivers.iter().map(|r| json!({ "name": r.value.name() })).collect());
    json_response(&names)
}
