//! vigil-guard: security events from auth logs, fail2ban-style jails, and the ban actions behind them.
//!
//! `parse` turns sshd, sudo, su, PAM and account-management lines, nginx/Apache access log lines and
//! Linux audit records (grouped into events by `parse::audit::Correlator`) into [`Event`]s with Elastic
//! Common Schema names; `sshd_filter` reproduces fail2ban's sshd filter on top (its modes, and its per-connection
//! memory that ties address-less lines to the connection's address); `jail` counts failures per address
//! and decides bans and unbans with the time passed in; all of that is pure logic, with no I/O, clock or
//! network. `intel` parses threat-intel IP feeds and matches events' addresses against them, also pure
//! logic. `firewall` is the one edge: the ban actions, which run the host's firewall programs.

pub mod addr;
pub mod cidr;
pub mod event;
pub mod firewall;
pub mod intel;
pub mod jail;
pub mod parse;
pub mod scan;
pub mod sshd_filter;

pub use event::{Action, Category, Event, LineTime, Origin, Outcome};
