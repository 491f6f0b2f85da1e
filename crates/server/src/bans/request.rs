//! `POST /api/v1/bans` bodies: parsed and checked field by field, each error naming the field, before
//! anything reaches the ban list.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::NewBan;

/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// The longest ban: a year. Longer ones are written `"never"`.
pub const MAX_DURATION_MS: i64 = 365 * 86_400_000;
pub const MAX_REASON_BYTES: usize = 256;
pub const MAX_JAIL_BYTES: usize = 64;
/// A host name's longest form.
pub const MAX_ORIGIN_BYTES: usize = 253;

const FIELDS: [&str; 5] = ["ip", "duration", "reason", "jail", "origin"];

/// A request the ban list refuses, naming the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { field, message: message.into() }
}

/// Parses a JSON body `{"ip", "duration", "reason"?, "jail"?, "origin"?}`.
pub fn parse_new_ban(body: &[u8]) -> Result<NewBan, Invalid> {
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid("body", format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else { return Err(invalid("body", "must be a JSON object")) };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        let unknown: String = unknown.chars().take(64).collect();
        return Err(invalid("body", format!("unknown field {unknown:?} (known: {})", FIELDS.join(", "))));
    }
    let ip = match obj.get("ip") {
        Some(Value::String(s)) => parse_ban_ip(s).map_err(|m| invalid("ip", m))?,
        Some(_) => return Err(invalid("ip", "must be a string")),
        None => return Err(invalid("ip", "is required")),
    };
    let duration_ms = match obj.get("duration") {
        Some(v) => parse_duration(v).map_err(|m| invalid("duration", m))?,
        None => return Err(invalid("duration", "is required (e.g. \"1h\", 3600, or \"never\")")),
    };
    let reason = text(&obj, "reason", MAX_REASON_BYTES, "")?;
    if reason.chars().any(char::is_control) {
        return Err(invalid("reason", "must not contain control characters"));
    }
    let jail = text(&obj, "jail", MAX_JAIL_BYTES, "manual")?;
    check_name("jail", &jail, |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))?;
    let origin = text(&obj, "origin", MAX_ORIGIN_BYTES, "api")?;
    check_name("origin", &origin, |b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))?;
    Ok(NewBan { ip, duration_ms, reason, jail, origin })
}

/// A single host address, strictly spelled (`vigil_guard::addr::parse_ip`): no networks, no unspecified,
/// multicast or broadcast addresses.
pub fn parse_ban_ip(text: &str) -> Result<IpAddr, String> {
    let shown: String = text.chars().take(64).collect();
    let ip = vigil_guard::addr::parse_ip(text).ok_or_else(|| format!("{shown:?} is not an IP address"))?;
    let not_a_host = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if not_a_host {
        return Err(format!("{ip} is not a host address"));
    }
    Ok(ip)
}

/// `"never"` (`None`), a Prometheus duration (`"1h"`, `"90s"`), or whole seconds; positive, at most a year.
fn parse_duration(v: &Value) -> Result<Option<i64>, String> {
    let (ms, shown) = match v {
        Value::String(s) if s == "never" => return Ok(None),
        Value::String(s) => {
            let shown = format!("{:?}", s.chars().take(64).collect::<String>());
            if s.starts_with('-') {
                return Err(format!("{shown} is negative"));
            }
            let ms = vigil_model::time::parse_duration(s).map_err(|e| {
                if e.contains("too large") {
                    format!("{shown} is longer than a year")
                } else {
                    format!("{shown} is not a duration like \"1h\" or \"90s\", a number of seconds, or \"never\"")
                }
            })?;
            (ms, shown)
        }
        Value::Number(n) => match n.as_i64() {
            Some(s) if s < 0 => return Err(format!("{s} is negative")),
            Some(s) => (s.saturating_mul(1000), format!("{s} seconds")),
            None if n.as_u64().is_some() => return Err(format!("{n} seconds is longer than a year")),
            None => return Err(format!("{n} is not a whole number of seconds")),
        },
        _ => return Err("must be a duration string, a number of seconds, or \"never\"".into()),
    };
    if ms <= 0 {
        return Err("must be positive".into());
    }
    if ms > MAX_DURATION_MS {
        return Err(format!("{shown} is longer than a year; use \"never\" for a permanent ban"));
    }
    Ok(Some(ms))
}

/// An optional string field, at most `max` bytes, `default` when absent or null.
fn text(obj: &Map<String, Value>, field: &'static str, max: usize, default: &str) -> Result<String, Invalid> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(default.to_owned()),
        Some(Value::String(s)) if s.len() > max => Err(invalid(field, format!("is longer than {max} bytes"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn check_name(field: &'static str, s: &str, ok: impl Fn(u8) -> bool) -> Result<(), Invalid> {
    if s.is_empty() || !s.bytes().all(ok) {
        let shown: String = s.chars().take(64).collect();
        return Err(invalid(field, format!("{shown:?} must be non-empty letters, digits, '-', '_' or '.'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        parse_new_ban(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn a_full_request_and_defaults() {
        let b =
            parse_new_ban(br#"{"ip":"::ffff:192.0.2.7","duration":"1h","reason":"r","jail":"sshd","origin":"web-1"}"#)
                .unwrap();
        assert_eq!(
            b,
            NewBan {
                ip: "192.0.2.7".parse().unwrap(),
                duration_ms: Some(3_600_000),
                reason: "r".into(),
                jail: "sshd".into(),
                origin: "web-1".into()
            }
        );
        let b = parse_new_ban(br#"{"ip":"2001:db8::1","duration":600}"#).unwrap();
        assert_eq!((b.duration_ms, b.jail.as_str(), b.origin.as_str()), (Some(600_000), "manual", "api"));
        assert_eq!(parse_new_ban(br#"{"ip":"192.0.2.1","duration":"never"}"#).unwrap().duration_ms, None);
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err(r#"{"ip":"192.0.2.300","duration":"1h"}"#).starts_with("ip: \"192.0.2.300\" is not an IP"));
        assert!(err(r#"{"ip":"10.0.0.0/8","duration":"1h"}"#).starts_with("ip: "));
        assert!(err(r#"{"ip":"192.030.0.6","duration":"1h"}"#).starts_with("ip: "));
        assert_eq!(err(r#"{"ip":"0.0.0.0","duration":"1h"}"#), "ip: 0.0.0.0 is not a host address");
        assert_eq!(err(r#"{"ip":"ff02::1","duration":"1h"}"#), "ip: ff02::1 is not a host address");
        assert_eq!(err(r#"{"ip":7,"duration":"1h"}"#), "ip: must be a string");
        assert_eq!(err(r#"{"duration":"1h"}"#), "ip: is required");
        assert!(err(r#"{"ip":"192.0.2.1"}"#).starts_with("duration: is required"));
        assert_eq!(err(r#"{"ip":"192.0.2.1","duration":-5}"#), "duration: -5 is negative");
        assert_eq!(err(r#"{"ip":"192.0.2.1","duration":"-5m"}"#), "duration: \"-5m\" is negative");
        assert_eq!(err(r#"{"ip":"192.0.2.1","duration":0}"#), "duration: must be positive");
        assert_eq!(err(r#"{"ip":"192.0.2.1","duration":1.5}"#), "duration: 1.5 is not a whole number of seconds");
        assert!(err(r#"{"ip":"192.0.2.1","duration":"400d"}"#).starts_with("duration: \"400d\" is longer than a year"));
        assert!(err(r#"{"ip":"192.0.2.1","duration":99999999999999999}"#).contains("longer than a year"));
        assert!(err(r#"{"ip":"192.0.2.1","duration":"99999999999999999y"}"#).contains("longer than a year"));
        assert!(err(r#"{"ip":"192.0.2.1","duration":31536001}"#).contains("31536001 seconds is longer than a year"));
        assert!(err(r#"{"ip":"192.0.2.1","duration":18446744073709551615}"#).contains("longer than a year"));
        assert!(err(r#"{"ip":"192.0.2.1","duration":"soon"}"#).starts_with("duration: \"soon\" is not a duration"));
        let long = "x".repeat(300);
        assert_eq!(
            err(&format!(r#"{{"ip":"192.0.2.1","duration":"1h","reason":"{long}"}}"#)),
            "reason: is longer than 256 bytes"
        );
        assert!(err(r#"{"ip":"192.0.2.1","duration":"1h","reason":"a\nb"}"#).starts_with("reason: "));
        assert!(err(r#"{"ip":"192.0.2.1","duration":"1h","jail":"a b"}"#).starts_with("jail: "));
        assert!(err(r#"{"ip":"192.0.2.1","duration":"1h","origin":""}"#).starts_with("origin: "));
        assert!(err(r#"{"ip":"192.0.2.1","duration":"1h","extra":1}"#).starts_with("body: unknown field \"extra\""));
        assert!(err("[1]").starts_with("body: must be a JSON object"));
        assert!(err("{").starts_with("body: not JSON"));
    }
}
