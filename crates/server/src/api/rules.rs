//! `/api/v1/rules` and `/api/v1/alerts`: the rule groups and their alerts in Prometheus 2.42's JSON shapes
//! (times as Go's RFC 3339 with trimmed nanoseconds, alert values in Go's `%e`).

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use vigil_rules::{Alert, AlertState, Health, Rule};

use super::error::ApiError;
use super::json::Json;
use super::prometheus::success;
use super::ApiState;
use crate::rules::{GroupView, RuleManager};

fn manager(state: &ApiState) -> Option<Arc<RuleManager>> {
    state.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `GET /api/v1/rules[?type=alert|record]`.
pub async fn rules(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or("");
    let (alerting, recording) = match query.split('&').find_map(|p| p.strip_prefix("type=")) {
        None | Some("") => (true, true),
        Some("alert") => (true, false),
        Some("record") => (false, true),
        Some(other) => return ApiError::bad_data(format!("not supported value {other:?}")).into_response(),
    };
    let groups = manager(&state).map(|m| m.groups()).unwrap_or_default();
    success(
        |out| {
            out.raw(r#"{"groups":["#);
            for (i, view) in groups.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                write_group(out, view, alerting, recording);
            }
            out.raw("]}");
        },
        &[],
        &[],
    )
}

/// `GET /api/v1/alerts`: the pending and firing alerts of every alerting rule.
pub async fn alerts(State(state): State<Arc<ApiState>>) -> Response {
    let groups = manager(&state).map(|m| m.groups()).unwrap_or_default();
    success(
        |out| {
            out.raw(r#"{"alerts":["#);
            let active = groups
                .iter()
                .flat_map(|g| g.group.rules())
                .filter_map(Rule::as_alerting)
                .flat_map(|r| r.active_alerts());
            for (i, alert) in active.enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                write_alert(out, alert);
            }
            out.raw("]}");
        },
        &[],
        &[],
    )
}

fn write_group(out: &mut Json, view: &GroupView, alerting: bool, recording: bool) {
    let g = &view.group;
    out.raw(r#"{"name":"#).string(g.name());
    out.raw(r#","file":"#).string(g.file());
    out.raw(r#","rules":["#);
    let wanted = g.rules().iter().enumerate().filter(|(_, r)| match r {
        Rule::Alerting(_) => alerting,
        Rule::Recording(_) => recording,
    });
    for (n, (i, rule)) in wanted.enumerate() {
        if n > 0 {
            out.raw(",");
        }
        let duration = view.stats.rule_durations.get(i).copied().unwrap_or_default();
        write_rule(out, rule, duration.as_secs_f64(), view.stats.last_eval_wall_ms);
    }
    out.raw(r#"],"interval":"#).raw(&go_float(g.interval_ms() as f64 / 1000.0));
    out.raw(&format!(r#","limit":{}"#, g.limit()));
    out.raw(r#","evaluationTime":"#).raw(&go_float(view.stats.last_duration.as_secs_f64()));
    out.raw(r#","lastEvaluation":"#).string(&go_time(view.stats.last_eval_wall_ms));
    out.raw("}");
}

fn write_rule(out: &mut Json, rule: &Rule, evaluation_time: f64, last_eval: Option<i64>) {
    let health = match rule.health() {
        Health::Unknown => "unknown",
        Health::Good => "ok",
        Health::Bad(_) => "err",
    };
    let tail = |out: &mut Json| {
        out.raw(r#","health":"#).string(health);
        if let Some(e) = rule.last_error() {
            out.raw(r#","lastError":"#).string(e);
        }
        out.raw(r#","evaluationTime":"#).raw(&go_float(evaluation_time));
        out.raw(r#","lastEvaluation":"#).string(&go_time(last_eval));
    };
    match rule {
        Rule::Alerting(r) => {
            let state = if r.active_alerts().next().is_none() { AlertState::Inactive } else { r.state() };
            out.raw(r#"{"state":"#).string(state.as_str());
            out.raw(r#","name":"#).string(r.name());
            out.raw(r#","query":"#).string(r.expr());
            out.raw(r#","duration":"#).raw(&go_float(r.hold_ms() as f64 / 1000.0));
            out.raw(r#","labels":"#);
            pairs(out, r.labels());
            out.raw(r#","annotations":"#);
            pairs(out, r.annotations());
            out.raw(r#","alerts":["#);
            for (i, alert) in r.active_alerts().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                write_alert(out, alert);
            }
            out.raw("]");
            tail(out);
            out.raw(r#","keepFiringFor":"#).raw(&go_float(r.keep_firing_for_ms() as f64 / 1000.0));
            out.raw(r#","type":"alerting"}"#);
        }
        Rule::Recording(r) => {
            out.raw(r#"{"name":"#).string(r.name());
            out.raw(r#","query":"#).string(r.expr());
            if !r.labels().is_empty() {
                out.raw(r#","labels":"#);
                pairs(out, r.labels());
            }
            tail(out);
            out.raw(r#","type":"recording"}"#);
        }
    }
}

fn write_alert(out: &mut Json, alert: &Alert) {
    out.raw(r#"{"labels":"#).labels(&alert.labels);
    out.raw(r#","annotations":"#);
    pairs(out, &alert.annotations);
    out.raw(r#","state":"#).string(alert.state.as_str());
    out.raw(r#","activeAt":"#).string(&go_time(Some(alert.active_at)));
    if let Some(since) = alert.keep_firing_since {
        out.raw(r#","keepFiringSince":"#).string(&go_time(Some(since)));
    }
    out.raw(r#","value":"#).string(&go_exp(alert.value));
    out.raw("}");
}

fn pairs(out: &mut Json, pairs: &[(String, String)]) {
    out.raw("{");
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.string(name).raw(":").string(value);
    }
    out.raw("}");
}

/// A time as Go's `time.Time` marshals to JSON (RFC 3339, fraction without trailing zeros, UTC); the zero time
/// for `None`.
fn go_time(t_ms: Option<i64>) -> String {
    let Some(t) = t_ms else { return "0001-01-01T00:00:00Z".to_owned() };
    let text = vigil_model::time::format_rfc3339(t);
    let (head, frac) = text.trim_end_matches('Z').split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{head}Z")
    } else {
        format!("{head}.{frac}Z")
    }
}

/// A float as Go's `encoding/json` writes it: shortest digits, exponent form below 1e-6 and from 1e21.
fn go_float(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // encoding/json shortens a two-digit negative exponent: `e-07` becomes `e-7`.
        return go_exp(v).replacen("e-0", "e-", 1);
    }
    format!("{v}")
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `4.25e+01`, `NaN`, `+Inf`.
fn go_exp(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = format!("{v:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = String::with_capacity(text.len() + 3);
    let _ = write!(out, "{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_as_go_writes_them() {
        assert_eq!(go_exp(1.0), "1e+00");
        assert_eq!(go_exp(42.5), "4.25e+01");
        assert_eq!(go_exp(-0.00125), "-1.25e-03");
        assert_eq!(go_exp(1e100), "1e+100");
        assert_eq!((go_exp(f64::NAN), go_exp(f64::NEG_INFINITY)), ("NaN".into(), "-Inf".into()));
        assert_eq!(go_float(60.0), "60");
        assert_eq!(go_float(0.0015), "0.0015");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_time(None), "0001-01-01T00:00:00Z");
        assert_eq!(go_time(Some(1_000)), "1970-01-01T00:00:01Z");
        assert_eq!(go_time(Some(1_120)), "1970-01-01T00:00:01.12Z");
    }
}
