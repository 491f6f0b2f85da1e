//! The JSON shapes of Alertmanager 0.25's API v2 (its OpenAPI models), field order as Alertmanager writes
//! them, times as go-openapi's `DateTime` (RFC 3339, milliseconds, UTC).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigil_alerting::{
    Alert, Fingerprint, MatchOp, Matcher, PostableAlert, PostableSilence, Silence, Suppression, Timestamp,
};

/// `2023-04-05T06:07:08.123Z`.
pub fn format_time(t: Timestamp) -> String {
    let ms = t.as_millis();
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = vigil_model::time::civil_from_days(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

fn parse_time(field: &str, text: &Option<String>) -> Result<Option<Timestamp>, String> {
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => Timestamp::parse_rfc3339(t).map_err(|e| format!("{field}: {e}")),
    }
}

#[derive(Serialize)]
pub struct ReceiverJson {
    pub name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatusJson {
    pub inhibited_by: Vec<String>,
    pub silenced_by: Vec<String>,
    pub state: &'static str,
}

impl AlertStatusJson {
    pub fn of(s: Suppression) -> AlertStatusJson {
        let state = if s.silenced_by.is_empty() && s.inhibited_by.is_empty() { "active" } else { "suppressed" };
        AlertStatusJson {
            inhibited_by: s.inhibited_by.iter().map(Fingerprint::to_string).collect(),
            silenced_by: s.silenced_by,
            state,
        }
    }
}

/// `gettableAlert`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub annotations: BTreeMap<String, String>,
    pub ends_at: String,
    pub fingerprint: String,
    pub receivers: Vec<ReceiverJson>,
    pub starts_at: String,
    pub status: AlertStatusJson,
    pub updated_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub labels: BTreeMap<String, String>,
}

impl GettableAlert {
    pub fn new(a: &Alert, receivers: Vec<String>, status: AlertStatusJson) -> GettableAlert {
        GettableAlert {
            annotations: a.annotations.clone(),
            ends_at: format_time(a.ends_at),
            fingerprint: a.fingerprint().to_string(),
            receivers: receivers.into_iter().map(|name| ReceiverJson { name }).collect(),
            starts_at: format_time(a.starts_at),
            status,
            updated_at: format_time(a.updated_at),
            generator_url: a.generator_url.clone(),
            labels: a.labels.clone(),
        }
    }
}

/// `alertGroup`.
#[derive(Serialize)]
pub struct AlertGroupJson {
    pub alerts: Vec<GettableAlert>,
    pub labels: BTreeMap<String, String>,
    pub receiver: ReceiverJson,
}

/// `postableAlert`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlertJson {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

impl PostableAlertJson {
    pub fn into_postable(self) -> Result<PostableAlert, String> {
        Ok(PostableAlert {
            starts_at: parse_time("startsAt", &self.starts_at)?,
            ends_at: parse_time("endsAt", &self.ends_at)?,
            labels: self.labels,
            annotations: self.annotations,
            generator_url: self.generator_url,
        })
    }
}

/// `matcher`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatcherJson {
    #[serde(default = "yes")]
    pub is_equal: bool,
    pub is_regex: bool,
    pub name: String,
    pub value: String,
}

fn yes() -> bool {
    true
}

impl MatcherJson {
    pub fn of(m: &Matcher) -> MatcherJson {
        let op = m.op();
        MatcherJson {
            is_equal: matches!(op, MatchOp::Equal | MatchOp::Regex),
            is_regex: matches!(op, MatchOp::Regex | MatchOp::NotRegex),
            name: m.name().to_owned(),
            value: m.value().to_owned(),
        }
    }

    pub fn to_matcher(&self) -> Result<Matcher, String> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, self.name.clone(), self.value.clone()).map_err(|e| e.0)
    }
}

#[derive(Serialize)]
pub struct SilenceStatusJson {
    pub state: &'static str,
}

/// `gettableSilence`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub status: SilenceStatusJson,
    pub updated_at: String,
    pub comment: String,
    pub created_by: String,
    pub ends_at: String,
    pub matchers: Vec<MatcherJson>,
    pub starts_at: String,
}

impl GettableSilence {
    pub fn new(s: &Silence, now: Timestamp) -> GettableSilence {
        GettableSilence {
            id: s.id.clone(),
            status: SilenceStatusJson { state: s.state(now).as_str() },
            updated_at: format_time(s.updated_at),
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
            ends_at: format_time(s.ends_at),
            matchers: s.matchers.iter().map(MatcherJson::of).collect(),
            starts_at: format_time(s.starts_at),
        }
    }
}

/// `postableSilence`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilenceJson {
    #[serde(default)]
    pub id: String,
    pub matchers: Vec<MatcherJson>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

impl PostableSilenceJson {
    pub fn into_postable(self) -> Result<PostableSilence, String> {
        let time = |field: &str, t: &str| -> Result<Timestamp, String> {
            Timestamp::parse_rfc3339(t)
                .map_err(|e| format!("{field}: {e}"))?
                .ok_or_else(|| format!("{field} in body is required"))
        };
        let matchers = self.matchers.iter().map(MatcherJson::to_matcher).collect::<Result<Vec<_>, _>>()?;
        Ok(PostableSilence {
            id: self.id,
            matchers,
            starts_at: time("startsAt", &self.starts_at)?,
            ends_at: time("endsAt", &self.ends_at)?,
            created_by: self.created_by,
            comment: self.comment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_with_milliseconds() {
        assert_eq!(format_time(Timestamp::from_nanos(1_680_674_828_123_456_789)), "2023-04-05T06:07:08.123Z");
        assert_eq!(format_time(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
