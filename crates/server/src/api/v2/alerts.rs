//! `GET/POST /api/v2/alerts` and `GET /api/v2/alerts/groups`, with Alertmanager's filters (`filter`,
//! `receiver`, `active`, `silenced`, `inhibited`, `unprocessed`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_alerting::{Alert, Dispatcher, MatchOp, Matcher, Matchers, Timestamp};

use super::model::{AlertGroupJson, AlertStatusJson, GettableAlert, PostableAlertJson, ReceiverJson};
use super::{am_error, bad_request, blocking, json};
use crate::alertmanager::Alertmanager;
use crate::api::params::Params;

/// What `GET` asks for.
struct Filter {
    matchers: Matchers,
    receiver: Option<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Filter, String> {
        let params = Params::parse(query, None).map_err(|e| e.message)?;
        let mut matchers = Vec::new();
        for f in params.all("filter") {
            matchers.extend(Matchers::parse(f).map_err(|e| format!("bad matcher format: {}", e.0))?.0);
        }
        let receiver = params
            .get("receiver")
            .map(|r| {
                Matcher::new(MatchOp::Regex, "receiver", r)
                    .map_err(|e| format!("failed to parse receiver param: {}", e.0))
            })
            .transpose()?;
        let flag = |name: &str| match params.get(name) {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!("{name} in query must be of type boolean: {other:?}")),
        };
        Ok(Filter {
            matchers: Matchers(matchers),
            receiver,
            active: flag("active")?,
            silenced: flag("silenced")?,
            inhibited: flag("inhibited")?,
            unprocessed: flag("unprocessed")?,
        })
    }

    fn receiver_ok(&self, receivers: &[String]) -> bool {
        self.receiver.as_ref().is_none_or(|m| receivers.iter().any(|r| m.matches_value(r)))
    }

    /// The alert as shown, or `None` when filtered out.
    fn show(&self, d: &Dispatcher, a: &Alert, receivers: Vec<String>, now: Timestamp) -> Option<GettableAlert> {
        if !self.receiver_ok(&receivers) || !self.matchers.matches(&a.labels) || a.ends_at < now {
            return None;
        }
        let s = d.suppression(&a.labels, now);
        let status = AlertStatusJson::of(s);
        let keep = match status.state {
            "active" => self.active,
            "unprocessed" => self.unprocessed,
            _ => (self.silenced || status.silenced_by.is_empty()) && (self.inhibited || status.inhibited_by.is_empty()),
        };
        keep.then(|| GettableAlert::new(a, receivers, status))
    }
}

/// The receivers of the routes an alert matches.
fn receivers_of(d: &Dispatcher, a: &Alert) -> Vec<String> {
    let route = d.route();
    route.matches(&a.labels).into_iter().map(|id| route.node(id).opts.receiver.clone()).collect()
}

pub(super) async fn list(State(am): State<Arc<Alertmanager>>, RawQuery(query): RawQuery) -> Response {
    let filter = match Filter::parse(query.as_deref()) {
        Ok(f) => f,
        Err(m) => return bad_request(&m),
    };
    let now = Timestamp::now();
    let mut out: Vec<GettableAlert> =
        am.read(|d, _| d.alerts().iter().filter_map(|a| filter.show(d, a, receivers_of(d, a), now)).collect());
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    json(&out)
}

pub(super) async fn groups(State(am): State<Arc<Alertmanager>>, RawQuery(query): RawQuery) -> Response {
    let filter = match Filter::parse(query.as_deref()) {
        Ok(f) => f,
        Err(m) => return bad_request(&m),
    };
    let now = Timestamp::now();
    let out: Vec<AlertGroupJson> = am.read(|d, _| {
        d.groups()
            .into_iter()
            .filter_map(|g| {
                let receivers = vec![g.receiver.clone()];
                let alerts: Vec<GettableAlert> =
                    g.alerts.iter().filter_map(|a| filter.show(d, a, receivers.clone(), now)).collect();
                (!alerts.is_empty()).then_some(AlertGroupJson {
                    alerts,
                    labels: g.labels,
                    receiver: ReceiverJson { name: g.receiver },
                })
            })
            .collect()
    });
    json(&out)
}

pub(super) async fn post(State(am): State<Arc<Alertmanager>>, body: Bytes) -> Response {
    let parsed: Vec<PostableAlertJson> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("parsing alerts body failed: {e}")),
    };
    let mut alerts = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.into_iter().enumerate() {
        match p.into_postable() {
            Ok(a) => alerts.push(a),
            Err(m) => return bad_request(&format!("alert {i}: {m}")),
        }
    }
    match blocking(&am, move |am| am.post_alerts(alerts)).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => am_error(e),
        Err(r) => r,
    }
}
