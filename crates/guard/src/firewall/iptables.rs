//! The iptables + ipset ban action, for hosts without nft: two `hash:ip` sets with per-entry timeouts and
//! one DROP rule per family matching them, all run as argument vectors of validated names and addresses.

use std::net::IpAddr;
use std::time::Duration;

use super::run::{run, DEADLINE};
use super::{check_program, validate_name, wire_addr, Firewall, FirewallError, ListedBan, NameRule, OptionsError};

/// ipset's longest entry timeout (`(UINT_MAX >> 1) / 1000` seconds, about 24.8 days). Longer bans become
/// entries without a timeout, which vigil's own unban removes.
pub const MAX_TIMEOUT_S: u64 = 2_147_483;
/// Entries read from one listing at most.
const MAX_ENTRIES: usize = 1 << 20;

/// Names and programs of the iptables backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IptOptions {
    /// The ipset of banned IPv4 addresses, `vigil-v4`.
    pub set_v4: String,
    /// The ipset of banned IPv6 addresses, `vigil-v6`.
    pub set_v6: String,
    /// The chain the DROP rules are inserted at the top of, `INPUT`.
    pub chain: String,
    /// Program prefixes, `["ipset"]`, `["iptables"]`, `["ip6tables"]`; tests put `ip netns exec NS` first.
    pub ipset: Vec<String>,
    pub iptables: Vec<String>,
    pub ip6tables: Vec<String>,
}

impl Default for IptOptions {
    fn default() -> Self {
        IptOptions {
            set_v4: "vigil-v4".into(),
            set_v6: "vigil-v6".into(),
            chain: "INPUT".into(),
            ipset: vec!["ipset".into()],
            iptables: vec!["iptables".into()],
            ip6tables: vec!["ip6tables".into()],
        }
    }
}

/// The iptables + ipset backend.
#[derive(Debug)]
pub struct Iptables {
    opts: IptOptions,
}

impl Iptables {
    pub fn new(opts: IptOptions) -> Result<Iptables, OptionsError> {
        validate_name("ipset name", &opts.set_v4, NameRule::Ipset)?;
        validate_name("ipset name", &opts.set_v6, NameRule::Ipset)?;
        validate_name("iptables chain", &opts.chain, NameRule::IptChain)?;
        check_program("ipset program", &opts.ipset)?;
        check_program("iptables program", &opts.iptables)?;
        check_program("ip6tables program", &opts.ip6tables)?;
        Ok(Iptables { opts })
    }

    pub fn options(&self) -> &IptOptions {
        &self.opts
    }

    /// The commands that create both sets when missing (`-exist`).
    pub fn create_commands(&self) -> [Vec<String>; 2] {
        let o = &self.opts;
        [(&o.set_v4, "inet"), (&o.set_v6, "inet6")]
            .map(|(set, family)| self.ipset(&["create", set, "hash:ip", "family", family, "timeout", "0", "-exist"]))
    }

    /// The rule check (`-C`) and insertion (`-I`) for each family: the insertion runs only when the check
    /// says the rule is missing, so preparing twice leaves one rule.
    pub fn rule_commands(&self) -> [(Vec<String>, Vec<String>); 2] {
        let o = &self.opts;
        [(&o.iptables, &o.set_v4), (&o.ip6tables, &o.set_v6)].map(|(program, set)| {
            let rule = |op: &str| {
                // `-w`: wait for the xtables lock instead of failing while another program holds it.
                let args = ["-w", "5", op, &o.chain, "-m", "set", "--match-set", set, "src", "-j", "DROP"];
                argv(program, &args)
            };
            (rule("-C"), rule("-I"))
        })
    }

    /// The command banning `ip` for `timeout_s` seconds (at least 1; beyond [`MAX_TIMEOUT_S`], without a
    /// timeout); `-exist` makes a re-ban replace the timeout.
    pub fn ban_command(&self, ip: IpAddr, timeout_s: u64) -> Vec<String> {
        let (ip, set) = self.entry(ip);
        let timeout = match timeout_s.max(1) {
            s if s > MAX_TIMEOUT_S => 0,
            s => s,
        };
        self.ipset(&["add", set, &ip.to_string(), "timeout", &timeout.to_string(), "-exist"])
    }

    /// The command unbanning `ip`; `-exist` makes a missing entry not an error.
    pub fn unban_command(&self, ip: IpAddr) -> Vec<String> {
        let (ip, set) = self.entry(ip);
        self.ipset(&["del", set, &ip.to_string(), "-exist"])
    }

    /// The addresses in both sets with their remaining timeouts (`ipset list SET -output save`).
    pub fn list(&mut self) -> Result<Vec<ListedBan>, FirewallError> {
        let mut out = Vec::new();
        for set in [&self.opts.set_v4, &self.opts.set_v6] {
            let action = format!("ipset list {set}");
            let listing = run(&self.ipset(&["list", set, "-output", "save"]), None, &action, DEADLINE)?.ok(&action)?;
            let found = parse_save(&listing.stdout, set).map_err(|message| FirewallError { action, message })?;
            out.extend(found);
        }
        Ok(out)
    }

    fn entry(&self, ip: IpAddr) -> (IpAddr, &str) {
        let ip = wire_addr(ip);
        (ip, if ip.is_ipv4() { &self.opts.set_v4 } else { &self.opts.set_v6 })
    }

    fn ipset(&self, args: &[&str]) -> Vec<String> {
        argv(&self.opts.ipset, args)
    }
}

fn argv(program: &[String], args: &[&str]) -> Vec<String> {
    program.iter().cloned().chain(args.iter().map(|s| s.to_string())).collect()
}

/// How an error names `argv`: from the program on, without the prefix before it (`ip netns exec NS`).
fn action_of(argv: &[String], prefix_len: usize) -> String {
    argv[prefix_len.saturating_sub(1).min(argv.len())..].join(" ")
}

/// Runs `argv`, an error unless it exits 0.
fn run_ok(argv: &[String], prefix_len: usize) -> Result<(), FirewallError> {
    let action = action_of(argv, prefix_len);
    run(argv, None, &action, DEADLINE)?.ok(&action).map(drop)
}

impl Firewall for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn prepare(&mut self) -> Result<(), FirewallError> {
        for create in self.create_commands() {
            run_ok(&create, self.opts.ipset.len())?;
        }
        for ((check, insert), prefix) in
            self.rule_commands().into_iter().zip([self.opts.iptables.len(), self.opts.ip6tables.len()])
        {
            let action = action_of(&check, prefix);
            let checked = run(&check, None, &action, DEADLINE)?;
            match checked.code {
                Some(0) => {}
                // iptables -C exits 1 when the rule is missing; anything else is a failure to check.
                Some(1) => run_ok(&insert, prefix)?,
                _ => return Err(checked.error(&action)),
            }
        }
        Ok(())
    }

    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError> {
        run_ok(&self.ban_command(ip, timeout_s), self.opts.ipset.len())
    }

    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError> {
        run_ok(&self.unban_command(ip), self.opts.ipset.len())
    }
}

/// Reads `ipset list SET -output save`: `add SET 192.0.2.1 timeout 19` lines (the `create` line and other
/// sets' lines are skipped).
pub(crate) fn parse_save(text: &str, set: &str) -> Result<Vec<ListedBan>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("add") || words.next() != Some(set) {
            continue;
        }
        if out.len() >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let addr = words.next().unwrap_or_default();
        let ip: IpAddr = addr.parse().map_err(|_| format!("entry {line:?} does not hold an address"))?;
        let mut remaining = None;
        while let Some(word) = words.next() {
            if word == "timeout" {
                let secs: u64 =
                    words.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("entry {line:?}: bad timeout"))?;
                // Timeout 0 is an entry that never expires.
                remaining = (secs > 0).then(|| Duration::from_secs(secs));
            }
        }
        out.push(ListedBan { ip, timeout: None, remaining });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ipt() -> Iptables {
        Iptables::new(IptOptions::default()).unwrap()
    }

    fn words(v: &[String]) -> String {
        v.join(" ")
    }

    #[test]
    fn options_are_validated() {
        let with = |f: fn(&mut IptOptions)| {
            let mut o = IptOptions::default();
            f(&mut o);
            Iptables::new(o)
        };
        assert!(with(|o| o.set_v4 = "vigil;x".into()).is_err());
        assert!(with(|o| o.set_v6 = "-exist".into()).is_err());
        assert!(with(|o| o.chain = "INPUT -j ACCEPT".into()).is_err());
        assert!(with(|o| o.chain = "DOCKER-USER".into()).is_ok());
        assert!(with(|o| o.ipset = vec![]).is_err());
        assert!(with(|o| o.ip6tables = vec![String::new()]).is_err());
    }

    #[test]
    fn argument_vectors() {
        let fw = ipt();
        let [c4, c6] = fw.create_commands();
        assert_eq!(words(&c4), "ipset create vigil-v4 hash:ip family inet timeout 0 -exist");
        assert_eq!(words(&c6), "ipset create vigil-v6 hash:ip family inet6 timeout 0 -exist");
        let [(check4, insert4), (check6, _)] = fw.rule_commands();
        assert_eq!(words(&check4), "iptables -w 5 -C INPUT -m set --match-set vigil-v4 src -j DROP");
        assert_eq!(words(&insert4), "iptables -w 5 -I INPUT -m set --match-set vigil-v4 src -j DROP");
        assert_eq!(words(&check6), "ip6tables -w 5 -C INPUT -m set --match-set vigil-v6 src -j DROP");
        assert_eq!(words(&fw.ban_command(ip("192.0.2.1"), 600)), "ipset add vigil-v4 192.0.2.1 timeout 600 -exist");
        assert_eq!(words(&fw.ban_command(ip("2001:db8::1"), 0)), "ipset add vigil-v6 2001:db8::1 timeout 1 -exist");
        assert_eq!(
            words(&fw.ban_command(ip("::ffff:192.0.2.9"), MAX_TIMEOUT_S + 1)),
            "ipset add vigil-v4 192.0.2.9 timeout 0 -exist"
        );
        assert_eq!(words(&fw.unban_command(ip("2001:db8::1"))), "ipset del vigil-v6 2001:db8::1 -exist");
        let ns = |p: &str| ["ip", "netns", "exec", "h", p].map(String::from).to_vec();
        let fw = Iptables::new(IptOptions { ipset: ns("ipset"), ..IptOptions::default() }).unwrap();
        assert_eq!(words(&fw.unban_command(ip("192.0.2.1"))), "ip netns exec h ipset del vigil-v4 192.0.2.1 -exist");
    }

    // `ipset list vigil-v4 -output save` of ipset 7.17 (Debian 12), captured while writing this backend.
    const SAVE: &str =
        "create vigil-v4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x7caebc37
add vigil-v4 5.5.5.7 timeout 0
add vigil-v4 5.5.5.5 timeout 2147482
add vigil-v4 1.2.3.4 timeout 19
";

    #[test]
    fn parses_real_listing() {
        let got = parse_save(SAVE, "vigil-v4").unwrap();
        let want = [("5.5.5.7", None), ("5.5.5.5", Some(2_147_482)), ("1.2.3.4", Some(19))].map(|(a, s)| ListedBan {
            ip: ip(a),
            timeout: None,
            remaining: s.map(Duration::from_secs),
        });
        assert_eq!(got, want);
        assert_eq!(parse_save(SAVE, "other").unwrap(), []);
        assert!(parse_save("add vigil-v4 nonsense timeout 1", "vigil-v4").is_err());
        assert!(parse_save("add vigil-v4 192.0.2.1 timeout x", "vigil-v4").is_err());
    }

    #[test]
    fn failures_name_the_command() {
        let sh = |script: &str, name: &str| ["sh", "-c", script, name].map(String::from).to_vec();
        let mut fw = Iptables::new(IptOptions {
            ipset: sh("echo \"ipset v7.17: Kernel error received: Operation not permitted\" >&2; exit 1", "ipset"),
            ..IptOptions::default()
        })
        .unwrap();
        let e = fw.ban(ip("192.0.2.1"), 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ipset add vigil-v4 192.0.2.1 timeout 5 -exist: ipset v7.17: Kernel error received: Operation not permitted"
        );
        // A check that fails for another reason than a missing rule is an error, not an insertion.
        let mut fw = Iptables::new(IptOptions {
            ipset: sh("exit 0", "ipset"),
            iptables: sh("echo \"iptables: can't initialize iptables table\" >&2; exit 3", "iptables"),
            ..IptOptions::default()
        })
        .unwrap();
        let e = fw.prepare().unwrap_err();
        assert_eq!(
            e.to_string(),
            "iptables -w 5 -C INPUT -m set --match-set vigil-v4 src -j DROP: iptables: can't initialize iptables table"
        );
    }
}
