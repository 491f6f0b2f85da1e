//! A minimal HTTP/1.1 client over plain TCP (hyper), for webhook deliveries and `vigil silence`: one request
//! per connection, a whole-request timeout, a capped response body.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The most of a response body that is read.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends `method url` with `body` (as `content_type` when given) and reads the answer, all within `timeout`.
/// Only `http://` URLs are supported.
pub async fn request(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, String> {
    match tokio::time::timeout(timeout, send(method, url, content_type, body)).await {
        Ok(r) => r,
        Err(_) => Err(format!("{method} {url}: timed out after {timeout:?}")),
    }
}

async fn send(method: &str, url: &str, content_type: Option<&str>, body: Vec<u8>) -> Result<Response, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{method} {url}: {e}");
    let uri: hyper::Uri = url.parse().map_err(|e| fail(&e))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail(&"only http:// URLs are supported"));
    }
    let host = uri.host().ok_or_else(|| fail(&"no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let stream =
        TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port)).await.map_err(|e| fail(&e))?;
    stream.set_nodelay(true).map_err(|e| fail(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, concat!("vigil/", env!("CARGO_PKG_VERSION")));
    if let Some(ct) = content_type {
        req = req.header(hyper::header::CONTENT_TYPE, ct);
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| fail(&e))?;
    let response = sender.send_request(req).await.map_err(|e| fail(&e))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail(&e))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_RESPONSE_BYTES {
                return Err(fail(&"response body too large"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Response { status, body: out })
}
