//! The HTTP client receivers send with: one HTTP/1.1 request per call over plain TCP or rustls, `http_config`'s
//! basic auth or `Authorization` header (secrets read at each request, as Alertmanager does), a deadline on the
//! whole exchange, and a capped response body.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use vigil_alerting::config::types::resolve_secret;
use vigil_alerting::config::{HttpConfig, TlsConfig};
use vigil_tls::{ConnectError, Connector, Pem, TlsSettings};

use crate::error::{SendError, SetupError};

/// The most response body kept; the rest is dropped unread.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One request to send.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A `POST` of a JSON body.
    pub fn post_json(url: &str, body: &serde_json::Value) -> Request {
        Request {
            method: "POST",
            url: url.to_owned(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).expect("JSON values serialize"),
        }
    }

    pub fn get(url: &str) -> Request {
        Request { method: "GET", url: url.to_owned(), headers: Vec::new(), body: Vec::new() }
    }
}

/// What the server answered.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// At most [`MAX_RESPONSE_BYTES`] unless the client was built to read more.
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text, shortened for an error message.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        crate::truncate::truncate_chars(text.trim(), 512).0
    }

    /// Success for 2xx; otherwise the error Alertmanager's `RetryStatusCode` rules give: 5xx and 429 retry
    /// (429 with its `Retry-After`), other statuses do not.
    pub fn check(self) -> Result<Response, SendError> {
        let message = || format!("unexpected status code {}: {}", self.status, self.body_excerpt());
        match self.status {
            200..=299 => Ok(self),
            429 => Err(SendError::Retryable {
                message: message(),
                retry_after: self.header("Retry-After").and_then(parse_retry_after),
            }),
            500..=599 => Err(SendError::retryable(message())),
            _ => Err(SendError::permanent(message())),
        }
    }
}

/// `Retry-After` as delay seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A client for one integration: its auth and its TLS settings.
#[derive(Clone)]
pub struct HttpClient {
    config: HttpConfig,
    tls: Arc<Connector>,
    body_limit: BodyLimit,
}

/// What happens to a response body longer than the limit.
#[derive(Clone, Copy, Debug)]
enum BodyLimit {
    /// Kept up to the limit (receivers only show it in errors).
    Truncate(usize),
    /// Refused with an error (callers that parse it).
    Refuse(usize),
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Result<HttpClient, SetupError> {
        if config.proxy_url.is_some() {
            return Err(SetupError::Tls("http_config: proxy_url is not supported yet".into()));
        }
        Ok(HttpClient {
            config: config.clone(),
            tls: Arc::new(
                Connector::new(tls_settings(&config.tls_config)).map_err(|e| SetupError::Tls(e.to_string()))?,
            ),
            body_limit: BodyLimit::Truncate(MAX_RESPONSE_BYTES),
        })
    }

    /// Reads response bodies of up to `max` bytes, and fails on a longer one instead of cutting it short (for
    /// callers that parse the answer).
    pub fn refusing_bodies_over(mut self, max: usize) -> HttpClient {
        self.body_limit = BodyLimit::Refuse(max);
        self
    }

    /// Sends `req` and reads the answer, all within `timeout`.
    pub async fn send(&self, mut req: Request, timeout: Duration) -> Result<Response, SendError> {
        self.authorize(&mut req)?;
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::retryable(format!("request timed out after {timeout:?}"))),
        }
    }

    fn authorize(&self, req: &mut Request) -> Result<(), SendError> {
        let secret = |inline: &str, file: &str| resolve_secret(inline, file).map_err(SendError::permanent);
        if let Some(b) = &self.config.basic_auth {
            let user = secret(&b.username, &b.username_file)?;
            let password = secret(b.password.expose(), &b.password_file)?;
            req.headers.push(("Authorization".into(), vigil_tls::basic_auth(&user, &password)));
        } else if let Some(a) = &self.config.authorization {
            let credentials = secret(a.credentials.expose(), &a.credentials_file)?;
            let kind = if a.kind.is_empty() { "Bearer" } else { a.kind.as_str() };
            req.headers.push(("Authorization".into(), format!("{kind} {credentials}")));
        }
        Ok(())
    }

    async fn exchange(&self, req: Request) -> Result<Response, SendError> {
        let url = ParsedUrl::parse(&req.url).map_err(SendError::permanent)?;
        let stream = if url.https {
            self.tls.connect_tls(&url.host, url.port).await
        } else {
            vigil_tls::connect_plain(&url.host, url.port).await
        };
        let stream = stream.map_err(|e| match e {
            ConnectError::Connect(e) => SendError::retryable(format!("connecting to {}:{}: {e}", url.host, url.port)),
            ConnectError::Handshake(_) => SendError::retryable(format!("TLS handshake with {}: {e}", url.host)),
            ConnectError::Settings(_) | ConnectError::ServerName(_) => SendError::permanent(e.to_string()),
        })?;
        roundtrip(TokioIo::new(stream), &url, req, self.body_limit).await
    }
}

async fn roundtrip<S>(io: TokioIo<S>, url: &ParsedUrl, req: Request, limit: BodyLimit) -> Result<Response, SendError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn_err = |e: hyper::Error| SendError::retryable(format!("HTTP error: {e}"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(conn_err)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut builder = hyper::Request::builder()
        .method(req.method)
        .uri(&url.path_and_query)
        .header("Host", &url.authority)
        .header("User-Agent", concat!("vigil/", env!("CARGO_PKG_VERSION")));
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body)))
        .map_err(|e| SendError::permanent(format!("building request: {e}")))?;
    let resp = sender.send_request(request).await.map_err(conn_err)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body_stream = resp.into_body();
    let mut body = Vec::new();
    while let Some(frame) = body_stream.frame().await {
        let Ok(data) = frame.map_err(conn_err)?.into_data() else { continue };
        match limit {
            BodyLimit::Refuse(max) if body.len() + data.len() > max => {
                return Err(SendError::permanent(format!("response body larger than {max} bytes")));
            }
            BodyLimit::Refuse(_) => body.extend_from_slice(&data),
            BodyLimit::Truncate(max) => {
                body.extend_from_slice(&data[..data.len().min(max - body.len())]);
                if body.len() == max {
                    break;
                }
            }
        }
    }
    Ok(Response { status, headers, body })
}

/// The parts of an `http` or `https` URL a request needs.
#[derive(Debug, PartialEq, Eq)]
struct ParsedUrl {
    https: bool,
    host: String,
    port: u16,
    /// `host[:port]` as the `Host` header carries it.
    authority: String,
    path_and_query: String,
}

impl ParsedUrl {
    fn parse(url: &str) -> Result<ParsedUrl, String> {
        let bad = |why: &str| format!("invalid URL: {why}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("scheme is not http or https")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let mut path = rest[end..].split('#').next().unwrap_or("").to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(ParsedUrl { https, host, port, authority: authority.to_owned(), path_and_query: path })
    }
}

/// `tls_config` as vigil-tls' settings.
fn tls_settings(t: &TlsConfig) -> TlsSettings {
    TlsSettings {
        ca: Pem::from_parts(&t.ca, &t.ca_file),
        cert: Pem::from_parts(&t.cert, &t.cert_file),
        key: Pem::from_parts(t.key.expose(), &t.key_file),
        server_name: t.server_name.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ParsedUrl::parse("https://h.example/a/b?x=1#frag").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path_and_query.as_str()), (true, "h.example", 443, "/a/b?x=1"));
        let u = ParsedUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path_and_query.as_str()), ("::1", 8080, "/"));
        assert!(ParsedUrl::parse("ftp://x").is_err());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
