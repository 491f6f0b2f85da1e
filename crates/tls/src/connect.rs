//! Connections over plain TCP or TLS as one stream type, the `Connector` that keeps a client configuration
//! current with its files, and Go's wording for TLS failures.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::{build, Loaded};
use crate::{TlsError, TlsSettings};

/// A connection to a server, encrypted or not.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why no connection was made.
#[derive(Debug)]
pub enum ConnectError {
    /// The TCP connection failed.
    Connect(io::Error),
    /// The TLS settings' files cannot be read or parsed any more.
    Settings(TlsError),
    /// Neither the host nor `server_name` is a valid TLS server name.
    ServerName(String),
    /// The TLS handshake failed (an untrusted certificate, an alert from the server...).
    Handshake(io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Connect(e) => e.fmt(f),
            ConnectError::Settings(e) => e.fmt(f),
            ConnectError::ServerName(name) => write!(f, "tls: invalid server name {name:?}"),
            ConnectError::Handshake(e) => match error_text(e) {
                Some(text) => f.write_str(&text),
                None => e.fmt(f),
            },
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Connect(e) | ConnectError::Handshake(e) => Some(e),
            ConnectError::Settings(e) => Some(e),
            ConnectError::ServerName(_) => None,
        }
    }
}

/// A TCP connection to `host:port` (an IPv6 host without brackets), with Nagle's algorithm off.
pub async fn connect_plain(host: &str, port: u16) -> Result<Stream, ConnectError> {
    let tcp = TcpStream::connect((host, port)).await.map_err(ConnectError::Connect)?;
    tcp.set_nodelay(true).ok();
    Ok(Stream::Plain(tcp))
}

/// Makes TLS connections with one `TlsSettings`. The client configuration is built when first needed (at once
/// when the settings name files or PEM text, so bad ones are found before any connection) and rebuilt when a
/// file's content changed since, checked at each new connection.
pub struct Connector {
    settings: TlsSettings,
    built: Mutex<Option<(Loaded, Arc<ClientConfig>)>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl PartialEq for Connector {
    /// Same settings: the same connections.
    fn eq(&self, other: &Connector) -> bool {
        self.settings == other.settings
    }
}

impl Connector {
    pub fn new(settings: TlsSettings) -> Result<Connector, TlsError> {
        let connector = Connector { settings, built: Mutex::new(None) };
        let s = &connector.settings;
        if !(s.ca.is_none() && s.cert.is_none() && s.key.is_none()) {
            connector.client_config()?;
        }
        Ok(connector)
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The current client configuration: the last one built, unless the files it came from changed.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let loaded = Loaded::read(&self.settings)?;
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((was, config)) = built.as_ref() {
            if *was == loaded {
                return Ok(config.clone());
            }
        }
        let config = build(&self.settings, &loaded)?;
        *built = Some((loaded, config.clone()));
        Ok(config)
    }

    /// A TLS connection to `host:port`, verifying the certificate against `server_name` when set, else `host`.
    pub async fn connect_tls(&self, host: &str, port: u16) -> Result<Stream, ConnectError> {
        let config = self.client_config().map_err(ConnectError::Settings)?;
        let name = if self.settings.server_name.is_empty() { host } else { self.settings.server_name.as_str() };
        let name = ServerName::try_from(name.to_owned()).map_err(|_| ConnectError::ServerName(name.to_owned()))?;
        let Stream::Plain(tcp) = connect_plain(host, port).await? else { unreachable!("connect_plain is plain") };
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(ConnectError::Handshake)?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// Go's `crypto/tls` and `crypto/x509` wording of the TLS failure somewhere in `err`'s source chain, if there is
/// one (a handshake error, or an alert the server sent after the handshake, as TLS 1.3 servers refusing a client
/// certificate do).
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(go_words(tls));
        }
        // `io::Error` hides its payload from `source()` when it was made from one.
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                return Some(go_words(tls));
            }
        }
        cur = e.source();
    }
    None
}

fn go_words(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C};
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "x509: certificate signed by unknown authority".into(),
            // A trusted CA with the issuer's name but another key.
            C::BadSignature => {
                "x509: certificate signed by unknown authority (possibly because of a bad signature)".into()
            }
            C::NotValidForNameContext { expected, presented } => {
                let expected = match expected {
                    ServerName::DnsName(d) => d.as_ref().to_owned(),
                    ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                    other => format!("{other:?}"),
                };
                let presented: Vec<String> = presented.iter().map(|p| presented_name(p)).collect();
                format!("x509: certificate is valid for {}, not {expected}", presented.join(", "))
            }
            C::NotValidForName => "x509: certificate is not valid for the server name".into(),
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                "x509: certificate has expired or is not yet valid".into()
            }
            other => format!("x509: {}", rustls::Error::InvalidCertificate(other.clone())),
        },
        rustls::Error::AlertReceived(alert) => {
            let text = match alert {
                A::BadCertificate => "bad certificate".to_owned(),
                A::CertificateRequired => "certificate required".to_owned(),
                A::UnknownCA => "unknown certificate authority".to_owned(),
                A::HandshakeFailure => "handshake failure".to_owned(),
                A::CertificateExpired => "expired certificate".to_owned(),
                A::CertificateUnknown => "unknown certificate".to_owned(),
                A::CertificateRevoked => "revoked certificate".to_owned(),
                A::UnsupportedCertificate => "unsupported certificate".to_owned(),
                A::AccessDenied => "access denied".to_owned(),
                A::ProtocolVersion => "protocol version not supported".to_owned(),
                A::InternalError => "internal error".to_owned(),
                A::DecryptError => "error decrypting message".to_owned(),
                A::NoApplicationProtocol => "no application protocol".to_owned(),
                other => format!("{other:?}").to_lowercase(),
            };
            format!("remote error: tls: {text}")
        }
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "tls: first record does not look like a TLS handshake".into()
        }
        other => format!("tls: {other}"),
    }
}

/// A subject alternative name as webpki reports it (`DnsName("a.example")`, `IpAddress([127, 0, 0, 1])`), as
/// the name itself.
fn presented_name(debug: &str) -> String {
    if let Some(name) = debug.strip_prefix("DnsName(\"").and_then(|r| r.strip_suffix("\")")) {
        return name.to_owned();
    }
    if let Some(bytes) = debug.strip_prefix("IpAddress([").and_then(|r| r.strip_suffix("])")) {
        let octets: Option<Vec<u8>> = bytes.split(", ").map(|b| b.parse().ok()).collect();
        match octets.as_deref() {
            Some(&[a, b, c, d]) => return std::net::Ipv4Addr::new(a, b, c, d).to_string(),
            Some(v6) if v6.len() == 16 => {
                let v6: [u8; 16] = v6.try_into().unwrap_or_default();
                return std::net::Ipv6Addr::from(v6).to_string();
            }
            _ => {}
        }
    }
    debug.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_in_go_words() {
        let io = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(C::UnknownIssuer));
        assert_eq!(error_text(&io).as_deref(), Some("x509: certificate signed by unknown authority"));
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert_eq!(error_text(&alert).as_deref(), Some("remote error: tls: certificate required"));
        let name = rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected: ServerName::try_from("example.org").unwrap(),
            presented: vec!["DnsName(\"localhost\")".into(), "IpAddress([127, 0, 0, 1])".into()],
        });
        assert_eq!(go_words(&name), "x509: certificate is valid for localhost, 127.0.0.1, not example.org");
        assert_eq!(error_text(&io::Error::other("plain")), None);
    }

    use rustls::CertificateError as C;
}
