//! Account changes as shadow-utils logs them: useradd, usermod, userdel, groupadd, groupdel, passwd,
//! chpasswd, gpasswd (`new user: name=bob, UID=1001, ...`, `delete user 'bob'`, `add 'bob' to group
//! 'sudo'`, ...). PAM lines (`pam_unix(passwd:chauthtok): password changed for bob`) go to the PAM parser.

use crate::event::{Action, Category, Event, Origin, Outcome};

/// The programs whose lines this module reads.
pub const PROGRAMS: [&str; 10] =
    ["useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod", "passwd", "chpasswd", "gpasswd", "chage"];

pub fn parse<'a>(origin: &Origin<'a>, msg: &'a str) -> Option<Event<'a>> {
    if msg.starts_with("pam_") {
        return crate::parse::pam::parse(origin, msg);
    }
    let msg = msg.trim_end();
    let iam = |action| Event::new(Category::Iam, action, Outcome::Success);
    let mut ev;
    if let Some(rest) = msg.strip_prefix("new user: ") {
        ev = iam(Action::UserCreated);
        ev.user_target_name = Some(kv(rest, "name")?);
    } else if let Some(rest) = msg
        .strip_prefix("new group: ")
        .or_else(|| msg.strip_prefix("group added to ").and_then(|r| Some(&r[r.find(": ")? + 2..])))
    {
        ev = iam(Action::GroupCreated);
        ev.group_name = Some(kv(rest, "name")?);
    } else if let Some(rest) = msg.strip_prefix("delete user ") {
        ev = iam(Action::UserDeleted);
        ev.user_target_name = Some(quoted(rest)?.0);
    } else if let Some(rest) = msg.strip_prefix("add ") {
        ev = iam(Action::UserAddedToGroup);
        let (user, rest) = quoted(rest)?;
        let rest = rest.strip_prefix(" to group ").or_else(|| rest.strip_prefix(" to shadow group "))?;
        ev.user_target_name = Some(user);
        ev.group_name = Some(quoted(rest)?.0);
    } else if let Some(rest) = msg.strip_prefix("delete ") {
        ev = iam(Action::UserRemovedFromGroup);
        let (user, rest) = quoted(rest)?;
        let rest = rest.strip_prefix(" from group ").or_else(|| rest.strip_prefix(" from shadow group "))?;
        ev.user_target_name = Some(user);
        ev.group_name = Some(quoted(rest)?.0);
    } else if let Some(rest) = msg
        .strip_prefix("change user ")
        .or_else(|| msg.strip_prefix("lock user "))
        .or_else(|| msg.strip_prefix("unlock user "))
    {
        ev = iam(Action::UserModified);
        let rest = rest.strip_prefix("name ").unwrap_or(rest);
        ev.user_target_name = Some(quoted(rest)?.0);
    } else if let Some(rest) = msg.strip_prefix("group ") {
        // groupdel: `group 'devs' removed` (and `... removed from /etc/group`).
        let (group, tail) = quoted(rest)?;
        if !tail.starts_with(" removed") {
            return None;
        }
        ev = iam(Action::GroupDeleted);
        ev.group_name = Some(group);
    } else if let Some(rest) = msg.strip_prefix("removed group ") {
        ev = iam(Action::GroupDeleted);
        ev.group_name = Some(quoted(rest)?.0);
    } else if let Some(rest) = msg.strip_prefix("password for ") {
        // passwd: `password for 'bob' changed by 'root'`.
        let (user, tail) = quoted(rest)?;
        ev = iam(Action::PasswordChanged);
        ev.user_target_name = Some(user);
        ev.user_name = tail.strip_prefix(" changed by ").and_then(|t| quoted(t)).map(|q| q.0);
    } else if let Some(rest) = msg.strip_prefix("user ") {
        // gpasswd: `user bob added by root to group sudo`, `user bob removed by root from group sudo`.
        let (user, tail) = rest.split_once(' ')?;
        let (action, tail) = if let Some(t) = tail.strip_prefix("added by ") {
            (Action::UserAddedToGroup, t)
        } else {
            (Action::UserRemovedFromGroup, tail.strip_prefix("removed by ")?)
        };
        let (by, group) = tail.split_once(" to group ").or_else(|| tail.split_once(" from group "))?;
        ev = iam(action);
        ev.user_target_name = Some(user);
        ev.user_name = Some(by);
        ev.group_name = Some(group);
    } else {
        return None;
    }
    Some(ev.with_origin(origin))
}

/// The value of `key=value` in a `, `-separated list.
fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    s.split(", ").find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// `'value'` at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('\'')?;
    let end = rest.find('\'')?;
    Some((&rest[..end], &rest[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(msg: &str) -> Option<Event<'_>> {
        parse(&Origin::default(), msg)
    }

    #[test]
    fn shadow_utils_lines() {
        let e = p("new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0").unwrap();
        assert_eq!((e.action, e.user_target_name), (Action::UserCreated, Some("bob")));
        let e = p("new group: name=devs, GID=1002").unwrap();
        assert_eq!((e.action, e.group_name), (Action::GroupCreated, Some("devs")));
        let e = p("group added to /etc/group: name=devs, GID=1002").unwrap();
        assert_eq!(e.group_name, Some("devs"));
        let e = p("add 'bob' to group 'sudo'").unwrap();
        assert_eq!((e.action, e.user_target_name, e.group_name), (Action::UserAddedToGroup, Some("bob"), Some("sudo")));
        let e = p("add 'bob' to shadow group 'sudo'").unwrap();
        assert_eq!(e.group_name, Some("sudo"));
        let e = p("delete 'bob' from group 'sudo'").unwrap();
        assert_eq!(e.action, Action::UserRemovedFromGroup);
        let e = p("change user 'bob' shell from '/bin/sh' to '/bin/bash'").unwrap();
        assert_eq!((e.action, e.user_target_name), (Action::UserModified, Some("bob")));
        let e = p("change user name 'bob' to 'rob'").unwrap();
        assert_eq!(e.user_target_name, Some("bob"));
        let e = p("lock user 'bob' password").unwrap();
        assert_eq!(e.action, Action::UserModified);
        let e = p("delete user 'bob'").unwrap();
        assert_eq!((e.action, e.user_target_name), (Action::UserDeleted, Some("bob")));
        let e = p("group 'devs' removed from /etc/group").unwrap();
        assert_eq!((e.action, e.group_name), (Action::GroupDeleted, Some("devs")));
        let e = p("removed group 'bob' owned by 'bob'").unwrap();
        assert_eq!(e.action, Action::GroupDeleted);
        let e = p("password for 'bob' changed by 'root'").unwrap();
        assert_eq!((e.action, e.user_target_name, e.user_name), (Action::PasswordChanged, Some("bob"), Some("root")));
        let e = p("user bob added by root to group sudo").unwrap();
        assert_eq!((e.action, e.user_name, e.group_name), (Action::UserAddedToGroup, Some("root"), Some("sudo")));
        let e = p("pam_unix(chpasswd:chauthtok): password changed for bob").unwrap();
        assert_eq!(e.action, Action::PasswordChanged);
    }

    #[test]
    fn truncated_lines() {
        for full in [
            "add 'bob' to group 'sudo'",
            "new user: name=bob, UID=1",
            "delete user 'bob'",
            "user bob added by root to group sudo",
        ] {
            for i in 0..full.len() {
                let _ = p(&full[..i]);
            }
        }
        assert!(p("add 'bob' to group 'sud").is_none());
        assert!(p("delete user 'bo").is_none());
    }
}
