//! Throughput of the sshd parser plus the sshd jail on a generated auth log, one core.
//!
//!   sshd_bench --generate FILE [--lines N]   writes a realistic N-line auth.log (default 1,000,000)
//!   sshd_bench FILE [--mode normal|aggressive] reads FILE, runs every line through `parse_line` and the
//!                                            sshd jail, prints lines/s (file reading included)
//!   sshd_bench --failures FILE [--mode M]    prints the lines the sshd filter counts as failures, for a
//!                                            line-by-line comparison with `fail2ban-regex --print-all-matched`
//!
//! The log mixes what a public SSH server sees: password guesses (valid and invalid users, IPv4 and IPv6),
//! pre-auth disconnects, accepted keys, PAM session lines, cron and systemd noise, from about 20,000
//! addresses, with classic syslog and RFC 3339 timestamps and `sshd` and `sshd-session` tags.

use std::io::{BufWriter, Write};
use std::time::Instant;

use vigil_guard::jail::{Jail, JailConfig};
use vigil_guard::parse::parse_line;
use vigil_guard::sshd_filter::{Mode, SshdFilter};

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

const USERS: [&str; 12] =
    ["admin", "test", "oracle", "ubuntu", "git", "postgres", "user", "guest", "ftpuser", "pi", "support", "Jörg"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A third of the lines come from 300 busy attackers, the rest from 20,000 occasional ones.
fn addr(rng: &mut Rng) -> String {
    let n = if rng.below(3) == 0 { rng.below(300) * 61 } else { rng.below(20_000) };
    if n % 10 == 0 {
        format!("2001:db8:{:x}::{:x}", n % 97, n)
    } else {
        format!("{}.{}.{}.{}", 11 + n % 200, (n / 7) % 256, (n / 13) % 256, 1 + n % 250)
    }
}

fn generate(path: &str, lines: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = 1_709_251_200u64; // 2024-03-01
    for i in 0..lines {
        let t = start + i / 20;
        let (day, sec) = ((t - start) / 86_400 + 1, t % 86_400);
        let (h, m, s) = (sec / 3600, sec % 3600 / 60, sec % 60);
        let prog = if i % 3 == 0 { "sshd-session" } else { "sshd" };
        // Every line its own connection, as pids count up (real connections log a few lines each; their
        // memory is what the fail2ban samples test).
        let pid = 1000 + i % 4_000_000;
        let header = if i % 4 == 0 {
            format!("2024-03-{day:02}T{h:02}:{m:02}:{s:02}.{:06}+00:00 web-1 {prog}[{pid}]:", rng.below(1_000_000))
        } else {
            format!("{} {day:>2} {h:02}:{m:02}:{s:02} web-1 {prog}[{pid}]:", MONTHS[2])
        };
        let user = USERS[rng.below(USERS.len() as u64) as usize];
        let a = addr(&mut rng);
        let port = 1024 + rng.below(60_000);
        let line = match rng.below(100) {
            0..=29 => format!("{header} Failed password for invalid user {user} from {a} port {port} ssh2"),
            30..=39 => format!("{header} Failed password for root from {a} port {port} ssh2"),
            40..=51 => format!("{header} Invalid user {user} from {a} port {port}"),
            52..=61 => format!("{header} Connection closed by invalid user {user} {a} port {port} [preauth]"),
            62..=67 => format!("{header} Connection closed by authenticating user root {a} port {port} [preauth]"),
            68..=73 => format!("{header} Received disconnect from {a} port {port}:11: Bye Bye [preauth]"),
            74..=76 => format!("{header} Disconnected from invalid user {user} {a} port {port} [preauth]"),
            77..=79 => format!(
                "{header} pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={a}  user=root"
            ),
            80..=82 => format!(
                "{header} Accepted publickey for deploy from {a} port {port} ssh2: ED25519 SHA256:3q0gYk1cYp9mO5l2q1jbnWy0D6ZV3v0s0s7aXbq5z1I"
            ),
            83..=85 => format!("{header} pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"),
            86..=87 => format!("{header} pam_unix(sshd:session): session closed for user deploy"),
            88..=89 => format!("{header} Connection from {a} port {port} on 192.0.2.1 port 22 rdomain \"\""),
            90..=91 => format!("{header} error: kex_exchange_identification: Connection closed by remote host"),
            92..=93 => format!(
                "{header} Unable to negotiate with {a} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]"
            ),
            94..=96 => {
                let hdr = header.replace(&format!("{prog}[{pid}]"), &format!("CRON[{pid}]"));
                format!("{hdr} pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
            }
            _ => {
                let hdr = header.replace(&format!("{prog}[{pid}]"), "systemd[1]");
                format!("{hdr} Started session-{i}.scope - Session {i} of User deploy.")
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn run(path: &str, mode: Mode) -> std::io::Result<()> {
    let started = Instant::now();
    let text = std::fs::read_to_string(path)?;
    let mut jail = Jail::new(JailConfig::sshd(mode)).map_err(std::io::Error::other)?;
    let (mut lines, mut events, mut bans, mut unbans) = (0u64, 0u64, 0u64, 0u64);
    let mut deadline = None;
    for line in text.lines() {
        lines += 1;
        let Some(ev) = parse_line(line) else { continue };
        events += 1;
        let now = ev.timestamp.map_or(0, |t| t.unix_seconds(2024, 0));
        if deadline.is_some_and(|d| d <= now) {
            unbans += jail.run_due(now).len() as u64;
            deadline = jail.next_deadline();
        }
        if jail.observe(&ev, now).is_some() {
            bans += 1;
            deadline = jail.next_deadline();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "vigil: {lines} lines in {secs:.3} s = {:.0} lines/s ({events} events, {} failures, {bans} bans, {unbans} unbans, mode {})",
        lines as f64 / secs,
        jail.failures_total(),
        mode.as_str()
    );
    Ok(())
}

fn print_failures(path: &str, mode: Mode) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut filter = SshdFilter::new(mode);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in text.lines() {
        let Some(ev) = parse_line(line) else { continue };
        if let Some(source) = filter.observe(&ev, ev.timestamp.map_or(0, |t| t.unix_seconds(2024, 0))) {
            writeln!(out, "{source}\t{line}")?;
        }
    }
    out.flush()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let usage = || std::io::Error::other("usage: sshd_bench --generate FILE [--lines N] | sshd_bench FILE [--mode M]");
    if let Some(path) = flag("--generate") {
        let lines = flag("--lines").map_or(Ok(1_000_000), |n| n.parse().map_err(|_| usage()))?;
        return generate(&path, lines);
    }
    let mode = match flag("--mode").as_deref() {
        None | Some("normal") => Mode::Normal,
        Some("aggressive") => Mode::Aggressive,
        Some("ddos") => Mode::Ddos,
        Some("extra") => Mode::Extra,
        Some(_) => return Err(usage()),
    };
    if let Some(path) = flag("--failures") {
        return print_failures(&path, mode);
    }
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or_else(usage)?;
    run(path, mode)
}
