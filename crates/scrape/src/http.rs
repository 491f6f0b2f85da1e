//! One HTTP/1.1 GET per scrape over a kept-alive connection, plain or TLS (vigil-tls): the job's
//! `Authorization` header (secrets from files read at each scrape, as Prometheus does), timeout, gzip, and a hard
//! cap on the body.

use std::io::Write;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT,
};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use vigil_config::http_client::Secret;
use vigil_tls::{ConnectError, Connector};

/// Only the text format for now. Format negotiation plugs in here: once OpenMetrics parses, ask for
/// `application/openmetrics-text;version=1.0.0` first (as Prometheus does) and dispatch on the response's
/// `Content-Type` in `ingest`.
use vigil_proto::exposition::ACCEPT_HEADER;
const USER_AGENT_HEADER: &str = concat!("vigil/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("Get {url:?}: context deadline exceeded")]
    Timeout { url: String },
    #[error("Get {url:?}: {source}")]
    Connect { url: String, source: ConnectError },
    #[error("Get {url:?}: {}", http_error_text(source))]
    Http { url: String, source: hyper::Error },
    #[error("Get {url:?}: {message}")]
    Auth { url: String, message: String },
    #[error("invalid request for {url:?}: {source}")]
    Request { url: String, source: hyper::http::Error },
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("body size limit exceeded")]
    BodyTooLarge,
    #[error("invalid gzip body: {0}")]
    Gzip(std::io::Error),
}

/// A successful response, still encoded: decoding is CPU work for a blocking thread.
#[derive(Debug)]
pub(crate) struct Fetched {
    raw: Vec<u8>,
    gzip: bool,
    limit: u64,
    /// What the exporter says it sent; the parser will be picked by it once there is more than one.
    #[allow(dead_code)]
    pub content_type: Option<String>,
}

impl Fetched {
    /// The body, gunzipped when it came compressed, refused when it decodes to more than the limit. Blocking.
    pub fn into_body(self) -> Result<Vec<u8>, FetchError> {
        if !self.gzip {
            return Ok(self.raw);
        }
        let mut decoder = flate2::write::GzDecoder::new(Capped::new(self.limit));
        let decoded = decoder.write_all(&self.raw).and_then(|()| decoder.try_finish());
        match decoded {
            Ok(()) => Ok(std::mem::take(&mut decoder.get_mut().buf)),
            Err(_) if decoder.get_ref().exceeded => Err(FetchError::BodyTooLarge),
            Err(e) => Err(FetchError::Gzip(e)),
        }
    }
}

/// hyper's words, or Go's for a TLS failure under them (a TLS 1.3 server refusing the client certificate
/// says so only after the handshake).
fn http_error_text(e: &hyper::Error) -> String {
    vigil_tls::error_text(e).unwrap_or_else(|| e.to_string())
}

/// The `Authorization` header a job sends.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Auth {
    Basic {
        username: String,
        password: Secret,
        password_file: String,
    },
    /// `<kind> <credentials>`.
    Credentials {
        kind: String,
        credentials: Secret,
        credentials_file: String,
    },
}

impl Auth {
    /// The header value, reading the secret file now when there is one (Prometheus reads it at every request,
    /// so rotated tokens are picked up).
    fn header(&self) -> Result<String, String> {
        match self {
            Auth::Basic { username, password, password_file } => {
                let password = read_secret(password, password_file)
                    .map_err(|e| format!("unable to read basic auth password file {password_file}: {e}"))?;
                Ok(vigil_tls::basic_auth(username, &password))
            }
            Auth::Credentials { kind, credentials, credentials_file } => {
                let credentials = read_secret(credentials, credentials_file)
                    .map_err(|e| format!("unable to read authorization credentials file {credentials_file}: {e}"))?;
                Ok(format!("{kind} {credentials}"))
            }
        }
    }
}

/// `inline`, or the content of `file` when set.
fn read_secret(inline: &Secret, file: &str) -> std::io::Result<String> {
    if file.is_empty() {
        return Ok(inline.expose().to_owned());
    }
    vigil_tls::read_secret_file(std::path::Path::new(file))
}

/// What to fetch.
pub(crate) struct Get<'a> {
    /// `host:port`, as the `Host` header carries it.
    pub address: &'a str,
    pub https: bool,
    pub tls: &'a Connector,
    pub auth: Option<&'a Auth>,
    pub path_and_query: &'a str,
    pub url: &'a str,
    pub timeout: Duration,
    pub body_limit: u64,
}

/// A per-target client holding at most one idle connection.
#[derive(Default)]
pub(crate) struct Client {
    conn: Option<SendRequest<Empty<Bytes>>>,
}

impl Client {
    pub async fn get(&mut self, req: &Get<'_>) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(req.timeout, self.get_within(req)).await {
            Ok(result) => {
                if result.is_err() {
                    self.conn = None;
                }
                result
            }
            Err(_) => {
                // The connection may hold half a response.
                self.conn = None;
                Err(FetchError::Timeout { url: req.url.to_owned() })
            }
        }
    }

    async fn get_within(&mut self, req: &Get<'_>) -> Result<Fetched, FetchError> {
        let reused = self.conn.as_ref().is_some_and(|c| !c.is_closed());
        if reused {
            match self.attempt(req).await {
                // A kept-alive connection the server closed meanwhile: retry once on a new one, as Go's client does.
                Err(FetchError::Http { source, .. }) if source.is_canceled() || source.is_incomplete_message() => {
                    self.conn = None;
                }
                other => return other,
            }
        }
        self.attempt(req).await
    }

    async fn attempt(&mut self, req: &Get<'_>) -> Result<Fetched, FetchError> {
        let url = || req.url.to_owned();
        let mut conn = match self.conn.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => connect(req).await?,
        };
        conn.ready().await.map_err(|source| FetchError::Http { url: url(), source })?;
        let timeout = format!("{}", req.timeout.as_secs_f64());
        let mut request = Request::get(req.path_and_query);
        if let Some(auth) = req.auth {
            request = request
                .header(AUTHORIZATION, auth.header().map_err(|message| FetchError::Auth { url: url(), message })?);
        }
        let request = request
            .header(HOST, req.address)
            .header(ACCEPT, ACCEPT_HEADER)
            .header(ACCEPT_ENCODING, "gzip")
            .header(USER_AGENT, USER_AGENT_HEADER)
            .header("X-Prometheus-Scrape-Timeout-Seconds", timeout)
            .body(Empty::<Bytes>::new())
            .map_err(|source| FetchError::Request { url: url(), source })?;
        let response = conn.send_request(request).await.map_err(|source| FetchError::Http { url: url(), source })?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(FetchError::Status(format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))));
        }
        let headers = response.headers();
        let gzip = headers.get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if !gzip && declared.is_some_and(|n| n > req.body_limit) {
            return Err(FetchError::BodyTooLarge);
        }
        // Compressed or not, more bytes than the limit on the wire cannot fit once decoded either.
        let mut raw = Capped::new(req.body_limit);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|source| FetchError::Http { url: url(), source })?;
            if let Ok(data) = frame.into_data() {
                raw.write_all(&data).map_err(|_| FetchError::BodyTooLarge)?;
            }
        }
        self.conn = Some(conn);
        Ok(Fetched { raw: raw.buf, gzip, limit: req.body_limit, content_type })
    }
}

async fn connect(req: &Get<'_>) -> Result<SendRequest<Empty<Bytes>>, FetchError> {
    let url = || req.url.to_owned();
    let (host, port) = split_host_port(req.address).ok_or_else(|| FetchError::Connect {
        url: url(),
        source: ConnectError::Connect(std::io::Error::other(format!("address {}: invalid port", req.address))),
    })?;
    let stream =
        if req.https { req.tls.connect_tls(host, port).await } else { vigil_tls::connect_plain(host, port).await };
    let stream = stream.map_err(|source| FetchError::Connect { url: url(), source })?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| FetchError::Http { url: url(), source })?;
    // Drives the connection; ends when the sender is dropped or the peer closes.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `host:port` or `[v6]:port` split into the host (without brackets) and the port.
fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((host, port.parse().ok()?))
}

/// A buffer that refuses to grow past its limit.
struct Capped {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl Capped {
    fn new(limit: u64) -> Capped {
        Capped { buf: Vec::new(), limit, exceeded: false }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if (self.buf.len() + data.len()) as u64 > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("body size limit exceeded"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_host_port("example.org:443"), Some(("example.org", 443)));
        assert_eq!(split_host_port("[::1]:9100"), Some(("::1", 9100)));
        assert_eq!(split_host_port("host:http"), None);
    }

    #[test]
    fn basic_auth_header() {
        let auth = Auth::Basic { username: "u".into(), password: Secret::new("p"), password_file: String::new() };
        assert_eq!(auth.header().unwrap(), "Basic dTpw");
    }
}
