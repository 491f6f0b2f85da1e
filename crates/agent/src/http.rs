//! A small blocking HTTP/1.1 client for the guard's own traffic (the fleet ban list, ban reports, threat-intel
//! downloads): one request per connection over plain TCP or TLS (vigil-tls), a deadline over the whole
//! exchange and a capped read of the answer. Runs on its caller's thread with a private single-threaded runtime.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use vigil_tls::{Connector, TlsSettings};

const USER_AGENT_HEADER: &str = concat!("vigil-agent/", env!("CARGO_PKG_VERSION"));

/// Where requests go: a parsed `http(s)://host[:port][/base]` URL.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    /// The URL's path and query, without a trailing `/`.
    base: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| format!("{url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url:?} is not an http or https URL")),
        };
        let authority = uri.authority().ok_or_else(|| format!("{url:?} has no host"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let base = uri.path_and_query().map_or("", |p| p.as_str()).trim_end_matches('/').to_owned();
        let authority = authority.as_str().rsplit_once('@').map_or(authority.as_str(), |(_, h)| h).to_owned();
        Ok(Target { https, host, port, authority, base })
    }

    /// The target's own path and query (`/`, when it has none).
    pub fn own_path(&self) -> &str {
        if self.base.is_empty() {
            "/"
        } else {
            &self.base
        }
    }

    /// `path` below the target's base path.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A request's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("connect to {0}")]
    Connect(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("http: {0}")]
    Http(String),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    #[error("invalid request: {0}")]
    Request(String),
}

pub(crate) struct HttpClient {
    rt: tokio::runtime::Runtime,
    tls: Connector,
}

impl HttpClient {
    pub fn new(tls: TlsSettings) -> Result<HttpClient, String> {
        let tls = Connector::new(tls).map_err(|e| format!("tls: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        Ok(HttpClient { rt, tls })
    }

    /// Sends `req` to `target` and reads at most `req.max_body` bytes of the answer, all within
    /// `req.timeout`. Blocking.
    pub fn send(&self, target: &Target, req: Req<'_>) -> Result<Answer, HttpError> {
        let timeout = req.timeout;
        self.rt.block_on(async {
            match tokio::time::timeout(timeout, exchange(&self.tls, target, req)).await {
                Ok(r) => r,
                Err(_) => Err(HttpError::Timeout(timeout)),
            }
        })
    }
}

/// One request.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub path_and_query: &'a str,
    pub headers: Vec<(HeaderName, String)>,
    /// Sent as `application/json`.
    pub json_body: Option<Vec<u8>>,
    pub max_body: usize,
    pub timeout: Duration,
}

async fn exchange(tls: &Connector, target: &Target, r: Req<'_>) -> Result<Answer, HttpError> {
    let max_body = r.max_body;
    let stream = if target.https {
        tls.connect_tls(&target.host, target.port).await
    } else {
        vigil_tls::connect_plain(&target.host, target.port).await
    };
    let stream = stream.map_err(|e| HttpError::Connect(format!("{}:{}: {e}", target.host, target.port)))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(r.method)
        .uri(r.path_and_query)
        .header(HOST, target.authority.as_str())
        .header(USER_AGENT, USER_AGENT_HEADER);
    for (name, value) in r.headers {
        let value = HeaderValue::from_str(&value).map_err(|e| HttpError::Request(e.to_string()))?;
        req = req.header(name, value);
    }
    let body = match r.json_body {
        Some(b) => {
            req = req.header(CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(b))
        }
        None => Full::new(Bytes::new()),
    };
    let req = req.body(body).map_err(|e| HttpError::Request(e.to_string()))?;
    let response = sender.send_request(req).await.map_err(http)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = response.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(http)?.into_data() {
            if buf.len() + data.len() > max_body {
                driver.abort();
                return Err(HttpError::TooLarge(max_body));
            }
            buf.extend_from_slice(&data);
        }
    }
    driver.abort();
    Ok(Answer { status, headers, body: buf })
}

fn http(e: hyper::Error) -> HttpError {
    HttpError::Http(vigil_tls::error_text(&e).unwrap_or_else(|| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_their_base_path() {
        let t = Target::parse("http://user@m:9090/vigil/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.authority.as_str()), ("m", 9090, "m:9090"));
        assert_eq!(t.join("/api/v1/bans"), "/vigil/api/v1/bans");
        let t = Target::parse("https://[2001:db8::1]/feeds/a.netset?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.own_path()), ("2001:db8::1", 443, "/feeds/a.netset?x=1"));
        assert_eq!(Target::parse("http://m").unwrap().own_path(), "/");
        assert!(Target::parse("ftp://m/").unwrap_err().contains("not an http or https URL"));
    }
}
