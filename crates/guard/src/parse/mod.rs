//! Line parsers: a syslog line or a journald record's message in, a normalized [`Event`] out.
//!
//! Syslog files go through [`parse_line`]; journald records through [`parse_message`] with the record's
//! `SYSLOG_IDENTIFIER`, `_PID` and `_HOSTNAME` as the [`Origin`]. Programs are told apart by name.
//! Access logs ([`access::parse_line`]) and audit records ([`audit::Correlator`]) have their own entry
//! points: neither is a syslog program's message.

pub mod access;
pub mod account;
pub mod audit;
pub mod pam;
pub mod sshd;
pub mod su;
pub mod sudo;
pub mod syslog;

use crate::event::{Event, Origin};

/// Parses one syslog line.
pub fn parse_line(line: &str) -> Option<Event<'_>> {
    let l = syslog::split(line)?;
    parse_message(&l.origin(), l.message)
}

/// Parses one program message, given who logged it.
pub fn parse_message<'a>(origin: &Origin<'a>, message: &'a str) -> Option<Event<'a>> {
    if message.len() > syslog::MAX_LINE_BYTES {
        return None;
    }
    match origin.process_name? {
        "sshd" | "sshd-session" | "sshd-auth" => sshd::parse(origin, message),
        "sudo" => sudo::parse(origin, message),
        "su" => su::parse(origin, message),
        p if account::PROGRAMS.contains(&p) => account::parse(origin, message),
        _ if message.starts_with("pam_") => pam::parse(origin, message),
        _ => None,
    }
}

/// Whether `process_name` is one of sshd's (OpenSSH 9.8 logs sessions as `sshd-session`, 10.0 adds
/// `sshd-auth`).
pub fn is_sshd(process_name: &str) -> bool {
    matches!(process_name, "sshd" | "sshd-session" | "sshd-auth")
}
