//! Prometheus' HTTP query API (`/api/v1/...`) with the JSON shapes Grafana's Prometheus datasource expects.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use vigil_model::{Labels, Matcher};
use vigil_query::{QueryOptions, QueryResult, Storage, Value};

use super::error::ApiError;
use super::json::Json;
use super::params::Params;
use super::selector::parse_selector;
use super::{now_ms, ApiState};

/// Form bodies larger than this are refused (queries are small; this is far above any real one).
const MAX_FORM_BYTES: usize = 4 << 20;
/// Prometheus' cap on points per series in a range query.
const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// The time bounds used when a request gives none, as Prometheus' `minTime`/`maxTime`.
const MIN_TIME: i64 = i64::MIN / 4;
const MAX_TIME: i64 = i64::MAX / 4;
/// The Prometheus version whose API this server speaks; Grafana reads it to pick features.
const PROMETHEUS_API_VERSION: &str = "2.42.0";

type Shared = State<Arc<ApiState>>;

/// Reads the parameters of a GET (query string) or POST (query string and form body).
pub(super) async fn read_params(request: Request) -> Result<Params, ApiError> {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().map(str::to_owned);
    if parts.method != Method::POST {
        return Params::parse(query.as_deref(), None);
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ApiError::bad_data(format!("request body larger than {MAX_FORM_BYTES} bytes")))?;
    Params::parse(query.as_deref(), is_form.then_some(&body[..]))
}

/// Runs blocking work (queries, index lookups) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
}

pub(super) fn success(data: impl FnOnce(&mut Json), warnings: &[String], infos: &[String]) -> Response {
    let mut body = Json::with_capacity(256);
    body.raw(r#"{"status":"success","data":"#);
    data(&mut body);
    if !warnings.is_empty() {
        body.raw(r#","warnings":"#).strings(warnings.iter().map(String::as_str));
    }
    if !infos.is_empty() {
        body.raw(r#","infos":"#).strings(infos.iter().map(String::as_str));
    }
    body.raw("}");
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.finish()).into_response()
}

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn write_value(out: &mut Json, value: &Value) {
    let (kind, _) = match value {
        Value::Scalar { .. } => ("scalar", ()),
        Value::String { .. } => ("string", ()),
        Value::Vector(_) => ("vector", ()),
        Value::Matrix(_) => ("matrix", ()),
    };
    out.raw(r#"{"resultType":"#).string(kind).raw(r#","result":"#);
    match value {
        Value::Scalar { t, v } => {
            out.point(*t, *v);
        }
        Value::String { t, s } => {
            out.raw("[").timestamp(*t).raw(",").string(s).raw("]");
        }
        Value::Vector(samples) => {
            out.raw("[");
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"metric":"#).labels(&sample.labels).raw(r#","value":"#).point(sample.t, sample.v).raw("}");
            }
            out.raw("]");
        }
        Value::Matrix(series) => {
            out.raw("[");
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"metric":"#).labels(&s.labels).raw(r#","values":["#);
                for (j, &(t, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    out.point(t, v);
                }
                out.raw("]}");
            }
            out.raw("]");
        }
    }
    out.raw("}");
}

fn query_response(result: QueryResult) -> Response {
    success(|out| write_value(out, &result.value), &result.warnings, &result.infos)
}

pub async fn query(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let query = params.require("query")?.to_owned();
            let time = params.time_or("time", now_ms())?;
            let timeout = timeout_param(&params, &state)?;
            let result = blocking(move || {
                state.engine.instant_query_within(&state.storage, &query, time, timeout).map_err(ApiError::from)
            })
            .await?;
            Ok(query_response(result))
        }
        .await,
    )
}

pub async fn query_range(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let query = params.require("query")?.to_owned();
            let start = params.time_or("start", i64::MIN).and_then(|t| required_time(t, "start"))?;
            let end = params.time_or("end", i64::MIN).and_then(|t| required_time(t, "end"))?;
            if end < start {
                return Err(ApiError::bad_data("end timestamp must not be before start time"));
            }
            let step = params.duration("step")?.ok_or_else(|| ApiError::bad_data("missing parameter \"step\""))?;
            if step <= 0 {
                return Err(ApiError::bad_data(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            if (end - start) / step >= MAX_POINTS_PER_SERIES {
                return Err(ApiError::bad_data(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query \
                     resolution (?step=XX)",
                ));
            }
            let options = QueryOptions {
                timeout: timeout_param(&params, &state)?,
                max_resolution_ms: max_source_resolution(&params)?,
            };
            let result = blocking(move || {
                let grid = (start, end, step);
                state.engine.range_query_with(&state.storage, &query, grid, options).map_err(ApiError::from)
            })
            .await?;
            Ok(query_response(result))
        }
        .await,
    )
}

/// The `timeout` parameter; the engine caps it at its own timeout.
fn timeout_param(params: &Params, state: &ApiState) -> Result<Duration, ApiError> {
    match params.duration("timeout")? {
        Some(ms) if ms < 0 => Err(ApiError::bad_data("invalid parameter \"timeout\": negative duration")),
        Some(ms) => Ok(Duration::from_millis(ms as u64)),
        None => Ok(state.engine.options().timeout),
    }
}

/// Thanos' `max_source_resolution`: the coarsest downsampled data a range query may read (`raw` or `0s` for
/// raw samples only, a duration such as `5m`, or `auto`, the default, for whatever the step allows).
fn max_source_resolution(params: &Params) -> Result<i64, ApiError> {
    match params.get("max_source_resolution") {
        None | Some("auto") => Ok(i64::MAX),
        Some("raw") => Ok(0),
        Some(_) => match params.duration("max_source_resolution")? {
            Some(ms) if ms >= 0 => Ok(ms),
            _ => Err(ApiError::bad_data("invalid parameter \"max_source_resolution\": negative duration")),
        },
    }
}

fn required_time(t: i64, name: &str) -> Result<i64, ApiError> {
    if t == i64::MIN {
        return Err(ApiError::bad_data(format!("missing parameter {name:?}")));
    }
    Ok(t)
}

/// `start`, `end`, the `match[]` selectors and `limit` shared by the metadata endpoints.
struct Lookup {
    start: i64,
    end: i64,
    selectors: Vec<Vec<Matcher>>,
    limit: usize,
}

impl Lookup {
    fn from_params(params: &Params) -> Result<Lookup, ApiError> {
        let start = params.time_or("start", MIN_TIME)?;
        let end = params.time_or("end", MAX_TIME)?;
        if end < start {
            return Err(ApiError::bad_data("end timestamp must not be before start time"));
        }
        let mut selectors = Vec::new();
        for text in params.all("match[]") {
            selectors.extend(parse_selector(text)?);
        }
        let limit = match params.get("limit") {
            None => usize::MAX,
            Some(text) => match text.parse::<usize>() {
                Ok(0) => usize::MAX,
                Ok(n) => n,
                Err(_) => return Err(ApiError::bad_data(format!("invalid parameter \"limit\": {text:?}"))),
            },
        };
        Ok(Lookup { start, end, selectors, limit })
    }

    /// Truncates to the limit, returning the warning Prometheus gives when it did.
    fn truncate<T>(&self, items: &mut Vec<T>) -> Vec<String> {
        if items.len() > self.limit {
            items.truncate(self.limit);
            return vec!["results truncated due to limit".to_string()];
        }
        Vec::new()
    }
}

fn storage_error(err: vigil_query::StorageError) -> ApiError {
    ApiError::internal(err.to_string())
}

pub async fn series(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let lookup = Lookup::from_params(&params)?;
            if lookup.selectors.is_empty() {
                return Err(ApiError::bad_data("no match[] parameter provided"));
            }
            let (series, warnings) = blocking(move || {
                let mut found: BTreeSet<Labels> = BTreeSet::new();
                for set in &lookup.selectors {
                    let selected = state.storage.select(lookup.start, lookup.end, set).map_err(storage_error)?;
                    found.extend((0..selected.len()).map(|i| selected.labels(i).clone()));
                }
                let mut series: Vec<Labels> = found.into_iter().collect();
                let warnings = lookup.truncate(&mut series);
                Ok((series, warnings))
            })
            .await?;
            Ok(success(
                |out| {
                    out.raw("[");
                    for (i, labels) in series.iter().enumerate() {
                        if i > 0 {
                            out.raw(",");
                        }
                        out.labels(labels);
                    }
                    out.raw("]");
                },
                &warnings,
                &[],
            ))
        }
        .await,
    )
}

/// Label names, or the values of one label, over the union of the `match[]` selectors (all series if none).
async fn names_or_values(state: Arc<ApiState>, request: Request, name: Option<String>) -> Result<Response, ApiError> {
    let params = read_params(request).await?;
    let lookup = Lookup::from_params(&params)?;
    let (items, warnings) = blocking(move || {
        let sets = if lookup.selectors.is_empty() { vec![Vec::new()] } else { lookup.selectors.clone() };
        let mut found = BTreeSet::new();
        for set in &sets {
            let items = match &name {
                None => state.storage.label_names(lookup.start, lookup.end, set),
                Some(name) => state.storage.label_values(name, lookup.start, lookup.end, set),
            };
            found.extend(items.map_err(storage_error)?);
        }
        let mut items: Vec<String> = found.into_iter().collect();
        let warnings = lookup.truncate(&mut items);
        Ok((items, warnings))
    })
    .await?;
    Ok(success(
        |out| {
            out.strings(items.iter().map(String::as_str));
        },
        &warnings,
        &[],
    ))
}

pub async fn labels(State(state): Shared, request: Request) -> Response {
    respond(names_or_values(state, request, None).await)
}

pub async fn label_values(State(state): Shared, Path(name): Path<String>, request: Request) -> Response {
    if !is_label_name(&name) {
        return ApiError::bad_data(format!("invalid label name: {name:?}")).into_response();
    }
    respond(names_or_values(state, request, Some(name)).await)
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub async fn metadata(State(state): Shared, request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let limit = match params.get("limit").map(str::parse::<i64>) {
                None => usize::MAX,
                Some(Ok(n)) if n < 0 => usize::MAX,
                Some(Ok(n)) => n as usize,
                Some(Err(_)) => return Err(ApiError::bad_data("invalid parameter \"limit\"")),
            };
            let families = state.metadata.list(params.get("metric"), limit);
            Ok(success(
                |out| {
                    out.raw("{");
                    for (i, (family, items)) in families.iter().enumerate() {
                        if i > 0 {
                            out.raw(",");
                        }
                        out.string(family).raw(":[");
                        for (j, m) in items.iter().enumerate() {
                            if j > 0 {
                                out.raw(",");
                            }
                            out.raw(r#"{"type":"#).string(m.kind).raw(r#","help":"#).string(&m.help);
                            out.raw(r#","unit":"#).string(&m.unit).raw("}");
                        }
                        out.raw("]");
                    }
                    out.raw("}");
                },
                &[],
                &[],
            ))
        }
        .await,
    )
}

/// Exemplars are not stored; Grafana asks anyway, and an empty answer is the truthful one.
pub async fn exemplars(request: Request) -> Response {
    respond(
        async {
            read_params(request).await?;
            Ok(success(
                |out| {
                    out.raw("[]");
                },
                &[],
                &[],
            ))
        }
        .await,
    )
}

pub async fn format_query(request: Request) -> Response {
    respond(
        async {
            let params = read_params(request).await?;
            let query = params.require("query")?;
            let expr = vigil_query::parse_expr(query)
                .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
            let pretty = expr.prettify();
            Ok(success(
                |out| {
                    out.string(&pretty);
                },
                &[],
                &[],
            ))
        }
        .await,
    )
}

pub async fn buildinfo() -> Response {
    success(
        |out| {
            out.raw(r#"{"version":"#).string(PROMETHEUS_API_VERSION);
            out.raw(r#","revision":"#).string(concat!("vigil-", env!("CARGO_PKG_VERSION")));
            out.raw(r#","branch":"main","buildUser":"vigil","buildDate":"","goVersion":"none"}"#);
        },
        &[],
        &[],
    )
}

pub async fn runtimeinfo(State(state): Shared) -> Response {
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let corrupted = state.db.quarantined().len();
    success(
        |out| {
            out.raw(r#"{"startTime":"#).string(&rfc3339(state.started_at_ms));
            out.raw(r#","CWD":"#).string(&cwd);
            out.raw(r#","reloadConfigSuccess":true,"lastConfigTime":"#).string(&rfc3339(state.started_at_ms));
            out.raw(&format!(r#","corruptionCount":{corrupted},"goroutineCount":0,"GOMAXPROCS":{threads}"#));
            out.raw(r#","GOMEMLIMIT":0,"GOGC":"","GODEBUG":"","storageRetention":"#).string(&state.retention);
            out.raw("}");
        },
        &[],
        &[],
    )
}

pub(super) use vigil_model::time::format_rfc3339 as rfc3339;
