//! Threat intel: each feed format on realistic samples, merging, boundaries, caps, and a randomized check against a linear scan.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigil_guard::cidr::Cidr;
use vigil_guard::event::{Action, Category, Event, Outcome};
use vigil_guard::intel::{
    parse, parse_with, Feed, FeedError, FeedFormat, FeedLimits, FeedSet, IntelMatcher, IpRange, IpSet, IpSetBuilder,
    SetError,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn shown(feed: &Feed) -> Vec<String> {
    feed.entries.iter().map(|e| format!("{} @{}", e.range, e.line)).collect()
}

fn one_feed_set(feed: &Feed) -> IpSet {
    IntelMatcher::build(std::slice::from_ref(feed), &[], 1 << 20).unwrap().set().clone()
}

// Samples are written for these tests in each feed's published shape, with documentation addresses.

const PLAIN: &str = "\
# blocklist of ssh brute-forcers, one address per line\r
# updated hourly\r
\r
192.0.2.10\r
198.51.100.0/24   ; whole subnet\r
2001:db8:dead::/48 # v6 network\r
203.0.113.77\t42\r
bogus-entry\r
2001:db8::1\r
";

#[test]
fn plain_list() {
    let feed = parse(FeedFormat::Auto, "bruteforce", PLAIN.as_bytes()).unwrap();
    assert_eq!(feed.format, FeedFormat::Plain);
    assert_eq!(
        shown(&feed),
        [
            "192.0.2.10-192.0.2.10 @4",
            "198.51.100.0-198.51.100.255 @5",
            "2001:db8:dead::-2001:db8:dead:ffff:ffff:ffff:ffff:ffff @6",
            "203.0.113.77-203.0.113.77 @7",
            "2001:db8::1-2001:db8::1 @9",
        ]
    );
    assert_eq!(feed.bad_lines, 1);
    assert_eq!(feed.first_error_message().unwrap(), "feed bruteforce line 8: invalid address \"bogus-entry\"");
}

const FIREHOL: &str = "\
#
# example_level1
#
# ipv4 hash:net ipset
#
# A sample in the shape of a FireHOL netset: a commented header, then one
# address or network per line.
#
# Maintainer      : example
# Maintainer URL  : https://example.org/
# List source URL : https://example.org/list
# Source File Date: Tue Jan  2 03:04:05 UTC 2024
# Category        : attacks
# Version         : 1234
#
# This File Date  : Tue Jan  2 03:10:00 UTC 2024
# Update Frequency: 1 hour
# Aggregation     : none
# Entries         : 5 subnets, 16777731 unique IPs
#
0.0.0.0/8
10.0.0.0/8
198.51.100.0/25
198.51.100.128/25
203.0.113.9
224.0.0.0/3
";

#[test]
fn firehol_netset() {
    let feed = parse(FeedFormat::Auto, "firehol_level1", FIREHOL.as_bytes()).unwrap();
    assert_eq!(feed.format, FeedFormat::FireHol);
    assert_eq!((feed.entries.len(), feed.bad_lines), (6, 0));
    // Its bogons are special-purpose space, so the breadth guard lets `224.0.0.0/3` through.
    let set = one_feed_set(&feed);
    assert!(set.contains(ip("239.1.2.3")) && set.contains(ip("255.255.255.255")) && set.contains(ip("10.9.8.7")));
    // The two halves merge into one /24.
    assert!(set.ranges().any(|(r, _)| r == IpRange::parse("198.51.100.0/24", false).unwrap()));
    assert!(!set.contains(ip("198.51.101.0")));
}

const DROP_JSON: &str = r#"{"cidr":"192.0.2.0/24","sblid":"SBL000001","rir":"arin"}
{"sblid":"SBL000002","cidr":"198.51.100.0/22","rir":"ripencc"}
{ "rir" : "apnic" ,  "cidr" : "203.0.113.0\/24" , "sblid" : "SBL000003" }
{"cidr":"not-a-network","sblid":"SBL000004","rir":"lacnic"}
{"sblid":"SBL000005","rir":"afrinic"}
<html><body>rate limited</body></html>
{"cidr":"192.0.2.0/24","sblid":"SBL000006","rir":"arin"} trailing
{"type":"metadata","timestamp":1704164645,"size":211,"records":3,"copyright":"(c) 2024 example"}
"#;

#[test]
fn spamhaus_drop_json() {
    let feed = parse(FeedFormat::Auto, "spamhaus-drop", DROP_JSON.as_bytes()).unwrap();
    assert_eq!(feed.format, FeedFormat::SpamhausJson);
    assert_eq!(
        shown(&feed),
        ["192.0.2.0-192.0.2.255 @1", "198.51.100.0-198.51.103.255 @2", "203.0.113.0-203.0.113.255 @3"]
    );
    assert_eq!(feed.bad_lines, 4);
    assert_eq!(feed.first_error_message().unwrap(), "feed spamhaus-drop line 4: invalid address \"not-a-network\"");
    let errors: Vec<String> = (5..=7)
        .map(|n| {
            let lines: Vec<&str> = DROP_JSON.lines().collect();
            let f = parse(FeedFormat::SpamhausJson, "d", format!("{}\n{}", lines[0], lines[n - 1]).as_bytes()).unwrap();
            f.first_error.unwrap().message
        })
        .collect();
    assert_eq!(errors, ["json object has no \"cidr\" field", "not a json object", "text after the json object"]);

    let v6 = "{\"cidr\":\"2001:db8:100::/40\",\"sblid\":\"SBL000010\",\"rir\":\"ripencc\"}\n\
              {\"type\":\"metadata\",\"timestamp\":1704164645,\"size\":70,\"records\":1,\"copyright\":\"x\"}\n";
    let feed = parse(FeedFormat::Auto, "spamhaus-drop-v6", v6.as_bytes()).unwrap();
    let set = one_feed_set(&feed);
    assert!(set.contains(ip("2001:db8:1ff:ffff::1")) && !set.contains(ip("2001:db8:200::")));
}

const DROP_TXT: &str = "\
; Spamhaus DROP List 2024/01/02 - (c) 2024 example
; Last-Modified: Tue, 2 Jan 2024 03:04:05 GMT
; Expires: Tue, 2 Jan 2024 04:04:05 GMT
192.0.2.0/24 ; SBL000001
198.51.100.0/22 ; SBL000002
";

#[test]
fn spamhaus_drop_text() {
    let feed = parse(FeedFormat::Auto, "drop", DROP_TXT.as_bytes()).unwrap();
    assert_eq!(feed.format, FeedFormat::SpamhausText);
    assert_eq!(shown(&feed), ["192.0.2.0-192.0.2.255 @4", "198.51.100.0-198.51.103.255 @5"]);
}

const FEODO_CSV: &str = r#"################################################################
# abuse.ch-style botnet C2 IP blocklist (CSV), sample           #
# Last updated: 2024-01-02 03:04:05 UTC                          #
################################################################
#
"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2023-05-01 10:00:00","192.0.2.44","443","online","2024-01-02","Pikabot"
"2023-06-11 12:30:00","198.51.100.3","8080","offline","2023-12-30","QakBot, variant ""b"""
"2023-07-21 08:15:00","not an ip","443","offline","2023-12-01","Dridex"
"2023-08-01 00:00:00"
"2023-09-09 09:09:09","2001:db8::c2","4443","online","2024-01-02","BumbleBee"
# Number of entries: 4
"#;

#[test]
fn abusech_csv() {
    let feed = parse(FeedFormat::Auto, "feodo", FEODO_CSV.as_bytes()).unwrap();
    assert_eq!(feed.format, FeedFormat::AbuseChCsv);
    assert_eq!(
        shown(&feed),
        ["192.0.2.44-192.0.2.44 @7", "198.51.100.3-198.51.100.3 @8", "2001:db8::c2-2001:db8::c2 @11"]
    );
    assert_eq!(feed.bad_lines, 2);
    assert_eq!(feed.first_error_message().unwrap(), "feed feodo line 9: invalid address \"not an ip\"");

    // The column is found by name, wherever it is; the older commented header counts too.
    let moved = "# Firstseen,Port,DstIP\n2023-01-01,443,192.0.2.1\n";
    assert_eq!(shown(&parse(FeedFormat::AbuseChCsv, "old", moved.as_bytes()).unwrap()), ["192.0.2.1-192.0.2.1 @2"]);
    let headless = "\"2023-01-01\",\"192.0.2.1\"\n";
    let err = parse(FeedFormat::AbuseChCsv, "headless", headless.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "feed headless: no valid entries (1 bad lines; first at line 1: data before the header line naming a dst_ip column)"
    );

    let txt = "# abuse.ch-style botnet C2 IP blocklist, sample\n# Last updated: 2024-01-02\n#\n192.0.2.44\n198.51.100.3\n# END 2 entries\n";
    let feed = parse(FeedFormat::Auto, "feodo-txt", txt.as_bytes()).unwrap();
    assert_eq!((feed.format, feed.entries.len()), (FeedFormat::Plain, 2));
}

#[test]
fn bad_feeds_are_errors() {
    let err = parse(FeedFormat::Plain, "junk", b"# only comments\n\nnot-an-address\n").unwrap_err();
    assert_eq!(
        err,
        FeedError::Empty {
            feed: "junk".into(),
            bad_lines: 1,
            first: Some(vigil_guard::intel::LineError {
                line: 3,
                message: "invalid address \"not-an-address\"".into()
            })
        }
    );
    assert_eq!(
        parse(FeedFormat::Auto, "empty", b"").unwrap_err().to_string(),
        "feed empty: no valid entries (0 bad lines)"
    );
    let bin = parse(FeedFormat::Plain, "bin", b"\xff\xfe\x00\n192.0.2.1\n").unwrap();
    assert_eq!((bin.entries.len(), bin.first_error.unwrap().message.as_str()), (1, "not utf-8 text"));
    // Host bits after the prefix are refused: the feed probably meant something else.
    let f = parse(FeedFormat::Plain, "hb", b"192.0.2.1/24\n192.0.2.1\n").unwrap();
    assert_eq!(f.first_error.unwrap().message, "network \"192.0.2.1/24\" has bits set after its prefix");
}

#[test]
fn caps() {
    let limits = FeedLimits { max_bytes: 32, max_entries: 2, ..FeedLimits::default() };
    let err = parse_with(FeedFormat::Plain, "big", &[b'#'; 33], &limits).unwrap_err();
    assert_eq!(err.to_string(), "feed big: 33 bytes is more than the limit of 32");
    let err = parse_with(FeedFormat::Plain, "many", b"192.0.2.1\n192.0.2.2\n192.0.2.3\n", &limits).unwrap_err();
    assert_eq!(err.to_string(), "feed many line 3: more than 2 entries");

    let a = parse(FeedFormat::Plain, "a", b"192.0.2.1\n192.0.2.2\n").unwrap();
    let b = parse(FeedFormat::Plain, "b", b"# header\n198.51.100.1\n198.51.100.2\n").unwrap();
    let err = IntelMatcher::build(&[a, b], &[], 3).unwrap_err();
    assert_eq!(err, SetError::TooManyEntries { feed: "b".into(), line: 3, max: 3 });
    assert_eq!(err.to_string(), "feed b line 3: the intel set is full (3 entries over all feeds)");
}

#[test]
fn breadth_guard_refuses_world_blocking_entries() {
    let text = "0.0.0.0/0\n::/0\n2000::/3\n128.0.0.0/1\n192.0.2.0/24\n";
    let feed = parse(FeedFormat::Plain, "oops", text.as_bytes()).unwrap();
    assert_eq!((feed.entries.len(), feed.bad_lines), (1, 4));
    assert_eq!(
        feed.first_error_message().unwrap(),
        "feed oops line 1: 0.0.0.0-255.255.255.255 covers more public IPv4 space than a /8, refused so one feed cannot block the world"
    );
    let off = FeedLimits { broadest_v4: 0, broadest_v6: 0, ..FeedLimits::default() };
    let feed = parse_with(FeedFormat::Plain, "oops", text.as_bytes(), &off).unwrap();
    assert_eq!((feed.entries.len(), feed.bad_lines), (5, 0));
    let only = parse(FeedFormat::Plain, "world", b"0.0.0.0/0\n").unwrap_err();
    assert!(only.to_string().starts_with("feed world: no valid entries (1 bad lines; first at line 1: "), "{only}");
}

#[test]
fn boundaries_of_ranges_and_families() {
    let text = "0.0.0.0/32\n255.255.255.255/32\n::/128\nffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128\n\
                192.0.2.64/26\n2001:db8::/127\n";
    let set = one_feed_set(&parse(FeedFormat::Plain, "edges", text.as_bytes()).unwrap());
    for yes in [
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "192.0.2.64",
        "192.0.2.127",
        "2001:db8::",
        "2001:db8::1",
    ] {
        assert!(set.contains(ip(yes)), "{yes} should match");
    }
    for no in [
        "0.0.0.1",
        "255.255.255.254",
        "::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
        "192.0.2.63",
        "192.0.2.128",
        "2001:db8::2",
        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        assert!(!set.contains(ip(no)), "{no} should not match");
    }
    let all =
        parse_with(FeedFormat::Plain, "all", b"0.0.0.0/0\n", &FeedLimits { broadest_v4: 0, ..FeedLimits::default() });
    let set = one_feed_set(&all.unwrap());
    assert!(set.contains(ip("0.0.0.0")) && set.contains(ip("255.255.255.255")) && set.contains(ip("::ffff:8.8.8.8")));
    assert!(!set.contains(ip("::")) && !set.contains(ip("2001:db8::1")));
}

#[test]
fn ipv4_mapped_addresses_match_ipv4_entries() {
    let feed = parse(FeedFormat::Plain, "f", b"192.0.2.0/24\n::ffff:198.51.100.0/120\n").unwrap();
    // `Cidr::from_str` unmaps the address before checking the prefix, so build the mapped network directly.
    let allow = Cidr::new(ip("::ffff:192.0.2.128"), 121).unwrap();
    let m = IntelMatcher::build(&[feed], &[allow], 100).unwrap();
    assert!(m.check_ip(ip("::ffff:192.0.2.1")).is_some());
    assert!(m.check_ip(ip("198.51.100.200")).is_some());
    assert!(m.check_ip(ip("::ffff:198.51.100.200")).is_some());
    // The allow-list, written mapped, covers the IPv4 addresses too.
    assert!(m.check_ip(ip("192.0.2.200")).is_none());
    assert!(m.check_ip(ip("::ffff:192.0.2.200")).is_none());
    // `::192.0.2.1` (IPv4-compatible, deprecated) is not IPv4-mapped.
    assert!(m.check_ip(ip("::192.0.2.1")).is_none());
}

#[test]
fn overlapping_and_adjacent_ranges_across_feeds() {
    let a = parse(FeedFormat::Plain, "a", b"10.0.0.0/25\n10.0.0.128/25\n10.0.1.0-10.0.1.9\n").unwrap();
    let b = parse(FeedFormat::Plain, "b", b"10.0.0.100-10.0.1.5\n").unwrap();
    let m = IntelMatcher::build(&[a, b], &[], 100).unwrap();
    let got: Vec<String> = m.set().ranges().map(|(r, f)| format!("{r} {f:?}")).collect();
    assert_eq!(got, ["10.0.0.0-10.0.0.99 {0}", "10.0.0.100-10.0.1.5 {0, 1}", "10.0.1.6-10.0.1.9 {0}"]);

    let mut e = Event::new(Category::Authentication, Action::SshLogin, Outcome::Failure);
    e.source_ip = Some(ip("10.0.0.200"));
    let hit = m.check(&e).unwrap();
    assert_eq!(hit.feed_names().collect::<Vec<_>>(), ["a", "b"]);
    e.source_ip = Some(ip("10.0.1.10"));
    e.destination_ip = Some(ip("10.0.1.7"));
    let hit = m.check(&e).unwrap();
    assert_eq!((hit.source, hit.destination.map(|d| d.feeds)), (None, Some(FeedSet::single(0))));
}

/// A small xorshift generator, seeded, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An address near `base`, so that random entries overlap, touch and nest.
fn near_v4(rng: &mut Rng, base: u32, spread: u32) -> u32 {
    base.wrapping_add((rng.next() as u32) % spread)
}

fn random_entry(rng: &mut Rng, spread: u32) -> IpRange {
    let v4_base = 0xc000_0200u32; // 192.0.2.0
    let v6_base: u128 = 0x2001_0db8 << 96;
    match rng.below(10) {
        0..=5 => {
            let prefix = [32, 31, 30, 28, 26, 24, 20, 16][rng.below(8) as usize];
            IpRange::cidr(IpAddr::V4(Ipv4Addr::from(near_v4(rng, v4_base, spread))), prefix).unwrap()
        }
        6 => {
            let a = near_v4(rng, v4_base, spread);
            let b = a.saturating_add((rng.next() as u32) % 300);
            IpRange::V4 { start: a, end: b }
        }
        7 => {
            // In the IPv4-mapped block: IPv4 space written as IPv6.
            let a = 0xffff_0000_0000u128 | u128::from(near_v4(rng, v4_base, spread));
            IpRange::cidr(IpAddr::V6(Ipv6Addr::from(a)), [128, 120, 112][rng.below(3) as usize]).unwrap()
        }
        8 => {
            let a = v6_base | u128::from(rng.next() as u32 % spread);
            IpRange::cidr(IpAddr::V6(Ipv6Addr::from(a)), [128, 126, 120, 112, 100][rng.below(5) as usize]).unwrap()
        }
        _ => {
            // Family edges.
            [
                IpRange::V4 { start: 0, end: rng.below(1000) as u32 },
                IpRange::V4 { start: u32::MAX - rng.below(1000) as u32, end: u32::MAX },
                IpRange::V6 { start: u128::MAX - u128::from(rng.below(1000)), end: u128::MAX },
                IpRange::V6 { start: 0, end: u128::from(rng.below(1000)) },
            ][rng.below(4) as usize]
        }
    }
}

/// The same answer by brute force: every entry, with IPv4 addresses also compared as `::ffff:a.b.c.d`.
fn naive(entries: &[(IpRange, u16)], addr: IpAddr) -> FeedSet {
    let (v4, v6): (Option<u32>, u128) = match addr {
        IpAddr::V4(a) => (Some(a.into()), 0xffff_0000_0000 | u128::from(u32::from(a))),
        IpAddr::V6(a) => (a.to_ipv4_mapped().map(u32::from), a.into()),
    };
    let v6 = v4.map_or(v6, |a| 0xffff_0000_0000 | u128::from(a));
    let mut out = FeedSet::EMPTY;
    for &(r, feed) in entries {
        let hit = match r {
            IpRange::V4 { start, end } => v4.is_some_and(|a| start <= a && a <= end),
            IpRange::V6 { start, end } => start <= v6 && v6 <= end,
        };
        if hit {
            out = out.union(FeedSet::single(feed));
        }
    }
    out
}

fn probes(rng: &mut Rng, entries: &[(IpRange, u16)], spread: u32, n: usize) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for &(r, _) in entries {
        // Just inside and just outside each entry.
        match r {
            IpRange::V4 { start, end } => {
                for a in [start.wrapping_sub(1), start, end, end.wrapping_add(1)] {
                    out.push(IpAddr::V4(a.into()));
                    out.push(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped()));
                }
            }
            IpRange::V6 { start, end } => {
                for a in [start.wrapping_sub(1), start, end, end.wrapping_add(1)] {
                    out.push(IpAddr::V6(a.into()));
                }
            }
        }
    }
    for _ in 0..n {
        out.push(match random_entry(rng, spread) {
            IpRange::V4 { start, .. } => IpAddr::V4(start.into()),
            IpRange::V6 { start, end } => IpAddr::V6((start + (end - start) / 2).into()),
        });
        out.push(IpAddr::V4((rng.next() as u32).into()));
    }
    out
}

#[test]
fn lookups_agree_with_a_linear_scan() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..150 {
        let spread = [64, 1024, 1 << 16][round % 3];
        let n = 1 + rng.below(40) as usize;
        let feeds = 1 + rng.below(5) as u16;
        let entries: Vec<(IpRange, u16)> =
            (0..n).map(|_| (random_entry(&mut rng, spread), rng.below(u64::from(feeds)) as u16)).collect();
        let mut b = IpSetBuilder::new(n);
        for f in 0..feeds {
            b.add_feed(&format!("f{f}")).unwrap();
        }
        for (i, &(r, f)) in entries.iter().enumerate() {
            b.insert(f, r, i + 1).unwrap();
        }
        // Allow-list exceptions, as the matcher adds them.
        let excepted: Vec<(IpRange, u16)> = (0..rng.below(4)).map(|_| (random_entry(&mut rng, spread), 0)).collect();
        for &(r, _) in &excepted {
            b.except(r);
        }
        let set = b.build();
        check_disjoint_sorted(&set);
        let mut all = entries.clone();
        all.extend(&excepted);
        for addr in probes(&mut rng, &all, spread, 100) {
            let allowed = !naive(&excepted, addr).is_empty();
            let want = if allowed { FeedSet::EMPTY } else { naive(&entries, addr) };
            assert_eq!(
                set.lookup(addr).unwrap_or_default(),
                want,
                "round {round}: {addr} in {entries:?} but {excepted:?}"
            );
            assert_eq!(set.contains(addr), !want.is_empty());
            assert_eq!(set.is_excepted(addr), allowed);
        }
    }
}

/// Many entries over the whole IPv4 space, so the first-level index has many buckets.
#[test]
fn lookups_agree_with_a_linear_scan_on_a_large_set() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let entries: Vec<(IpRange, u16)> = (0..3000)
        .map(|_| {
            let prefix = [32, 24, 20, 16, 12][rng.below(5) as usize];
            (IpRange::cidr(IpAddr::V4((rng.next() as u32).into()), prefix).unwrap(), rng.below(3) as u16)
        })
        .collect();
    let mut b = IpSetBuilder::new(entries.len());
    for f in 0..3 {
        b.add_feed(&format!("f{f}")).unwrap();
    }
    for (i, &(r, f)) in entries.iter().enumerate() {
        b.insert(f, r, i + 1).unwrap();
    }
    let set = b.build();
    check_disjoint_sorted(&set);
    for addr in probes(&mut rng, &entries[..500], 1 << 16, 1000) {
        assert_eq!(set.lookup(addr).unwrap_or_default(), naive(&entries, addr), "{addr}");
    }
}

fn check_disjoint_sorted(set: &IpSet) {
    let ranges: Vec<(IpRange, FeedSet)> = set.ranges().collect();
    for w in ranges.windows(2) {
        match (w[0], w[1]) {
            ((IpRange::V4 { end: e, .. }, f1), (IpRange::V4 { start: s, .. }, f2)) => {
                assert!(e < s && (e + 1 < s || f1 != f2), "{w:?}");
            }
            ((IpRange::V6 { end: e, .. }, f1), (IpRange::V6 { start: s, .. }, f2)) => {
                assert!(e < s && (e + 1 < s || f1 != f2), "{w:?}");
            }
            _ => {}
        }
    }
    assert!(ranges.iter().all(|(_, f)| !f.is_empty()));
}
