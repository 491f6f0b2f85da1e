//! Loki's HTTP query API over the log store: `query`, `query_range`, `labels`, `label/<name>/values`, `series`
//! and `index/stats`, in the shapes Grafana's Loki data source reads (Loki 2.9). Errors are plain text with
//! the status Loki gives them.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use vigil_logql::{Direction, EvalError, Expr, Limits, Params as QueryParams, QueryResult};
use vigil_model::{Labels, Matcher};

use super::error::ApiError;
use super::json::Json;
use super::params::Params;
use super::prometheus::{blocking, read_params};
use super::ApiState;
use crate::logs::StoreReader;

type Shared = State<Arc<ApiState>>;

/// Loki's default and largest `limit` of a log query.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 5_000;
/// Loki's `max_query_length` default is 30 days (721 h); beyond, the range is refused.
const MAX_RANGE_NS: i64 = 721 * 3_600 * 1_000_000_000;
const MAX_POINTS: i64 = 11_000;
const HOUR_NS: i64 = 3_600 * 1_000_000_000;

pub async fn query_range(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let query = params.require("query")?.to_owned();
            let now = now_ns();
            let end = time_param(&params, "end")?.unwrap_or(now);
            let start = match (time_param(&params, "start")?, params.duration("since")?) {
                (Some(start), _) => start,
                (None, Some(since_ms)) => end - since_ms.saturating_mul(1_000_000),
                (None, None) => end - HOUR_NS,
            };
            check_range(start, end)?;
            let step = match params.duration("step")? {
                Some(ms) if ms <= 0 => {
                    return Err(ApiError::bad_data(
                        "zero or negative query resolution step widths are not accepted. Try a positive integer",
                    ))
                }
                Some(ms) => ms.saturating_mul(1_000_000),
                // Loki's default: about 250 points, at least one second apart.
                None => ((end - start) as f64 / 250.0 / 1e9).ceil().max(1.0) as i64 * 1_000_000_000,
            };
            if (end - start) / step > MAX_POINTS {
                return Err(ApiError::bad_data(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the \
                     step parameter",
                ));
            }
            let query_params = QueryParams {
                start_ns: start,
                end_ns: end,
                step_ns: step,
                limit: limit_param(&params)?,
                direction: direction_param(&params)?,
            };
            run(state, query, query_params).await
        }
        .await,
    )
}

pub async fn query(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let query = params.require("query")?.to_owned();
            let time = time_param(&params, "time")?.unwrap_or_else(now_ns);
            let query_params = QueryParams {
                limit: limit_param(&params)?,
                direction: direction_param(&params)?,
                ..QueryParams::instant(time)
            };
            run(state, query, query_params).await
        }
        .await,
    )
}

async fn run(state: Arc<ApiState>, query: String, params: QueryParams) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = blocking(move || {
        let expr = vigil_logql::parse(&query).map_err(|e| ApiError::bad_data(e.to_string()))?;
        let limits = Limits { deadline: Some(Instant::now() + state.engine.options().timeout), ..Limits::default() };
        vigil_logql::evaluate(&StoreReader(&state.logs), &expr, &params, &limits).map_err(eval_error)
    })
    .await?;
    Ok(query_response(&result, started.elapsed().as_secs_f64()))
}

pub async fn labels(State(state): Shared, request: Request) -> Response {
    respond(names_or_values(state, request, None).await)
}

pub async fn label_values(State(state): Shared, Path(name): Path<String>, request: Request) -> Response {
    respond(names_or_values(state, request, Some(name)).await)
}

async fn names_or_values(state: Arc<ApiState>, request: Request, name: Option<String>) -> Result<Response, ApiError> {
    let params = read_params(request).await?;
    let (start, end) = default_range(&params)?;
    let matchers = match params.get("query") {
        Some(q) => selector(q)?,
        None => Vec::new(),
    };
    let found = blocking(move || {
        let found = match &name {
            None => state.logs.label_names(&matchers, start, end),
            Some(name) => state.logs.label_values(name, &matchers, start, end),
        };
        found.map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(success(|out| {
        out.strings(found.iter().map(String::as_str));
    }))
}

pub async fn series(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let (start, end) = default_range(&params)?;
            let selectors: Vec<Vec<Matcher>> =
                params.all("match[]").chain(params.all("match")).map(selector).collect::<Result<_, _>>()?;
            if selectors.is_empty() {
                return Err(ApiError::bad_data("missing parameter \"match[]\""));
            }
            let found = blocking(move || {
                let mut all: Vec<Labels> = Vec::new();
                for matchers in &selectors {
                    let streams =
                        state.logs.streams(matchers, start, end).map_err(|e| ApiError::internal(e.to_string()))?;
                    all.extend(streams.into_iter().map(|s| s.labels));
                }
                all.sort();
                all.dedup();
                Ok(all)
            })
            .await?;
            Ok(success(|out| {
                out.raw("[");
                for (i, labels) in found.iter().enumerate() {
                    if i > 0 {
                        out.raw(",");
                    }
                    out.labels(labels);
                }
                out.raw("]");
            }))
        }
        .await,
    )
}

/// `index/stats`: how much a selector covers. Answered bare, without Loki's usual envelope, as Loki does.
pub async fn index_stats(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let (start, end) = default_range(&params)?;
            let matchers = selector(params.require("query")?)?;
            let stats = blocking(move || {
                state.logs.stats(&matchers, start, end).map_err(|e| ApiError::internal(e.to_string()))
            })
            .await?;
            let body = format!(
                r#"{{"streams":{},"chunks":{},"bytes":{},"entries":{}}}"#,
                stats.streams, stats.chunks, stats.bytes, stats.entries
            );
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        .await,
    )
}

/// `status/buildinfo`: the Loki version whose API vigil speaks, which Grafana reads to pick the features it uses.
pub async fn buildinfo() -> Response {
    let body = format!(
        r#"{{"version":"2.9.0","revision":"vigil-{}","branch":"","buildUser":"","buildDate":"","goVersion":""}}"#,
        env!("CARGO_PKG_VERSION")
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The matchers of a stream selector (a log query without pipeline stages is accepted too).
fn selector(text: &str) -> Result<Vec<Matcher>, ApiError> {
    match vigil_logql::parse(text).map_err(|e| ApiError::bad_data(e.to_string()))? {
        Expr::Log(log) => Ok(log.matchers),
        Expr::Metric(_) => Err(ApiError::bad_data(format!("{text:?} is not a stream selector"))),
    }
}

/// `start` and `end` of the metadata endpoints: the last 6 hours by default, as Loki.
fn default_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let end = time_param(params, "end")?.unwrap_or_else(now_ns);
    let start = match (time_param(params, "start")?, params.duration("since")?) {
        (Some(start), _) => start,
        (None, Some(since_ms)) => end - since_ms.saturating_mul(1_000_000),
        (None, None) => end - 6 * HOUR_NS,
    };
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before or equal to start time"));
    }
    Ok((start, end))
}

fn check_range(start: i64, end: i64) -> Result<(), ApiError> {
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before or equal to start time"));
    }
    if end - start > MAX_RANGE_NS {
        return Err(ApiError::bad_data("the query time range exceeds the limit (query length: 721h)"));
    }
    Ok(())
}

fn limit_param(params: &Params) -> Result<usize, ApiError> {
    let Some(text) = params.get("limit") else { return Ok(DEFAULT_LIMIT) };
    let limit: i64 = text.parse().map_err(|_| ApiError::bad_data(format!("invalid limit {text:?}")))?;
    if limit <= 0 {
        return Err(ApiError::bad_data("limit must be a positive value"));
    }
    if limit as usize > MAX_LIMIT {
        return Err(ApiError::bad_data(format!(
            "max entries limit per query exceeded, limit > max_entries_limit ({limit} > {MAX_LIMIT})"
        )));
    }
    Ok(limit as usize)
}

fn direction_param(params: &Params) -> Result<Direction, ApiError> {
    match params.get("direction").map(str::to_ascii_lowercase).as_deref() {
        None | Some("backward") => Ok(Direction::Backward),
        Some("forward") => Ok(Direction::Forward),
        Some(other) => Err(ApiError::bad_data(format!("invalid direction {other:?}"))),
    }
}

/// A time as Loki takes it (`parseTimestamp`): seconds with a fraction, an integer of nanoseconds (or of
/// seconds when it has at most 10 digits), or RFC 3339. In nanoseconds.
fn time_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = params.get(name) else { return Ok(None) };
    parse_loki_time(text).map(Some).ok_or_else(|| {
        ApiError::bad_data(format!("invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"))
    })
}

pub fn parse_loki_time(text: &str) -> Option<i64> {
    if text.contains('.') {
        if let Ok(seconds) = text.parse::<f64>() {
            let ns = (seconds * 1e9).round();
            return (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64);
        }
    }
    match text.parse::<i64>() {
        Ok(n) if text.trim_start_matches('-').len() <= 10 => n.checked_mul(1_000_000_000),
        Ok(n) => Some(n),
        Err(_) => vigil_model::time::parse_rfc3339(text).ok().and_then(|ms| ms.checked_mul(1_000_000)),
    }
}

fn eval_error(err: EvalError) -> ApiError {
    match err {
        EvalError::Storage(e) => ApiError::internal(e.to_string()),
        EvalError::Timeout => ApiError { kind: super::error::ErrorType::Timeout, message: err.to_string() },
        other => ApiError::bad_data(other.to_string()),
    }
}

fn now_ns() -> i64 {
    crate::api::now_ms().saturating_mul(1_000_000)
}

/// Loki answers errors as plain text.
fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| (e.kind.status(), format!("{}\n", e.message)).into_response())
}

fn success(data: impl FnOnce(&mut Json)) -> Response {
    let mut body = Json::with_capacity(256);
    body.raw(r#"{"status":"success","data":"#);
    data(&mut body);
    body.raw("}");
    ([(header::CONTENT_TYPE, "application/json")], body.finish()).into_response()
}

fn query_response(result: &QueryResult, exec_seconds: f64) -> Response {
    let mut out = Json::with_capacity(4096);
    out.raw(r#"{"status":"success","data":{"resultType":"#);
    let mut returned = 0usize;
    match result {
        QueryResult::Streams(streams) => {
            out.raw(r#""streams","result":["#);
            for (i, stream) in streams.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"stream":"#).labels(&stream.labels).raw(r#","values":["#);
                for (j, (ts, line)) in stream.entries.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    out.raw("[\"").raw(&ts.to_string()).raw("\",").string(line).raw("]");
                }
                returned += stream.entries.len();
                out.raw("]}");
            }
            out.raw("]");
        }
        QueryResult::Vector(samples) => {
            out.raw(r#""vector","result":["#);
            for (i, (labels, ts, v)) in samples.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"metric":"#)
                    .labels(labels)
                    .raw(r#","value":"#)
                    .point(ts.div_euclid(1_000_000), *v)
                    .raw("}");
            }
            out.raw("]");
        }
        QueryResult::Matrix(series) => {
            out.raw(r#""matrix","result":["#);
            for (i, (labels, points)) in series.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"metric":"#).labels(labels).raw(r#","values":["#);
                for (j, (ts, v)) in points.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    out.point(ts.div_euclid(1_000_000), *v);
                }
                out.raw("]}");
            }
            out.raw("]");
        }
        QueryResult::Scalar(ts, v) => {
            out.raw(r#""scalar","result":"#).point(ts.div_euclid(1_000_000), *v);
        }
    }
    out.raw(r#","stats":{"summary":{"execTime":"#)
        .raw(&format!("{exec_seconds:.6}"))
        .raw(r#","queueTime":0,"subqueries":0,"totalEntriesReturned":"#)
        .raw(&returned.to_string())
        .raw("}}}}");
    ([(header::CONTENT_TYPE, "application/json")], out.finish()).into_response()
}
