//! `slack_configs`: an incoming-webhook (or `chat.postMessage`) message with one attachment, as Alertmanager
//! builds it: channel, username, icons, and the attachment's title (cut to 1024 characters), link, pretext,
//! text, fallback, colour, fields and actions, every one of them a template. vigil's own `blocks` are added as
//! the message's top-level Block Kit blocks, every string in them a template and section and header texts cut
//! to Slack's limits.

use serde_json::{json, Map, Value};
use vigil_alerting::config::SlackConfig;
use vigil_alerting::Notification;

use super::{put, secret, Render, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};
use crate::truncate::truncate_chars;

/// Alertmanager's limit on the attachment title.
pub const MAX_TITLE_CHARS: usize = 1024;
/// Slack's limit on the text of a `section` block.
pub const MAX_SECTION_TEXT_CHARS: usize = 3000;
/// Slack's limit on the text of a `header` block.
pub const MAX_HEADER_TEXT_CHARS: usize = 150;

#[derive(Debug)]
pub struct Slack {
    config: SlackConfig,
    http: HttpClient,
}

impl Slack {
    pub fn new(config: &SlackConfig) -> Result<Slack, SetupError> {
        let http = config.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default();
        Ok(Slack { config: config.clone(), http: HttpClient::new(&http)? })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let body = self.payload(&Render::new(n, ctx.templates))?;
        let url = secret(self.config.api_url.as_ref().map_or("", |u| u.expose()), &self.config.api_url_file)?;
        let resp = self.http.send(Request::post_json(&url, &body), ctx.timeout).await?.check()?;
        // `chat.postMessage` answers 200 with `"ok": false` on errors; incoming webhooks answer `ok`.
        if let Ok(v) = serde_json::from_slice::<Value>(&resp.body) {
            if v.get("ok") == Some(&Value::Bool(false)) {
                let error = v.get("error").and_then(Value::as_str).unwrap_or("unknown");
                return Err(SendError::permanent(format!("slack response error: {error}")));
            }
        }
        Ok(())
    }

    fn payload(&self, r: &Render<'_>) -> Result<Value, SendError> {
        let c = &self.config;
        let mut att = Map::new();
        put(&mut att, "title", &truncate_chars(&r.text("title", &c.title)?, MAX_TITLE_CHARS).0);
        put(&mut att, "title_link", &r.text("title_link", &c.title_link)?);
        put(&mut att, "pretext", &r.text("pretext", &c.pretext)?);
        put(&mut att, "text", &r.text("text", &c.text)?);
        put(&mut att, "fallback", &r.text("fallback", &c.fallback)?);
        put(&mut att, "callback_id", &r.text("callback_id", &c.callback_id)?);
        put(&mut att, "image_url", &r.text("image_url", &c.image_url)?);
        put(&mut att, "thumb_url", &r.text("thumb_url", &c.thumb_url)?);
        put(&mut att, "footer", &r.text("footer", &c.footer)?);
        put(&mut att, "color", &r.text("color", &c.color)?);
        let mrkdwn: Vec<&str> = if c.mrkdwn_in.is_empty() {
            vec!["fallback", "pretext", "text"]
        } else {
            c.mrkdwn_in.iter().map(String::as_str).collect()
        };
        att.insert("mrkdwn_in".into(), json!(mrkdwn));
        if !c.fields.is_empty() {
            let mut fields = Vec::new();
            for f in &c.fields {
                fields.push(json!({
                    "title": r.text("fields.title", &f.title)?,
                    "value": r.text("fields.value", &f.value)?,
                    "short": f.short.unwrap_or(c.short_fields),
                }));
            }
            att.insert("fields".into(), Value::Array(fields));
        }
        if !c.actions.is_empty() {
            let mut actions = Vec::new();
            for a in &c.actions {
                let mut o = Map::new();
                put(&mut o, "type", &r.text("actions.type", &a.kind)?);
                put(&mut o, "text", &r.text("actions.text", &a.text)?);
                put(&mut o, "url", &r.text("actions.url", &a.url)?);
                put(&mut o, "style", &r.text("actions.style", &a.style)?);
                put(&mut o, "name", &r.text("actions.name", &a.name)?);
                put(&mut o, "value", &r.text("actions.value", &a.value)?);
                if let Some(cf) = &a.confirm {
                    let mut co = Map::new();
                    put(&mut co, "text", &r.text("actions.confirm.text", &cf.text)?);
                    put(&mut co, "title", &r.text("actions.confirm.title", &cf.title)?);
                    put(&mut co, "ok_text", &r.text("actions.confirm.ok_text", &cf.ok_text)?);
                    put(&mut co, "dismiss_text", &r.text("actions.confirm.dismiss_text", &cf.dismiss_text)?);
                    o.insert("confirm".into(), Value::Object(co));
                }
                actions.push(Value::Object(o));
            }
            att.insert("actions".into(), Value::Array(actions));
        }
        let mut body = Map::new();
        put(&mut body, "channel", &r.text("channel", &c.channel)?);
        put(&mut body, "username", &r.text("username", &c.username)?);
        put(&mut body, "icon_emoji", &r.text("icon_emoji", &c.icon_emoji)?);
        put(&mut body, "icon_url", &r.text("icon_url", &c.icon_url)?);
        if c.link_names {
            body.insert("link_names".into(), true.into());
        }
        body.insert("attachments".into(), json!([Value::Object(att)]));
        if let Some(blocks) = c.blocks.as_ref().filter(|b| !b.value.is_empty()) {
            let blocks = blocks.value.iter().map(|b| block(r, &b.value)).collect::<Result<_, _>>()?;
            body.insert("blocks".into(), Value::Array(blocks));
        }
        Ok(Value::Object(body))
    }
}

/// One configured block with its strings executed and its text cut to the limit of its type.
fn block(r: &Render<'_>, b: &Value) -> Result<Value, SendError> {
    let mut b = expand(r, b)?;
    let max = match b.get("type").and_then(Value::as_str) {
        Some("section") => MAX_SECTION_TEXT_CHARS,
        Some("header") => MAX_HEADER_TEXT_CHARS,
        _ => return Ok(b),
    };
    // `text` is a text object; a bare string is cut the same way.
    let text = match b.get_mut("text") {
        Some(Value::Object(o)) => o.get_mut("text"),
        t => t,
    };
    if let Some(Value::String(t)) = text {
        *t = truncate_chars(t, max).0;
    }
    Ok(b)
}

/// `v` with every string in it executed as a template.
fn expand(r: &Render<'_>, v: &Value) -> Result<Value, SendError> {
    Ok(match v {
        Value::String(s) => Value::String(r.text("blocks", s)?),
        Value::Array(a) => Value::Array(a.iter().map(|v| expand(r, v)).collect::<Result<_, _>>()?),
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                out.insert(k.clone(), expand(r, v)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}
