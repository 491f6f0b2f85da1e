//! Throughput of the access log parser plus the nginx-scan jail on a generated nginx log, one core.
//!
//!   access_bench --generate FILE [--lines N]   writes an N-line combined-format access log (default 1,000,000)
//!   access_bench FILE [--parse-only]           runs every line through `access::parse_line` and the nginx-scan
//!                                              jail (or only the parser), prints lines/s (file reading
//!                                              included)
//!
//! The log mixes ordinary browsing from 5,000 clients (IPv4 and IPv6) with 404 floods, probes of `/.env`
//! and `/wp-login.php`, scanner user agents and TLS handshakes sent to port 80 from 200 scanners.

use std::io::{BufWriter, Write};
use std::time::Instant;

use vigil_guard::jail::{Jail, JailConfig};
use vigil_guard::parse::access::parse_line;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const PAGES: [&str; 8] = [
    "/",
    "/index.html",
    "/static/app.3f9c1.js",
    "/static/site.css",
    "/blog/2024/03/05/rust-parsers",
    "/api/v1/items?page=2&sort=desc",
    "/images/logo.png",
    "/favicon.ico",
];
const PROBES: [&str; 6] =
    ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/index.php", "/cgi-bin/luci", "/vendor/phpunit/x.php"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];

fn generate(path: &str, lines: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..lines {
        let t = i / 50;
        let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
        let scanner = rng.below(10) == 0;
        let n = if scanner { 100_000 + rng.below(200) } else { rng.below(5000) };
        let ip = if n % 8 == 0 {
            format!("2001:db8:{:x}::{:x}", n % 97, n)
        } else {
            format!("{}.{}.{}.{}", 11 + n % 200, (n / 7) % 256, (n / 13) % 256, 1 + n % 250)
        };
        let (request, status, agent) = if scanner {
            match rng.below(4) {
                0 => (format!("GET {} HTTP/1.1", PROBES[rng.below(6) as usize]), 404, AGENTS[2]),
                1 => (format!("GET /backup{}.zip HTTP/1.1", rng.below(1000)), 404, "Mozilla/5.0 zgrab/0.x"),
                2 => (r"\x16\x03\x01\x00\xF1\x01\x00\x00\xED\x03\x03".to_string(), 400, "-"),
                _ => ("POST /xmlrpc.php HTTP/1.1".to_string(), 200, "Mozilla/5.0 (compatible; Nuclei)"),
            }
        } else {
            let page = PAGES[rng.below(8) as usize];
            let status = if page == "/favicon.ico" { 404 } else { [200, 200, 200, 304][rng.below(4) as usize] };
            (format!("GET {page} HTTP/1.1"), status, AGENTS[rng.below(4) as usize])
        };
        writeln!(
            out,
            r#"{ip} - - [05/Mar/2024:{h:02}:{m:02}:{s:02} +0000] "{request}" {status} {} "https://example.com/" "{agent}""#,
            rng.below(50_000)
        )?;
    }
    out.flush()
}

fn run(path: &str, parse_only: bool) -> std::io::Result<()> {
    let started = Instant::now();
    let text = std::fs::read_to_string(path)?;
    let mut jail = Jail::new(JailConfig::nginx_scan()).map_err(std::io::Error::other)?;
    let (mut lines, mut events, mut bans) = (0u64, 0u64, 0u64);
    for line in text.lines() {
        lines += 1;
        let Some(ev) = parse_line(line) else { continue };
        events += 1;
        if parse_only {
            continue;
        }
        let now = ev.timestamp.map_or(0, |t| t.unix_seconds(2024, 0));
        if jail.observe(&ev, now).is_some() {
            bans += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "vigil: {lines} lines in {secs:.3} s = {:.0} lines/s ({events} events, {} matched, {bans} bans)",
        lines as f64 / secs,
        jail.failures_total()
    );
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let usage = || std::io::Error::other("usage: access_bench --generate FILE [--lines N] | access_bench FILE");
    if let Some(path) = flag("--generate") {
        let lines = flag("--lines").map_or(Ok(1_000_000), |n| n.parse().map_err(|_| usage()))?;
        return generate(&path, lines);
    }
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or_else(usage)?;
    run(path, args.iter().any(|a| a == "--parse-only"))
}
