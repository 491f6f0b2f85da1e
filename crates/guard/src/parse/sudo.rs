//! sudo's log lines: `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id`, with a
//! leading reason when it refused or the password was wrong (`3 incorrect password attempts ; ...`,
//! `user NOT in sudoers ; ...`). PAM lines from sudo go to the PAM parser.

use crate::event::{Action, Category, Event, Origin, Outcome};

pub fn parse<'a>(origin: &Origin<'a>, msg: &'a str) -> Option<Event<'a>> {
    let msg = msg.trim_start();
    if msg.starts_with("pam_") {
        return crate::parse::pam::parse(origin, msg);
    }
    let sep = msg.find(" : ")?;
    let user = &msg[..sep];
    let mut rest = &msg[sep + 3..];
    let mut reason = None;
    if !rest.starts_with("TTY=") && !rest.starts_with("HOST=") && !rest.starts_with("PWD=") {
        let end = rest.find(" ; ")?;
        reason = Some(&rest[..end]);
        rest = &rest[end + 3..];
    }
    let (action, outcome) = match reason {
        None => (Action::SudoCommand, Outcome::Success),
        Some(r) if r.contains("incorrect password attempt") || r == "a password is required" => {
            (Action::SudoAuthFailure, Outcome::Failure)
        }
        Some(r)
            if r.contains("NOT in sudoers") || r == "command not allowed" || r.contains("NOT authorized on host") =>
        {
            (Action::SudoNotAllowed, Outcome::Failure)
        }
        Some(_) => return None,
    };
    let mut ev = Event::new(Category::Process, action, outcome);
    if action == Action::SudoAuthFailure {
        ev.category = Category::Authentication;
    }
    ev.user_name = Some(user);
    // COMMAND is last and may hold ` ; `, so it is everything after the first `COMMAND=`.
    let (fields, command) = match rest.find("COMMAND=") {
        Some(i) => (&rest[..i], Some(&rest[i + 8..])),
        None => (rest, None),
    };
    ev.command_line = command;
    for field in fields.split(" ; ") {
        if let Some(target) = field.strip_prefix("USER=") {
            ev.user_target_name = Some(target.trim_end_matches([' ', ';']));
        }
    }
    Some(ev.with_origin(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(msg: &str) -> Option<Event<'_>> {
        parse(&Origin::default(), msg)
    }

    #[test]
    fn commands_and_refusals() {
        let e = p("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update ; echo x").unwrap();
        assert_eq!((e.action, e.outcome), (Action::SudoCommand, Outcome::Success));
        assert_eq!((e.user_name, e.user_target_name), (Some("alice"), Some("root")));
        assert_eq!(e.command_line, Some("/usr/bin/apt update ; echo x"));
        let e =
            p("    bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh").unwrap();
        assert_eq!((e.action, e.outcome, e.user_name), (Action::SudoAuthFailure, Outcome::Failure, Some("bob")));
        let e = p("eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/eve ; USER=root ; COMMAND=/bin/bash").unwrap();
        assert_eq!(e.action, Action::SudoNotAllowed);
        let e = p("jörg : command not allowed ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/sbin/reboot").unwrap();
        assert_eq!((e.action, e.user_name), (Action::SudoNotAllowed, Some("jörg")));
        let e = p("pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=bob").unwrap();
        assert_eq!((e.action, e.user_name), (Action::PamAuthFailure, Some("bob")));
    }

    #[test]
    fn unknown_and_truncated() {
        assert!(p("alice : something else ; TTY=x").is_none());
        let full = "bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh";
        for i in 0..full.len() {
            let _ = p(&full[..i]);
        }
        assert!(p("bob : 3 incorrect password").is_none());
    }
}
