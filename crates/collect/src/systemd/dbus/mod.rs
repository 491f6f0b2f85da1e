//! A small, defensive D-Bus client: `EXTERNAL` authentication over a Unix socket, method calls with replies
//! matched by serial, and marshalling of the types systemd's API needs.
//!
//! Everything read from the socket is treated as hostile: lengths are checked against hard limits before they
//! are trusted, nesting is bounded, and every failure is an [`Error`] rather than a panic.

mod conn;
mod message;
mod wire;

use std::path::PathBuf;

pub use conn::Connection;
pub use message::{Message, MessageType, FLAG_NO_REPLY_EXPECTED};
pub use wire::{Array, Type, Value};

/// The largest message vigil sends or accepts. The specification allows 128 MiB; systemd's biggest replies
/// (ListUnits on a host with thousands of units) are a few MiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The largest array, in bytes, as the specification says.
pub const MAX_ARRAY_BYTES: usize = 64 * 1024 * 1024;
/// The most values one message may decode to, so that a small message cannot expand into a huge tree.
pub const MAX_VALUES: usize = 1 << 20;
/// Nesting limits from the specification: 32 arrays, 32 structs, 64 containers in all (variants included).
pub const MAX_ARRAY_DEPTH: u32 = 32;
pub const MAX_STRUCT_DEPTH: u32 = 32;
pub const MAX_TOTAL_DEPTH: u32 = 64;
/// The longest signature the specification allows.
pub const MAX_SIGNATURE_LEN: usize = 255;

/// Well-known names of the bus itself.
pub const BUS_NAME: &str = "org.freedesktop.DBus";
pub const BUS_PATH: &str = "/org/freedesktop/DBus";
pub const BUS_INTERFACE: &str = "org.freedesktop.DBus";
pub const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";

/// Why a D-Bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to d-bus socket {path}: {source}")]
    Connect { path: String, source: std::io::Error },
    #[error("d-bus i/o: {0}")]
    Io(#[source] std::io::Error),
    #[error("d-bus peer closed the connection")]
    Closed,
    #[error("d-bus timed out {0}")]
    Timeout(&'static str),
    #[error("d-bus authentication failed: {0}")]
    Auth(String),
    #[error("malformed d-bus message: {0}")]
    Malformed(String),
    #[error("invalid d-bus signature {sig:?}: {reason}")]
    Signature { sig: String, reason: &'static str },
    #[error("d-bus message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes")]
    TooLarge(u64),
    #[error("d-bus value nesting exceeds the limit ({MAX_ARRAY_DEPTH} arrays, {MAX_STRUCT_DEPTH} structs, {MAX_TOTAL_DEPTH} in all)")]
    TooDeep,
    #[error("d-bus message holds more than {MAX_VALUES} values")]
    TooManyValues,
    #[error("cannot marshal d-bus value: {0}")]
    Encode(String),
    #[error("d-bus error {name}: {message}")]
    Remote { name: String, message: String },
    #[error("unexpected d-bus reply: {0}")]
    Unexpected(String),
    #[error("bad d-bus address {addr:?}: {reason}")]
    Address { addr: String, reason: &'static str },
    #[error("d-bus connection is unusable after an earlier error")]
    Broken,
}

/// Where a bus listens: a socket file or a Linux abstract socket name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusAddress {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl BusAddress {
    /// Parses a D-Bus address string such as `unix:path=/run/dbus/system_bus_socket` and picks the first
    /// entry a client can use (`unix:path=` or `unix:abstract=`); other transports are skipped.
    pub fn parse(addr: &str) -> Result<Self, Error> {
        let bad = |reason| Error::Address { addr: addr.to_owned(), reason };
        for entry in addr.split(';').filter(|e| !e.is_empty()) {
            let Some((transport, params)) = entry.split_once(':') else {
                return Err(bad("an entry has no transport"));
            };
            if transport != "unix" {
                continue;
            }
            for param in params.split(',') {
                let Some((key, value)) = param.split_once('=') else {
                    return Err(bad("a parameter has no '='"));
                };
                let value = unescape(value).ok_or_else(|| bad("bad %-escape"))?;
                if value.is_empty() {
                    return Err(bad("empty socket name"));
                }
                match key {
                    "path" => {
                        use std::os::unix::ffi::OsStringExt;
                        return Ok(BusAddress::Path(PathBuf::from(std::ffi::OsString::from_vec(value))));
                    }
                    "abstract" => return Ok(BusAddress::Abstract(value)),
                    _ => {}
                }
            }
        }
        Err(bad("no unix:path= or unix:abstract= entry"))
    }
}

impl std::fmt::Display for BusAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusAddress::Path(p) => write!(f, "{}", p.display()),
            BusAddress::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

/// Undoes the `%XX` escaping of D-Bus address values.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            BusAddress::parse("unix:path=/run/dbus/system_bus_socket").unwrap(),
            BusAddress::Path("/run/dbus/system_bus_socket".into())
        );
        assert_eq!(
            BusAddress::parse("tcp:host=x,port=1;unix:abstract=/tmp/dbus-%41b,guid=00").unwrap(),
            BusAddress::Abstract(b"/tmp/dbus-Ab".to_vec())
        );
        assert_eq!(BusAddress::parse("unix:guid=1,path=/a%20b").unwrap(), BusAddress::Path("/a b".into()));
        for bad in ["", "tcp:host=x", "unix:path", "unix:path=%4", "unix:path=%zz", "nocolon", "unix:path="] {
            let err = BusAddress::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("bad d-bus address"), "{bad}: {err}");
        }
    }
}
