//! IP networks in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or a bare address), for allow-lists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::addr::parse_ip;

/// An IPv4 or IPv6 network. A bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("invalid address in network {0:?}")]
    Address(String),
    #[error("invalid prefix length in network {0:?}")]
    Prefix(String),
}

impl Cidr {
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then(|| Cidr { network: mask(addr, prefix), prefix })
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip = parse_ip(addr).ok_or_else(|| CidrError::Address(s.to_string()))?;
        // `parse_ip` reads `::ffff:a.b.c.d` as IPv4; its prefix then counts from the 96 bits of the mapping.
        let written_v6 = addr.contains(':');
        let max = if written_v6 { 128 } else { 32 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| CidrError::Prefix(s.to_string()))?,
        };
        let prefix = match (ip.is_ipv4(), written_v6) {
            (true, true) => prefix.checked_sub(96).ok_or_else(|| CidrError::Prefix(s.to_string()))?,
            _ => prefix,
        };
        Cidr::new(ip, prefix).ok_or_else(|| CidrError::Prefix(s.to_string()))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn contains_v4_and_v6() {
        let net: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::a00:1")));
        let net: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(net.contains(ip("2001:db8:ffff::1")));
        assert!(!net.contains(ip("2001:db9::1")));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
    }

    #[test]
    fn bad_networks() {
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::Prefix("10.0.0.0/33".into())));
        assert_eq!("10.0.0/8".parse::<Cidr>(), Err(CidrError::Address("10.0.0/8".into())));
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
        assert!("::ffff:192.0.2.0/64".parse::<Cidr>().is_err(), "wider than the mapped block");
    }

    #[test]
    fn mapped_networks_are_ipv4_networks() {
        let n: Cidr = "::ffff:192.0.2.0/120".parse().unwrap();
        assert_eq!(n, "192.0.2.0/24".parse().unwrap());
        assert!(n.contains(ip("192.0.2.77")) && !n.contains(ip("192.0.3.1")));
        assert_eq!("[::ffff:192.0.2.9]".parse::<Cidr>().unwrap(), "192.0.2.9/32".parse().unwrap());
    }
}
