//! `IntelMatcher`: checks events' source and destination addresses against the merged feeds, allow-list first.
//!
//! The matcher is immutable and `Send + Sync`: a fetcher builds a new one from fresh feeds and swaps it in
//! whole (an `Arc` behind a lock or an atomic pointer), so a check never sees half of an update. The
//! allow-list is stored in the same set as exceptions, so it always wins and a check is one lookup per
//! address, allocating nothing.

use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::event::Event;
use crate::intel::feed::Feed;
use crate::intel::set::{FeedId, FeedSet, IpRange, IpSet, IpSetBuilder, SetError};

/// One address a feed lists, and the feeds that list it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHit {
    pub ip: IpAddr,
    pub feeds: FeedSet,
}

/// Which of an event's addresses the feeds list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit<'m> {
    pub source: Option<IpHit>,
    pub destination: Option<IpHit>,
    names: &'m [Box<str>],
}

impl<'m> Hit<'m> {
    /// Every feed that matched, on either address.
    pub fn feeds(&self) -> FeedSet {
        let of = |h: Option<IpHit>| h.map_or(FeedSet::EMPTY, |h| h.feeds);
        of(self.source).union(of(self.destination))
    }

    /// The names of every feed that matched, in feed order.
    pub fn feed_names(&self) -> impl Iterator<Item = &'m str> + '_ {
        let names = self.names;
        self.feeds().iter().filter_map(move |id| names.get(usize::from(id)).map(|n| &**n))
    }
}

/// Threat-intel feeds merged into one [`IpSet`], with an allow-list that always wins.
#[derive(Clone, Debug, Default)]
pub struct IntelMatcher {
    set: IpSet,
    allow_list: Vec<Cidr>,
}

impl IntelMatcher {
    /// Merges parsed feeds (each a [`FeedId`] in the given order) into a matcher, at most `max_entries`
    /// entries over all of them; the networks in `allow` never match.
    pub fn build(feeds: &[Feed], allow: &[Cidr], max_entries: usize) -> Result<IntelMatcher, SetError> {
        let mut b = IpSetBuilder::new(max_entries);
        for feed in feeds {
            let id = b.add_feed(&feed.name)?;
            for e in &feed.entries {
                b.insert(id, e.range, e.line)?;
            }
        }
        Ok(IntelMatcher::from_builder(b, allow))
    }

    /// A matcher over the feeds already in `builder`; the networks in `allow` never match.
    pub fn from_builder(mut builder: IpSetBuilder, allow: &[Cidr]) -> IntelMatcher {
        for c in allow {
            builder.except(IpRange::cidr(c.network(), c.prefix()).unwrap_or(IpRange::single(c.network())));
        }
        IntelMatcher { set: builder.build(), allow_list: allow.to_vec() }
    }

    /// Whether the allow-list covers `ip`.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        self.set.is_excepted(ip)
    }

    /// The feeds listing `ip`, unless none does or the allow-list covers it: one lookup either way.
    #[inline]
    pub fn check_ip(&self, ip: IpAddr) -> Option<FeedSet> {
        self.set.lookup(ip)
    }

    /// Checks the event's `source.ip` and `destination.ip`.
    #[inline]
    pub fn check(&self, event: &Event<'_>) -> Option<Hit<'_>> {
        let hit = |ip: Option<IpAddr>| ip.and_then(|ip| self.check_ip(ip).map(|feeds| IpHit { ip, feeds }));
        let (source, destination) = (hit(event.source_ip), hit(event.destination_ip));
        (source.is_some() || destination.is_some()).then_some(Hit { source, destination, names: self.set.feed_names() })
    }

    pub fn feed_name(&self, id: FeedId) -> Option<&str> {
        self.set.feed_name(id)
    }

    pub fn set(&self) -> &IpSet {
        &self.set
    }

    pub fn allow_list(&self) -> &[Cidr] {
        &self.allow_list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Action, Category, Outcome};
    use crate::intel::feed::{parse, FeedFormat};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn matcher(allow: &[&str]) -> IntelMatcher {
        let a = parse(FeedFormat::Plain, "alpha", b"192.0.2.0/24\n2001:db8::/32\n").unwrap();
        let b = parse(FeedFormat::Plain, "beta", b"192.0.2.128/25\n198.51.100.7\n").unwrap();
        let allow: Vec<Cidr> = allow.iter().map(|c| c.parse().unwrap()).collect();
        IntelMatcher::build(&[a, b], &allow, 100).unwrap()
    }

    fn event(src: Option<&str>, dst: Option<&str>) -> Event<'static> {
        let mut e = Event::new(Category::Network, Action::SshConnection, Outcome::Unknown);
        e.source_ip = src.map(ip);
        e.destination_ip = dst.map(ip);
        e
    }

    #[test]
    fn names_the_matching_feeds() {
        let m = matcher(&[]);
        let e = event(Some("192.0.2.200"), None);
        let hit = m.check(&e).unwrap();
        assert_eq!(hit.feed_names().collect::<Vec<_>>(), ["alpha", "beta"]);
        assert_eq!(hit.source.unwrap().ip, ip("192.0.2.200"));
        assert_eq!(hit.destination, None);
        let e = event(Some("203.0.113.1"), Some("198.51.100.7"));
        let hit = m.check(&e).unwrap();
        assert_eq!((hit.source, hit.feed_names().collect::<Vec<_>>()), (None, vec!["beta"]));
        assert!(m.check(&event(Some("203.0.113.1"), None)).is_none());
        assert!(m.check(&event(None, None)).is_none());
        assert_eq!(m.check_ip(ip("::ffff:192.0.2.1")), Some(FeedSet::single(0)));
    }

    #[test]
    fn allow_list_wins() {
        let m = matcher(&["192.0.2.200/29", "2001:db8:1::/48"]);
        assert!(m.check(&event(Some("192.0.2.201"), None)).is_none());
        assert!(m.check(&event(Some("::ffff:192.0.2.201"), None)).is_none());
        assert!(m.check(&event(Some("192.0.2.199"), None)).is_some());
        assert!(m.check_ip(ip("2001:db8:1::5")).is_none());
        assert!(m.check_ip(ip("2001:db8:2::5")).is_some());
        assert!(m.is_allowed(ip("192.0.2.207")) && !m.is_allowed(ip("192.0.2.208")));
        assert_eq!(m.allow_list().len(), 2);
    }

    #[test]
    fn empty_matcher_matches_nothing() {
        let m = IntelMatcher::default();
        assert!(m.check(&event(Some("192.0.2.1"), Some("::1"))).is_none());
    }
}
