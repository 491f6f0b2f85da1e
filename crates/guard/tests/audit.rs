//! Audit records as auditd and the kernel write them, written for vigil from the auditd record formats:
//! program starts, file watches, PAM and sudo messages, account changes; hex-encoded and enriched fields,
//! interleaved and truncated events, hostile values.

use std::net::IpAddr;

use vigil_guard::event::ecs;
use vigil_guard::jail::{Jail, JailConfig, Matcher, Offender};
use vigil_guard::parse::audit::{AuditEvent, Correlator, Limits};
use vigil_guard::{Action, Category, Event, Outcome};

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Every event the correlator makes of `log`'s lines (flushed at the end).
fn correlate(log: &str) -> Vec<AuditEvent> {
    let mut c = Correlator::new(Limits::default());
    let mut out = Vec::new();
    for line in log.lines() {
        c.push(line, &mut out);
    }
    c.flush(&mut out);
    out
}

fn one(log: &str) -> AuditEvent {
    let mut all = correlate(log);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

const EXEC: &str = "type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1a2b3c0 a1=55d0c1a2b450 a2=55d0c1a2b4a0 a3=8 items=2 ppid=2211 pid=2250 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" subj=unconfined key=\"exec\"\x1dARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\" GID=\"root\" EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"
type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0=\"cat\" a1=\"-n\" a2=2F746D702F6D792066696C65
type=CWD msg=audit(1700000000.123:4567): cwd=\"/home/alice\"
type=PATH msg=audit(1700000000.123:4567): item=0 name=\"/usr/bin/cat\" inode=1234 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID=\"root\" OGID=\"root\"
type=PATH msg=audit(1700000000.123:4567): item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=5678 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1dOUID=\"root\" OGID=\"root\"
type=PROCTITLE msg=audit(1700000000.123:4567): proctitle=636174002D6E002F746D702F6D792066696C65
type=EOE msg=audit(1700000000.123:4567): ";

#[test]
fn execve_is_a_process_start() {
    let a = one(EXEC);
    assert_eq!((a.stamp.serial, a.records.len(), a.dropped_records), (4567, 6, 0));
    let e = a.event().unwrap();
    assert_eq!((e.category, e.action, e.outcome), (Category::Process, Action::ProcessStarted, Outcome::Success));
    // The third argument, `/tmp/my file`, is hex-encoded because of its space.
    assert_eq!(e.command_line, Some("cat -n /tmp/my file"));
    assert_eq!((e.process_name, e.process_pid), (Some("cat"), Some(2250)));
    assert_eq!((e.user_name, e.user_target_name, e.tags), (Some("alice"), Some("root"), Some("exec")));
    assert_eq!(e.timestamp.unwrap().unix_seconds(1970, 0), 1_700_000_000);
    let f = e.ecs_fields();
    assert!(f.contains(&(ecs::TAGS, "exec".to_string())), "{f:?}");
    assert!(f.contains(&(ecs::PROCESS_COMMAND_LINE, "cat -n /tmp/my file".to_string())));
}

#[test]
fn execve_without_enrichment_long_args_and_proctitle_only() {
    // Raw log format: numeric ids; an argument too long for one field comes in pieces.
    let log = "type=SYSCALL msg=audit(1700000001.000:10): arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 pid=77 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=2 comm=\"python3\" exe=\"/usr/bin/python3.11\" key=(null)
type=EXECVE msg=audit(1700000001.000:10): argc=3 a0=\"python3\" a1=\"-c\" a2_len=12 a2[0]=7072696E74 a2[1]=28312B3129
type=EOE msg=audit(1700000001.000:10): ";
    let a = one(log);
    let e = a.event().unwrap();
    assert_eq!(e.command_line, Some("python3 -c print(1+1)"));
    assert_eq!((e.user_name, e.user_target_name, e.tags), (Some("1000"), None, None));
    // No EXECVE arguments: the process title stands in.
    let log = "type=SYSCALL msg=audit(1700000002.000:11): arch=c000003e syscall=59 success=yes pid=78 auid=4294967295 uid=0 comm=\"sh\" exe=\"/bin/dash\" key=\"exec\"
type=EXECVE msg=audit(1700000002.000:11): argc=0
type=PROCTITLE msg=audit(1700000002.000:11): proctitle=2F62696E2F7368002D6300696400
type=EOE msg=audit(1700000002.000:11): ";
    let e = one(log).event().map(|e| (e.command_line.map(str::to_string), e.user_name.map(str::to_string)));
    assert_eq!(e, Some((Some("/bin/sh -c id".to_string()), Some("0".to_string()))));
}

#[test]
fn file_watch_with_a_relative_path() {
    // `-w /etc/passwd -p wa -k identity`, and `vi passwd` run in /etc.
    let log = "type=SYSCALL msg=audit(1700000100.500:5000): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=5581e3a0 a2=941 a3=1b6 items=2 ppid=1200 pid=1300 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=4 comm=\"vi\" exe=\"/usr/bin/vim.basic\" key=\"identity\"
type=CWD msg=audit(1700000100.500:5000): cwd=\"/etc\"
type=PATH msg=audit(1700000100.500:5000): item=0 name=\"/etc/\" inode=131073 dev=fd:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0
type=PATH msg=audit(1700000100.500:5000): item=1 name=\"passwd\" inode=131250 dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0
type=PROCTITLE msg=audit(1700000100.500:5000): proctitle=7669002F6574632F706173737764
type=EOE msg=audit(1700000100.500:5000): ";
    let a = one(log);
    let e = a.event().unwrap();
    assert_eq!((e.category, e.action, e.outcome), (Category::File, Action::FileWatch, Outcome::Success));
    assert_eq!((e.file_path, e.tags), (Some("/etc/passwd"), Some("identity")));
    assert_eq!((e.user_name, e.user_target_name, e.process_name), (Some("1000"), Some("0"), Some("vi")));
    assert!(e.ecs_fields().contains(&(ecs::FILE_PATH, "/etc/passwd".to_string())));
    // A syscall without a key (no watch) and without EXECVE is no security event.
    let log = "type=SYSCALL msg=audit(1700000100.600:5001): arch=c000003e syscall=2 success=no exit=-13 pid=1 auid=1 uid=1 comm=\"x\" key=(null)
type=PATH msg=audit(1700000100.600:5001): item=0 name=\"/root/x\" nametype=NORMAL
type=EOE msg=audit(1700000100.600:5001): ";
    assert_eq!(one(log).event(), None);
    // A failed open of a watched file, its name hex-encoded (it has a space).
    let log = "type=SYSCALL msg=audit(1700000100.700:5002): arch=c000003e syscall=257 success=no exit=-13 pid=9 auid=1001 uid=1001 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"sudoers\"
type=PATH msg=audit(1700000100.700:5002): item=0 name=2F6574632F7375646F6572732E642F6D7920636F6E66 nametype=NORMAL
type=EOE msg=audit(1700000100.700:5002): ";
    let e = one(log).event().map(|e| (e.outcome, e.file_path.map(str::to_string)));
    assert_eq!(e, Some((Outcome::Failure, Some("/etc/sudoers.d/my conf".to_string()))));
}

fn user_event(line: &str) -> (AuditEvent, Vec<(&'static str, String)>) {
    let a = AuditEvent::from_records(&[line]).unwrap_or_else(|| panic!("{line}"));
    let f = a.event().map(|e| e.ecs_fields()).unwrap_or_default();
    (a, f)
}

fn check(line: &str, want: impl FnOnce(&Event<'_>)) {
    let a = one(line);
    want(&a.event().unwrap_or_else(|| panic!("no event for {line}")));
}

#[test]
fn pam_messages() {
    check("type=USER_AUTH msg=audit(1700000200.001:6001): pid=4242 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.50 addr=203.0.113.50 terminal=ssh res=failed'\x1dUID=\"root\" AUID=\"unset\"", |e| {
        assert_eq!((e.category, e.action, e.outcome), (Category::Authentication, Action::UserAuth, Outcome::Failure));
        assert_eq!((e.user_name, e.source_ip, e.process_name, e.process_pid), (Some("root"), ip("203.0.113.50"), Some("sshd"), Some(4242)));
    });
    check("type=USER_ACCT msg=audit(1700000200.002:6002): pid=4242 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:accounting grantors=pam_permit acct=\"deploy\" exe=\"/usr/sbin/sshd\" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=success'", |e| {
        assert_eq!((e.action, e.outcome, e.user_name, e.source_ip), (Action::UserAcct, Outcome::Success, Some("deploy"), ip("198.51.100.7")));
    });
    // No `acct=`: the login user; an IPv6 client.
    check("type=USER_LOGIN msg=audit(1700000200.003:6003): pid=4242 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=? addr=2001:db8::50 terminal=/dev/pts/1 res=success'\x1dUID=\"root\" AUID=\"alice\" ID=\"alice\"", |e| {
        assert_eq!((e.action, e.outcome, e.user_name, e.source_ip), (Action::UserLogin, Outcome::Success, Some("alice"), ip("2001:db8::50")));
    });
    check("type=USER_START msg=audit(1700000200.004:6004): pid=4242 uid=0 auid=1000 ses=7 msg='op=PAM:session_open grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=client.example.org addr=? terminal=ssh res=success'", |e| {
        assert_eq!((e.category, e.action, e.user_target_name), (Category::Session, Action::SessionOpened, Some("alice")));
        assert_eq!((e.source_ip, e.source_address), (None, Some("client.example.org")));
    });
    check("type=USER_END msg=audit(1700000200.005:6005): pid=4242 uid=0 auid=1000 ses=7 msg='op=PAM:session_close grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'", |e| {
        assert_eq!((e.action, e.source_ip), (Action::SessionClosed, ip("203.0.113.9")));
    });
    // The kernel's own printing of a userspace record, and a `hostname` that is the only address.
    check("[ 8812.120044] audit: type=1100 audit(1700000200.006:6006): pid=4300 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"oracle\" exe=\"/usr/sbin/sshd\" hostname=192.0.2.61 addr=? terminal=ssh res=failed'", |e| {
        assert_eq!((e.action, e.outcome, e.user_name, e.source_ip), (Action::UserAuth, Outcome::Failure, Some("oracle"), ip("192.0.2.61")));
    });
    let (_, f) = user_event("type=USER_AUTH msg=audit(1700000200.001:6001): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.1 terminal=ssh res=failed'");
    assert!(f.contains(&(ecs::EVENT_ACTION, "user-auth".to_string())), "{f:?}");
}

#[test]
fn sudo_and_account_changes() {
    check("type=USER_CMD msg=audit(1700000300.100:7001): pid=5001 uid=1000 auid=1000 ses=3 subj=unconfined msg='cwd=\"/home/alice\" cmd=73797374656D63746C2072657374617274206E67696E78 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\x1dUID=\"alice\" AUID=\"alice\"", |e| {
        assert_eq!((e.category, e.action, e.outcome), (Category::Process, Action::UserCommand, Outcome::Success));
        assert_eq!((e.user_name, e.command_line, e.process_name), (Some("alice"), Some("systemctl restart nginx"), Some("sudo")));
    });
    check("type=ADD_USER msg=audit(1700000400.279:392): pid=4518 uid=0 auid=1000 ses=3 subj=unconfined_u:unconfined_r:useradd_t:s0-s0:c0.c1023 msg='op=add-user acct=\"nginx\" exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=? res=success'\x1dUID=\"root\" AUID=\"sergey\"", |e| {
        assert_eq!((e.category, e.action, e.outcome), (Category::Iam, Action::UserCreated, Outcome::Success));
        assert_eq!((e.user_target_name, e.user_name, e.source_address), (Some("nginx"), Some("sergey"), None));
    });
    check("type=DEL_USER msg=audit(1700000400.300:400): pid=4600 uid=0 auid=1000 ses=3 msg='op=delete-user acct=\"olduser\" exe=\"/usr/sbin/userdel\" hostname=web-1 addr=? terminal=pts/0 res=success'", |e| {
        assert_eq!((e.action, e.user_target_name, e.user_name), (Action::UserDeleted, Some("olduser"), Some("1000")));
    });
    check("type=ADD_GROUP msg=audit(1700000400.279:391): pid=4518 uid=0 auid=1000 ses=3 msg='op=add-shadow-group id=981 exe=\"/usr/sbin/groupadd\" hostname=? addr=? terminal=? res=success'\x1dUID=\"root\" AUID=\"sergey\" ID=\"nginx\"", |e| {
        assert_eq!((e.action, e.group_name), (Action::GroupCreated, Some("nginx")));
    });
    check("type=ADD_GROUP msg=audit(1700000400.279:393): pid=4518 uid=0 auid=1000 ses=3 msg='op=add-group grp=\"devs\" exe=\"/usr/sbin/groupadd\" hostname=? addr=? terminal=? res=failed'", |e| {
        assert_eq!((e.action, e.outcome, e.group_name), (Action::GroupCreated, Outcome::Failure, Some("devs")));
    });
    check("type=DEL_GROUP msg=audit(1700000400.279:394): pid=1 uid=0 auid=1000 ses=3 msg='op=delete-group acct=\"devs\" exe=\"/usr/sbin/groupdel\" hostname=? addr=? terminal=? res=success'", |e| {
        assert_eq!((e.action, e.group_name), (Action::GroupDeleted, Some("devs")));
    });
    check("type=USER_CHAUTHTOK msg=audit(1700000400.5:395): pid=1 uid=0 auid=1000 ses=3 msg='op=PAM:chauthtok grantors=pam_unix acct=\"bob\" exe=\"/usr/bin/passwd\" hostname=? addr=? terminal=pts/0 res=success'", |e| {
        assert_eq!((e.action, e.user_target_name), (Action::PasswordChanged, Some("bob")));
    });
    // Userspace records vigil does not read are events without a security event.
    let (a, f) = user_event("type=CRED_ACQ msg=audit(1700000200.007:6007): pid=1 uid=0 auid=1000 msg='op=PAM:setcred acct=\"alice\" res=success'");
    assert_eq!((a.records.len(), f.len()), (1, 0));
}

#[test]
fn hostile_values() {
    // An account name with spaces and an `addr=` is hex-encoded by auditd: it stays a name.
    check("type=USER_AUTH msg=audit(1700000500.000:1): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication acct=6A6F6520616464723D362E362E362E36 exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.70 terminal=ssh res=failed'", |e| {
        assert_eq!((e.user_name, e.source_ip), (Some("joe addr=6.6.6.6"), ip("192.0.2.70")));
    });
    // `hostname` is not encoded (a PTR record can say anything): what follows it is read from the right.
    check("type=USER_AUTH msg=audit(1700000500.000:2): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=x addr=6.6.6.6 terminal=ssh res=success' acct=\"admin\" addr=192.0.2.71 terminal=ssh res=failed'", |e| {
        assert_eq!((e.user_name, e.source_ip, e.outcome), (Some("root"), ip("192.0.2.71"), Outcome::Failure));
    });
    // Arguments with quotes, control bytes, invalid UTF-8 and `(null)`.
    let log = "type=SYSCALL msg=audit(1700000500.100:3): arch=c000003e syscall=59 success=yes pid=5 auid=0 uid=0 comm=2F746D702F2E78 exe=\"/tmp/.x\" key=\"exec\"
type=EXECVE msg=audit(1700000500.100:3): argc=4 a0=\"sh\" a1=22206B65793D22726F6F7422 a2=0A1BFF a3=(null) a9999999999999999999=41 ab=42
type=EOE msg=audit(1700000500.100:3): ";
    let a = one(log);
    let e = a.event().unwrap();
    assert_eq!(e.process_name, Some("/tmp/.x"));
    assert_eq!(e.command_line, Some("sh \" key=\"root\" \n\u{1b}\u{fffd}  A"));
    // Arguments are capped.
    let huge = "41".repeat(7000);
    let log = format!("type=SYSCALL msg=audit(1.0:4): syscall=59 success=yes pid=1 auid=0 uid=0 comm=\"x\"\ntype=EXECVE msg=audit(1.0:4): argc=2 a0={huge} a1={huge}\ntype=EOE msg=audit(1.0:4): ");
    let a = one(&log);
    let cmd = a.event().unwrap().command_line.unwrap().len();
    assert!(cmd <= vigil_guard::parse::audit::MAX_COMMAND_LINE_BYTES && cmd > 4000, "{cmd}");
}

#[test]
fn interleaved_events_and_nodes() {
    let a = |t: &str, rest: &str| format!("node=web-1 type={t} msg=audit(1700000600.100:900): {rest}");
    let b = |t: &str, rest: &str| format!("node=web-1 type={t} msg=audit(1700000600.101:901): {rest}");
    let other_node =
        "node=db-1 type=SYSCALL msg=audit(1700000600.100:900): syscall=59 success=no pid=3 auid=0 uid=0 comm=\"z\"";
    let log = [
        a("SYSCALL", "arch=c000003e syscall=59 success=yes pid=100 auid=1000 uid=1000 comm=\"id\" key=\"exec\""),
        b("SYSCALL", "arch=c000003e syscall=257 success=yes pid=101 auid=1000 uid=0 comm=\"tee\" key=\"sudoers\""),
        other_node.to_string(),
        a("EXECVE", "argc=1 a0=\"id\""),
        "type=USER_AUTH msg=audit(1700000600.102:902): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.5 terminal=ssh res=failed'".to_string(),
        b("PATH", "item=0 name=\"/etc/sudoers\" nametype=NORMAL"),
        b("EOE", ""),
        a("EOE", ""),
    ]
    .join("\n");
    let out = correlate(&log);
    let got: Vec<_> = out
        .iter()
        .map(|x| {
            let e = x.event();
            (
                x.stamp.serial,
                x.node.clone(),
                x.records.len(),
                e.as_ref().map(|e| e.action),
                e.and_then(|e| e.file_path.map(str::to_string)),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (902, None, 1, Some(Action::UserAuth), None),
            (901, Some("web-1".to_string()), 2, Some(Action::FileWatch), Some("/etc/sudoers".to_string())),
            (900, Some("web-1".to_string()), 2, Some(Action::ProcessStarted), None),
            (900, Some("db-1".to_string()), 1, None, None),
        ]
    );
    assert_eq!(out[2].event().unwrap().host_name, Some("web-1"));
}

#[test]
fn truncated_records_never_panic() {
    let mut c = Correlator::new(Limits { max_open: 4, max_records: 8, ..Limits::default() });
    let mut out = Vec::new();
    for line in EXEC.lines() {
        for i in 0..=line.len() {
            if let Some(prefix) = line.get(..i) {
                c.push(prefix, &mut out);
            }
        }
    }
    c.flush(&mut out);
    assert!(c.open_events() == 0 && !out.is_empty());
    for a in &out {
        let _ = a.event().map(|e| e.ecs_fields());
    }
    // A cut EXECVE event still says what it knows.
    let cut: Vec<&str> = EXEC.lines().take(2).collect();
    let a = AuditEvent::from_records(&cut).unwrap();
    assert_eq!(a.event().unwrap().command_line, Some("cat -n /tmp/my file"));
    let a = AuditEvent::from_records(&[
        "type=USER_AUTH msg=audit(1.0:1): pid=1 uid=0 msg='op=PAM:authentication acct=\"ro",
    ])
    .unwrap();
    let e = a.event().unwrap();
    assert_eq!((e.outcome, e.user_name), (Outcome::Unknown, Some("ro")));
}

#[test]
fn a_jail_over_audit_authentication_failures() {
    let config = JailConfig {
        name: "audit-auth".into(),
        matcher: Matcher::Events { actions: vec![Action::UserAuth], outcome: Some(Outcome::Failure), by_user: false },
        maxretry: 3,
        ..JailConfig::sshd(vigil_guard::sshd_filter::Mode::Normal)
    };
    let mut jail = Jail::new(config).unwrap();
    let mut bans = Vec::new();
    for serial in 0..4 {
        let line = format!("type=USER_AUTH msg=audit(1700000700.000:{serial}): pid=1 uid=0 auid=4294967295 msg='op=PAM:authentication acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.99 terminal=ssh res=failed'");
        for a in correlate(&line) {
            if let Some(ban) = a.event().and_then(|e| jail.observe(&e, 1_700_000_700 + serial)) {
                bans.push(ban.offender);
            }
        }
    }
    assert_eq!(bans, [Offender::Ip("192.0.2.99".parse().unwrap())]);
}
