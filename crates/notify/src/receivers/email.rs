//! `email_configs`: one message over SMTP (lettre): `From`, `To`, the templated `Subject` and headers, an
//! HTML part and, when `text` is set, a plain-text alternative. STARTTLS is required when `require_tls` is
//! (Alertmanager's default); port 465 speaks TLS from the first byte.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vigil_alerting::config::EmailConfig;
use vigil_alerting::Notification;

use super::{secret, Render, SendContext};
use crate::error::{SendError, SetupError};

#[derive(Debug)]
pub struct Email {
    config: EmailConfig,
    host: String,
    port: u16,
}

impl Email {
    pub fn new(config: &EmailConfig) -> Result<Email, SetupError> {
        let (host, port) = split_host_port(&config.smarthost)
            .ok_or_else(|| SetupError::Tls(format!("email_configs: bad smarthost {:?}", config.smarthost)))?;
        Ok(Email { config: config.clone(), host, port })
    }

    pub async fn send(&self, n: &Notification, ctx: SendContext<'_>) -> Result<(), SendError> {
        let message = self.message(&Render::new(n, ctx.templates))?;
        let transport = self.transport(ctx.timeout)?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("smtp: {e}"))),
            Err(e) => Err(SendError::retryable(format!("smtp: {e}"))),
        }
    }

    fn message(&self, r: &Render<'_>) -> Result<Message, SendError> {
        let c = &self.config;
        let bad = |what: &str, e: &dyn std::fmt::Display| SendError::permanent(format!("{what}: {e}"));
        let from: Mailbox = r.text("from", &c.from)?.parse().map_err(|e| bad("parsing from address", &e))?;
        let to: Mailboxes = r.text("to", &c.to)?.parse().map_err(|e| bad("parsing to addresses", &e))?;
        let mut b = Message::builder().from(from).subject(r.text("subject", c.subject())?);
        for mbox in to {
            b = b.to(mbox);
        }
        for (name, value) in &c.headers {
            if ["Subject", "To", "From"].contains(&name.as_str()) {
                continue;
            }
            let value = r.text(&format!("headers.{name}"), value)?;
            let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| bad("header name", &e))?;
            b = b.raw_header(HeaderValue::new(name, value));
        }
        let html = r.text("html", &c.html)?;
        let text = r.text("text", &c.text)?;
        let built = match (text.is_empty(), html.is_empty()) {
            (false, false) => b.multipart(MultiPart::alternative_plain_html(text, html)),
            (true, false) => b.singlepart(SinglePart::html(html)),
            _ => b.singlepart(SinglePart::plain(text)),
        };
        built.map_err(|e| bad("building message", &e))
    }

    fn transport(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let c = &self.config;
        let t = c.tls_config.clone().unwrap_or_default();
        let tls_params = || -> Result<TlsParameters, SendError> {
            let bad = |e: &dyn std::fmt::Display| SendError::permanent(format!("tls_config: {e}"));
            let domain = if t.server_name.is_empty() { self.host.clone() } else { t.server_name.clone() };
            let mut p = TlsParameters::builder(domain).dangerous_accept_invalid_certs(t.insecure_skip_verify);
            let ca = if t.ca_file.is_empty() {
                t.ca.clone()
            } else {
                std::fs::read_to_string(&t.ca_file).map_err(|e| bad(&e))?
            };
            if !ca.is_empty() {
                p = p
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(Certificate::from_pem(ca.as_bytes()).map_err(|e| bad(&e))?);
            }
            p.build_rustls().map_err(|e| bad(&e))
        };
        let tls = if self.port == 465 {
            Tls::Wrapper(tls_params()?)
        } else if c.require_tls.unwrap_or(true) {
            Tls::Required(tls_params()?)
        } else {
            Tls::None
        };
        let hello = if c.hello.is_empty() { "localhost" } else { c.hello.as_str() };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(ClientId::Domain(hello.to_owned()));
        if !c.auth_username.is_empty() {
            let password = secret(c.auth_password.expose(), &c.auth_password_file)?;
            b = b.credentials(Credentials::new(c.auth_username.clone(), password));
        }
        Ok(b.build())
    }
}

fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}
