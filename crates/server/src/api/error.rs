//! API errors and their one mapping to HTTP status and Prometheus' `errorType`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vigil_query::QueryError;

use super::json::Json;

/// Prometheus' error classes, as they appear in `errorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
    Unavailable,
    NotFound,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An error answered as `{"status":"error","errorType":...,"error":...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorType::BadData, message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError { kind: ErrorType::Internal, message: message.into() }
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> ApiError {
        let kind = match &err {
            QueryError::Parse(_) | QueryError::BadRequest(_) => ErrorType::BadData,
            QueryError::Timeout => ErrorType::Timeout,
            QueryError::TooManyConcurrent => ErrorType::Unavailable,
            QueryError::TooManySamples { .. } | QueryError::Execution(_) => ErrorType::Execution,
            QueryError::Storage(_) => ErrorType::Internal,
        };
        ApiError { kind, message: err.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Json::default();
        body.raw(r#"{"status":"error","errorType":"#);
        body.string(self.kind.as_str()).raw(r#","error":"#).string(&self.message).raw("}");
        let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        (self.kind.status(), content_type, body.finish()).into_response()
    }
}
