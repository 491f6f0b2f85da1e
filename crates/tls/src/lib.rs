//! HTTPS client plumbing shared by the scraper and the notifier: a rustls client configuration built from plain
//! TLS settings (system or configured CAs, a client certificate, a server name, or no verification at all), and
//! connections over TCP or TLS, with handshake errors worded as Go's `crypto/tls` words them; plus the basic
//! auth header and secret file reads.

mod auth;
mod config;
mod connect;

use std::fmt;
use std::path::PathBuf;

pub use auth::{basic_auth, read_secret_file, MAX_SECRET_FILE_BYTES};
pub use config::client_config;
pub use connect::{connect_plain, error_text, ConnectError, Connector, Stream};

/// Where a PEM document comes from.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Pem {
    #[default]
    None,
    /// The PEM text itself.
    Inline(String),
    /// A file holding it, read again whenever a new connection is made (so renewed certificates are used).
    File(PathBuf),
}

impl Pem {
    /// `Inline` for a non-empty `inline`, else `File` for a non-empty `file`, else `None`.
    pub fn from_parts(inline: &str, file: &str) -> Pem {
        if !inline.is_empty() {
            Pem::Inline(inline.to_owned())
        } else if !file.is_empty() {
            Pem::File(PathBuf::from(file))
        } else {
            Pem::None
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Pem::None)
    }

    /// The text, read from the file when it is one.
    fn load(&self) -> Result<Option<String>, std::io::Error> {
        match self {
            Pem::None => Ok(None),
            Pem::Inline(text) => Ok(Some(text.clone())),
            Pem::File(path) => std::fs::read_to_string(path).map(Some),
        }
    }

    /// The file's path, or `inline`, for messages.
    fn describe(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::None | Pem::Inline(_) => "inline".to_owned(),
        }
    }
}

impl fmt::Debug for Pem {
    /// Never prints inline text: it may be a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::None => f.write_str("None"),
            Pem::Inline(text) => write!(f, "Inline(<{} bytes>)", text.len()),
            Pem::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// A client's TLS settings (prometheus/common's `tls_config`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates to trust instead of the system's.
    pub ca: Pem,
    /// A client certificate chain to present, with its key.
    pub cert: Pem,
    pub key: Pem,
    /// The name to send (SNI) and to verify the server's certificate against, instead of the host connected to.
    pub server_name: String,
    /// Accept any server certificate (signatures of the handshake are still checked).
    pub insecure_skip_verify: bool,
}

/// Settings that cannot make a client configuration, in prometheus/common's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}
