//! Parsers on realistic auth-log lines written for vigil: sshd (classic and `sshd-session`), PAM, sudo,
//! su and account changes, with IPv6, odd and hostile user names, and truncated lines.

use std::net::IpAddr;

use vigil_guard::event::ecs;
use vigil_guard::parse::{parse_line, parse_message};
use vigil_guard::{Action, Category, Event, Origin, Outcome};

fn ev(line: &str) -> Event<'_> {
    parse_line(line).unwrap_or_else(|| panic!("no event for {line:?}"))
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn sshd_failed_and_accepted() {
    let e = ev("Mar  5 10:01:02 web-1 sshd[123]: Failed password for root from 203.0.113.4 port 50022 ssh2");
    assert_eq!((e.category, e.action, e.outcome), (Category::Authentication, Action::SshLogin, Outcome::Failure));
    assert_eq!((e.source_ip, e.source_port, e.user_name), (ip("203.0.113.4"), Some(50022), Some("root")));
    assert_eq!((e.process_name, e.process_pid, e.host_name), (Some("sshd"), Some(123), Some("web-1")));
    assert_eq!(e.ssh_method, Some("password"));
    assert!(!e.user_invalid);

    let e = ev("2024-11-02T08:15:30.118473+00:00 db sshd-session[88121]: Failed password for invalid user admin from 2001:db8:4::17 port 40212 ssh2");
    assert_eq!((e.source_ip, e.user_name, e.user_invalid), (ip("2001:db8:4::17"), Some("admin"), true));
    assert_eq!(e.process_name, Some("sshd-session"));
    assert_eq!(e.timestamp.unwrap().year, Some(2024));

    let e = ev("Mar  5 10:01:02 web sshd[9]: Accepted publickey for deploy from 198.51.100.20 port 51514 ssh2: ED25519 SHA256:3q0gYk1cYp9mO5l2q1jbnWy0D6ZV3v0s0s7aXbq5z1I");
    assert_eq!((e.action, e.outcome, e.user_name), (Action::SshLogin, Outcome::Success, Some("deploy")));
    assert_eq!((e.source_ip, e.ssh_method), (ip("198.51.100.20"), Some("publickey")));

    let e = ev("Mar  5 10:01:02 web sshd[9]: Failed keyboard-interactive/pam for invalid user oracle from ::ffff:192.0.2.44 port 2222 ssh2");
    assert_eq!((e.source_ip, e.ssh_method), (ip("192.0.2.44"), Some("keyboard-interactive/pam")));
}

#[test]
fn hostile_user_names_cannot_move_the_address() {
    let cases = [
        // User name `from 10.10.1.1`.
        ("Failed password for invalid user from 10.10.1.1 from 192.0.2.7 port 58946 ssh2", "192.0.2.7", "from 10.10.1.1"),
        // User name `admin from 1.2.3.4 port 22 ssh2`.
        ("Failed password for invalid user admin from 1.2.3.4 port 22 ssh2 from 192.0.2.8 port 4 ssh2", "192.0.2.8", "admin from 1.2.3.4 port 22 ssh2"),
        // User name `x from 6.6.6.6 port 1 ssh2: y`: fail2ban would ban 6.6.6.6.
        ("Failed password for invalid user x from 6.6.6.6 port 1 ssh2: y from 192.0.2.9 port 22 ssh2", "192.0.2.9", "x from 6.6.6.6 port 1 ssh2: y"),
        // The same against a publickey line, whose key description follows the address.
        ("Failed publickey for invalid user x from 6.6.6.6 port 1 ssh2: RSA SHA256:AAAA from 192.0.2.10 port 22 ssh2: RSA SHA256:abcdef", "192.0.2.10", "x from 6.6.6.6 port 1 ssh2: RSA SHA256:AAAA"),
        // Spaces and unicode.
        ("Failed password for invalid user Jörg Müller from 2001:db8::beef port 22 ssh2", "2001:db8::beef", "Jörg Müller"),
    ];
    for (msg, want_ip, want_user) in cases {
        let line = format!("Mar  5 10:01:02 h sshd[1]: {msg}");
        let e = ev(&line);
        assert_eq!(e.source_ip, ip(want_ip), "{msg}");
        assert_eq!(e.user_name, Some(want_user), "{msg}");
    }
    let right_anchored = [
        ("Invalid user admin from 1.2.3.4 from 192.0.2.11 port 3", "192.0.2.11", "admin from 1.2.3.4"),
        ("Connection closed by authenticating user a 1.2.3.4 port 5 192.0.2.12 port 6 [preauth]", "192.0.2.12", "a 1.2.3.4 port 5"),
        ("Disconnected from invalid user  192.0.2.13 port 7 [preauth]", "192.0.2.13", ""),
        ("error: maximum authentication attempts exceeded for x from 1.2.3.4 port 9 ssh2 from 192.0.2.14 port 9 ssh2 [preauth]", "192.0.2.14", "x from 1.2.3.4 port 9 ssh2"),
        ("User eve from 1.2.3.4 from 192.0.2.15 not allowed because not listed in AllowUsers", "192.0.2.15", "eve from 1.2.3.4"),
    ];
    for (msg, want_ip, want_user) in right_anchored {
        let line = format!("Mar  5 10:01:02 h sshd[1]: {msg}");
        let e = ev(&line);
        assert_eq!((e.source_ip, e.user_name), (ip(want_ip), Some(want_user)), "{msg}");
    }
}

#[test]
fn sshd_preauth_and_network_lines() {
    let e = ev("Mar  5 10:01:02 h sshd-session[5]: Connection closed by authenticating user root 2001:db8::2 port 33210 [preauth]");
    assert_eq!(
        (e.action, e.preauth, e.user_name, e.source_ip),
        (Action::SshConnectionClosed, true, Some("root"), ip("2001:db8::2"))
    );
    let e = ev("Mar  5 10:01:02 h sshd[5]: Received disconnect from 192.0.2.1 port 41000:11: Bye Bye [preauth]");
    assert_eq!((e.action, e.source_port, e.preauth), (Action::SshDisconnectReceived, Some(41000), true));
    let e = ev("Mar  5 10:01:02 h sshd[5]: Received disconnect from 2001:db8::3 port 41000:14: No supported authentication methods available [preauth]");
    assert_eq!((e.action, e.source_ip), (Action::SshNoAuthMethods, ip("2001:db8::3")));
    let e = ev("Mar  5 10:01:02 h sshd[5]: Unable to negotiate with 192.0.2.2 port 5: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]");
    assert_eq!((e.action, e.source_ip, e.source_port), (Action::SshNegotiationFailed, ip("192.0.2.2"), Some(5)));
    let e = ev("Mar  5 10:01:02 h sshd[5]: banner exchange: Connection from 192.0.2.3 port 44105: invalid format");
    assert_eq!((e.action, e.source_ip), (Action::SshNoIdentification, ip("192.0.2.3")));
    let e = ev("Mar  5 10:01:02 h sshd[5]: error: kex_exchange_identification: Connection closed by remote host");
    assert_eq!((e.action, e.source_ip), (Action::SshNoIdentification, None));
    let e = ev("Mar  5 10:01:02 h sshd[5]: Did not receive identification string from 2001:db8::4 port 22");
    assert_eq!((e.action, e.source_ip), (Action::SshNoIdentification, ip("2001:db8::4")));
    let e = ev("Mar  5 10:01:02 h sshd[5]: error: PAM: Authentication failure for bob from host.example.org");
    assert_eq!((e.action, e.source_ip, e.source_address), (Action::SshPamFailure, None, Some("host.example.org")));
    let e = ev("Mar  5 10:01:02 h sshd[5]: ROOT LOGIN REFUSED FROM 192.0.2.5 port 4 [preauth]");
    assert_eq!((e.action, e.user_name), (Action::SshRootLoginRefused, Some("root")));
    let e = ev("Mar  5 10:01:02 h sshd[5]: User root from 192.0.2.6 not allowed because listed in DenyUsers");
    assert_eq!((e.action, e.source_ip), (Action::SshUserNotAllowed, ip("192.0.2.6")));
    assert!(parse_line("Mar  5 10:01:02 h sshd[5]: Server listening on 0.0.0.0 port 22.").is_none());
    assert!(parse_line("Mar  5 10:01:02 h sshd[5]: Received signal 15; terminating.").is_none());
    assert!(parse_line("Mar  5 10:01:02 h sshd[5]: Connection reset by peer").is_none());
    // `192.030.0.6` is not an IP address vigil would ban (inet_aton reads it as octal).
    let e = ev("Mar  5 10:01:02 h sshd[5]: Invalid user x from 192.030.0.6");
    assert_eq!((e.source_ip, e.source_address), (None, Some("192.030.0.6")));
}

#[test]
fn journald_messages_go_straight_to_the_parsers() {
    let origin =
        Origin { host_name: Some("db"), process_name: Some("sshd-session"), process_pid: Some(77), timestamp: None };
    let e = parse_message(&origin, "Invalid user guest from 2001:db8::9 port 2200").unwrap();
    assert_eq!(
        (e.action, e.source_ip, e.process_pid, e.host_name),
        (Action::SshInvalidUser, ip("2001:db8::9"), Some(77), Some("db"))
    );
    let origin = Origin { process_name: Some("useradd"), ..Origin::default() };
    let e = parse_message(
        &origin,
        "new user: name=svc, UID=998, GID=998, home=/nonexistent, shell=/usr/sbin/nologin, from=none",
    )
    .unwrap();
    assert_eq!((e.action, e.user_target_name), (Action::UserCreated, Some("svc")));
    let origin = Origin { process_name: Some("CRON"), ..Origin::default() };
    let e = parse_message(&origin, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)").unwrap();
    assert_eq!(e.action, Action::SessionOpened);
    assert!(parse_message(&Origin::default(), "Failed password for root from 192.0.2.1 port 1 ssh2").is_none());
}

#[test]
fn ecs_fields_of_a_parsed_line() {
    let e = ev("Mar  5 10:01:02 web sshd[4]: Failed password for root from 192.0.2.1 port 2 ssh2");
    let f = e.log_fields();
    let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get(ecs::EVENT_ACTION), Some("ssh-login"));
    assert_eq!(get(ecs::EVENT_OUTCOME), Some("failure"));
    assert_eq!(get(ecs::SOURCE_IP), Some("192.0.2.1"));
    assert_eq!(get(ecs::SOURCE_PORT), Some("2"));
    assert_eq!(get(ecs::PROCESS_PID), Some("4"));
    assert_eq!(get(ecs::HOST_NAME), Some("web"));
    let entry = e.to_log_entry(7, "the line");
    assert_eq!((entry.ts_ns, entry.line.as_str(), entry.fields), (7, "the line", f));
}

#[test]
fn other_programs_through_syslog() {
    let e = ev("Mar  5 10:01:02 web sudo[31]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx");
    assert_eq!((e.action, e.command_line), (Action::SudoCommand, Some("/usr/bin/systemctl restart nginx")));
    let e = ev("Mar  5 10:01:02 web su[32]: FAILED SU (to root) mallory on pts/4");
    assert_eq!((e.action, e.outcome, e.user_name), (Action::SuSwitch, Outcome::Failure, Some("mallory")));
    let e = ev(
        "Mar  5 10:01:02 web su[33]: pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
    );
    assert_eq!(e.action, Action::SessionOpened);
    let e = ev("Mar  5 10:01:02 web usermod[34]: add 'mallory' to group 'sudo'");
    assert_eq!((e.action, e.group_name), (Action::UserAddedToGroup, Some("sudo")));
    let e = ev("Mar  5 10:01:02 web passwd[35]: pam_unix(passwd:chauthtok): password changed for alice");
    assert_eq!(e.action, Action::PasswordChanged);
    let e = ev("Mar  5 10:01:02 web groupdel[36]: group 'devs' removed");
    assert_eq!(e.action, Action::GroupDeleted);
}

/// Every prefix of every sample line parses without panicking, and a cut line's address is at most a
/// prefix of the whole line's (a cut inside the address is what the long-line rule below is for).
#[test]
fn truncated_lines_never_panic_or_invent_addresses() {
    let samples = [
        "Mar  5 10:01:02 web sshd[123]: Failed password for invalid user admin from 2001:db8::17 port 40212 ssh2",
        "Mar  5 10:01:02 web sshd[123]: Accepted publickey for a from 192.0.2.1 port 1 ssh2: RSA SHA256:xyz",
        "Mar  5 10:01:02 web sshd[123]: Connection closed by authenticating user root 192.0.2.9 port 33 [preauth]",
        "Mar  5 10:01:02 web sshd[123]: Received disconnect from 192.0.2.1 port 4:11: Bye Bye [preauth]",
        "Mar  5 10:01:02 web sshd[123]: Disconnecting invalid user a 192.0.2.1 port 1: Change of username or service not allowed: (a,b) -> (c,d) [preauth]",
        "Mar  5 10:01:02 web sshd[123]: SSH: Server;Ltype: Kex;Remote: 192.0.2.1-1780;Enc: aes128-ctr",
        "Mar  5 10:01:02 web sshd[123]: refused connect from x.example (::ffff:192.0.2.1)",
        "2024-03-05T10:01:02.5+01:00 web sudo[1]: bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        "<38>1 2019-07-08T17:40:17Z h sshd 5 - [a b=\"]\"] Failed none for invalid user x from 192.0.2.1 port 1 ssh2",
    ];
    for s in samples {
        let full = parse_line(s).unwrap_or_else(|| panic!("{s}"));
        let full_addr = full.source_address.unwrap_or("");
        for (i, _) in s.char_indices() {
            if let Some(raw) = parse_line(&s[..i]).and_then(|e| e.source_address) {
                assert!(full_addr.starts_with(raw), "{:?} gave {raw}", &s[..i]);
            }
        }
    }
    // A message near sshd's 1 KiB cut keeps its address only when the port follows it.
    let user = "u".repeat(990);
    let cut = format!("Mar  5 10:01:02 web sshd[1]: Failed password for invalid user {user} from 192.0.2.1");
    let e = ev(&cut);
    assert_eq!((e.action, e.source_ip, e.source_address), (Action::SshLogin, None, None));
    let whole =
        format!("Mar  5 10:01:02 web sshd[1]: Failed password for invalid user {user} from 192.0.2.17 port 2 ssh2");
    assert_eq!(ev(&whole).source_ip, ip("192.0.2.17"));
    // Non-UTF-8 cannot reach here (lines are &str); control bytes and huge lines are handled.
    let weird = "Mar  5 10:01:02 web sshd[1]: Failed password for \u{0}\u{7f} from 192.0.2.1 port 1 ssh2";
    assert_eq!(ev(weird).source_ip, ip("192.0.2.1"));
    let long =
        format!("Mar  5 10:01:02 web sshd[1]: Failed password for {} from 192.0.2.1 port 1 ssh2", "a ".repeat(20_000));
    assert!(parse_line(&long).is_none());
    let many = format!(
        "Mar  5 10:01:02 web sshd[1]: Failed password for {}x from 192.0.2.1 port 1 ssh2",
        "u from 6.6.6.6 ".repeat(50)
    );
    assert_eq!(ev(&many).source_ip, ip("192.0.2.1"));
}

/// Random edits of sample lines (cuts, swapped bytes, inserted separators) never panic, and whatever
/// address comes out parses back to itself.
#[test]
fn mutated_lines_never_panic() {
    let samples = [
        "Mar  5 10:01:02 web sshd[123]: Failed password for invalid user admin from 2001:db8::17 port 40212 ssh2",
        "Mar  5 10:01:02 web sshd[123]: Connection closed by authenticating user root 192.0.2.9 port 33 [preauth]",
        "Mar  5 10:01:02 web sshd[123]: Received disconnect from 192.0.2.1 port 4:3: x: Auth fail [preauth]",
        "Mar  5 10:01:02 web sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=r",
        "Mar  5 10:01:02 web sudo[1]: bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        "Mar  5 10:01:02 web usermod[1]: add 'bob' to group 'sudo'",
        "Mar  5 10:01:02 web su[1]: FAILED SU (to root) bob on pts/1",
        "Mar  5 10:01:02 web sshd[1]: SSH: Server;Ltype: Kex;Remote: 192.0.2.1-1780;Enc: aes128-ctr",
    ];
    let pieces =
        [" ", ":", " from ", " port ", "[", "]", "(", ")", "'", " ; ", "=", "::", ".", "ä", " [preauth]", " user "];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut s = samples[(next() % samples.len() as u64) as usize].to_string();
        for _ in 0..(1 + next() % 4) {
            let mut at = (next() % (s.len() as u64 + 1)) as usize;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            match next() % 3 {
                0 => s.truncate(at),
                1 => s.insert_str(at, pieces[(next() % pieces.len() as u64) as usize]),
                _ => {
                    let mut end = (at + 1 + (next() % 8) as usize).min(s.len());
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    s.replace_range(at..end, "");
                }
            }
        }
        if let Some(e) = parse_line(&s) {
            if let (Some(ip), Some(raw)) = (e.source_ip, e.source_address) {
                assert_eq!(vigil_guard::addr::parse_ip(raw), Some(ip), "{s}");
            }
        }
    }
}
