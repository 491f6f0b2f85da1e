//! One Loki push per call: a snappy protobuf body POSTed over a kept-alive HTTP/1.1 connection, plain or TLS
//! (vigil-tls), with the configured `Authorization` (secret files read at each push), a deadline and a capped
//! read of the answer. Runs on the sender thread's own single-threaded runtime: the caller blocks.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use vigil_proto::loki::CONTENT_TYPE_PROTOBUF;
use vigil_tls::Connector;

use super::metrics::FailReason;
use super::settings::{PushAuth, PushSettings};

const USER_AGENT_HEADER: &str = concat!("vigil-agent/", env!("CARGO_PKG_VERSION"));
/// Bytes of a response body kept (for the log line of a refused push); the rest is not read.
const MAX_ANSWER_BYTES: usize = 4096;
/// A `Retry-After` longer than this is not waited for in full.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What became of a push.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// A 2xx: the receiver stored the batch.
    Stored,
    /// Worth trying again: no connection, a timeout, a 5xx or a 429.
    Retry { reason: FailReason, retry_after: Option<Duration>, detail: String },
    /// Any other status: the receiver will refuse this batch whatever the number of tries.
    Rejected { status: u16, answer: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("push_url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("push_url {url:?}: tls: {source}")]
    Tls { url: String, source: vigil_tls::TlsError },
    #[error("cannot start the sender's runtime: {0}")]
    Runtime(std::io::Error),
}

/// A push client for one URL.
pub(crate) struct PushClient {
    rt: tokio::runtime::Runtime,
    conn: Conn,
}

/// The target and its kept-alive connection.
struct Conn {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
    tls: Connector,
    auth: Option<PushAuth>,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl PushClient {
    pub fn new(s: &PushSettings) -> Result<PushClient, ClientError> {
        let bad = |reason: &str| ClientError::Url { url: s.url.clone(), reason: reason.to_owned() };
        let uri: Uri = s.url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad("not an http or https URL")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let tls = Connector::new(s.tls.clone()).map_err(|source| ClientError::Tls { url: s.url.clone(), source })?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ClientError::Runtime)?;
        let conn = Conn {
            https,
            host,
            port,
            authority: authority.as_str().rsplit_once('@').map_or(authority.as_str(), |(_, h)| h).to_owned(),
            path,
            tls,
            auth: s.auth.clone(),
            conn: None,
        };
        Ok(PushClient { rt, conn })
    }

    /// POSTs `body` (an encoded push) and waits at most `timeout` for the answer.
    pub fn push(&mut self, body: Bytes, timeout: Duration) -> Outcome {
        let conn = &mut self.conn;
        let outcome = self.rt.block_on(async {
            match tokio::time::timeout(timeout, conn.push_within(body)).await {
                Ok(o) => o,
                Err(_) => Outcome::Retry {
                    reason: FailReason::Timeout,
                    retry_after: None,
                    detail: format!("no answer within {timeout:?}"),
                },
            }
        });
        if !matches!(outcome, Outcome::Stored) {
            // The connection may hold half an answer.
            conn.conn = None;
        }
        outcome
    }
}

impl Conn {
    async fn push_within(&mut self, body: Bytes) -> Outcome {
        let reused = self.conn.as_ref().is_some_and(|c| !c.is_closed());
        if reused {
            match self.attempt(body.clone()).await {
                // A kept-alive connection the receiver closed meanwhile: once more on a new one.
                Err(e) if e.is_canceled() || e.is_incomplete_message() || e.is_closed() => self.conn = None,
                Err(e) => return http_failure(&e),
                Ok(o) => return o,
            }
        }
        match self.attempt(body).await {
            Ok(o) => o,
            Err(e) => http_failure(&e),
        }
    }

    async fn attempt(&mut self, body: Bytes) -> Result<Outcome, hyper::Error> {
        let mut conn = match self.conn.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => c,
                Err(o) => return Ok(o),
            },
        };
        conn.ready().await?;
        let mut req = Request::post(self.path.as_str())
            .header(HOST, self.authority.as_str())
            .header(CONTENT_TYPE, CONTENT_TYPE_PROTOBUF)
            .header(USER_AGENT, USER_AGENT_HEADER);
        if let Some(auth) = &self.auth {
            match auth_header(auth) {
                Ok(v) => req = req.header(AUTHORIZATION, v),
                Err(detail) => return Ok(Outcome::Retry { reason: FailReason::Auth, retry_after: None, detail }),
            }
        }
        let req = match req.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::Rejected { status: 0, answer: format!("invalid request: {e}") }),
        };
        let response = conn.send_request(req).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let (answer, whole) = read_capped(response.into_body()).await?;
        if whole {
            self.conn = Some(conn);
        }
        let code = status.as_u16();
        Ok(match code {
            200..=299 => Outcome::Stored,
            429 => Outcome::Retry { reason: FailReason::Status429, retry_after, detail: status_text(code, &answer) },
            500..=599 => {
                Outcome::Retry { reason: FailReason::Status5xx, retry_after, detail: status_text(code, &answer) }
            }
            _ => Outcome::Rejected { status: code, answer },
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Outcome> {
        let stream = if self.https {
            self.tls.connect_tls(&self.host, self.port).await
        } else {
            vigil_tls::connect_plain(&self.host, self.port).await
        };
        let stream = stream.map_err(|e| Outcome::Retry {
            reason: FailReason::Connect,
            retry_after: None,
            detail: format!("connect to {}:{}: {e}", self.host, self.port),
        })?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| http_failure(&e))?;
        // Drives the connection while this runtime runs; ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

fn http_failure(e: &hyper::Error) -> Outcome {
    let detail = vigil_tls::error_text(e).unwrap_or_else(|| e.to_string());
    Outcome::Retry { reason: FailReason::Http, retry_after: None, detail }
}

fn status_text(code: u16, answer: &str) -> String {
    format!("status {code}: {}", answer.trim())
}

/// The first [`MAX_ANSWER_BYTES`] of a body, and whether that was all of it.
async fn read_capped(mut body: hyper::body::Incoming) -> Result<(String, bool), hyper::Error> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = MAX_ANSWER_BYTES.saturating_sub(buf.len());
            buf.extend_from_slice(&data[..data.len().min(room)]);
            if data.len() > room {
                return Ok((String::from_utf8_lossy(&buf).into_owned(), false));
            }
        }
    }
    Ok((String::from_utf8_lossy(&buf).into_owned(), true))
}

fn auth_header(auth: &PushAuth) -> Result<String, String> {
    match auth {
        PushAuth::BearerFile(path) => vigil_tls::read_secret_file(path)
            .map(|t| format!("Bearer {}", t.trim()))
            .map_err(|e| format!("unable to read bearer_token_file {}: {e}", path.display())),
        PushAuth::Basic { username, password, password_file } => {
            let password = if password_file.is_empty() {
                password.clone()
            } else {
                vigil_tls::read_secret_file(std::path::Path::new(password_file))
                    .map_err(|e| format!("unable to read basic auth password file {password_file}: {e}"))?
            };
            Ok(vigil_tls::basic_auth(username, &password))
        }
    }
}
