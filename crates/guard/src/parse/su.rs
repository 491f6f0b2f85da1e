//! su's own lines, util-linux (`(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`) and
//! shadow-utils (`Successful su for root by alice`, `FAILED su for root by alice`, `+ pts/0 alice:root`).
//! PAM lines from su go to the PAM parser.

use crate::event::{Action, Category, Event, Origin, Outcome};

pub fn parse<'a>(origin: &Origin<'a>, msg: &'a str) -> Option<Event<'a>> {
    if msg.starts_with("pam_") {
        return crate::parse::pam::parse(origin, msg);
    }
    let msg = msg.trim_end();
    let (outcome, user, target) = if let Some(rest) = msg.strip_prefix("FAILED SU (to ") {
        let (target, user) = to_form(rest)?;
        (Outcome::Failure, user, target)
    } else if let Some(rest) = msg.strip_prefix("(to ") {
        let (target, user) = to_form(rest)?;
        (Outcome::Success, user, target)
    } else if let Some(rest) = msg.strip_prefix("Successful su for ") {
        let (target, user) = rest.split_once(" by ")?;
        (Outcome::Success, user, target)
    } else if let Some(rest) = msg.strip_prefix("FAILED su for ") {
        let (target, user) = rest.split_once(" by ")?;
        (Outcome::Failure, user, target)
    } else if let Some(rest) = msg.strip_prefix("+ ").or_else(|| msg.strip_prefix("- ")) {
        let outcome = if msg.starts_with('+') { Outcome::Success } else { Outcome::Failure };
        let (_tty, pair) = rest.split_once(' ')?;
        let (user, target) = pair.rsplit_once(':')?;
        (outcome, user, target)
    } else {
        return None;
    };
    let mut ev = Event::new(Category::Authentication, Action::SuSwitch, outcome);
    ev.user_name = Some(user);
    ev.user_target_name = Some(target);
    Some(ev.with_origin(origin))
}

/// `TARGET) USER on TTY`.
fn to_form(rest: &str) -> Option<(&str, &str)> {
    let (target, after) = rest.split_once(") ")?;
    let user = match after.rfind(" on ") {
        Some(i) => &after[..i],
        None => after,
    };
    Some((target, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(msg: &str) -> Option<Event<'_>> {
        parse(&Origin::default(), msg)
    }

    #[test]
    fn both_formats() {
        let e = p("(to root) alice on pts/0").unwrap();
        assert_eq!((e.outcome, e.user_name, e.user_target_name), (Outcome::Success, Some("alice"), Some("root")));
        let e = p("FAILED SU (to postgres) bob on pts/3").unwrap();
        assert_eq!((e.outcome, e.user_name, e.user_target_name), (Outcome::Failure, Some("bob"), Some("postgres")));
        let e = p("FAILED su for root by mallory").unwrap();
        assert_eq!((e.outcome, e.user_name), (Outcome::Failure, Some("mallory")));
        let e = p("+ pts/0 alice:root").unwrap();
        assert_eq!((e.outcome, e.user_name, e.user_target_name), (Outcome::Success, Some("alice"), Some("root")));
        assert!(p("(to root").is_none());
        assert!(p("FAILED SU (to ").is_none());
        assert!(p("random").is_none());
    }
}
