//! sshd's messages (OpenSSH's `sshd`, `sshd-session` and `sshd-auth`), hand-written for speed: no regex.
//!
//! User names and some trailers (hostbased client user, disconnect reasons) are client-controlled text,
//! so the client address is read from where sshd writes it, anchored on the right wherever the format
//! allows. `Failed`/`Accepted` lines (`... for [invalid user ]USER from ADDR port P ssh2[: INFO]`) are the
//! exception, since INFO may follow the address; see [`locate_from`].

use crate::addr::{parse_addr, Addr};
use crate::event::{Action, Category, Event, Origin, Outcome};
use crate::parse::syslog::parse_u32;

/// Parses one sshd message (the text after `sshd[pid]: `). `None`: not a line vigil tracks.
pub fn parse<'a>(origin: &Origin<'a>, msg: &'a str) -> Option<Event<'a>> {
    let mut m = msg.trim_end();
    for prefix in ["error: PAM: ", "error: ", "fatal: "] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest;
            break;
        }
    }
    let mut preauth = false;
    if let Some(rest) = m.strip_suffix("[preauth]") {
        m = rest.trim_end();
        preauth = true;
    }
    let mut ev = parse_body(origin, m)?;
    ev.preauth = preauth;
    if msg.len() >= MAY_BE_CUT && ev.source_port.is_none() {
        // sshd cuts messages at 1023 bytes (and syslog daemons at their own limits): a long user name can
        // push the address to the cut, and `192.0.2.17` cut to `192.0.2.1` is somebody else. Only an
        // address followed by its port is known to be whole.
        ev.source_ip = None;
        ev.source_address = None;
    }
    Some(ev.with_origin(origin))
}

/// Messages this long may have been cut by sshd's 1 KiB log buffer (less what a relay trims).
const MAY_BE_CUT: usize = 960;

fn auth(action: Action, outcome: Outcome) -> Event<'static> {
    Event::new(Category::Authentication, action, outcome)
}

fn net(action: Action) -> Event<'static> {
    Event::new(Category::Network, action, Outcome::Unknown)
}

fn with_addr<'a>(mut ev: Event<'a>, addr: Addr<'a>, port: Option<u16>) -> Event<'a> {
    ev.source_ip = addr.ip;
    ev.source_address = Some(addr.raw);
    ev.source_port = port;
    ev
}

fn parse_body<'a>(origin: &Origin<'a>, m: &'a str) -> Option<Event<'a>> {
    let first = *m.as_bytes().first()?;
    match first {
        b'F' => {
            let rest = m.strip_prefix("Failed ")?;
            login(rest, Outcome::Failure)
        }
        b'A' => {
            if let Some(rest) = m.strip_prefix("Accepted ") {
                return login(rest, Outcome::Success);
            }
            pam_report(m)
        }
        b'a' => pam_report(m),
        b'I' | b'i' => invalid_user(m),
        b'U' => {
            if let Some(rest) = m.strip_prefix("Unable to negotiate") {
                return negotiation(rest);
            }
            if let Some(rest) = m.strip_prefix("User not known to the underlying authentication module for ") {
                return user_from_host(auth(Action::SshPamFailure, Outcome::Failure), rest);
            }
            let rest = m.strip_prefix("User ")?;
            user_not_allowed(rest)
        }
        b'R' => {
            if let Some(rest) = m.strip_prefix("ROOT LOGIN REFUSED FROM ") {
                let (token, tail) = split_token(rest);
                let mut ev = with_addr(auth(Action::SshRootLoginRefused, Outcome::Failure), parse_addr(token)?, None);
                ev.source_port = port_opts(tail);
                ev.user_name = Some("root");
                return Some(ev);
            }
            if let Some(rest) = m.strip_prefix("Received disconnect from ") {
                return received_disconnect(rest);
            }
            if m.starts_with("Read from socket failed: Connection reset by peer") {
                return Some(net(Action::SshSocketReset));
            }
            None
        }
        b'r' => {
            let rest = m.strip_prefix("refused connect from ")?;
            let open = rest.rfind(" (")?;
            let inner = rest[open + 2..].strip_suffix(')')?;
            Some(with_addr(net(Action::SshRefusedConnect), parse_addr(inner)?, None))
        }
        b'm' => {
            let rest = m.strip_prefix("maximum authentication attempts exceeded for ")?;
            user_from_host(auth(Action::SshTooManyFailures, Outcome::Failure), rest)
        }
        b'n' => m.strip_prefix("no matching ").map(|_| net(Action::SshNegotiationFailed)),
        b'D' => {
            if let Some(rest) = m.strip_prefix("Disconnecting: Too many authentication failures") {
                let mut ev = auth(Action::SshTooManyFailures, Outcome::Failure);
                ev.user_name = rest.strip_prefix(" for ").filter(|u| !u.is_empty());
                return Some(ev);
            }
            if let Some(rest) = m.strip_prefix("Disconnecting ") {
                return disconnecting_user(rest);
            }
            if let Some(rest) = m.strip_prefix("Disconnected from ") {
                return closed(Action::SshDisconnected, rest);
            }
            let rest = m.strip_prefix("Did not receive identification string from ")?;
            let (token, tail) = split_token(rest);
            let mut ev = with_addr(net(Action::SshNoIdentification), parse_addr(token)?, None);
            ev.source_port = port_opts(tail);
            Some(ev)
        }
        b'C' => {
            if let Some(rest) =
                m.strip_prefix("Connection closed by ").or_else(|| m.strip_prefix("Connection reset by "))
            {
                return closed(Action::SshConnectionClosed, rest);
            }
            let rest = m.strip_prefix("Connection from ")?;
            let (token, tail) = split_token(rest);
            let mut ev = with_addr(net(Action::SshConnection), parse_addr(token)?, None);
            ev.source_port = tail.strip_prefix("port ").and_then(|p| split_token(p).0.parse().ok());
            Some(ev)
        }
        b'S' => {
            let rest = m.strip_prefix("SSH: Server;Ltype: ")?;
            let remote = &rest[rest.find(";Remote: ")? + 9..];
            let remote = &remote[..remote.find(';')?];
            let (host, port) = remote.rsplit_once('-')?;
            Some(with_addr(net(Action::SshConnection), parse_addr(host)?, port.parse().ok()))
        }
        b'B' => {
            let rest = m.strip_prefix("Bad protocol version identification '")?;
            let (head, addr, port) = from_addr_right(rest)?;
            head.ends_with('\'').then(|| with_addr(net(Action::SshNoIdentification), addr, port))
        }
        b'b' => {
            let rest = m.strip_prefix("banner exchange: Connection from ")?;
            let rest = rest.strip_suffix(": invalid format")?;
            let (token, tail) = split_token(rest);
            Some(with_addr(net(Action::SshNoIdentification), parse_addr(token)?, port_opts(tail)))
        }
        b'k' => {
            let rest = m.strip_prefix("kex_exchange_identification: ")?;
            let rest = rest.strip_prefix("read: ").unwrap_or(rest);
            let known = [
                "lient sent invalid protocol identifier",
                "onnection closed by remote host",
                "onnection reset by peer",
            ];
            let b = rest.as_bytes().first()?;
            (matches!(b, b'c' | b'C') && known.iter().any(|k| rest[1..].starts_with(k)))
                .then(|| net(Action::SshNoIdentification))
        }
        b'p' if m.starts_with("pam_") => crate::parse::pam::parse(origin, m),
        _ => None,
    }
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// The port of `port N[ on X]` trailers.
fn port_opts(tail: &str) -> Option<u16> {
    let rest = tail.strip_prefix("port ")?;
    split_token(rest).0.parse().ok()
}

/// Strips up to three trailing ` port N`, ` on X` and ` sshN` words; returns the rest and the port.
fn strip_trailers(mut s: &str) -> (&str, Option<u16>) {
    let mut port = None;
    for _ in 0..4 {
        let Some((head, last)) = s.rsplit_once(' ') else { break };
        if last.starts_with("ssh") && last[3..].bytes().all(|b| b.is_ascii_digit()) {
            s = head;
            continue;
        }
        let Some((head2, word)) = head.rsplit_once(' ') else { break };
        match word {
            "port" if parse_u32(last).is_some() => {
                port = port.or_else(|| last.parse().ok());
                s = head2;
            }
            "on" => s = head2,
            _ => break,
        }
    }
    (s, port)
}

/// `... from ADDR[ port P][ on X][ sshN]` anchored on the right: the text before ` from `, the address and
/// the port.
fn from_addr_right(s: &str) -> Option<(&str, Addr<'_>, Option<u16>)> {
    let (s, port) = strip_trailers(s);
    let (head, token) = match s.rfind(" from ") {
        Some(i) => (&s[..i], &s[i + 6..]),
        None => ("", s.strip_prefix("from ")?),
    };
    Some((head, parse_addr(token)?, port))
}

/// `USER from ADDR[ port P][ ssh2]`, or `USER from HOST via X` (macOS).
fn user_from_host<'a>(ev: Event<'a>, rest: &'a str) -> Option<Event<'a>> {
    let rest = match rest.rfind(" via ") {
        Some(i) if !rest[i + 5..].contains(' ') => &rest[..i],
        _ => rest,
    };
    let (user, addr, port) = from_addr_right(rest)?;
    let mut ev = with_addr(ev, addr, port);
    ev.user_name = Some(user);
    Some(ev)
}

/// sshd's PAM reports: `[aA]uthentication (failure|error|failed) for USER from HOST`.
fn pam_report(m: &str) -> Option<Event<'_>> {
    let rest = m.get(1..)?.strip_prefix("uthentication ")?;
    let rest = ["failure for ", "error for ", "failed for "].iter().find_map(|p| rest.strip_prefix(p))?;
    user_from_host(auth(Action::SshPamFailure, Outcome::Failure), rest)
}

fn invalid_user(m: &str) -> Option<Event<'_>> {
    let rest = m.get(1..)?;
    let rest = rest.strip_prefix("nvalid user ").or_else(|| rest.strip_prefix("llegal user "))?;
    let mut ev = user_from_host(auth(Action::SshInvalidUser, Outcome::Failure), rest)?;
    ev.user_invalid = true;
    Some(ev)
}

const NOT_ALLOWED: [&str; 6] = [
    "not listed in AllowUsers",
    "listed in DenyUsers",
    "not in any group",
    "a group is listed in DenyGroups",
    "none of user's groups are listed in AllowGroups",
    "account is locked",
];

/// `User USER [from ADDR ]not allowed because REASON`.
fn user_not_allowed(rest: &str) -> Option<Event<'_>> {
    let i = rest.rfind(" not allowed because ")?;
    let reason = &rest[i + 21..];
    if !NOT_ALLOWED.contains(&reason) {
        return None;
    }
    let who = &rest[..i];
    let ev = auth(Action::SshUserNotAllowed, Outcome::Failure);
    if let Some(j) = who.rfind(" from ") {
        if let Some(addr) = parse_addr(&who[j + 6..]) {
            let mut ev = with_addr(ev, addr, None);
            ev.user_name = Some(&who[..j]);
            return Some(ev);
        }
    }
    let mut ev = ev;
    ev.user_name = Some(who);
    Some(ev)
}

/// `Failed METHOD for ...` and `Accepted METHOD for ...`.
fn login(rest: &str, outcome: Outcome) -> Option<Event<'_>> {
    let (method, rest) = split_token(rest);
    let rest = rest.strip_prefix("for ")?;
    let (invalid, body) = match rest.strip_prefix("invalid user ") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let (user, addr, port) = locate_from(body)?;
    let mut ev = with_addr(auth(Action::SshLogin, outcome), addr, port);
    ev.user_name = Some(user);
    ev.user_invalid = invalid;
    ev.ssh_method = Some(method);
    Some(ev)
}

/// Where the client address is in `USER from ADDR port P sshN[: INFO]` when USER and INFO may both hold
/// ` from ` text. In order:
/// 1. the rightmost ` from ` followed by a complete trailer (`ADDR port P[ sshN]`) that ends the line or is
///    followed by a key description (`: RSA SHA256:...`, which the server writes): what sshd wrote last;
/// 2. fail2ban's rule for old formats: the first ` from ` after a user name without spaces, followed by the
///    end or `: ` (`ssh1: ruser X`);
/// 3. the rightmost ` from ` with any well-formed trailer that ends the line.
///
/// A client can still move the address with a user name like `x from 6.6.6.6 port 1 ssh2: y` only when
/// the real line does not end in a complete trailer, which current OpenSSH always writes (fail2ban's own
/// samples of the old `ssh1: ruser X` form need rule 2).
fn locate_from(body: &str) -> Option<(&str, Addr<'_>, Option<u16>)> {
    let mut cands: [usize; 8] = [0; 8];
    let mut n = 0;
    if body.starts_with("from ") {
        // An empty user name: the candidate starts at 0, without a leading space.
        cands[0] = usize::MAX;
        n = 1;
    }
    for (i, _) in body.match_indices(" from ") {
        if n == cands.len() {
            // More than 8 candidates: keep the last ones, which rules 1 and 3 prefer.
            cands.copy_within(1.., 0);
            n -= 1;
        }
        cands[n] = i;
        n += 1;
    }
    let at = |c: usize| -> (&str, &str) {
        if c == usize::MAX {
            ("", &body[5..])
        } else {
            (&body[..c], &body[c + 6..])
        }
    };
    for &c in cands[..n].iter().rev() {
        let (user, tail) = at(c);
        if let Some(t) = parse_trailer(tail) {
            if t.port.is_some() && (t.rest.is_empty() || is_key_info(t.rest)) {
                return Some((user, t.addr, t.port));
            }
        }
    }
    if n > 0 {
        let (user, tail) = at(cands[0]);
        if !user.contains(' ') {
            if let Some(t) = parse_trailer(tail) {
                if t.rest.is_empty() || t.rest.starts_with(": ") {
                    return Some((user, t.addr, t.port));
                }
            }
        }
    }
    for &c in cands[..n].iter().rev() {
        let (user, tail) = at(c);
        if let Some(t) = parse_trailer(tail) {
            if t.rest.is_empty() {
                return Some((user, t.addr, t.port));
            }
        }
    }
    None
}

struct Trailer<'a> {
    addr: Addr<'a>,
    port: Option<u16>,
    rest: &'a str,
}

/// `ADDR( port N| on X){0,2}( sshN)?` at the start of `s`.
fn parse_trailer(s: &str) -> Option<Trailer<'_>> {
    // The address ends at a space; a colon just before it (`ADDR: ...`) is not part of it.
    let end = s.find(' ').unwrap_or(s.len());
    let end = if s[..end].ends_with(':') { end - 1 } else { end };
    let addr = parse_addr(&s[..end])?;
    let mut rest = &s[end..];
    let mut port = None;
    for _ in 0..2 {
        if let Some(r) = rest.strip_prefix(" port ") {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            port = Some(r[..digits].parse().ok()?);
            rest = &r[digits..];
        } else if let Some(r) = rest.strip_prefix(" on ") {
            rest = &r[r.find(' ').unwrap_or(r.len())..];
        } else {
            break;
        }
    }
    if let Some(r) = rest.strip_prefix(" ssh") {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[digits..];
    }
    Some(Trailer { addr, port, rest })
}

/// `: KEYTYPE FINGERPRINT...` as sshd writes after publickey and hostbased attempts.
fn is_key_info(rest: &str) -> bool {
    let Some(info) = rest.strip_prefix(": ") else { return false };
    let (kind, tail) = split_token(info);
    let (fp, _) = split_token(tail);
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && fp.contains(':')
        && !fp.contains(' ')
}

/// `Received disconnect from ADDR port P:CODE: TEXT` or the older `from ADDR: CODE: TEXT`.
fn received_disconnect(rest: &str) -> Option<Event<'_>> {
    let (token, tail) = split_token(rest);
    let (addr, port, after) = if let Some(p) = tail.strip_prefix("port ") {
        let colon = p.find(':')?;
        (parse_addr(token)?, p[..colon].parse().ok(), &p[colon + 1..])
    } else {
        (parse_addr(token.strip_suffix(':')?)?, None, tail)
    };
    let after = after.trim_start();
    let colon = after.find(':')?;
    let code = parse_u32(&after[..colon])?;
    let text = after[colon + 1..].trim_start();
    let action = match code {
        3 if text.ends_with(": Auth fail") => Action::SshAuthFailDisconnect,
        14 if text.starts_with("No supported authentication methods available")
            || text.starts_with("No authentication methods available") =>
        {
            Action::SshNoAuthMethods
        }
        _ => Action::SshDisconnectReceived,
    };
    let ev = match action {
        Action::SshDisconnectReceived => net(action),
        _ => auth(action, Outcome::Failure),
    };
    Some(with_addr(ev, addr, port))
}

/// `[invalid user USER |authenticating user USER |user USER ]ADDR[ port P]` after `Connection closed by `,
/// `Connection reset by ` or `Disconnected from `. The address is the last word, so user names cannot move it.
fn closed(action: Action, rest: &str) -> Option<Event<'_>> {
    let (s, port) = strip_trailers(rest);
    let (head, token) = match s.rsplit_once(' ') {
        Some((h, t)) => (Some(h), t),
        None => (None, s),
    };
    let addr = parse_addr(token)?;
    let user = match head {
        None => None,
        Some(h) => Some(user_after_kind(h)?),
    };
    let mut ev = with_addr(net(action), addr, port);
    ev.user_name = user;
    Some(ev)
}

/// `invalid user X`, `authenticating user X` or `user X` (the space before the address already cut).
fn user_after_kind(h: &str) -> Option<&str> {
    ["invalid user", "authenticating user", "user"].iter().find_map(|p| {
        let r = h.strip_prefix(p)?;
        if r.is_empty() {
            Some(r)
        } else {
            r.strip_prefix(' ')
        }
    })
}

/// `Disconnecting (invalid|authenticating) user USER ADDR port P: REASON`.
fn disconnecting_user(rest: &str) -> Option<Event<'_>> {
    let rest = rest.strip_prefix("from ").unwrap_or(rest);
    let rest = rest.strip_prefix("invalid user ").or_else(|| rest.strip_prefix("authenticating user "))?;
    let (user, rest) = split_token(rest);
    let (token, rest) = split_token(rest);
    let addr = parse_addr(token)?;
    let rest = rest.strip_prefix("port ")?;
    let colon = rest.find(':')?;
    let port = rest[..colon].parse().ok();
    let reason = rest[colon + 1..].trim_start();
    let action = if reason.starts_with("Change of username or service not allowed") {
        Action::SshChangeOfUser
    } else if reason.starts_with("Too many authentication failures") {
        Action::SshTooManyFailures
    } else {
        return None;
    };
    let mut ev = with_addr(auth(action, Outcome::Failure), addr, port);
    ev.user_name = Some(user);
    Some(ev)
}

/// `Unable to negotiate with ADDR port P: no matching X found...` or `Unable to negotiate a X`.
fn negotiation(rest: &str) -> Option<Event<'_>> {
    if let Some(r) = rest.strip_prefix(" with ") {
        let (token, tail) = split_token(r);
        let colon = tail.find(": no matching ")?;
        return Some(with_addr(net(Action::SshNegotiationFailed), parse_addr(token)?, port_opts(&tail[..colon])));
    }
    rest.strip_prefix(" a ").map(|_| net(Action::SshNegotiationFailed))
}
