//! Ban actions: putting an address on the host firewall's block list and taking it off again.
//!
//! Every backend runs programs with an argument vector built from a parsed [`IpAddr`], never a shell
//! string, so nothing read from a log line can reach a command line unvalidated.

use std::net::IpAddr;

/// How a jail's bans reach the host.
pub trait Firewall: Send {
    /// The backend's name, for logs and metrics (`nftables`, `iptables`, `command`, `detect`).
    fn name(&self) -> &'static str;
    /// Creates what the backend needs (table, sets, rules) when missing. Safe to call again.
    fn prepare(&mut self) -> Result<(), FirewallError>;
    /// Blocks new connections from `ip` for `timeout_s` seconds; where the firewall can expire an entry by
    /// itself it is told to, so a ban lifts even if vigil is not running.
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
