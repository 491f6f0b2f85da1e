//! Linux-PAM module messages, whatever program logs them: `pam_unix(sshd:auth): authentication failure;
//! ...`, `pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)`,
//! `pam_unix(passwd:chauthtok): password changed for bob`.

use crate::addr::parse_addr;
use crate::event::{Action, Category, Event, Origin, Outcome};

/// Parses `pam_MODULE(SERVICE:TYPE): TEXT`.
pub fn parse<'a>(origin: &Origin<'a>, msg: &'a str) -> Option<Event<'a>> {
    let rest = msg.strip_prefix("pam_")?;
    let open = rest.find('(')?;
    if open == 0 || open > 32 || !rest.as_bytes()[..open].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return None;
    }
    let close = rest.find("): ")?;
    let (service, kind) = rest.get(open + 1..close)?.split_once(':')?;
    let text = &rest[close + 3..];
    let ev = match kind {
        "auth" => auth_failure(service, text.strip_prefix("authentication failure;")?)?,
        "session" => session(text)?,
        "chauthtok" => {
            let user = text.strip_prefix("password changed for ")?;
            let mut ev = Event::new(Category::Iam, Action::PasswordChanged, Outcome::Success);
            ev.user_target_name = Some(user.trim_end());
            ev
        }
        _ => return None,
    };
    Some(ev.with_origin(origin))
}

/// `logname=X uid=N euid=N tty=T ruser=R rhost=H  user=U`; `user` is last and, for sshd, client-chosen,
/// so the fields before it are read left to right.
fn auth_failure<'a>(service: &str, text: &'a str) -> Option<Event<'a>> {
    let mut ev = Event::new(Category::Authentication, Action::PamAuthFailure, Outcome::Failure);
    let mut ruser = None;
    let mut logname = None;
    let mut user = None;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        let after = &rest[eq + 1..];
        if key == "user" {
            user = Some(after.trim_end());
            break;
        }
        let end = after.find(' ').unwrap_or(after.len());
        let value = &after[..end];
        match key {
            "ruser" => ruser = Some(value),
            "logname" => logname = Some(value),
            "rhost" if !value.is_empty() => {
                if let Some(addr) = parse_addr(value) {
                    ev.source_ip = addr.ip;
                    ev.source_address = Some(addr.raw);
                }
            }
            _ => {}
        }
        rest = after[end..].trim_start();
    }
    let nonempty = |v: Option<&'a str>| v.filter(|v| !v.is_empty());
    if service == "sshd" || ev.source_address.is_some() {
        // Remote logins: the account tried, or PAM's remote user when sshd passed none.
        ev.user_name = nonempty(user).or(nonempty(ruser));
    } else {
        // su, sudo, login: who asked, and for whom.
        ev.user_name = nonempty(ruser).or(nonempty(logname));
        ev.user_target_name = nonempty(user);
    }
    Some(ev)
}

/// `session opened for user X(uid=N) by Y(uid=M)`, `session opened for user X by (uid=0)`, `session closed
/// for user X`.
fn session(text: &str) -> Option<Event<'_>> {
    let (action, rest) = if let Some(r) = text.strip_prefix("session opened for user ") {
        (Action::SessionOpened, r)
    } else {
        (Action::SessionClosed, text.strip_prefix("session closed for user ")?)
    };
    let mut ev = Event::new(Category::Session, action, Outcome::Success);
    let (target, by) = match rest.find(" by ") {
        Some(i) => (&rest[..i], Some(&rest[i + 4..])),
        None => (rest.trim_end(), None),
    };
    ev.user_target_name = Some(strip_uid(target));
    ev.user_name = by.map(strip_uid).filter(|u| !u.is_empty());
    Some(ev)
}

fn strip_uid(s: &str) -> &str {
    match s.find("(uid=") {
        Some(i) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(msg: &str) -> Option<Event<'_>> {
        parse(&Origin::default(), msg)
    }

    #[test]
    fn sshd_auth_failure() {
        let e = p("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::5  user=root").unwrap();
        assert_eq!((e.action, e.outcome), (Action::PamAuthFailure, Outcome::Failure));
        assert_eq!(e.source_ip, Some("2001:db8::5".parse().unwrap()));
        assert_eq!(e.user_name, Some("root"));
        // The client-chosen user name cannot inject a host.
        let e = p("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=x rhost=6.6.6.6").unwrap();
        assert_eq!(e.source_ip, Some("192.0.2.9".parse().unwrap()));
        assert_eq!(e.user_name, Some("x rhost=6.6.6.6"));
    }

    #[test]
    fn su_auth_failure_and_sessions() {
        let e = p("pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root").unwrap();
        assert_eq!((e.user_name, e.user_target_name, e.source_ip), (Some("alice"), Some("root"), None));
        let e = p("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)").unwrap();
        assert_eq!((e.action, e.user_target_name, e.user_name), (Action::SessionOpened, Some("root"), Some("alice")));
        let e = p("pam_unix(sshd:session): session opened for user rda by (uid=0)").unwrap();
        assert_eq!((e.user_target_name, e.user_name), (Some("rda"), None));
        let e = p("pam_unix(cron:session): session closed for user jörg").unwrap();
        assert_eq!((e.action, e.user_target_name), (Action::SessionClosed, Some("jörg")));
        let e = p("pam_unix(passwd:chauthtok): password changed for bob").unwrap();
        assert_eq!((e.action, e.user_target_name), (Action::PasswordChanged, Some("bob")));
    }

    #[test]
    fn truncated_lines_yield_nothing() {
        let full = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root";
        for i in 0..full.len() {
            let _ = p(&full[..i]);
        }
        assert!(p("pam_unix(sshd:auth): authentication failure").is_none());
        assert!(p("pam_unix(sshd:account): x").is_none());
        assert!(p("pam_(x:auth): authentication failure;").is_none());
    }
}
