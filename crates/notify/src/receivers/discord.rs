//! `discord_configs`: a Discord webhook execution (`POST /api/webhooks/{id}/{token}`) with one embed whose
//! colour says firing or resolved, cut to Discord's limits (title 256, description 4096, content 2000).

use serde_json::{json, Map, Value};
use vigil_alerting::config::DiscordConfig;
use vigil_alerting::{AlertStatus, Notification};

use super::{put, secret, Render, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};
use crate::truncate::truncate_chars;

pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
pub const MAX_CONTENT_CHARS: usize = 2000;
pub const COLOR_FIRING: u32 = 0xD3_2F2F;
pub const COLOR_RESOLVED: u32 = 0x2E_7D32;

#[derive(Debug)]
pub struct Discord {
    config: DiscordConfig,
    http: HttpClient,
}

impl Discord {
    pub fn new(config: &DiscordConfig) -> Result<Discord, SetupError> {
        let http = config.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default();
        Ok(Discord { config: config.clone(), http: HttpClient::new(&http)? })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let r = Render::new(n, ctx.templates);
        let c = &self.config;
        let title = truncate_chars(&r.text("title", &c.title)?, MAX_TITLE_CHARS).0;
        let description = truncate_chars(&r.text("message", &c.message)?, MAX_DESCRIPTION_CHARS).0;
        let content = truncate_chars(&r.text("content", &c.content)?, MAX_CONTENT_CHARS).0;
        let color = if n.status() == AlertStatus::Firing { COLOR_FIRING } else { COLOR_RESOLVED };
        let mut body = Map::new();
        put(&mut body, "content", &content);
        put(&mut body, "username", &c.username);
        put(&mut body, "avatar_url", &c.avatar_url);
        body.insert("embeds".into(), json!([{ "title": title, "description": description, "color": color }]));
        let url = secret(c.webhook_url.as_ref().map_or("", |u| u.expose()), &c.webhook_url_file)?;
        let req = Request::post_json(&url, &Value::Object(body));
        self.http.send(req, ctx.timeout).await?.check().map(drop)
    }
}
