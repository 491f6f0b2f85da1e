//! The nftables ban action: vigil's own `inet` table with two timeout sets and a base chain that drops their
//! addresses, driven by `nft -f -` scripts built only from validated names and parsed addresses.
//!
//! Bans are set elements with a per-element timeout, so the kernel lifts a ban by itself even when vigil is not
//! running. The ruleset is vigil's alone: nothing outside its table is read or changed.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use super::run::{run, Output, DEADLINE};
use super::{check_program, validate_name, wire_addr, Firewall, FirewallError, ListedBan, NameRule, OptionsError};

/// The set of banned IPv4 addresses.
pub const SET_V4: &str = "banned_v4";
/// The set of banned IPv6 addresses.
pub const SET_V6: &str = "banned_v6";
/// The longest element timeout vigil asks nft for (nft 1.0.6 refuses about 3 years and more). Longer bans
/// become elements without a timeout, which vigil's own unban removes.
pub const MAX_TIMEOUT_S: u64 = 365 * 86_400;
/// Elements read from one listing at most.
const MAX_ELEMENTS: usize = 1 << 20;

/// Where and how the nftables backend works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftOptions {
    /// The `inet` table vigil owns (created if missing).
    pub table: String,
    /// The base chains' priority: -10 runs before the usual `filter` chains (priority 0), so an accept there
    /// cannot let a banned address through.
    pub priority: i32,
    /// Also drop banned addresses in the `forward` hook: traffic routed to containers (Docker's published
    /// ports) or to hosts behind this one. Off by default, as fail2ban's: on a router it would cut a banned
    /// LAN client off the network, not just off this host.
    pub forward: bool,
    /// The program and leading arguments, `["nft"]`; tests use `["ip", "netns", "exec", NS, "nft"]`.
    pub program: Vec<String>,
}

impl Default for NftOptions {
    fn default() -> Self {
        NftOptions { table: "vigil".into(), priority: -10, forward: false, program: vec!["nft".into()] }
    }
}

/// The nftables backend.
#[derive(Debug)]
pub struct Nftables {
    opts: NftOptions,
}

impl Nftables {
    pub fn new(opts: NftOptions) -> Result<Nftables, OptionsError> {
        validate_name("nftables table", &opts.table, NameRule::Nft)?;
        check_program("nftables program", &opts.program)?;
        Ok(Nftables { opts })
    }

    pub fn options(&self) -> &NftOptions {
        &self.opts
    }

    /// The script [`Firewall::prepare`] runs. It adds table and sets when missing (keeping their elements)
    /// and rebuilds the chains in the same transaction: adding a chain first makes flushing and deleting it
    /// valid whether it existed or not, so a second run leaves the same ruleset, never duplicate rules, and a
    /// changed priority or `forward` takes effect.
    pub fn prepare_script(&self) -> String {
        let t = &self.opts.table;
        let mut s = format!(
            "add table inet {t}\n\
             add set inet {t} {SET_V4} {{ type ipv4_addr; flags timeout; }}\n\
             add set inet {t} {SET_V6} {{ type ipv6_addr; flags timeout; }}\n"
        );
        for (hook, wanted) in [("input", true), ("forward", self.opts.forward)] {
            let _ = write!(s, "add chain inet {t} {hook}\nflush chain inet {t} {hook}\ndelete chain inet {t} {hook}\n");
            if wanted {
                let p = self.opts.priority;
                let _ = write!(
                    s,
                    "add chain inet {t} {hook} {{ type filter hook {hook} priority {p}; policy accept; }}\n\
                     add rule inet {t} {hook} ip saddr @{SET_V4} counter drop\n\
                     add rule inet {t} {hook} ip6 saddr @{SET_V6} counter drop\n"
                );
            }
        }
        s
    }

    /// The script that bans `ip` for `timeout_s` seconds (at least 1; beyond [`MAX_TIMEOUT_S`], without a
    /// timeout). The element is added bare, deleted and added again with its timeout in one transaction: that
    /// works whether it was there or not, and a re-ban gets the new timeout on every kernel (older ones keep
    /// the old timeout on a plain `add element`).
    pub fn ban_script(&self, ip: IpAddr, timeout_s: u64) -> String {
        let (ip, set) = self.element(ip);
        let t = &self.opts.table;
        let timeout = match timeout_s.max(1) {
            s if s > MAX_TIMEOUT_S => String::new(),
            s => format!(" timeout {s}s"),
        };
        format!(
            "add element inet {t} {set} {{ {ip} }}\n\
             delete element inet {t} {set} {{ {ip} }}\n\
             add element inet {t} {set} {{ {ip}{timeout} }}\n"
        )
    }

    /// The script that unbans `ip`: adding the element first makes deleting it valid when it is missing.
    pub fn unban_script(&self, ip: IpAddr) -> String {
        let (ip, set) = self.element(ip);
        let t = &self.opts.table;
        format!("add element inet {t} {set} {{ {ip} }}\ndelete element inet {t} {set} {{ {ip} }}\n")
    }

    /// The addresses in both sets with their timeouts, as `nft list set` shows them.
    pub fn list(&mut self) -> Result<Vec<ListedBan>, FirewallError> {
        let mut out = Vec::new();
        for set in [SET_V4, SET_V6] {
            let mut argv = self.opts.program.clone();
            argv.extend(["list", "set", "inet", &self.opts.table, set].map(String::from));
            let action = format!("nft list set inet {} {set}", self.opts.table);
            let listing = run(&argv, None, &action, DEADLINE)?.ok(&action)?;
            let found =
                parse_elements(&listing.stdout).map_err(|message| FirewallError { action: action.clone(), message })?;
            out.extend(found);
        }
        Ok(out)
    }

    fn element(&self, ip: IpAddr) -> (IpAddr, &'static str) {
        let ip = wire_addr(ip);
        (ip, if ip.is_ipv4() { SET_V4 } else { SET_V6 })
    }

    fn nft(&self, script: &str, action: &str) -> Result<Output, FirewallError> {
        let mut argv = self.opts.program.clone();
        argv.extend(["-f", "-"].map(String::from));
        run(&argv, Some(script), action, DEADLINE)?.ok(action)
    }
}

impl Firewall for Nftables {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn prepare(&mut self) -> Result<(), FirewallError> {
        let action = format!("nft: prepare table inet {}", self.opts.table);
        self.nft(&self.prepare_script(), &action).map(drop)
    }

    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError> {
        self.nft(&self.ban_script(ip, timeout_s), &format!("nft: ban {ip}")).map(drop)
    }

    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError> {
        self.nft(&self.unban_script(ip), &format!("nft: unban {ip}")).map(drop)
    }
}

/// Reads the elements of `nft list set` text output: `elements = { 192.0.2.1 timeout 1m expires 59s988ms,
/// 2001:db8::1, ... }`, possibly over several lines. Unknown words after an address (`counter ...`,
/// `comment "..."`) are skipped.
pub(crate) fn parse_elements(text: &str) -> Result<Vec<ListedBan>, String> {
    let Some(start) = text.find("elements = {") else { return Ok(Vec::new()) };
    let body = &text[start + "elements = {".len()..];
    let mut out = Vec::new();
    let mut item = String::new();
    let mut quoted = false;
    for c in body.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                item.push(c);
            }
            ',' | '}' if !quoted => {
                if !item.trim().is_empty() {
                    if out.len() >= MAX_ELEMENTS {
                        return Err(format!("more than {MAX_ELEMENTS} elements"));
                    }
                    out.push(parse_element(item.trim())?);
                }
                item.clear();
                if c == '}' {
                    return Ok(out);
                }
            }
            _ => item.push(c),
        }
    }
    Err("set listing ends inside its elements".to_string())
}

fn parse_element(item: &str) -> Result<ListedBan, String> {
    let mut words = item.split_whitespace();
    let first = words.next().unwrap_or_default();
    let ip: IpAddr = first.parse().map_err(|_| format!("element {item:?} does not start with an address"))?;
    let mut ban = ListedBan { ip, timeout: None, remaining: None };
    while let Some(word) = words.next() {
        let slot = match word {
            "timeout" => &mut ban.timeout,
            "expires" => &mut ban.remaining,
            // A comment may contain anything, including these keywords.
            "comment" => break,
            _ => continue,
        };
        let value = words.next().ok_or_else(|| format!("element {item:?}: {word} without a value"))?;
        *slot = Some(parse_duration(value).ok_or_else(|| format!("element {item:?}: bad {word} {value:?}"))?);
    }
    Ok(ban)
}

/// nft's time format: `1d3h46m40s`, `59s988ms`, `1m`.
fn parse_duration(s: &str) -> Option<Duration> {
    let mut ms: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1000,
            "ms" => 1,
            _ => return None,
        };
        rest = &rest[unit_len..];
        ms = ms.checked_add(n.checked_mul(unit)?)?;
    }
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nft() -> Nftables {
        Nftables::new(NftOptions::default()).unwrap()
    }

    #[test]
    fn options_are_validated() {
        let bad = |table: &str| Nftables::new(NftOptions { table: table.into(), ..NftOptions::default() });
        assert!(bad("vigil_2").is_ok());
        for t in ["", "vigil;flush ruleset", "vigil x", "vig\nil", &"v".repeat(33)] {
            assert!(matches!(bad(t), Err(OptionsError::InvalidName { .. })), "{t:?}");
        }
        let e = Nftables::new(NftOptions { program: vec![], ..NftOptions::default() }).unwrap_err();
        assert_eq!(e.to_string(), "firewall nftables program: the command is empty");
    }

    #[test]
    fn prepare_script_rebuilds_the_chain() {
        expect(
            &nft().prepare_script(),
            "add table inet vigil
add set inet vigil banned_v4 { type ipv4_addr; flags timeout; }
add set inet vigil banned_v6 { type ipv6_addr; flags timeout; }
add chain inet vigil input
flush chain inet vigil input
delete chain inet vigil input
add chain inet vigil input { type filter hook input priority -10; policy accept; }
add rule inet vigil input ip saddr @banned_v4 counter drop
add rule inet vigil input ip6 saddr @banned_v6 counter drop
add chain inet vigil forward
flush chain inet vigil forward
delete chain inet vigil forward
",
        );
        let fw = Nftables::new(NftOptions { forward: true, priority: 5, ..NftOptions::default() }).unwrap();
        let s = fw.prepare_script();
        assert!(s.contains("add chain inet vigil forward { type filter hook forward priority 5; policy accept; }\n"));
        assert!(s.ends_with("add rule inet vigil forward ip6 saddr @banned_v6 counter drop\n"), "{s}");
    }

    #[test]
    fn ban_and_unban_scripts() {
        expect(
            &nft().ban_script(ip("192.0.2.7"), 600),
            "add element inet vigil banned_v4 { 192.0.2.7 }
delete element inet vigil banned_v4 { 192.0.2.7 }
add element inet vigil banned_v4 { 192.0.2.7 timeout 600s }
",
        );
        let s = nft().ban_script(ip("2001:db8::1"), 0);
        assert!(s.ends_with("add element inet vigil banned_v6 { 2001:db8::1 timeout 1s }\n"), "{s}");
        let s = nft().ban_script(ip("::ffff:198.51.100.2"), MAX_TIMEOUT_S + 1);
        assert!(s.ends_with("add element inet vigil banned_v4 { 198.51.100.2 }\n"), "{s}");
        expect(
            &nft().unban_script(ip("2001:db8::1")),
            "add element inet vigil banned_v6 { 2001:db8::1 }
delete element inet vigil banned_v6 { 2001:db8::1 }
",
        );
    }

    // `nft list set` output of nft 1.0.6 (Debian 12) on Linux 6.18, captured while writing this backend.
    const LISTING_V4: &str = "table inet vigil {
\tset banned_v4 {
\t\ttype ipv4_addr
\t\tflags timeout
\t\telements = { 10.1.2.3 timeout 49d17h2m47s expires 49d17h2m46s984ms, 10.1.2.4 timeout 5h expires 4h59m59s984ms,
\t\t\t     192.0.2.1 timeout 10m expires 9m59s984ms, 192.0.2.2 timeout 1d expires 23h59m59s984ms,
\t\t\t     198.51.100.77 timeout 3s expires 2s984ms, 203.0.113.200 }
\t}
}
";
    const LISTING_V6: &str = "table inet vigil {
\tset banned_v6 {
\t\ttype ipv6_addr
\t\tflags timeout
\t\telements = { 2001:db8::1 timeout 1d3h46m40s expires 1d3h46m39s988ms }
\t}
}
";
    const LISTING_EMPTY: &str = "table inet vigil {
\tset banned_v6 {
\t\ttype ipv6_addr
\t\tflags timeout
\t}
}
";

    #[test]
    fn parses_real_listings() {
        let ms = Duration::from_millis;
        let got = parse_elements(LISTING_V4).unwrap();
        let want = [
            (ip("10.1.2.3"), Some(ms(4_294_967_000)), Some(ms(4_294_966_984))),
            (ip("10.1.2.4"), Some(ms(5 * 3_600_000)), Some(ms(5 * 3_600_000 - 16))),
            (ip("192.0.2.1"), Some(ms(600_000)), Some(ms(599_984))),
            (ip("192.0.2.2"), Some(ms(86_400_000)), Some(ms(86_400_000 - 16))),
            (ip("198.51.100.77"), Some(ms(3000)), Some(ms(2984))),
            (ip("203.0.113.200"), None, None),
        ];
        let want: Vec<_> =
            want.into_iter().map(|(ip, timeout, remaining)| ListedBan { ip, timeout, remaining }).collect();
        assert_eq!(got, want);
        let got = parse_elements(LISTING_V6).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].timeout, Some(Duration::from_secs(100_000)));
        assert_eq!(parse_elements(LISTING_EMPTY).unwrap(), []);
    }

    #[test]
    fn odd_listings_are_errors_or_skipped_words() {
        let c =
            "elements = { 192.0.2.1 counter packets 3 bytes 180 timeout 10s expires 9s comment \"a, } timeout x\" }";
        let got = parse_elements(c).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].timeout, Some(Duration::from_secs(10)));
        assert_eq!(got[0].remaining, Some(Duration::from_secs(9)));
        for bad in [
            "elements = { host.example timeout 1s }",
            "elements = { 192.0.2.1 timeout 1x }",
            "elements = { 192.0.2.1 timeout }",
            "elements = { 192.0.2.1 timeout 99999999999999999999d }",
            "elements = { 192.0.2.1 timeout 1s",
        ] {
            assert!(parse_elements(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1d3h46m40s"), Some(Duration::from_secs(100_000)));
        assert_eq!(parse_duration("2s980ms"), Some(Duration::from_millis(2980)));
        assert_eq!(parse_duration("0ms"), Some(Duration::ZERO));
        for bad in ["", "s", "10", "1w", "1.5s", "-1s", "18446744073709551615d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn failures_carry_nft_stderr() {
        let program =
            ["sh", "-c", "cat >/dev/null; echo 'Error: Could not process rule: Operation not permitted' >&2; exit 1"];
        let mut fw = Nftables::new(NftOptions {
            program: program.iter().map(|s| s.to_string()).collect(),
            ..NftOptions::default()
        })
        .unwrap();
        let e = fw.ban(ip("192.0.2.1"), 10).unwrap_err();
        assert_eq!(e.to_string(), "nft: ban 192.0.2.1: Error: Could not process rule: Operation not permitted");
    }

    #[track_caller]
    fn expect(got: &str, want: &str) {
        assert_eq!(got, want, "\n--- got:\n{got}");
    }
}
