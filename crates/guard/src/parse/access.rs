//! Web server access logs in the NCSA "combined" and "common" formats nginx and Apache write by default:
//! `203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://r/" "Mozilla/4.08"`.
//!
//! Hand-written and allocation-free: every string borrows from the line, still escaped as the server
//! wrote it (nginx writes `"` and bytes outside printable ASCII as `\xHH`, Apache as `\"` and `\xhh`), so a
//! quoted field ends at the first unescaped `"`. Request lines that are not `METHOD TARGET [HTTP/x]`
//! (the TLS handshakes and binary junk scanners send to plain HTTP ports, logged with status 400) give an
//! event without a method or path. Trailing fields beyond the user agent (`"$http_x_forwarded_for"`) are
//! ignored: the client address is always the line's first field.

use crate::addr::parse_ip;
use crate::event::{Action, Category, Event, Http, LineTime, Outcome};

/// Lines longer than this are not parsed (nginx caps request lines at 8 KiB by default, and headers such
/// as the user agent at 8 KiB each).
pub const MAX_LINE_BYTES: usize = 32 * 1024;

/// Parses one access log line.
pub fn parse_line(line: &str) -> Option<Event<'_>> {
    if line.len() > MAX_LINE_BYTES {
        return None;
    }
    let line = line.trim_end_matches(['\n', '\r']);
    let (client, rest) = line.split_once(' ')?;
    let (_ident, rest) = rest.split_once(' ')?;
    // The user (`%u`, from HTTP basic auth) is client-chosen and may hold spaces and brackets, so it ends at
    // the first ` [` followed by a well-formed time.
    let mut search = 0;
    let (user, time, rest) = loop {
        let open = search + rest.get(search..)?.find('[')?;
        if open > 0 && rest.as_bytes()[open - 1] == b' ' {
            if let Some(time) = rest.get(open + 1..).and_then(parse_time) {
                break (&rest[..open - 1], time, &rest[open + 1 + TIME_LEN..]);
            }
        }
        search = open + 1;
    };
    let rest = rest.strip_prefix("] \"")?;
    let (request, rest) = quoted(rest)?;
    let rest = rest.strip_prefix(' ')?;
    let (status, rest) = split_token(rest);
    let status = parse_status(status)?;
    // The size; a line cut right after the status still counts.
    let (bytes, rest) = match rest.strip_prefix(' ') {
        Some(r) => split_token(r),
        None if rest.is_empty() => ("-", rest),
        None => return None,
    };
    let bytes = match bytes {
        "-" => None,
        b => Some(parse_u64(b)?),
    };
    let mut http = Http { status, bytes, ..Http::default() };
    parse_request(request, &mut http);
    if let Some(rest) = rest.strip_prefix(" \"") {
        if let Some((referrer, rest)) = quoted(rest) {
            http.referrer = dash_none(referrer);
            if let Some((agent, _)) = rest.strip_prefix(" \"").and_then(quoted) {
                http.user_agent = dash_none(agent);
            }
        }
    }
    let outcome = if status < 400 { Outcome::Success } else { Outcome::Failure };
    let mut ev = Event::new(Category::Web, Action::HttpRequest, outcome);
    ev.source_ip = parse_ip(client);
    // With `HostnameLookups On` Apache logs a name; anything else is kept only when it is a plain token.
    if ev.source_ip.is_some() || is_host_name(client) {
        ev.source_address = Some(client);
    }
    ev.user_name = dash_none(user);
    ev.timestamp = Some(time);
    ev.http = Some(http);
    Some(ev)
}

fn dash_none(s: &str) -> Option<&str> {
    (!s.is_empty() && s != "-").then_some(s)
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// A quoted field's content (still escaped) and what follows its closing quote.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn parse_status(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return None;
    }
    Some(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits `METHOD TARGET HTTP/x.y` (or HTTP/0.9's `METHOD TARGET`); anything else leaves the request's
/// method and path unset.
fn parse_request<'a>(request: &'a str, http: &mut Http<'a>) {
    let Some((method, rest)) = request.split_once(' ') else { return };
    if method.is_empty()
        || method.len() > 24
        || !method.bytes().all(|b| b.is_ascii_uppercase() || matches!(b, b'-' | b'_'))
    {
        return;
    }
    let target = match rest.rfind(' ') {
        Some(i) if rest[i + 1..].starts_with("HTTP/") => {
            http.version = Some(&rest[i + 6..]);
            &rest[..i]
        }
        _ => rest,
    };
    if target.is_empty() {
        return;
    }
    http.method = Some(method);
    if method == "CONNECT" {
        return;
    }
    // Absolute form (`GET http://example.com/x HTTP/1.1`, proxy probes): the path is after the authority.
    let target = match target.find("://") {
        Some(i) if target.as_bytes()[..i].iter().all(u8::is_ascii_alphabetic) => {
            let after = &target[i + 3..];
            match after.find(['/', '?']) {
                Some(j) if after.as_bytes()[j] == b'/' => &after[j..],
                _ => "/",
            }
        }
        _ => target,
    };
    match target.split_once('?') {
        Some((path, query)) => {
            http.path = Some(path);
            http.query = Some(query);
        }
        None => http.path = Some(target),
    }
}

/// `10/Oct/2000:13:55:36 -0700` is 26 bytes.
const TIME_LEN: usize = 26;

/// The common log format's time, `dd/Mon/yyyy:HH:MM:SS +hhmm`, followed by `]`.
fn parse_time(s: &str) -> Option<LineTime> {
    let b = s.as_bytes().get(..TIME_LEN + 1)?;
    if b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
        return None;
    }
    if b[TIME_LEN] != b']' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let day = num(0..2)?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == &b[3..6])? as u8 + 1;
    let year = num(7..11)?;
    let (hour, minute, second) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(22..24)?, num(24..26)?);
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 || oh > 23 || om > 59 {
        return None;
    }
    Some(LineTime {
        year: Some(year as i32),
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanos: 0,
        utc_offset_s: Some(sign * (oh as i32 * 3600 + om as i32 * 60)),
    })
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn http<'a>(e: &Event<'a>) -> Http<'a> {
        e.http.unwrap()
    }

    #[test]
    fn combined_line() {
        let e = parse_line(r#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#).unwrap();
        assert_eq!((e.category, e.action, e.outcome), (Category::Web, Action::HttpRequest, Outcome::Success));
        assert_eq!(
            (e.source_ip, e.source_address, e.user_name),
            (ip("203.0.113.9"), Some("203.0.113.9"), Some("frank"))
        );
        let h = http(&e);
        assert_eq!(
            (h.method, h.path, h.query, h.version),
            (Some("GET"), Some("/apache_pb.gif"), Some("x=1"), Some("1.0"))
        );
        assert_eq!((h.status, h.bytes), (200, Some(2326)));
        assert_eq!(h.referrer, Some("http://www.example.com/start.html"));
        assert_eq!(h.user_agent, Some("Mozilla/4.08 [en] (Win98; I ;Nav)"));
        let t = e.timestamp.unwrap();
        assert_eq!(t.unix_seconds(1970, 0), 971_211_336);
    }

    #[test]
    fn common_line_ipv6_and_dashes() {
        let e =
            parse_line(r#"2001:db8::7 - - [05/Mar/2024:10:01:02 +0000] "POST /wp-login.php HTTP/1.1" 404 -"#).unwrap();
        assert_eq!((e.source_ip, e.user_name, e.outcome), (ip("2001:db8::7"), None, Outcome::Failure));
        let h = http(&e);
        assert_eq!(
            (h.method, h.path, h.status, h.bytes, h.referrer, h.user_agent),
            (Some("POST"), Some("/wp-login.php"), 404, None, None, None)
        );
        let e =
            parse_line(r#"::ffff:192.0.2.4 - - [05/Mar/2024:10:01:02 +0000] "GET / HTTP/2.0" 301 0 "-" "-""#).unwrap();
        assert_eq!((e.source_ip, http(&e).referrer, http(&e).user_agent), (ip("192.0.2.4"), None, None));
    }

    #[test]
    fn scanner_garbage_is_an_event_without_a_method() {
        // nginx logs a TLS ClientHello sent to port 80 escaped, with status 400.
        let e = parse_line(r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "\x16\x03\x01\x00\xF1\x01\x00\x00\xED\x03\x03" 400 157 "-" "-""#).unwrap();
        let h = http(&e);
        assert_eq!((h.method, h.path, h.status), (None, None, 400));
        for request in ["-", "", "GET", "get / HTTP/1.1", "G\\x22ET / HTTP/1.1", "GET  HTTP/1.1"] {
            let line = format!(r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "{request}" 400 0 "-" "-""#);
            let h = http(&parse_line(&line).unwrap_or_else(|| panic!("{line}")));
            assert_eq!((h.method, h.path), (None, None), "{request}");
        }
        let e = parse_line(
            r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "CONNECT www.example.com:443 HTTP/1.1" 400 0 "-" "-""#,
        )
        .unwrap();
        assert_eq!((http(&e).method, http(&e).path), (Some("CONNECT"), None));
        let e = parse_line(
            r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "GET http://example.com/.env?a HTTP/1.1" 404 0 "-" "-""#,
        )
        .unwrap();
        assert_eq!((http(&e).path, http(&e).query), (Some("/.env"), Some("a")));
        let e = parse_line(
            r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "GET http://example.com HTTP/1.1" 404 0 "-" "-""#,
        )
        .unwrap();
        assert_eq!(http(&e).path, Some("/"));
        // HTTP/0.9 and a path with a space (nginx logs the raw request line).
        let e =
            parse_line(r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "GET /a b HTTP/1.1" 400 0 "-" "-""#).unwrap();
        assert_eq!(http(&e).path, Some("/a b"));
        let e = parse_line(r#"198.51.100.3 - - [05/Mar/2024:10:01:02 +0000] "GET /" 200 0"#).unwrap();
        assert_eq!((http(&e).path, http(&e).version), (Some("/"), None));
    }

    #[test]
    fn hostile_fields_cannot_move_the_client_or_status() {
        // Apache escapes quotes in the user agent; the status and path stay where they are.
        let e = parse_line(
            r#"192.0.2.1 - - [05/Mar/2024:10:01:02 +0000] "GET /x HTTP/1.1" 200 5 "-" "a\" 404 6.6.6.6 \"b""#,
        )
        .unwrap();
        assert_eq!((e.source_ip, http(&e).status), (ip("192.0.2.1"), 200));
        assert_eq!(http(&e).user_agent, Some(r#"a\" 404 6.6.6.6 \"b"#));
        // A basic-auth user with spaces, brackets and a fake time.
        let e = parse_line(r#"192.0.2.2 - a [b] [01/Jan/2000:00:00:00 +0000 [05/Mar/2024:10:01:02 +0000] "GET / HTTP/1.1" 401 0 "-" "-""#).unwrap();
        assert_eq!((e.user_name, http(&e).status), (Some("a [b] [01/Jan/2000:00:00:00 +0000"), 401));
        let e = parse_line(r#"192.0.2.2 - [x [05/Mar/2024:10:01:02 +0000] "GET / HTTP/1.1" 401 0 "-" "-""#).unwrap();
        assert_eq!((e.user_name, http(&e).status), (Some("[x"), 401));
        // nginx's escaped request line.
        let e = parse_line(r#"192.0.2.3 - - [05/Mar/2024:10:01:02 +0000] "GET /\x22 HTTP/1.1" 404 0 "-" "-""#).unwrap();
        assert_eq!(http(&e).path, Some(r"/\x22"));
        // An address that is not canonical is not an IP.
        let e = parse_line(r#"192.030.0.6 - - [05/Mar/2024:10:01:02 +0000] "GET / HTTP/1.1" 404 0 "-" "-""#).unwrap();
        assert_eq!((e.source_ip, e.source_address), (None, Some("192.030.0.6")));
        let e = parse_line(r#"a'b - - [05/Mar/2024:10:01:02 +0000] "GET / HTTP/1.1" 404 0 "-" "-""#).unwrap();
        assert_eq!((e.source_ip, e.source_address), (None, None));
    }

    #[test]
    fn malformed_and_truncated_lines() {
        let full = r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "http://r/" "UA""#;
        for i in 0..full.len() {
            let _ = parse_line(&full[..i]);
        }
        assert!(parse_line(&full[..full.find(" 2326").unwrap()]).is_some());
        let bad = [
            r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 20 1"#,
            r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 2000 1"#,
            r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 x"#,
            r#"203.0.113.9 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"#,
            r#"203.0.113.9 - - [10/Oct/2000:25:55:36 -0700] "GET / HTTP/1.0" 200 1"#,
            r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0 200 1"#,
            "Mar  5 10:01:02 web sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2",
            "",
        ];
        for line in bad {
            assert!(parse_line(line).is_none(), "{line}");
        }
        let long =
            format!(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /{} HTTP/1.0" 200 1"#, "a".repeat(MAX_LINE_BYTES));
        assert!(parse_line(&long).is_none());
    }
}
