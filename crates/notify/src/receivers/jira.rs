//! `jira_configs`: one Jira issue per alert group through the REST API v2 (Jira Server/Data Center, and
//! Cloud's v2 endpoints). The issue carries the label `ALERT{sha256 of the group key}`, by which a JQL search
//! (`POST /rest/api/2/search`) finds it again: a firing group without an open issue creates one
//! (`POST /rest/api/2/issue`), or reopens its resolved one with `reopen_transition` (unless it was resolved
//! as `wont_fix_resolution`); while it keeps firing each notification is a comment; once resolved the issue
//! takes `resolve_transition`. Searching before writing, on a queue that sends one notification at a time,
//! is what keeps a group to one ticket.

use serde_json::{json, Value};
use vigil_alerting::config::JiraConfig;
use vigil_alerting::{AlertStatus, Notification};

use super::{group_key_hash, Render, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};
use crate::truncate::truncate_chars;

pub const MAX_SUMMARY_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 32_767;

#[derive(Debug)]
pub struct Jira {
    config: JiraConfig,
    http: HttpClient,
}

/// An issue the search found.
#[derive(Debug)]
struct Found {
    key: String,
    done: bool,
    resolution: String,
}

impl Jira {
    pub fn new(config: &JiraConfig) -> Result<Jira, SetupError> {
        let http = config.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default();
        Ok(Jira { config: config.clone(), http: HttpClient::new(&http)? })
    }

    fn url(&self, path: &str) -> String {
        let base = self.config.api_url.as_ref().map_or("", |u| u.as_str()).trim_end_matches('/');
        format!("{base}{path}")
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let r = Render::new(n, ctx.templates);
        let label = format!("ALERT{{{}}}", group_key_hash(&n.group_key));
        let issues = self.search(&label, ctx).await?;
        let open = issues.iter().find(|i| !i.done);
        let description = truncate_chars(&r.text("description", &self.config.description)?, MAX_DESCRIPTION_CHARS).0;
        if n.status() == AlertStatus::Resolved {
            let Some(issue) = open else { return Ok(()) };
            self.comment(&issue.key, &description, ctx).await?;
            if !self.config.resolve_transition.is_empty() {
                self.transition(&issue.key, &self.config.resolve_transition, ctx).await?;
            }
            return Ok(());
        }
        if let Some(issue) = open {
            return self.comment(&issue.key, &description, ctx).await;
        }
        let reopenable = issues.first().filter(|i| {
            !self.config.reopen_transition.is_empty()
                && (self.config.wont_fix_resolution.is_empty() || i.resolution != self.config.wont_fix_resolution)
        });
        if let Some(issue) = reopenable {
            self.transition(&issue.key, &self.config.reopen_transition, ctx).await?;
            return self.comment(&issue.key, &description, ctx).await;
        }
        self.create(&r, &label, description, ctx).await
    }

    /// The group's issues, most recently resolved first and open ones before them.
    async fn search(&self, label: &str, ctx: SendContext<'_>) -> Result<Vec<Found>, SendError> {
        let jql = format!(
            "project = {} and labels = {} order by status asc, resolutiondate desc",
            jql_quote(&self.config.project),
            jql_quote(label)
        );
        let body = json!({ "jql": jql, "maxResults": 10, "fields": ["status", "resolution"] });
        let resp = self.http.send(Request::post_json(&self.url("/rest/api/2/search"), &body), ctx.timeout).await?;
        let v: Value = serde_json::from_slice(&resp.check()?.body)
            .map_err(|e| SendError::permanent(format!("jira search: bad JSON: {e}")))?;
        let issues = v.get("issues").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(issues
            .iter()
            .filter_map(|i| {
                let key = i.get("key")?.as_str()?.to_owned();
                let category = i.pointer("/fields/status/statusCategory/key").and_then(Value::as_str);
                let resolution = i.pointer("/fields/resolution/name").and_then(Value::as_str).unwrap_or("");
                Some(Found { key, done: category == Some("done"), resolution: resolution.to_owned() })
            })
            .collect())
    }

    async fn create(
        &self,
        r: &Render<'_>,
        label: &str,
        description: String,
        ctx: SendContext<'_>,
    ) -> Result<(), SendError> {
        let c = &self.config;
        let mut labels = vec![label.to_owned()];
        for l in &c.labels {
            let l = r.text("labels", l)?;
            if !l.is_empty() {
                labels.push(l);
            }
        }
        let summary = truncate_chars(&r.text("summary", &c.summary)?, MAX_SUMMARY_CHARS).0;
        let mut fields = json!({
            "project": { "key": c.project },
            "issuetype": { "name": r.text("issue_type", &c.issue_type)? },
            "summary": summary,
            "description": description,
            "labels": labels,
        });
        let priority = r.text("priority", &c.priority)?;
        if !priority.is_empty() {
            fields["priority"] = json!({ "name": priority });
        }
        let req = Request::post_json(&self.url("/rest/api/2/issue"), &json!({ "fields": fields }));
        self.http.send(req, ctx.timeout).await?.check().map(drop)
    }

    async fn comment(&self, key: &str, body: &str, ctx: SendContext<'_>) -> Result<(), SendError> {
        let req = Request::post_json(&self.url(&format!("/rest/api/2/issue/{key}/comment")), &json!({ "body": body }));
        self.http.send(req, ctx.timeout).await?.check().map(drop)
    }

    /// Applies the transition called `name` (case-insensitively), as listed for the issue.
    async fn transition(&self, key: &str, name: &str, ctx: SendContext<'_>) -> Result<(), SendError> {
        let url = self.url(&format!("/rest/api/2/issue/{key}/transitions"));
        let resp = self.http.send(Request::get(&url), ctx.timeout).await?.check()?;
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| SendError::permanent(format!("jira transitions: bad JSON: {e}")))?;
        let id = v
            .get("transitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|t| t.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|t| t.get("id").and_then(Value::as_str))
            .ok_or_else(|| SendError::permanent(format!("jira: issue {key} has no transition {name:?}")))?;
        let req = Request::post_json(&url, &json!({ "transition": { "id": id } }));
        self.http.send(req, ctx.timeout).await?.check().map(drop)
    }
}

/// A JQL string literal.
fn jql_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
