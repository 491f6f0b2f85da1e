//! Threat intel: IP and CIDR feeds parsed from their published formats and matched against events at line rate.
//!
//! `feed` parses a downloaded feed (`parse(format, name, &bytes)`), `set` merges feeds into sorted,
//! non-overlapping ranges searched by binary search, `matcher` checks events' addresses with an allow-list
//! that always wins. Fetching feeds on a schedule is the agent's job; it builds a new [`IntelMatcher`] from
//! fresh feeds and swaps it in whole.

pub mod feed;
pub mod matcher;
pub mod set;

pub use feed::{parse, parse_with, Entry, Feed, FeedError, FeedFormat, FeedLimits, LineError};
pub use matcher::{Hit, IntelMatcher, IpHit};
pub use set::{FeedId, FeedSet, IpRange, IpSet, IpSetBuilder, RangeError, SetError, MAX_ENTRIES, MAX_FEEDS};
