//! vigil's dashboards API for the UI: `GET /api/v1/dashboards` (every dashboard's id, title and source, or the
//! error its file has) and `GET /api/v1/dashboards/{id}` (one, parsed and checked), in the Prometheus API's
//! `{"status":"success","data":...}` form. The schema is in `docs/dashboards.md`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::{ApiError, ErrorType};
use crate::dashboards::{Dashboards, Entry};

/// The routes over `dashboards`.
pub fn router(dashboards: Arc<Dashboards>) -> Router {
    Router::new()
        .route("/api/v1/dashboards", get(list))
        .route("/api/v1/dashboards/{id}", get(one))
        .with_state(dashboards)
}

fn success(data: serde_json::Value) -> Response {
    let body = serde_json::json!({ "status": "success", "data": data }).to_string();
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An entry's id, title, source and file, plus its error when it has one.
fn summary(entry: &Entry) -> serde_json::Value {
    let mut v = serde_json::json!({ "id": entry.id, "source": entry.source.as_str() });
    if let Some(file) = &entry.file {
        v["file"] = file.display().to_string().into();
    }
    match &entry.dashboard {
        Ok(d) => v["title"] = d.title.clone().into(),
        Err(e) => {
            v["title"] = entry.id.clone().into();
            v["error"] = e.clone().into();
        }
    }
    v
}

async fn list(State(dashboards): State<Arc<Dashboards>>) -> Response {
    match tokio::task::spawn_blocking(move || dashboards.list()).await {
        Ok(entries) => success(entries.iter().map(summary).collect()),
        Err(e) => ApiError::internal(format!("listing dashboards failed: {e}")).into_response(),
    }
}

async fn one(State(dashboards): State<Arc<Dashboards>>, Path(id): Path<String>) -> Response {
    let found = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || dashboards.get(&id)).await
    };
    let entry = match found {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            let message = format!("no dashboard {id:?}");
            return ApiError { kind: ErrorType::NotFound, message }.into_response();
        }
        Err(e) => return ApiError::internal(format!("reading dashboard failed: {e}")).into_response(),
    };
    match &entry.dashboard {
        Ok(d) => match serde_json::to_value(d) {
            Ok(mut v) => {
                v["id"] = entry.id.clone().into();
                v["source"] = entry.source.as_str().into();
                success(v)
            }
            Err(e) => ApiError::internal(format!("encoding dashboard {id:?}: {e}")).into_response(),
        },
        Err(e) => ApiError { kind: ErrorType::BadData, message: e.clone() }.into_response(),
    }
}
