//! Threat-intel lookups per second on one core: a set built from random CIDRs, probed with random addresses.
//!
//!   intel_bench [--cidrs N] [--lookups N] [--feeds N]   (defaults: 100,000 CIDRs, 10,000,000 lookups, 8 feeds)
//!
//! CIDRs are 80 % IPv4 (mostly single addresses and /24s, some up to /12) and 20 % IPv6 (/24 to /128 in
//! `2000::/3`), spread over the feeds. Addresses are 80 % IPv4, 20 % IPv6, and a quarter of them are drawn
//! from inside a listed network so that hits and misses both count. Run with `--release`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use vigil_guard::intel::{IntelMatcher, IpRange, IpSetBuilder};

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

    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

fn random_cidr(rng: &mut Rng) -> (IpAddr, u8) {
    if rng.below(5) < 4 {
        let prefix = match rng.below(10) {
            0..=4 => 32,
            5..=7 => 24,
            _ => 12 + rng.below(20) as u8,
        };
        (IpAddr::V4(Ipv4Addr::from(rng.next() as u32)), prefix)
    } else {
        let addr = (rng.u128() >> 3) | (1u128 << 125);
        (IpAddr::V6(Ipv6Addr::from(addr)), 24 + rng.below(105) as u8)
    }
}

fn random_addr(rng: &mut Rng, listed: &[IpRange]) -> IpAddr {
    if rng.below(4) == 0 {
        let r = listed[rng.below(listed.len() as u64) as usize];
        return match r {
            IpRange::V4 { start, end } => {
                IpAddr::V4(Ipv4Addr::from(start + (rng.next() as u32) % (end - start).saturating_add(1).max(1)))
            }
            IpRange::V6 { start, end } => {
                let span = (end - start).saturating_add(1);
                IpAddr::V6(Ipv6Addr::from(start + if span == 0 { 0 } else { rng.u128() % span }))
            }
        };
    }
    if rng.below(5) < 4 {
        IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from((rng.u128() >> 3) | (1u128 << 125)))
    }
}

/// This thread's time on a CPU so far, in seconds, from `/proc/thread-self/schedstat`: on a shared
/// machine it measures what one core does, where wall time also counts waiting for one.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Runs `lookups` calls of `f` and prints the rate by wall time and by CPU time.
fn measure(label: &str, lookups: usize, mut f: impl FnMut(usize) -> u64) -> u64 {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let mut total = 0u64;
    for i in 0..lookups {
        total += f(i);
    }
    let wall = wall.elapsed().as_secs_f64();
    let cpu = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
    let rate = |s: f64| lookups as f64 / s / 1e6;
    match cpu {
        Some(c) if c > 0.0 => {
            println!("{label}: {:.1} M lookups/s by cpu time ({:.1} by wall time)", rate(c), rate(wall))
        }
        _ => println!("{label}: {:.1} M lookups/s by wall time", rate(wall)),
    }
    total
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cidrs = arg(&args, "--cidrs", 100_000);
    let lookups = arg(&args, "--lookups", 10_000_000);
    let feeds = arg(&args, "--feeds", 8).clamp(1, 64);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let mut listed = Vec::with_capacity(cidrs);
    for _ in 0..cidrs {
        let (addr, prefix) = random_cidr(&mut rng);
        listed.extend(IpRange::cidr(addr, prefix));
    }
    let fill = || {
        let mut b = IpSetBuilder::new(cidrs);
        let ids: Vec<_> = (0..feeds).map(|i| b.add_feed(&format!("feed{i}")).unwrap()).collect();
        for (i, r) in listed.iter().enumerate() {
            b.insert(ids[i % feeds], *r, i + 1).unwrap();
        }
        b
    };
    let started = Instant::now();
    let set = fill().build();
    let build = started.elapsed();
    let (v4, v6) = set.range_counts();
    println!(
        "built {cidrs} cidrs in {feeds} feeds into {v4} ipv4 + {v6} ipv6 ranges in {:.1} ms",
        build.as_secs_f64() * 1e3
    );

    // A fixed pool, reused, so the address generator stays out of the timing.
    let pool: Vec<IpAddr> = (0..lookups.min(1 << 20)).map(|_| random_addr(&mut rng, &listed)).collect();
    let matcher = IntelMatcher::from_builder(fill(), &["192.0.2.0/24".parse().unwrap()]);

    let hits = measure("IpSet::contains", lookups, |i| u64::from(set.contains(black_box(pool[i % pool.len()]))));
    println!("  {lookups} lookups, {:.1} % hits", hits as f64 * 100.0 / lookups as f64);
    let feed_hits = measure("IntelMatcher::check_ip (feeds named, allow-list applied)", lookups, |i| {
        matcher.check_ip(black_box(pool[i % pool.len()])).map_or(0, |f| f.len() as u64)
    });
    println!("  {feed_hits} feed hits");
}
