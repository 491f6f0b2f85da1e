//! A minimal blocking HTTP/1.1 client for POSTing to one endpoint over a kept-alive `TcpStream`.
//!
//! Just enough for remote_write: plain `http://`, `Content-Length` requests, responses framed by
//! `Content-Length`, chunked encoding or connection close. Response heads and bodies are size-capped.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Response heads larger than this are rejected.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Response bodies are kept up to this size; the rest is read and discarded.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("{context}: {source}")]
    Io { context: &'static str, source: io::Error },
    #[error("malformed response: {0}")]
    Protocol(String),
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> HttpError {
    move |source| HttpError::Io { context, source }
}

/// Where requests go: `http://host[:port][/path]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, HttpError> {
        let invalid = |reason| HttpError::InvalidUrl { url: url.to_owned(), reason };
        let rest = url.strip_prefix("http://").ok_or_else(|| invalid("only http:// is supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| invalid("invalid port"))?),
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        Ok(Endpoint { host: host.to_owned(), port, path: path.to_owned() })
    }

    fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// At most 64 KiB of the body.
    pub body: Vec<u8>,
}

/// One kept-alive connection to an endpoint, reopened when the server closes it.
#[derive(Debug)]
pub struct Connection {
    endpoint: Endpoint,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Connection {
        Connection { endpoint, timeout, stream: None }
    }

    /// POSTs `body` with the given extra headers and reads the whole response.
    pub fn post(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
        let reused = self.stream.is_some();
        match self.exchange(headers, body) {
            Ok(r) => Ok(r),
            // A kept-alive connection the server has meanwhile closed fails on first use; that is not the
            // server failing, so try once more on a fresh connection.
            Err(HttpError::Io { .. }) if reused => self.exchange(headers, body),
            Err(e) => Err(e),
        }
    }

    /// Sends one request and reads its response; the connection is kept only if both went well.
    fn exchange(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => BufReader::new(self.connect()?),
        };
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nUser-Agent: vigil-loadgen\r\n",
            self.endpoint.path,
            self.endpoint.host_header(),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let w = stream.get_mut();
        w.write_all(head.as_bytes()).map_err(io_err("writing the request head"))?;
        w.write_all(body).map_err(io_err("writing the request body"))?;
        w.flush().map_err(io_err("writing the request body"))?;
        let (response, keep_alive) = read_response(&mut stream)?;
        if keep_alive {
            self.stream = Some(stream);
        }
        Ok(response)
    }

    fn connect(&self) -> Result<TcpStream, HttpError> {
        let addrs = (self.endpoint.host.as_str(), self.endpoint.port).to_socket_addrs().map_err(io_err("resolving"))?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    s.set_read_timeout(Some(self.timeout)).map_err(io_err("configuring the socket"))?;
                    s.set_write_timeout(Some(self.timeout)).map_err(io_err("configuring the socket"))?;
                    s.set_nodelay(true).map_err(io_err("configuring the socket"))?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(HttpError::Io { context: "connecting", source: last })
    }
}

/// Reads one response; the flag tells whether the connection may be reused.
fn read_response<R: BufRead>(r: &mut R) -> Result<(Response, bool), HttpError> {
    loop {
        let mut budget = MAX_HEAD_BYTES;
        let status_line = read_line(r, &mut budget, "reading the status line")?;
        if status_line.is_empty() {
            return Err(HttpError::Io {
                context: "reading the status line",
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a response"),
            });
        }
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| HttpError::Protocol(format!("bad status line {status_line:?}")))?;
        if !version.starts_with("HTTP/1.") {
            return Err(HttpError::Protocol(format!("bad status line {status_line:?}")));
        }
        let mut content_length = None;
        let mut chunked = false;
        let mut close = version == "HTTP/1.0";
        loop {
            let line = read_line(r, &mut budget, "reading headers")?;
            if line.is_empty() {
                break;
            }
            let (name, value) =
                line.split_once(':').ok_or_else(|| HttpError::Protocol(format!("bad header line {line:?}")))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n =
                    value.parse::<u64>().map_err(|_| HttpError::Protocol(format!("bad Content-Length {value:?}")))?;
                content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        // Interim responses (100 Continue) precede the real one.
        if (100..200).contains(&status) {
            continue;
        }
        let mut body = Vec::new();
        if chunked {
            read_chunked(r, &mut body)?;
        } else if let Some(n) = content_length {
            read_capped(r.take(n), &mut body, n)?;
        } else if status == 204 || status == 304 {
        } else {
            read_capped(r.take(u64::MAX), &mut body, u64::MAX)?;
            close = true;
        }
        return Ok((Response { status, body }, !close));
    }
}

/// Reads a CRLF- or LF-terminated line, charging its length to `budget`. Returns "" at end of stream.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize, context: &'static str) -> Result<String, HttpError> {
    let mut buf = Vec::new();
    let n = r.take(*budget as u64 + 1).read_until(b'\n', &mut buf).map_err(io_err(context))?;
    if n > *budget {
        return Err(HttpError::Protocol(format!("{context}: line too long")));
    }
    *budget -= n;
    if n > 0 && !buf.ends_with(b"\n") {
        return Err(HttpError::Io { context, source: io::Error::from(io::ErrorKind::UnexpectedEof) });
    }
    while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| HttpError::Protocol("response head is not UTF-8".to_owned()))
}

/// Appends up to [`MAX_BODY_BYTES`] of `r` to `body` and discards the rest; `expected` bytes must arrive unless
/// it is `u64::MAX` (read to end of stream).
fn read_capped<R: Read>(mut r: R, body: &mut Vec<u8>, expected: u64) -> Result<(), HttpError> {
    let room = MAX_BODY_BYTES.saturating_sub(body.len()) as u64;
    let kept = (&mut r).take(room).read_to_end(body).map_err(io_err("reading the body"))? as u64;
    let discarded = io::copy(&mut r, &mut io::sink()).map_err(io_err("reading the body"))?;
    if expected != u64::MAX && kept + discarded != expected {
        return Err(HttpError::Io {
            context: "reading the body",
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-body"),
        });
    }
    Ok(())
}

fn read_chunked<R: BufRead>(r: &mut R, body: &mut Vec<u8>) -> Result<(), HttpError> {
    loop {
        let mut budget = MAX_HEAD_BYTES;
        let line = read_line(r, &mut budget, "reading a chunk size")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size, 16).map_err(|_| HttpError::Protocol(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, then the empty line that ends the message.
            while !read_line(r, &mut budget, "reading trailers")?.is_empty() {}
            return Ok(());
        }
        read_capped(r.take(size), body, size)?;
        let mut budget = 2;
        if !read_line(r, &mut budget, "reading a chunk end")?.is_empty() {
            return Err(HttpError::Protocol("chunk longer than its size".to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let e = Endpoint::parse("http://127.0.0.1:9090/api/v1/write").unwrap();
        assert_eq!(e, Endpoint { host: "127.0.0.1".into(), port: 9090, path: "/api/v1/write".into() });
        assert_eq!(Endpoint::parse("http://example").unwrap().host_header(), "example");
        assert_eq!(Endpoint::parse("http://[::1]:9/x").unwrap().host, "[::1]");
        for bad in ["https://x/", "x:1/", "http://:9/", "http://h:port/"] {
            assert!(matches!(Endpoint::parse(bad), Err(HttpError::InvalidUrl { .. })), "{bad}");
        }
    }

    fn read(raw: &str) -> Result<(Response, bool), HttpError> {
        read_response(&mut io::Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn reads_each_framing() {
        let (r, keep) = read("HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.len(), keep), (204, 0, true));
        let (r, keep) = read("HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!((r.status, r.body.as_slice(), keep), (400, &b"hello"[..], true));
        let (r, keep) =
            read("HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n")
                .unwrap();
        assert_eq!((r.status, r.body.as_slice(), keep), (500, &b"abcde"[..], true));
        let (r, keep) = read("HTTP/1.0 200 OK\r\n\r\nuntil close").unwrap();
        assert_eq!((r.body.as_slice(), keep), (&b"until close"[..], false));
        let (r, keep) = read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!((r.status, keep), (200, false));
    }

    #[test]
    fn rejects_malformed_and_oversized_responses() {
        for raw in [
            "",
            "HTTP/1.1 20",
            "SMTP 220 hi\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        ] {
            assert!(read(raw).is_err(), "{raw:?}");
        }
        let huge_head = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(read(&huge_head), Err(HttpError::Protocol(m)) if m.contains("too long")));
        let big = format!("HTTP/1.1 413 X\r\nContent-Length: {}\r\n\r\n{}", 200_000, "b".repeat(200_000));
        let (r, keep) = read(&big).unwrap();
        assert_eq!((r.status, r.body.len(), keep), (413, MAX_BODY_BYTES, true));
    }
}
