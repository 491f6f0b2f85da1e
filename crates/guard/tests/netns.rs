//! Real bans in network namespaces: an "attacker" namespace connects to a TCP listener in a "host" namespace,
//! an sshd jail fed failure lines bans one attacker address through nftables (and iptables + ipset), an
//! allow-listed address keeps connecting, and the ban lifts after `bantime`. Needs root, as CI has.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_guard::firewall::{Backend, Firewall, IptOptions, Iptables, ListedBan, NftOptions, Nftables};
use vigil_guard::jail::{Ban, Decision, Jail, JailConfig, Offender};
use vigil_guard::parse::parse_line;
use vigil_guard::sshd_filter::Mode;

const PORT: u16 = 2222;
const BANTIME_S: i64 = 3;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth pair: the host at 10.R.0.1, the attacker at 10.R.0.2 and 10.R.0.3. Dropping
/// it stops the listener and deletes both namespaces, whatever happened in the test.
struct Lab {
    host: String,
    attacker: String,
    net: u8,
    listener: Option<Child>,
    created: Vec<String>,
}

impl Lab {
    fn new() -> Lab {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let mut lab = Lab {
            host: format!("vigil-{pid}-{n}-host"),
            attacker: format!("vigil-{pid}-{n}-att"),
            net: (pid.wrapping_add(n) % 250 + 1) as u8,
            listener: None,
            created: Vec::new(),
        };
        for ns in [lab.host.clone(), lab.attacker.clone()] {
            let out = Command::new("ip").args(["netns", "add", &ns]).output().expect("run ip (iproute2 installed?)");
            assert!(
                out.status.success(),
                "`ip netns add {ns}` failed (this test needs root and network namespaces; CI runs as root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            lab.created.push(ns);
        }
        let (h, a, r) = (lab.host.clone(), lab.attacker.clone(), lab.net);
        sh(&["ip", "-n", &h, "link", "add", "vh0", "type", "veth", "peer", "name", "va0", "netns", &a]);
        sh(&["ip", "-n", &h, "addr", "add", &format!("10.{r}.0.1/24"), "dev", "vh0"]);
        sh(&["ip", "-n", &a, "addr", "add", &format!("10.{r}.0.2/24"), "dev", "va0"]);
        sh(&["ip", "-n", &a, "addr", "add", &format!("10.{r}.0.3/24"), "dev", "va0"]);
        for (ns, dev) in [(&h, "vh0"), (&h, "lo"), (&a, "va0"), (&a, "lo")] {
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab.start_listener();
        lab
    }

    fn addr(&self, last: u8) -> IpAddr {
        format!("10.{}.0.{last}", self.net).parse().unwrap()
    }

    /// `program` run inside the host namespace, as a backend's program prefix.
    fn in_host(&self, program: &str) -> Vec<String> {
        ["ip", "netns", "exec", &self.host, program].map(String::from).to_vec()
    }

    fn start_listener(&mut self) {
        let script = "import socket,sys\n\
            s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
            s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(64); print('ready', flush=True)\n\
            while True:\n    c,_=s.accept(); c.close()\n";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.host, "python3", "-c", script, &PORT.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the listener");
        let stdout = child.stdout.take().unwrap();
        self.listener = Some(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the listener in {} did not start", self.host);
    }

    /// One TCP connection attempt from `src` (an attacker address) to the host's listener.
    fn connect(&self, src: IpAddr) -> Conn {
        let script = "import socket,sys\n\
            try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5, source_address=(sys.argv[3], 0)).close(); print('ok')\n\
            except socket.timeout: print('timeout')\n\
            except OSError as e: print('error', e)\n";
        let out = Command::new("ip")
            .args(["netns", "exec", &self.attacker, "python3", "-c", script])
            .args([self.addr(1).to_string(), PORT.to_string(), src.to_string()])
            .output()
            .expect("run the client");
        match String::from_utf8_lossy(&out.stdout).trim() {
            "ok" => Conn::Ok,
            "timeout" => Conn::Timeout,
            other => Conn::Other(format!("{other} {}", String::from_utf8_lossy(&out.stderr))),
        }
    }

    fn ruleset(&self) -> String {
        sh(&["ip", "netns", "exec", &self.host, "nft", "list", "ruleset"])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.created {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[derive(Debug, PartialEq)]
enum Conn {
    Ok,
    Timeout,
    Other(String),
}

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().next());
    assert_eq!(uid, Some("0"), "the network-namespace ban tests need root (CI runs them as root)");
}

/// Runs a setup command, failing the test with its stderr.
fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Polls `cond` until it holds or `limit` has passed; returns whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Feeds an sshd jail (maxretry 3, bantime 3 s, .3 allow-listed) three failure lines for each attacker
/// address, through the real line parser; returns the jail and the bans it decided.
fn jail_bans(lab: &Lab, now: i64) -> (Jail, Vec<Ban>) {
    let allowed = format!("{}/32", lab.addr(3)).parse().unwrap();
    let mut config = JailConfig { maxretry: 3, bantime_s: BANTIME_S, ..JailConfig::sshd(Mode::Normal) };
    config.ignoreip.push(allowed);
    let mut jail = Jail::new(config).unwrap();
    let mut bans = Vec::new();
    for i in 0..3 {
        for src in [lab.addr(2), lab.addr(3)] {
            let line = format!(
                "Nov 21 22:00:0{i} host sshd-session[{}]: Failed password for invalid user admin from {src} port {} ssh2",
                4000 + i,
                50000 + i
            );
            let ev = parse_line(&line).expect("an sshd failure line");
            bans.extend(jail.observe(&ev, now));
        }
    }
    (jail, bans)
}

/// The whole flow against one backend: prepared twice, ban decided by the jail, enforced, lifted by the
/// firewall's own timeout, then the jail's unban applied.
fn ban_flow(lab: &Lab, fw: &mut Backend) {
    let list = |fw: &mut Backend| -> Vec<ListedBan> { fw.list().unwrap().expect("this backend lists") };
    let (attacker, allowed) = (lab.addr(2), lab.addr(3));
    assert_eq!(lab.connect(attacker), Conn::Ok, "before any ban");
    assert_eq!(lab.connect(allowed), Conn::Ok, "before any ban");

    let now = unix_now();
    let (mut jail, bans) = jail_bans(lab, now);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].offender, Offender::Ip(attacker));
    assert!(!jail.is_banned(&Offender::Ip(allowed)));
    let banned_at = Instant::now();
    for ban in &bans {
        let Offender::Ip(ip) = ban.offender else { panic!("an address ban") };
        fw.ban(ip, (ban.until - now) as u64).unwrap();
    }
    let listed = list(fw);
    assert_eq!(listed.iter().map(|b| b.ip).collect::<Vec<_>>(), [attacker], "{listed:?}");
    assert!(listed[0].remaining.is_some_and(|r| r <= Duration::from_secs(BANTIME_S as u64)), "{listed:?}");

    assert_eq!(lab.connect(attacker), Conn::Timeout, "the banned address must not connect");
    assert_eq!(lab.connect(allowed), Conn::Ok, "the allow-listed address is never banned");

    // The firewall lifts the ban by itself (vigil might not be running).
    assert!(wait_for(Duration::from_secs(15), || lab.connect(attacker) == Conn::Ok), "the ban never lifted");
    assert!(banned_at.elapsed() >= Duration::from_millis(2500), "lifted too early: {:?}", banned_at.elapsed());
    assert_eq!(list(fw), []);
    // The jail's own unban then finds nothing to remove, which is fine.
    assert!(wait_for(Duration::from_secs(3), || jail.next_deadline().is_some_and(|t| t <= unix_now())));
    let decisions = jail.run_due(unix_now());
    assert!(matches!(&decisions[..], [Decision::Unban { offender: Offender::Ip(ip), .. }] if *ip == attacker));
    fw.unban(attacker).unwrap();

    // A manual ban, a re-ban of the same address, and an unban before the timeout.
    fw.ban(attacker, 600).unwrap();
    fw.ban(attacker, 300).unwrap();
    let listed = list(fw);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].remaining.is_some_and(|r| r > Duration::from_secs(200) && r <= Duration::from_secs(300)));
    assert_eq!(lab.connect(attacker), Conn::Timeout);
    fw.unban(attacker).unwrap();
    assert_eq!(lab.connect(attacker), Conn::Ok);
    // IPv6 addresses go to the other set.
    let v6: IpAddr = "2001:db8::66".parse().unwrap();
    fw.ban(v6, 60).unwrap();
    assert_eq!(list(fw).iter().map(|b| b.ip).collect::<Vec<_>>(), [v6]);
    fw.unban(v6).unwrap();
    fw.unban(v6).unwrap();
    assert_eq!(list(fw), []);
}

#[test]
fn nftables_ban_blocks_and_lifts() {
    let lab = Lab::new();
    let mut fw = Nftables::new(NftOptions { program: lab.in_host("nft"), ..NftOptions::default() }).unwrap();
    fw.prepare().unwrap();
    let first = lab.ruleset();
    fw.prepare().unwrap();
    assert_eq!(lab.ruleset(), first, "preparing twice changes nothing");
    assert_eq!(first.matches("ip saddr @banned_v4 counter").count(), 1, "{first}");
    assert!(first.contains("hook input priority filter - 10"), "{first}");
    // Turning `forward` on adds the forward chain; turning it off again removes it.
    let opts = NftOptions { program: lab.in_host("nft"), forward: true, ..NftOptions::default() };
    Nftables::new(opts).unwrap().prepare().unwrap();
    let both = lab.ruleset();
    assert!(both.contains("hook forward priority filter - 10") && both.matches("@banned_v6 counter").count() == 2);
    fw.prepare().unwrap();
    assert_eq!(lab.ruleset(), first);
    // A ban survives preparing again (a restart), as the sets are kept.
    fw.ban(lab.addr(9), 60).unwrap();
    fw.prepare().unwrap();
    assert_eq!(fw.list().unwrap().len(), 1);
    fw.unban(lab.addr(9)).unwrap();
    ban_flow(&lab, &mut Backend::Nftables(fw));
}

#[test]
fn iptables_ipset_ban_blocks_and_lifts() {
    let lab = Lab::new();
    let opts = IptOptions {
        ipset: lab.in_host("ipset"),
        iptables: lab.in_host("iptables"),
        ip6tables: lab.in_host("ip6tables"),
        ..IptOptions::default()
    };
    let mut fw = Iptables::new(opts).unwrap();
    fw.prepare().unwrap();
    fw.prepare().unwrap();
    let rules = sh(&["ip", "netns", "exec", &lab.host, "iptables", "-S", "INPUT"]);
    assert_eq!(rules.matches("--match-set vigil-v4 src -j DROP").count(), 1, "{rules}");
    let rules = sh(&["ip", "netns", "exec", &lab.host, "ip6tables", "-S", "INPUT"]);
    assert_eq!(rules.matches("--match-set vigil-v6 src -j DROP").count(), 1, "{rules}");
    ban_flow(&lab, &mut Backend::Iptables(fw));
}
