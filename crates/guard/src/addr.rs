//! Client addresses as sshd and PAM log them: IP addresses (strictly parsed) or host names.
//!
//! Only canonical forms count as IP addresses: `192.030.0.6` is a name, not `192.30.0.6` or the octal
//! `192.24.0.6` that `inet_aton` would make of it, so no spelling in a log line can get another address
//! banned. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are IPv4 addresses.

use std::net::IpAddr;

/// A client address token as logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr<'a> {
    pub raw: &'a str,
    pub ip: Option<IpAddr>,
}

/// Parses `token` as an address: an IP address (IPv6 optionally in brackets) or a host name
/// (letters, digits, `-`, `_`, `.`, at least one dot). Anything else is not an address.
pub fn parse_addr(token: &str) -> Option<Addr<'_>> {
    if token.is_empty() || token.len() > 255 {
        return None;
    }
    if let Some(ip) = parse_ip(token) {
        return Some(Addr { raw: token, ip: Some(ip) });
    }
    // A name needs a dot, so that words such as `peer` in "Connection reset by peer" are not hosts.
    let name_ok = token.contains('.')
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && token.as_bytes()[token.len() - 1] != b'.'
        && token.as_bytes()[0] != b'-';
    name_ok.then_some(Addr { raw: token, ip: None })
}

/// Parses an IP address, unmapping IPv4-mapped IPv6.
pub fn parse_ip(token: &str) -> Option<IpAddr> {
    let inner = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(token);
    let first = *inner.as_bytes().first()?;
    if !(first.is_ascii_hexdigit() || first == b':') {
        return None;
    }
    let ip: IpAddr = inner.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_and_names() {
        assert_eq!(parse_ip("1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(parse_ip("::ffff:1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(parse_ip("[2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("192.030.0.6"), None);
        assert_eq!(parse_ip("1.2.3"), None);
        let a = parse_addr("192.030.0.6").unwrap();
        assert_eq!((a.raw, a.ip), ("192.030.0.6", None));
        assert_eq!(parse_addr("example.com").unwrap().ip, None);
        assert!(parse_addr("a'b").is_none());
        assert!(parse_addr("").is_none());
        assert!(parse_addr("-x.y").is_none());
        assert!(parse_addr("peer").is_none());
    }
}
