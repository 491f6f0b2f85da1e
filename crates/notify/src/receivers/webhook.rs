//! `webhook_configs`: Alertmanager's webhook payload version 4, byte for byte, POSTed to `url`.

use vigil_alerting::config::WebhookConfig;
use vigil_alerting::Notification;

use super::{secret, SendContext};
use crate::error::{SendError, SetupError};
use crate::http::{HttpClient, Request};

#[derive(Debug)]
pub struct Webhook {
    config: WebhookConfig,
    http: HttpClient,
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Result<Webhook, SetupError> {
        Ok(Webhook { config: config.clone(), http: HttpClient::new(&config.http_config())? })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let url = secret(self.config.url.as_ref().map_or("", |u| u.expose()), &self.config.url_file)?;
        let req = Request {
            method: "POST",
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: vigil_alerting::webhook::render(n, self.config.max_alerts),
        };
        let timeout = self.config.timeout.map_or(ctx.timeout, |t| t.0);
        self.http.send(req, timeout).await?.check().map(drop)
    }
}
