//! Splits a syslog file line into its header (time, host, program, pid) and the program's message.
//!
//! Accepted: classic BSD syslog (`Mar  5 10:01:02 host sshd[123]: msg`), the RFC 3339 timestamps rsyslog
//! writes on Debian 12 (`2024-03-05T10:01:02.123456+01:00 host sshd-session[123]: msg`), RFC 5424
//! (`<38>1 2024-03-05T10:01:02Z host sshd 123 - - msg`), a leading `<PRI>`, a missing host, a bare
//! `host program[pid]: msg` (no time, as journald's short output and fail2ban's journal samples), the
//! `[program]` form and Solaris' `[ID 800047 auth.info]` tag. Journald records skip this module: their
//! `SYSLOG_IDENTIFIER`, `_PID` and `MESSAGE` go to [`crate::parse::parse_message`] directly.

use crate::event::{LineTime, Origin};

/// Lines longer than this are not parsed (sshd itself caps its log lines at 1 KiB, rsyslog at 8 KiB).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// A syslog line's header fields and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyslogLine<'a> {
    pub timestamp: Option<LineTime>,
    pub host_name: Option<&'a str>,
    pub process_name: &'a str,
    pub process_pid: Option<u32>,
    pub message: &'a str,
}

impl<'a> SyslogLine<'a> {
    pub fn origin(&self) -> Origin<'a> {
        Origin {
            host_name: self.host_name,
            process_name: Some(self.process_name),
            process_pid: self.process_pid,
            timestamp: self.timestamp,
        }
    }
}

/// Splits `line`; `None` when it has no recognizable program tag.
pub fn split(line: &str) -> Option<SyslogLine<'_>> {
    if line.len() > MAX_LINE_BYTES {
        return None;
    }
    let line = line.trim_end_matches(['\n', '\r']);
    let mut rest = line.trim_start();
    if rest.starts_with('<') {
        let close = rest.find('>')?;
        if close > 4 || !rest.as_bytes()[1..close].iter().all(u8::is_ascii_digit) {
            return None;
        }
        rest = &rest[close + 1..];
        if let Some(after) = rest.strip_prefix("1 ") {
            return split_rfc5424(after);
        }
    }
    let (timestamp, after) = match parse_bsd_time(rest) {
        Some((t, n)) => (Some(t), &rest[n..]),
        None => match parse_rfc3339(rest) {
            Some((t, n)) => (Some(t), &rest[n..]),
            None => (None, rest),
        },
    };
    let after = after.trim_start_matches(' ');
    let (first, tail) = next_token(after);
    let (host_name, tag, tail) = match parse_tag(first) {
        Some(tag) => (None, tag, tail),
        None => {
            let (second, tail2) = next_token(tail);
            (Some(first).filter(|h| !h.is_empty()), parse_tag(second)?, tail2)
        }
    };
    let mut message = tail.trim_start_matches(' ');
    if let Some(m) = strip_kernel_time(message) {
        message = m;
    }
    if let Some(m) = strip_solaris_id(message) {
        message = m;
    }
    Some(SyslogLine { timestamp, host_name, process_name: tag.0, process_pid: tag.1, message })
}

fn next_token(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// `name[pid]:`, `name:`, `[name]:`, `[name]`, `name[pid]`.
fn parse_tag(token: &str) -> Option<(&str, Option<u32>)> {
    let (t, colon) = match token.strip_suffix(':') {
        Some(t) => (t, true),
        None => (token, false),
    };
    if t.is_empty() {
        return None;
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return valid_name(inner).then_some((inner, None));
    }
    if let Some(body) = t.strip_suffix(']') {
        let open = body.find('[')?;
        let name = &body[..open];
        let pid = parse_u32(&body[open + 1..])?;
        return valid_name(name).then_some((name, Some(pid)));
    }
    (colon && valid_name(t)).then_some((t, None))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'@'))
}

pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `kernel:[  970.699396]: ` or `kernel: [970.699396] `, which some relays put before the message.
fn strip_kernel_time(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("kernel:")?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).strip_prefix('[')?;
    let close = rest.find(']')?;
    let stamp = rest[..close].trim_start_matches(' ');
    let (secs, frac) = stamp.split_once('.')?;
    parse_u32(secs)?;
    parse_u32(frac)?;
    let rest = &rest[close + 1..];
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    Some(rest.trim_start_matches(' '))
}

fn strip_solaris_id(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("[ID ")?;
    let close = rest.find("] ")?;
    let (num, _) = next_token(&rest[..close]);
    parse_u32(num)?;
    Some(&rest[close + 2..])
}

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// `Mmm dd hh:mm:ss` with the day as ` 5`, `5` or `05`; returns the bytes used.
fn parse_bsd_time(s: &str) -> Option<(LineTime, usize)> {
    let b = s.as_bytes();
    let month = MONTHS.iter().position(|m| b.get(..3) == Some(&m[..]))? as u8 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (day, n) = match digits(b, i, 2) {
        Some(d) => (d, 2),
        None => (digits(b, i, 1)?, 1),
    };
    i += n;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    let (h, m, sec) = parse_hms(b, i + 1)?;
    let t =
        LineTime { year: None, month, day: day as u8, hour: h, minute: m, second: sec, nanos: 0, utc_offset_s: None };
    valid(&t).then_some((t, i + 9))
}

fn parse_hms(b: &[u8], i: usize) -> Option<(u8, u8, u8)> {
    let h = digits(b, i, 2)?;
    let m = digits(b, i + 3, 2)?;
    let s = digits(b, i + 6, 2)?;
    (b.get(i + 2) == Some(&b':') && b.get(i + 5) == Some(&b':')).then_some((h as u8, m as u8, s as u8))
}

fn valid(t: &LineTime) -> bool {
    (1..=12).contains(&t.month) && (1..=31).contains(&t.day) && t.hour < 24 && t.minute < 60 && t.second <= 60
}

/// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`; returns the bytes used.
pub(crate) fn parse_rfc3339(s: &str) -> Option<(LineTime, usize)> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (hour, minute, second) = parse_hms(b, 11)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)? as i32;
            let om = digits(b, i + 4, 2)? as i32;
            if b.get(i + 3) != Some(&b':') {
                return None;
            }
            i += 6;
            let o = oh * 3600 + om * 60;
            Some(if sign == b'-' { -o } else { o })
        }
        _ => None,
    };
    let t = LineTime {
        year: Some(year as i32),
        month: month as u8,
        day: day as u8,
        hour,
        minute,
        second,
        nanos,
        utc_offset_s: offset,
    };
    valid(&t).then_some((t, i))
}

/// After `<PRI>1 `: `TIMESTAMP HOST APP PROCID MSGID SD MSG`.
fn split_rfc5424(s: &str) -> Option<SyslogLine<'_>> {
    let (ts, rest) = next_token(s);
    let timestamp = if ts == "-" { None } else { Some(parse_rfc3339(ts)?.0) };
    let (host, rest) = next_token(rest);
    let (app, rest) = next_token(rest);
    let (procid, rest) = next_token(rest);
    let (_msgid, rest) = next_token(rest);
    let message = skip_structured_data(rest)?;
    if !valid_name(app) {
        return None;
    }
    Some(SyslogLine {
        timestamp,
        host_name: (host != "-").then_some(host),
        process_name: app,
        process_pid: parse_u32(procid),
        message: message.trim_start_matches(' '),
    })
}

fn skip_structured_data(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('-') {
        return Some(rest);
    }
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match b.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    (i > 0).then(|| &s[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> (Option<&str>, &str, Option<u32>, &str) {
        let l = split(line).unwrap();
        (l.host_name, l.process_name, l.process_pid, l.message)
    }

    #[test]
    fn classic_line() {
        let l = split("Mar  5 10:01:02 web-1 sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2").unwrap();
        assert_eq!((l.host_name, l.process_name, l.process_pid), (Some("web-1"), "sshd", Some(123)));
        assert_eq!(l.message, "Failed password for root from 192.0.2.1 port 22 ssh2");
        let t = l.timestamp.unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (None, 3, 5, 10, 1, 2));
    }

    #[test]
    fn rfc3339_and_sshd_session() {
        let l = split(
            "2024-03-05T10:01:02.123456+01:00 db sshd-session[4242]: Connection closed by 2001:db8::7 port 5 [preauth]",
        )
        .unwrap();
        assert_eq!((l.host_name, l.process_name, l.process_pid), (Some("db"), "sshd-session", Some(4242)));
        let t = l.timestamp.unwrap();
        assert_eq!((t.year, t.nanos, t.utc_offset_s), (Some(2024), 123_456_000, Some(3600)));
        assert_eq!(t.unix_seconds(0, 0), 1_709_629_262);
    }

    #[test]
    fn odd_headers() {
        assert_eq!(parts("Feb 7 16:01:07 linux sshd[5106]: x"), (Some("linux"), "sshd", Some(5106), "x"));
        assert_eq!(parts("Feb 17 17:40:17 sshd[19725]: x y"), (None, "sshd", Some(19725), "x y"));
        assert_eq!(parts("Mar  3 00:17:22 [sshd]: User root"), (None, "sshd", None, "User root"));
        assert_eq!(parts("Jun 25 23:53:34 [sshd] User root"), (None, "sshd", None, "User root"));
        assert_eq!(parts("srv sshd[1]: msg"), (Some("srv"), "sshd", Some(1), "msg"));
        assert_eq!(parts("<38>Mar  5 10:01:02 h su: msg"), (Some("h"), "su", None, "msg"));
        assert_eq!(
            parts("Mar 29 05:59:23 dusky sshd[20878]: [ID 800047 auth.info] Failed keyboard-interactive"),
            (Some("dusky"), "sshd", Some(20878), "Failed keyboard-interactive")
        );
        assert_eq!(parts("h sshd[2]: kernel:[  970.699396]: Failed x"), (Some("h"), "sshd", Some(2), "Failed x"));
        assert_eq!(parts("h sshd[2]: kernel: [12970.6] Failed x"), (Some("h"), "sshd", Some(2), "Failed x"));
    }

    #[test]
    fn rfc5424() {
        let l = split(r#"<38>1 2019-07-08T17:40:17.9+00:00 h.example.com sshd 555 - [a b="[x]"][c d="e"] Failed x"#)
            .unwrap();
        assert_eq!(
            (l.host_name, l.process_name, l.process_pid, l.message),
            (Some("h.example.com"), "sshd", Some(555), "Failed x")
        );
        assert_eq!(split("<38>1 - - sshd - - - hi").unwrap().message, "hi");
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        for line in [
            "",
            "Mar",
            "Mar  5",
            "Mar  5 10:01",
            "Mar  5 10:01:02",
            "Mar  5 10:01:02 host",
            "<",
            "<38",
            "<38>1",
            "<38>1 2019-07-08T17:40:17",
            "<38>1 - h sshd 1 - [unterminated",
            "2024-03-05T10:01:02.+01:00 h s: x",
            "ä ö ü",
            "[",
            "x[",
            "x[1",
            "[]:",
            "host sshd[99999999999]: x",
        ] {
            let _ = split(line);
        }
        assert!(split("just some text").is_none());
        assert!(split(&"a".repeat(MAX_LINE_BYTES + 1)).is_none());
    }
}
