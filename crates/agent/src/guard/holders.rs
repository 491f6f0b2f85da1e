//! Who holds an address on the firewall: local jails and the fleet list each hold it until their own end; the
//! firewall keeps it while any holder does, with the latest end as its timeout, and lets it go only when the
//! last holder does. Pure: it says what the firewall must do, the caller does it.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// One reason an address is blocked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Holder {
    /// A local jail's ban (the `intel` jail included).
    Jail(String),
    /// The server's fleet-wide list.
    Fleet,
}

/// When a hold ends: Unix seconds, or `None` for never.
pub(crate) type End = Option<i64>;

/// What the firewall must do after a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// (Re)ban until this end: the first hold, or the latest end moved.
    Ban(End),
    /// The last holder let go.
    Unban,
}

/// The holders of every held address.
#[derive(Debug, Default)]
pub(crate) struct Holders {
    held: HashMap<IpAddr, BTreeMap<Holder, End>>,
}

/// The later of two ends, `None` (never) being the latest.
fn later(a: End, b: End) -> End {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

fn latest(holders: &BTreeMap<Holder, End>) -> Option<End> {
    holders.values().copied().reduce(later)
}

impl Holders {
    /// `holder` holds `ip` until `end` (replacing its earlier end).
    pub fn hold(&mut self, ip: IpAddr, holder: Holder, end: End) -> Option<Act> {
        let holders = self.held.entry(ip).or_default();
        let before = latest(holders);
        holders.insert(holder, end);
        let after = latest(holders);
        (before != after).then_some(Act::Ban(after.flatten()))
    }

    /// `holder` lets go of `ip`.
    pub fn release(&mut self, ip: IpAddr, holder: &Holder) -> Option<Act> {
        let holders = self.held.get_mut(&ip)?;
        let before = latest(holders);
        holders.remove(holder)?;
        match latest(holders) {
            None => {
                self.held.remove(&ip);
                Some(Act::Unban)
            }
            // The latest end moved earlier: the firewall's timeout is shortened to the remaining holders'.
            Some(after) if Some(after) != before => Some(Act::Ban(after)),
            Some(_) => None,
        }
    }

    pub fn is_held_by(&self, ip: IpAddr, holder: &Holder) -> bool {
        self.held.get(&ip).is_some_and(|h| h.contains_key(holder))
    }

    pub fn is_held(&self, ip: IpAddr) -> bool {
        self.held.contains_key(&ip)
    }

    /// Addresses held at all.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    fn jail(n: &str) -> Holder {
        Holder::Jail(n.into())
    }

    #[test]
    fn jail_ban_then_fleet_ban_then_jail_unban_keeps_the_fleet_ban() {
        let mut h = Holders::default();
        assert_eq!(h.hold(ip(), jail("sshd"), Some(100)), Some(Act::Ban(Some(100))));
        assert_eq!(h.hold(ip(), Holder::Fleet, Some(200)), Some(Act::Ban(Some(200))));
        assert_eq!(h.release(ip(), &jail("sshd")), None, "the fleet's end is already the firewall's");
        assert!(h.is_held_by(ip(), &Holder::Fleet));
        assert_eq!(h.release(ip(), &Holder::Fleet), Some(Act::Unban));
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn fleet_removal_while_the_jail_holds_shortens_to_the_jail() {
        let mut h = Holders::default();
        assert_eq!(h.hold(ip(), jail("sshd"), Some(100)), Some(Act::Ban(Some(100))));
        assert_eq!(h.hold(ip(), Holder::Fleet, Some(500)), Some(Act::Ban(Some(500))));
        assert_eq!(h.release(ip(), &Holder::Fleet), Some(Act::Ban(Some(100))));
        assert_eq!(h.release(ip(), &jail("sshd")), Some(Act::Unban));
    }

    #[test]
    fn a_shorter_second_hold_changes_nothing() {
        let mut h = Holders::default();
        assert_eq!(h.hold(ip(), Holder::Fleet, Some(500)), Some(Act::Ban(Some(500))));
        assert_eq!(h.hold(ip(), jail("sshd"), Some(100)), None);
        assert_eq!(h.release(ip(), &jail("sshd")), None);
        assert_eq!(h.release(ip(), &Holder::Fleet), Some(Act::Unban));
    }

    #[test]
    fn never_beats_any_end_and_extensions_reban() {
        let mut h = Holders::default();
        assert_eq!(h.hold(ip(), jail("sshd"), Some(100)), Some(Act::Ban(Some(100))));
        assert_eq!(h.hold(ip(), Holder::Fleet, None), Some(Act::Ban(None)));
        assert_eq!(h.hold(ip(), jail("sshd"), Some(900)), None, "never is later than 900");
        assert_eq!(h.release(ip(), &Holder::Fleet), Some(Act::Ban(Some(900))));
        assert_eq!(h.hold(ip(), jail("sshd"), Some(1000)), Some(Act::Ban(Some(1000))), "a longer ban of the jail");
    }

    #[test]
    fn two_jails_and_the_fleet_unban_only_with_the_last() {
        let mut h = Holders::default();
        h.hold(ip(), jail("sshd"), Some(100));
        h.hold(ip(), jail("intel"), Some(300));
        h.hold(ip(), Holder::Fleet, Some(200));
        assert_eq!(h.release(ip(), &jail("intel")), Some(Act::Ban(Some(200))));
        assert_eq!(h.release(ip(), &Holder::Fleet), Some(Act::Ban(Some(100))));
        assert_eq!(h.release(ip(), &jail("sshd")), Some(Act::Unban));
    }

    #[test]
    fn releasing_what_is_not_held_does_nothing() {
        let mut h = Holders::default();
        assert_eq!(h.release(ip(), &Holder::Fleet), None);
        h.hold(ip(), jail("sshd"), Some(100));
        assert_eq!(h.release(ip(), &Holder::Fleet), None);
        assert!(!h.is_held_by(ip(), &Holder::Fleet));
        assert_eq!(h.release(ip(), &jail("sshd")), Some(Act::Unban));
        assert_eq!(h.release(ip(), &jail("sshd")), None);
    }

    #[test]
    fn fleet_ban_then_jail_ban_then_fleet_removal_keeps_the_jail_ban() {
        let mut h = Holders::default();
        assert_eq!(h.hold(ip(), Holder::Fleet, Some(100)), Some(Act::Ban(Some(100))));
        assert_eq!(h.hold(ip(), jail("sshd"), Some(400)), Some(Act::Ban(Some(400))));
        assert_eq!(h.release(ip(), &Holder::Fleet), None);
        assert_eq!(h.release(ip(), &jail("sshd")), Some(Act::Unban));
    }
}
