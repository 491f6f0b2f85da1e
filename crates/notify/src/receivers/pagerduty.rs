//! `pagerduty_configs`: an Events API v2 event (`POST https://events.pagerduty.com/v2/enqueue`): `trigger`
//! while any alert fires, `resolve` once all are resolved, deduplicated by the SHA-256 of the group key, with
//! the summary cut to PagerDuty's 1024 characters.

use serde_json::{json, Map, Value};
use vigil_alerting::config::PagerdutyConfig;
use vigil_alerting::{AlertStatus, Notification};

use super::{group_key_hash, put, secret, Render, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};
use crate::truncate::truncate_chars;

pub const MAX_SUMMARY_CHARS: usize = 1024;

#[derive(Debug)]
pub struct Pagerduty {
    config: PagerdutyConfig,
    http: HttpClient,
}

impl Pagerduty {
    pub fn new(config: &PagerdutyConfig) -> Result<Pagerduty, SetupError> {
        let http = config.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default();
        Ok(Pagerduty { config: config.clone(), http: HttpClient::new(&http)? })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let c = &self.config;
        if c.routing_key.is_empty() && c.routing_key_file.is_empty() {
            return Err(SendError::permanent("PagerDuty Events API v1 (service_key) is not supported yet"));
        }
        let routing_key = secret(c.routing_key.expose(), &c.routing_key_file)?;
        let body = self.event(n, &Render::new(n, ctx.templates), &routing_key)?;
        let url = c.url.as_ref().map_or(vigil_alerting::config::DEFAULT_PAGERDUTY_URL, |u| u.as_str());
        self.http.send(Request::post_json(url, &body), ctx.timeout).await?.check().map(drop)
    }

    fn event(&self, n: &Notification, r: &Render<'_>, routing_key: &str) -> Result<Value, SendError> {
        let c = &self.config;
        let firing = n.status() == AlertStatus::Firing;
        let mut event = Map::new();
        event.insert("routing_key".into(), routing_key.into());
        event.insert("event_action".into(), (if firing { "trigger" } else { "resolve" }).into());
        event.insert("dedup_key".into(), group_key_hash(&n.group_key).into());
        put(&mut event, "client", &r.text("client", &c.client)?);
        put(&mut event, "client_url", &r.text("client_url", &c.client_url)?);
        let mut images = Vec::new();
        for i in &c.images {
            let mut o = Map::new();
            put(&mut o, "src", &r.text("images.src", &i.src)?);
            put(&mut o, "alt", &r.text("images.alt", &i.alt)?);
            put(&mut o, "href", &r.text("images.href", &i.href)?);
            images.push(Value::Object(o));
        }
        let mut links = Vec::new();
        for l in &c.links {
            links.push(json!({ "href": r.text("links.href", &l.href)?, "text": r.text("links.text", &l.text)? }));
        }
        if !images.is_empty() {
            event.insert("images".into(), Value::Array(images));
        }
        if !links.is_empty() {
            event.insert("links".into(), Value::Array(links));
        }
        if firing {
            let mut details = Map::new();
            for (k, v) in &c.details {
                details.insert(k.clone(), r.text(&format!("details.{k}"), v)?.into());
            }
            let severity = r.text("severity", &c.severity)?;
            let mut payload = Map::new();
            payload.insert(
                "summary".into(),
                truncate_chars(&r.text("description", &c.description)?, MAX_SUMMARY_CHARS).0.into(),
            );
            payload.insert("source".into(), r.text("source", &c.source)?.into());
            payload.insert("severity".into(), (if severity.is_empty() { "error".into() } else { severity }).into());
            put(&mut payload, "class", &r.text("class", &c.class)?);
            put(&mut payload, "component", &r.text("component", &c.component)?);
            put(&mut payload, "group", &r.text("group", &c.group)?);
            payload.insert("custom_details".into(), Value::Object(details));
            event.insert("payload".into(), Value::Object(payload));
        }
        Ok(Value::Object(event))
    }
}
