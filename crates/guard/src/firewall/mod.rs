//! Ban actions: putting an address on the host firewall's block list and taking it off again.
//!
//! Every backend runs programs with an argument vector built from a parsed [`IpAddr`], never a shell
//! string, so nothing read from a log line can reach a command line unvalidated.

use std::net::IpAddr;
use std::time::Duration;

mod backend;
pub mod command;
pub mod iptables;
pub mod nftables;
mod run;

pub use backend::{Backend, BackendOptions};
pub use command::{CommandAction, CustomCommand};
pub use iptables::{IptOptions, Iptables};
pub use nftables::{NftOptions, Nftables};

/// How a jail's bans reach the host.
pub trait Firewall: Send {
    /// The backend's name, for logs and metrics (`nftables`, `iptables`, `command`, `detect`).
    fn name(&self) -> &'static str;
    /// Creates what the backend needs (table, sets, rules) when missing. Safe to call again.
    fn prepare(&mut self) -> Result<(), FirewallError>;
    /// Drops packets from `ip` for `timeout_s` seconds, established connections included (as fail2ban's
    /// actions do). Where the firewall can expire an entry by itself it is told to, so a ban lifts even if
    /// vigil is not running.
    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError>;
    /// Lifts a ban. Lifting one that is not in place is not an error.
    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError>;
}

/// A ban action that failed: which program, and what it said.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct FirewallError {
    /// What was attempted (`nft add element`, `ipset add`, the command's program...).
    pub action: String,
    /// The program's stderr (trimmed, capped) or the spawn error.
    pub message: String,
}

/// `mode: detect`: records and alerts, never touches the firewall.
#[derive(Debug, Default)]
pub struct Detect;

impl Firewall for Detect {
    fn name(&self) -> &'static str {
        "detect"
    }
    fn prepare(&mut self) -> Result<(), FirewallError> {
        Ok(())
    }
    fn ban(&mut self, _ip: IpAddr, _timeout_s: u64) -> Result<(), FirewallError> {
        Ok(())
    }
    fn unban(&mut self, _ip: IpAddr) -> Result<(), FirewallError> {
        Ok(())
    }
}

/// An address on a backend's block list, as the firewall reports it (for restoring after a restart, and
/// for tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedBan {
    pub ip: IpAddr,
    /// The timeout the entry was added with, where the firewall says (nftables).
    pub timeout: Option<Duration>,
    /// Time left before the firewall drops the entry; `None` for an entry without a timeout.
    pub remaining: Option<Duration>,
}

/// A backend's settings that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("firewall {what} {value:?} is invalid: expected {rule}")]
    InvalidName { what: &'static str, value: String, rule: &'static str },
    #[error("firewall {what}: the command is empty")]
    EmptyCommand { what: &'static str },
    #[error("firewall {what}: argument {index} ({arg:?}) has unknown placeholder {placeholder:?}; known are <ip>, <timeout>, <family>")]
    UnknownPlaceholder { what: &'static str, index: usize, arg: String, placeholder: String },
    #[error("firewall {what}: the program ({arg:?}) must not contain a placeholder")]
    PlaceholderInProgram { what: &'static str, arg: String },
    #[error("firewall {what}: argument {index} ({arg:?}) uses <timeout>, which an unban does not have")]
    TimeoutInUnban { what: &'static str, index: usize, arg: String },
}

/// Which names a firewall accepts for tables, sets and chains.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NameRule {
    /// nft tables: `[A-Za-z0-9_]{1,32}`.
    Nft,
    /// ipset names: `[A-Za-z0-9_-]{1,31}`, not starting with `-`.
    Ipset,
    /// iptables chains: `[A-Za-z0-9_-]{1,28}`, not starting with `-`.
    IptChain,
}

/// Checks a table, chain or set name against `rule`, so a name can never be read as something else inside an
/// nft script or an argument list (no spaces, braces, semicolons, leading `-`).
pub(crate) fn validate_name(what: &'static str, value: &str, rule: NameRule) -> Result<(), OptionsError> {
    let (max, dash, text) = match rule {
        NameRule::Nft => (32, false, "[A-Za-z0-9_]{1,32}"),
        NameRule::Ipset => (31, true, "[A-Za-z0-9_-]{1,31} not starting with -"),
        NameRule::IptChain => (28, true, "[A-Za-z0-9_-]{1,28} not starting with -"),
    };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || (dash && c == '-');
    if (1..=max).contains(&value.len()) && !value.starts_with('-') && value.chars().all(ok_char) {
        return Ok(());
    }
    Err(OptionsError::InvalidName { what, value: value.to_string(), rule: text })
}

/// The address a packet on the wire carries: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a
/// dual-stack socket logs it) is banned as the IPv4 address, which is what the firewall sees.
pub(crate) fn wire_addr(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// A program given as an argument vector must name a program.
pub(crate) fn check_program(what: &'static str, argv: &[String]) -> Result<(), OptionsError> {
    match argv.first() {
        Some(p) if !p.is_empty() => Ok(()),
        _ => Err(OptionsError::EmptyCommand { what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_name("table", "vigil", NameRule::Nft).is_ok());
        assert!(validate_name("table", "Vigil_2", NameRule::Nft).is_ok());
        assert!(validate_name("table", &"a".repeat(32), NameRule::Nft).is_ok());
        for bad in ["", "vi gil", "vigil;", "vigil}", "a-b", "ä", &"a".repeat(33)] {
            let e = validate_name("table", bad, NameRule::Nft).unwrap_err();
            assert_eq!(e.to_string(), format!("firewall table {bad:?} is invalid: expected [A-Za-z0-9_]{{1,32}}"));
        }
        assert!(validate_name("ipset name", "vigil-v4", NameRule::Ipset).is_ok());
        assert!(validate_name("ipset name", "-exist", NameRule::Ipset).is_err());
        assert!(validate_name("ipset name", &"a".repeat(32), NameRule::Ipset).is_err());
    }

    #[test]
    fn mapped_addresses_are_banned_as_ipv4() {
        let ip: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(wire_addr(ip), "192.0.2.1".parse::<IpAddr>().unwrap());
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(wire_addr(ip), ip);
    }
}
