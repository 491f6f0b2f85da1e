//! `telegram_configs`: the Bot API's `sendMessage` (`POST {api_url}/bot{token}/sendMessage`), the text cut to
//! Telegram's 4096 characters; a 429's `parameters.retry_after` is honoured like `Retry-After`.

use std::time::Duration;

use serde_json::{Map, Value};
use vigil_alerting::config::TelegramConfig;
use vigil_alerting::Notification;

use super::{secret, Render, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};
use crate::truncate::truncate_chars;

pub const MAX_MESSAGE_CHARS: usize = 4096;

#[derive(Debug)]
pub struct Telegram {
    config: TelegramConfig,
    http: HttpClient,
}

impl Telegram {
    pub fn new(config: &TelegramConfig) -> Result<Telegram, SetupError> {
        let http = config.http_config.as_ref().map(|h| h.value.clone()).unwrap_or_default();
        Ok(Telegram { config: config.clone(), http: HttpClient::new(&http)? })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let c = &self.config;
        let text = Render::new(n, ctx.templates).text("message", &c.message)?;
        let text = truncate_chars(&text, MAX_MESSAGE_CHARS).0;
        let mut body = Map::new();
        body.insert("chat_id".into(), c.chat_id.into());
        if c.message_thread_id != 0 {
            body.insert("message_thread_id".into(), c.message_thread_id.into());
        }
        body.insert("text".into(), text.into());
        if !c.parse_mode.is_empty() {
            body.insert("parse_mode".into(), c.parse_mode.as_str().into());
        }
        body.insert("disable_notification".into(), c.disable_notifications.into());
        let token = secret(c.bot_token.expose(), &c.bot_token_file)?;
        let base = c.api_url.as_ref().map_or(vigil_alerting::config::DEFAULT_TELEGRAM_API_URL, |u| u.as_str());
        let url = format!("{}/bot{token}/sendMessage", base.trim_end_matches('/'));
        let resp = self.http.send(Request::post_json(&url, &Value::Object(body)), ctx.timeout).await?;
        let body_retry = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v.pointer("/parameters/retry_after").and_then(Value::as_u64))
            .map(Duration::from_secs);
        match resp.check() {
            Err(SendError::Retryable { message, retry_after: None }) if body_retry.is_some() => {
                Err(SendError::Retryable { message, retry_after: body_retry })
            }
            // The token is in the URL: errors never repeat it.
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        }
    }
}
