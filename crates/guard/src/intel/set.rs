//! `IpSet`: several feeds' IPv4 and IPv6 ranges merged into sorted, non-overlapping ranges, looked up by binary search.
//!
//! Each stored range carries the set of feeds that list every address in it ([`FeedSet`], a 64-bit mask):
//! overlapping entries from different feeds are split where their feed sets differ, and adjacent or
//! overlapping ranges with the same feeds are merged. A mask is `Copy`, so a lookup answers "which feeds"
//! without allocating, and 63 feeds is far more than a host subscribes to. The 64th bit marks exceptions
//! (the allow-list): an address in an excepted range matches nothing, and it costs no second lookup.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A feed's index in the set that holds it (0..[`MAX_FEEDS`]).
pub type FeedId = u16;

/// How many feeds one set can hold.
pub const MAX_FEEDS: usize = 63;

/// The mask bit of excepted ranges.
const EXCEPT: FeedId = 63;
const MASK_BITS: usize = 64;

/// The most entries one set can hold, whatever its builder was asked for.
pub const MAX_ENTRIES: usize = 1 << 28;

/// The IPv4-mapped block `::ffff:0:0/96`: its addresses are IPv4 addresses.
const MAPPED_START: u128 = 0xffff << 32;
const MAPPED_END: u128 = MAPPED_START | 0xffff_ffff;

/// A set of feeds, as a bit per [`FeedId`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FeedSet(u64);

impl FeedSet {
    pub const EMPTY: FeedSet = FeedSet(0);

    pub fn single(id: FeedId) -> FeedSet {
        FeedSet(1u64.checked_shl(u32::from(id)).unwrap_or(0))
    }

    pub fn contains(self, id: FeedId) -> bool {
        self.0 & FeedSet::single(id).0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn union(self, other: FeedSet) -> FeedSet {
        FeedSet(self.0 | other.0)
    }

    /// The feeds, lowest id first.
    pub fn iter(self) -> impl Iterator<Item = FeedId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let id = bits.trailing_zeros() as FeedId;
                bits &= bits - 1;
                id
            })
        })
    }
}

impl fmt::Debug for FeedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpRange {
    V4 { start: u32, end: u32 },
    V6 { start: u128, end: u128 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("invalid prefix length in {0:?}")]
    Prefix(String),
    #[error("range {0:?} mixes IPv4 and IPv6")]
    MixedFamilies(String),
    #[error("range {0:?} ends before it starts")]
    Backwards(String),
    #[error("network {0:?} has bits set after its prefix")]
    HostBits(String),
}

impl IpRange {
    /// The network `addr/prefix`; `None` when the prefix is too long for the family.
    pub fn cidr(addr: IpAddr, prefix: u8) -> Option<IpRange> {
        match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                let start = u32::from(a) & !host;
                Some(IpRange::V4 { start, end: start | host })
            }
            IpAddr::V6(a) if prefix <= 128 => {
                let host = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                let start = u128::from(a) & !host;
                Some(IpRange::V6 { start, end: start | host })
            }
            _ => None,
        }
    }

    pub fn single(addr: IpAddr) -> IpRange {
        match addr {
            IpAddr::V4(a) => IpRange::V4 { start: a.into(), end: a.into() },
            IpAddr::V6(a) => IpRange::V6 { start: a.into(), end: a.into() },
        }
    }

    /// Parses `1.2.3.0/24`, `2001:db8::/32`, a bare address, or `first-last` (spaces allowed around the
    /// dash). Addresses are parsed strictly (no octal or short IPv4 forms). A network with bits set after
    /// its prefix (`10.1.2.3/8`) is refused unless `lenient_host_bits`: feeds that write one usually meant
    /// something else.
    pub fn parse(text: &str, lenient_host_bits: bool) -> Result<IpRange, RangeError> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('-') {
            let (a, b) = (parse_addr(a.trim(), text)?, parse_addr(b.trim(), text)?);
            return match (a, b) {
                (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Ok(IpRange::V4 { start: a.into(), end: b.into() }),
                (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Ok(IpRange::V6 { start: a.into(), end: b.into() }),
                (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                    Err(RangeError::Backwards(text.to_string()))
                }
                _ => Err(RangeError::MixedFamilies(text.to_string())),
            };
        }
        let Some((addr, prefix)) = text.split_once('/') else {
            return Ok(IpRange::single(parse_addr(text, text)?));
        };
        let addr = parse_addr(addr, text)?;
        let digits_ok = !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit());
        let prefix: u8 =
            prefix.parse().ok().filter(|_| digits_ok).ok_or_else(|| RangeError::Prefix(text.to_string()))?;
        let range = IpRange::cidr(addr, prefix).ok_or_else(|| RangeError::Prefix(text.to_string()))?;
        if !lenient_host_bits && IpRange::single(addr).start_key() != range.start_key() {
            return Err(RangeError::HostBits(text.to_string()));
        }
        Ok(range)
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self, IpRange::V4 { .. })
    }

    /// How many addresses, saturating at `u128::MAX` (only `::/0` has one more).
    pub fn len(&self) -> u128 {
        match *self {
            IpRange::V4 { start, end } => u128::from(end - start) + 1,
            IpRange::V6 { start, end } => (end - start).saturating_add(1),
        }
    }

    /// Never true: a range holds at least one address. Here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn start_key(&self) -> u128 {
        match *self {
            IpRange::V4 { start, .. } => start.into(),
            IpRange::V6 { start, .. } => start,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, unmap(ip)) {
            (IpRange::V4 { start, end }, IpAddr::V4(a)) => (start..=end).contains(&u32::from(a)),
            (IpRange::V6 { start, end }, IpAddr::V6(a)) => (start..=end).contains(&u128::from(a)),
            _ => false,
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpRange::V4 { start, end } => write!(f, "{}-{}", Ipv4Addr::from(start), Ipv4Addr::from(end)),
            IpRange::V6 { start, end } => write!(f, "{}-{}", Ipv6Addr::from(start), Ipv6Addr::from(end)),
        }
    }
}

/// A strict address: what `std` accepts (which refuses `010.0.0.1`, `1.2.3`), IPv6 optionally in brackets.
fn parse_addr(token: &str, whole: &str) -> Result<IpAddr, RangeError> {
    let inner = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(token);
    inner.parse().map_err(|_| RangeError::Address(whole.to_string()))
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("too many feeds: at most {max} per set, cannot add feed {feed}")]
    TooManyFeeds { feed: String, max: usize },
    #[error("feed {feed} line {line}: the intel set is full ({max} entries over all feeds)")]
    TooManyEntries { feed: String, line: usize, max: usize },
    #[error("unknown feed id {0}")]
    UnknownFeed(FeedId),
}

/// One family's merged ranges: parallel arrays, so a lookup's binary search touches only `starts`, and
/// a first-level index over the top bits of the address that narrows the search to one bucket's ranges
/// (one or two cache lines for real feeds instead of ~17 dependent probes over 100k ranges).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Table<K> {
    starts: Vec<K>,
    ends: Vec<K>,
    feeds: Vec<FeedSet>,
    /// `index[b]` is how many ranges start in buckets before `b`; `index.len()` is buckets + 1.
    index: Vec<u32>,
    /// Bucket of a key: `key >> shift` (the whole family is one bucket when the shift is the key width).
    shift: u32,
}

/// The most index bits: 65,536 buckets, 256 KiB per family.
const MAX_INDEX_BITS: u32 = 16;

/// The key types of the two families.
trait Key: Copy + Ord {
    /// The family's last address.
    const LAST: Self;
    const BITS: u32;
    /// `self >> shift` as an index (0 when `shift` is the key width).
    fn bucket(self, shift: u32) -> usize;
    /// The next address, `None` after the last one.
    fn next(self) -> Option<Self>;
    /// The address before, or the first one itself.
    fn prev(self) -> Self;
}

impl Key for u32 {
    const LAST: u32 = u32::MAX;
    const BITS: u32 = 32;

    #[inline]
    fn bucket(self, shift: u32) -> usize {
        self.checked_shr(shift).unwrap_or(0) as usize
    }

    fn next(self) -> Option<u32> {
        self.checked_add(1)
    }

    fn prev(self) -> u32 {
        self.saturating_sub(1)
    }
}

impl Key for u128 {
    const LAST: u128 = u128::MAX;
    const BITS: u32 = 128;

    #[inline]
    fn bucket(self, shift: u32) -> usize {
        self.checked_shr(shift).unwrap_or(0) as usize
    }

    fn next(self) -> Option<u128> {
        self.checked_add(1)
    }

    fn prev(self) -> u128 {
        self.saturating_sub(1)
    }
}

impl<K: Key> Table<K> {
    /// Sweeps the entries' boundaries in order, keeping how many entries of each feed cover the current
    /// point; each stretch between two boundaries gets the feeds with a non-zero count.
    fn build(entries: Vec<(K, K, FeedId)>) -> Table<K> {
        // (position, feed, +1 at a start / -1 after an end); an end at the family's last address never
        // closes, which is the same as closing after everything.
        let mut events: Vec<(K, FeedId, bool)> = Vec::with_capacity(entries.len() * 2);
        for &(start, end, feed) in &entries {
            events.push((start, feed, true));
            if let Some(after) = end.next() {
                events.push((after, feed, false));
            }
        }
        drop(entries);
        events.sort_unstable_by_key(|e| e.0);
        let mut table = Table { starts: Vec::new(), ends: Vec::new(), feeds: Vec::new(), index: Vec::new(), shift: 0 };
        let mut counts = [0u32; MASK_BITS];
        let mut current = FeedSet::EMPTY;
        let mut open_since: Option<K> = None;
        let mut i = 0;
        while i < events.len() {
            let pos = events[i].0;
            let mut next = current;
            while let Some(&(_, feed, opens)) = events.get(i).filter(|e| e.0 == pos) {
                let id = usize::from(feed) % MASK_BITS;
                if opens {
                    counts[id] += 1;
                } else {
                    counts[id] = counts[id].saturating_sub(1);
                }
                let bit = FeedSet::single(id as FeedId).0;
                next.0 = if counts[id] > 0 { next.0 | bit } else { next.0 & !bit };
                i += 1;
            }
            if next == current {
                continue;
            }
            if let Some(since) = open_since {
                // `pos` is a boundary after `since`, so the stretch ends just before it.
                table.push(since, pos.prev(), current);
            }
            current = next;
            open_since = (!current.is_empty()).then_some(pos);
        }
        if let Some(since) = open_since {
            table.push(since, K::LAST, current);
        }
        table.build_index();
        table
    }

    /// About one range per bucket, up to [`MAX_INDEX_BITS`].
    fn build_index(&mut self) {
        let bits = (usize::BITS - self.starts.len().leading_zeros()).min(MAX_INDEX_BITS);
        self.shift = K::BITS - bits;
        let mut index = vec![0u32; (1usize << bits) + 1];
        for &s in &self.starts {
            index[s.bucket(self.shift) + 1] += 1;
        }
        for b in 1..index.len() {
            index[b] += index[b - 1];
        }
        self.index = index;
    }

    fn push(&mut self, start: K, end: K, feeds: FeedSet) {
        if let (Some(&prev_end), Some(&prev_feeds)) = (self.ends.last(), self.feeds.last()) {
            if prev_feeds == feeds && prev_end.next() == Some(start) {
                if let Some(e) = self.ends.last_mut() {
                    *e = end;
                }
                return;
            }
        }
        self.starts.push(start);
        self.ends.push(end);
        self.feeds.push(feeds);
    }

    #[inline]
    fn lookup(&self, key: K) -> FeedSet {
        // The last range starting at or before `key`: one of the bucket's, or the one before them.
        let b = key.bucket(self.shift);
        let (Some(&lo), Some(&hi)) = (self.index.get(b), self.index.get(b + 1)) else {
            return FeedSet::EMPTY;
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let i = lo + self.starts.get(lo..hi).map_or(0, |s| s.partition_point(|&s| s <= key));
        match i.checked_sub(1) {
            Some(i) if self.ends.get(i).is_some_and(|&e| key <= e) => self.feeds[i],
            _ => FeedSet::EMPTY,
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// An immutable set of IPv4 and IPv6 ranges from one or more named feeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpSet {
    v4: Table<u32>,
    v6: Table<u128>,
    names: Vec<Box<str>>,
}

impl IpSet {
    /// Whether any feed lists `ip` and no exception covers it (IPv4-mapped IPv6 addresses are looked up
    /// as IPv4).
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let feeds = self.feeds_of(ip);
        !feeds.is_empty() && !feeds.contains(EXCEPT)
    }

    /// The feeds that list `ip`, or `None` when none does or an exception covers it.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<FeedSet> {
        let feeds = self.feeds_of(ip);
        (!feeds.is_empty() && !feeds.contains(EXCEPT)).then_some(feeds)
    }

    /// Whether an exception ([`IpSetBuilder::except`]) covers `ip`.
    pub fn is_excepted(&self, ip: IpAddr) -> bool {
        self.feeds_of(ip).contains(EXCEPT)
    }

    #[inline]
    fn feeds_of(&self, ip: IpAddr) -> FeedSet {
        match ip {
            IpAddr::V4(a) => self.v4.lookup(a.into()),
            IpAddr::V6(a) => {
                let k = u128::from(a);
                if (MAPPED_START..=MAPPED_END).contains(&k) {
                    self.v4.lookup(k as u32)
                } else {
                    self.v6.lookup(k)
                }
            }
        }
    }

    /// The feeds' names, indexed by [`FeedId`].
    pub fn feed_names(&self) -> &[Box<str>] {
        &self.names
    }

    pub fn feed_name(&self, id: FeedId) -> Option<&str> {
        self.names.get(usize::from(id)).map(|n| &**n)
    }

    /// How many merged ranges the set holds, IPv4 and IPv6.
    pub fn range_counts(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// The merged ranges, IPv4 first, each with its feeds (for tests and diagnostics; excepted ranges
    /// carry feed 63).
    pub fn ranges(&self) -> impl Iterator<Item = (IpRange, FeedSet)> + '_ {
        let v4 = (0..self.v4.len())
            .map(|i| (IpRange::V4 { start: self.v4.starts[i], end: self.v4.ends[i] }, self.v4.feeds[i]));
        let v6 = (0..self.v6.len())
            .map(|i| (IpRange::V6 { start: self.v6.starts[i], end: self.v6.ends[i] }, self.v6.feeds[i]));
        v4.chain(v6)
    }
}

/// Collects feeds and their entries, up to a cap on entries over all feeds, then builds an [`IpSet`].
#[derive(Debug)]
pub struct IpSetBuilder {
    v4: Vec<(u32, u32, FeedId)>,
    v6: Vec<(u128, u128, FeedId)>,
    names: Vec<Box<str>>,
    entries: usize,
    max_entries: usize,
}

impl IpSetBuilder {
    /// A builder that accepts at most `max_entries` entries in all (an entry in the IPv4-mapped block that
    /// also reaches outside it counts once).
    pub fn new(max_entries: usize) -> IpSetBuilder {
        // Merged ranges stay below 2^32 (the index counts them in u32) with room to spare.
        let max_entries = max_entries.min(MAX_ENTRIES);
        IpSetBuilder { v4: Vec::new(), v6: Vec::new(), names: Vec::new(), entries: 0, max_entries }
    }

    /// Registers a feed and returns its id.
    pub fn add_feed(&mut self, name: &str) -> Result<FeedId, SetError> {
        if self.names.len() >= MAX_FEEDS {
            return Err(SetError::TooManyFeeds { feed: name.to_string(), max: MAX_FEEDS });
        }
        self.names.push(name.into());
        Ok((self.names.len() - 1) as FeedId)
    }

    /// Adds one entry of `feed`, read from `line` of it (1-based; for the error when the set is full).
    pub fn insert(&mut self, feed: FeedId, range: IpRange, line: usize) -> Result<(), SetError> {
        let name = self.names.get(usize::from(feed)).ok_or(SetError::UnknownFeed(feed))?;
        if self.entries >= self.max_entries {
            return Err(SetError::TooManyEntries { feed: name.to_string(), line, max: self.max_entries });
        }
        self.entries += 1;
        self.push(feed, range);
        Ok(())
    }

    /// Excepts `range`: its addresses match no feed, whatever the feeds list (the allow-list). Exceptions
    /// do not count against the cap.
    pub fn except(&mut self, range: IpRange) {
        self.push(EXCEPT, range);
    }

    fn push(&mut self, feed: FeedId, range: IpRange) {
        match range {
            IpRange::V4 { start, end } => self.v4.push((start, end, feed)),
            IpRange::V6 { start, end } => {
                // The mapped block's part is IPv4 space; lookups unmap addresses before searching.
                let (lo, hi) = (start.max(MAPPED_START), end.min(MAPPED_END));
                if lo <= hi {
                    self.v4.push((lo as u32, hi as u32, feed));
                    if start < MAPPED_START {
                        self.v6.push((start, MAPPED_START - 1, feed));
                    }
                    if end > MAPPED_END {
                        self.v6.push((MAPPED_END + 1, end, feed));
                    }
                } else {
                    self.v6.push((start, end, feed));
                }
            }
        }
    }

    pub fn build(self) -> IpSet {
        IpSet { v4: Table::build(self.v4), v6: Table::build(self.v6), names: self.names }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(s: &str) -> IpRange {
        IpRange::parse(s, false).unwrap()
    }

    fn set(entries: &[(&str, FeedId)]) -> IpSet {
        let mut b = IpSetBuilder::new(1000);
        for name in ["a", "b", "c"] {
            b.add_feed(name).unwrap();
        }
        for (i, &(r, feed)) in entries.iter().enumerate() {
            b.insert(feed, range(r), i + 1).unwrap();
        }
        b.build()
    }

    #[test]
    fn parses_networks_addresses_and_ranges() {
        assert_eq!(range("10.0.0.0/8"), IpRange::V4 { start: 0x0a00_0000, end: 0x0aff_ffff });
        assert_eq!(range("192.0.2.7"), IpRange::V4 { start: 0xc000_0207, end: 0xc000_0207 });
        assert_eq!(range("192.0.2.1 - 192.0.2.9").len(), 9);
        assert_eq!(range("[2001:db8::1]").len(), 1);
        assert_eq!(range("2001:db8::/32").len(), 1 << 96);
        assert_eq!(range("0.0.0.0/0").len(), 1 << 32);
        assert_eq!(range("::/0").len(), u128::MAX);
        assert_eq!(IpRange::parse("10.1.2.3/8", true).unwrap(), range("10.0.0.0/8"));
        assert_eq!(IpRange::parse("10.1.2.3/8", false), Err(RangeError::HostBits("10.1.2.3/8".into())));
        for bad in ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/08x", "1.2.3", "010.0.0.1", "::/129"] {
            assert!(IpRange::parse(bad, false).is_err(), "{bad:?} parsed");
        }
        assert!(matches!(IpRange::parse("10.0.0.9-10.0.0.1", false), Err(RangeError::Backwards(_))));
        assert!(matches!(IpRange::parse("10.0.0.1-::1", false), Err(RangeError::MixedFamilies(_))));
    }

    #[test]
    fn overlapping_feeds_split_and_adjacent_ranges_merge() {
        let s = set(&[("10.0.0.0/24", 0), ("10.0.1.0/24", 0), ("10.0.0.128/25", 1), ("10.0.0.200", 2)]);
        let got: Vec<_> = s.ranges().map(|(r, f)| (r.to_string(), f.iter().collect::<Vec<_>>())).collect();
        assert_eq!(
            got,
            [
                ("10.0.0.0-10.0.0.127".to_string(), vec![0]),
                ("10.0.0.128-10.0.0.199".to_string(), vec![0, 1]),
                ("10.0.0.200-10.0.0.200".to_string(), vec![0, 1, 2]),
                ("10.0.0.201-10.0.0.255".to_string(), vec![0, 1]),
                ("10.0.1.0-10.0.1.255".to_string(), vec![0]),
            ]
        );
        // Duplicates and nesting within one feed collapse into one range.
        let s = set(&[("10.0.0.0/8", 0), ("10.1.0.0/16", 0), ("10.0.0.0/8", 0), ("11.0.0.0/8", 0)]);
        assert_eq!(s.range_counts(), (1, 0));
    }

    #[test]
    fn family_edges() {
        let s =
            set(&[("255.255.255.255", 0), ("0.0.0.0", 1), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0), ("::", 1)]);
        assert_eq!(s.lookup(ip("255.255.255.255")), Some(FeedSet::single(0)));
        assert_eq!(s.lookup(ip("0.0.0.0")), Some(FeedSet::single(1)));
        assert!(!s.contains(ip("255.255.255.254")) && !s.contains(ip("0.0.0.1")));
        assert!(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) && s.contains(ip("::")));
        assert!(!s.contains(ip("::1")));
        let all = set(&[("0.0.0.0/0", 0), ("::/0", 1)]);
        assert_eq!(all.range_counts(), (1, 2));
        // `::/0` holds the IPv4-mapped block, so feed 1 lists every IPv4 address too.
        assert_eq!(all.lookup(ip("::ffff:1.2.3.4")), Some(FeedSet::single(0).union(FeedSet::single(1))));
        assert_eq!(all.lookup(ip("2001:db8::1")), Some(FeedSet::single(1)));
    }

    #[test]
    fn mapped_entries_are_ipv4() {
        let s = set(&[("::ffff:192.0.2.0/120", 0), ("::/0", 1)]);
        assert_eq!(s.lookup(ip("192.0.2.5")), Some(FeedSet::single(0).union(FeedSet::single(1))));
        assert_eq!(s.lookup(ip("198.51.100.1")), Some(FeedSet::single(1)));
        assert_eq!(s.lookup(ip("::1")), Some(FeedSet::single(1)));
    }

    #[test]
    fn caps() {
        let mut b = IpSetBuilder::new(1);
        let f = b.add_feed("drop").unwrap();
        b.insert(f, range("192.0.2.0/24"), 3).unwrap();
        assert_eq!(
            b.insert(f, range("198.51.100.0/24"), 4).unwrap_err().to_string(),
            "feed drop line 4: the intel set is full (1 entries over all feeds)"
        );
        assert_eq!(b.insert(7, range("::1"), 1), Err(SetError::UnknownFeed(7)));
        let mut b = IpSetBuilder::new(1);
        for i in 0..MAX_FEEDS {
            b.add_feed(&format!("f{i}")).unwrap();
        }
        assert!(matches!(b.add_feed("one-too-many"), Err(SetError::TooManyFeeds { .. })));
    }

    #[test]
    fn exceptions_win() {
        let mut b = IpSetBuilder::new(0);
        let f = b.add_feed("a").unwrap();
        assert!(b.insert(f, range("10.0.0.0/8"), 1).is_err());
        let mut b = IpSetBuilder::new(1);
        let f = b.add_feed("a").unwrap();
        b.except(range("10.1.0.0/16"));
        b.except(range("::ffff:10.2.0.0/112"));
        b.insert(f, range("10.0.0.0/8"), 1).unwrap();
        let s = b.build();
        assert!(s.contains(ip("10.0.0.1")) && s.contains(ip("10.3.0.0")));
        for excepted in ["10.1.2.3", "::ffff:10.1.0.0", "10.2.255.255"] {
            assert!(!s.contains(ip(excepted)) && s.lookup(ip(excepted)).is_none() && s.is_excepted(ip(excepted)));
        }
        assert!(!s.is_excepted(ip("10.0.0.1")));
    }

    #[test]
    fn feed_set_iterates_ids() {
        let s = FeedSet::single(0).union(FeedSet::single(5)).union(FeedSet::single(63));
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 5, 63]);
        assert_eq!(s.len(), 3);
        assert!(s.contains(63) && !s.contains(1) && !s.contains(64));
        assert!(FeedSet::single(64).is_empty());
    }
}
