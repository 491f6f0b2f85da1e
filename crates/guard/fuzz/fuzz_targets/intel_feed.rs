//! Fuzz target: any bytes as a threat-intel feed in every format; a feed that parses must build a matcher,
//! and every entry it kept must match its own first address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigil_guard::intel::{parse_with, FeedFormat, FeedLimits, IntelMatcher, IpRange};

const FORMATS: [&str; 6] = ["auto", "plain", "firehol", "spamhaus-text", "spamhaus-json", "abusech-csv"];

fuzz_target!(|data: &[u8]| {
    let limits = FeedLimits { max_entries: 10_000, ..FeedLimits::default() };
    for name in FORMATS {
        let Ok(format) = name.parse::<FeedFormat>() else { continue };
        let Ok(feed) = parse_with(format, "fuzz", data, &limits) else { continue };
        let _ = feed.first_error_message();
        let Ok(matcher) = IntelMatcher::build(std::slice::from_ref(&feed), &[], 100_000) else { continue };
        for entry in feed.entries.iter().take(64) {
            let first = match entry.range {
                IpRange::V4 { start, .. } => IpAddr::V4(Ipv4Addr::from(start)),
                IpRange::V6 { start, .. } => IpAddr::V6(Ipv6Addr::from(start)),
            };
            assert!(matcher.check_ip(first).is_some(), "{first} from line {} does not match", entry.line);
        }
    }
});
