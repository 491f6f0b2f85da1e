//! The guard's signals on real files and a real SQLite database: logins from a new address after the learning
//! period (and not for a known pair, also after a restart), root logins, sudo by a user outside the allowed
//! groups of a temporary `/etc/group`, watched files created, modified and deleted (reported once, not again
//! after a restart), auditd log records turned into events, and an access log's scan lines banned by the
//! `nginx-scan` jail. Security records are read back from the log shipper's outbox.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_agent::guard::{
    build_firewall, Clock, FirewallSettings, Guard, GuardMetrics, GuardSettings, GuardSource, SignalSettings,
    SourceDefaults,
};
use vigil_agent::logs::{LogShipper, LogsSettings};
use vigil_guard::jail::JailConfig;
use vigil_guard::sshd_filter::Mode;
use vigil_model::metric::VecSink;

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(m: &GuardMetrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sink = VecSink::default();
    m.collect(&mut sink);
    sink.value(name, labels).unwrap_or(-1.0)
}

/// The wall clock plus an offset the test moves.
fn shifted_clock(offset: Arc<AtomicI64>) -> Clock {
    Arc::new(move || now_s() + offset.load(Ordering::Relaxed))
}

/// Reads `dir/auth.log` (no default jails' side effects matter here), no watched files, root at `dir`.
fn settings(dir: &Path) -> GuardSettings {
    GuardSettings {
        firewall: FirewallSettings::Detect,
        sources: vec![GuardSource::Files { include: vec![dir.join("auth.log").to_string_lossy().into_owned()] }],
        jails: vec![JailConfig::sshd(Mode::Normal), JailConfig::sudo()],
        data_dir: dir.join("guard"),
        host: "h1".into(),
        poll_interval: Duration::from_millis(20),
        fleet: None,
        intel: None,
        signals: SignalSettings { learn_for_s: 3600, watch_files: Vec::new(), ..SignalSettings::default() },
        rootfs: dir.to_path_buf(),
    }
}

fn shipper(dir: &Path) -> LogShipper {
    let cfg = vigil_config::Config::parse(
        &format!(
            "agent:\n  logs:\n    push_url: http://127.0.0.1:1/loki/api/v1/push\n    data_dir: {}\n",
            dir.join("logs").display()
        ),
        "t.yml",
    )
    .unwrap();
    let mut ls = LogsSettings::from_config(cfg.agent.logs.as_ref().unwrap(), "h1").unwrap();
    ls.drain_timeout = Duration::from_millis(10);
    LogShipper::start(ls).unwrap()
}

fn start(s: GuardSettings, logs: &LogShipper, clock: Clock) -> Guard {
    let fw = build_firewall(&s.firewall).unwrap();
    Guard::start(s, fw, Some(logs.appender()), clock).unwrap()
}

/// A record in the outbox: its stream's `source` label, its line, its fields.
struct Record {
    source: String,
    line: String,
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

/// Takes every record out of the outbox under `dir` (the shipper must be stopped).
fn outbox_records(dir: &Path) -> Vec<Record> {
    let mut outbox = vigil_ship::Outbox::open(vigil_ship::OutboxConfig::new(dir.join("logs/outbox"))).unwrap();
    let mut out = Vec::new();
    while let Some((id, batch)) = outbox.peek().unwrap() {
        for (labels, entries) in batch.streams {
            assert_eq!(labels.get("job"), Some("security"));
            for e in entries {
                out.push(Record { source: labels.get("source").unwrap_or("").into(), line: e.line, fields: e.fields });
            }
        }
        outbox.ack(id).unwrap();
    }
    out
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// An sshd `Accepted` line stamped now.
fn accepted(user: &str, addr: &str) -> String {
    let t = vigil_model::time::format_rfc3339(now_s() * 1000);
    format!("{t} h1 sshd-session[77]: Accepted publickey for {user} from {addr} port 50022 ssh2: ED25519 SHA256:x")
}

fn logins(m: &GuardMetrics) -> f64 {
    metric(m, "vigil_auth_logins_total", &[("method", "publickey")])
}

#[test]
fn logins_from_new_addresses_after_the_learning_period_and_root_logins() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let offset = Arc::new(AtomicI64::new(0));
    let logs = shipper(dir.path());
    let guard = start(settings(dir.path()), &logs, shifted_clock(offset.clone()));
    let m = guard.metrics();
    // Learning: recorded, not flagged.
    append(&log, &[accepted("ann", "192.0.2.1")]);
    wait_for("the first login", Duration::from_secs(10), || logins(&m) == 1.0);
    // Two hours later the period is over.
    offset.store(7200, Ordering::Relaxed);
    append(&log, &[accepted("ann", "192.0.2.2")]);
    wait_for("the second login", Duration::from_secs(10), || logins(&m) == 2.0);
    assert_eq!(metric(&m, "vigil_auth_new_address_logins_total", &[]), 1.0);
    append(&log, &[accepted("ann", "192.0.2.2"), accepted("ann", "192.0.2.1")]);
    wait_for("the known pairs", Duration::from_secs(10), || logins(&m) == 4.0);
    assert_eq!(metric(&m, "vigil_auth_new_address_logins_total", &[]), 1.0);
    assert_eq!(metric(&m, "vigil_auth_root_logins_total", &[]), 0.0);
    guard.shutdown();

    // The pairs and the learning period's start survive a restart.
    let guard = start(settings(dir.path()), &logs, shifted_clock(offset.clone()));
    let m = guard.metrics();
    append(&log, &[accepted("ann", "192.0.2.2"), accepted("root", "2001:db8::5")]);
    wait_for("two more logins", Duration::from_secs(10), || logins(&m) == 2.0);
    assert_eq!(metric(&m, "vigil_guard_store_errors_total", &[]), 0.0);
    assert_eq!(metric(&m, "vigil_auth_new_address_logins_total", &[]), 1.0, "only root's address is new");
    assert_eq!(metric(&m, "vigil_guard_store_errors_total", &[]), 0.0);
    assert_eq!(metric(&m, "vigil_auth_root_logins_total", &[]), 1.0);
    guard.shutdown();
    logs.shutdown();

    let records = outbox_records(dir.path());
    let logins: Vec<&Record> = records.iter().filter(|r| r.get("event.action") == Some("ssh-login")).collect();
    assert_eq!(logins.len(), 6);
    let flagged: Vec<(&str, Option<&str>)> = logins
        .iter()
        .filter(|r| r.get("vigil.login.new_address") == Some("true"))
        .map(|r| (r.get("source.ip").unwrap(), r.get("vigil.login.root")))
        .collect();
    assert_eq!(flagged, [("192.0.2.2", None), ("2001:db8::5", Some("true"))]);
    assert!(logins.iter().all(|r| r.source == "auth"));
}

#[test]
fn sudo_by_a_user_outside_the_allowed_groups() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/bash\ncarl:x:1002:1002::/home/carl:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("etc/group"), "root:x:0:\nsudo:x:27:ann\nann:x:1000:\ncarl:x:1002:\n").unwrap();
    let logs = shipper(dir.path());
    let guard = start(settings(dir.path()), &logs, vigil_agent::guard::system_clock());
    let m = guard.metrics();
    let t = vigil_model::time::format_rfc3339(now_s() * 1000);
    let sudo = |user: &str| {
        format!("{t} h1 sudo[9]:   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/id")
    };
    // A failed ssh login after them: once the sshd jail counted it, the lines before it are done.
    let sentinel = format!("{t} h1 sshd[10]: Failed password for ann from 192.0.2.1 port 5 ssh2");
    append(&dir.path().join("auth.log"), &[sudo("ann"), sudo("carl"), sudo("root"), sudo("mallory"), sentinel]);
    let failures = |m: &GuardMetrics| metric(m, "vigil_auth_failures_total", &[("jail", "sshd")]);
    wait_for("the lines", Duration::from_secs(10), || failures(&m) == 1.0);
    let events = metric(&m, "vigil_security_events_total", &[("action", "sudo-command"), ("outcome", "success")]);
    assert_eq!(events, 4.0);
    assert_eq!(metric(&m, "vigil_sudo_outside_group_total", &[]), 2.0, "carl, and mallory whom passwd does not know");
    guard.shutdown();
    logs.shutdown();
    let records = outbox_records(dir.path());
    let outside: Vec<Option<&str>> = records
        .iter()
        .filter(|r| r.get("vigil.sudo.outside_group") == Some("true"))
        .map(|r| r.get("user.name"))
        .collect();
    assert_eq!(outside, [Some("carl"), Some("mallory")]);
}

fn changes(m: &GuardMetrics, class: &str) -> f64 {
    metric(m, "vigil_watched_file_changes_total", &[("class", class)])
}

fn checks(m: &GuardMetrics) -> f64 {
    metric(m, "vigil_guard_watch_checks_total", &[])
}

#[test]
fn watched_files_created_modified_and_deleted_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for d in ["etc/sudoers.d", "home/ann/.ssh", "etc/cron.d"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(root.join("home/ann/.ssh/authorized_keys"), "ssh-ed25519 AAAA ann\n").unwrap();
    let mut s = settings(dir.path());
    s.rootfs = root.clone();
    s.signals.watch_files = SignalSettings::default().watch_files;
    s.signals.check_interval = Duration::from_millis(30);
    let logs = shipper(dir.path());
    let guard = start(s.clone(), &logs, vigil_agent::guard::system_clock());
    let m = guard.metrics();
    // The first check only stores the baseline.
    wait_for("the baseline", Duration::from_secs(10), || checks(&m) >= 1.0);
    assert_eq!(metric(&m, "vigil_guard_watched_files", &[]), 3.0);
    std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nevil:x:0:0::/:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/sudoers.d/90-evil"), "evil ALL=(ALL) NOPASSWD: ALL\n").unwrap();
    std::fs::remove_file(root.join("home/ann/.ssh/authorized_keys")).unwrap();
    wait_for("three changes", Duration::from_secs(10), || {
        changes(&m, "passwd") == 1.0 && changes(&m, "sudoers") == 1.0 && changes(&m, "authorized_keys") == 1.0
    });
    // Checks go on without reporting the same changes again.
    let seen = checks(&m);
    wait_for("two more checks", Duration::from_secs(10), || checks(&m) >= seen + 2.0);
    assert_eq!((changes(&m, "passwd"), changes(&m, "sudoers")), (1.0, 1.0));
    guard.shutdown();

    // A change made while the agent was down is reported at the next start; the others are not again.
    std::fs::write(root.join("etc/cron.d/job"), "* * * * * root curl x | sh\n").unwrap();
    let guard = start(s, &logs, vigil_agent::guard::system_clock());
    let m = guard.metrics();
    wait_for("a check", Duration::from_secs(10), || checks(&m) >= 2.0);
    assert_eq!(changes(&m, "cron"), 1.0);
    assert_eq!(changes(&m, "passwd") + changes(&m, "sudoers") + changes(&m, "authorized_keys"), 0.0);
    guard.shutdown();
    logs.shutdown();

    let records = outbox_records(dir.path());
    let mut got: Vec<(String, &str, &str, &str)> = records
        .iter()
        .map(|r| {
            assert_eq!((r.source.as_str(), r.get("event.category")), ("watch", Some("file")), "{}", r.line);
            (
                r.get("file.path").unwrap().to_string(),
                r.get("event.action").unwrap(),
                r.get("vigil.watch.class").unwrap(),
                r.line.as_str(),
            )
        })
        .collect();
    got.sort();
    let summary: Vec<(&str, &str, &str)> = got.iter().map(|(p, a, c, _)| (p.as_str(), *a, *c)).collect();
    assert_eq!(
        summary,
        [
            ("/etc/cron.d/job", "file-created", "cron"),
            ("/etc/passwd", "file-modified", "passwd"),
            ("/etc/sudoers.d/90-evil", "file-created", "sudoers"),
            ("/home/ann/.ssh/authorized_keys", "file-deleted", "authorized_keys"),
        ]
    );
    assert_eq!(got[1].3, "watched file modified: /etc/passwd (passwd)");
}

/// Audit records as auditd writes them (`log_format = ENRICHED` for the login), stamped `t`.
fn audit_lines(t: i64) -> Vec<String> {
    [
        format!("type=USER_LOGIN msg=audit({t}.120:101): pid=4242 uid=0 auid=0 ses=7 subj=unconfined msg='op=login id=0 exe=\"/usr/sbin/sshd\" hostname=203.0.113.50 addr=203.0.113.50 terminal=/dev/pts/1 res=success'\x1dUID=\"root\" AUID=\"root\" ID=\"root\""),
        format!("type=SYSCALL msg=audit({t}.200:102): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd2a1c a2=241 a3=1b6 items=2 ppid=4100 pid=4300 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=7 comm=\"vi\" exe=\"/usr/bin/vim.basic\" subj=unconfined key=\"identity\""),
        format!("type=CWD msg=audit({t}.200:102): cwd=\"/root\""),
        format!("type=PATH msg=audit({t}.200:102): item=0 name=\"/etc/\" inode=131073 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"),
        format!("type=PATH msg=audit({t}.200:102): item=1 name=\"/etc/passwd\" inode=131587 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"),
        format!("type=PROCTITLE msg=audit({t}.200:102): proctitle=7669002F6574632F706173737764"),
        format!("type=EOE msg=audit({t}.200:102): "),
        format!("type=USER_CMD msg=audit({t}.300:103): pid=4400 uid=1002 auid=1002 ses=8 subj=unconfined msg='cwd=\"/home/carl\" cmd=6C73202F726F6F74 exe=\"/usr/bin/sudo\" terminal=pts/2 res=success'"),
        format!("type=USER_AUTH msg=audit({t}.400:104): pid=4500 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:authentication grantors=? acct=\"admin\" exe=\"/usr/sbin/sshd\" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'"),
        // A syscall event whose EOE never comes: ended by the correlator's age limit.
        format!("type=SYSCALL msg=audit({t}.500:105): arch=c000003e syscall=82 success=yes exit=0 items=4 ppid=1 pid=4600 auid=1000 uid=0 comm=\"mv\" exe=\"/usr/bin/mv\" key=\"sudoers\""),
        format!("type=PATH msg=audit({t}.500:105): item=0 name=\"/etc/sudoers.d/x\" inode=5 dev=08:01 mode=0100440 ouid=0 ogid=0 rdev=00:00 nametype=CREATE"),
    ]
    .into()
}

#[test]
fn audit_log_records_become_events_and_signals() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/passwd"), "carl:x:1002:1002::/home/carl:/bin/sh\n").unwrap();
    std::fs::write(dir.path().join("etc/group"), "sudo:x:27:\n").unwrap();
    let audit_log = dir.path().join("audit.log");
    append(&audit_log, &audit_lines(now_s()));
    let mut s = settings(dir.path());
    s.sources = vec![GuardSource::Audit { path: audit_log.clone() }];
    let logs = shipper(dir.path());
    let guard = start(s, &logs, vigil_agent::guard::system_clock());
    let m = guard.metrics();
    let watch = |key: &str| metric(&m, "vigil_audit_watch_events_total", &[("key", key)]);
    // The last event has no EOE: it ends once it is older than the correlator's 2 s.
    wait_for("both watch events", Duration::from_secs(10), || watch("identity") == 1.0 && watch("sudoers") == 1.0);
    assert_eq!(metric(&m, "vigil_guard_lines_total", &[("source", "audit")]), 11.0);
    assert_eq!(metric(&m, "vigil_auth_root_logins_total", &[]), 1.0);
    assert_eq!(metric(&m, "vigil_auth_logins_total", &[("method", "audit")]), 1.0);
    assert_eq!(metric(&m, "vigil_sudo_outside_group_total", &[]), 1.0);
    let ev = |action: &str, outcome: &str| {
        metric(&m, "vigil_security_events_total", &[("action", action), ("outcome", outcome)])
    };
    assert_eq!((ev("user-auth", "failure"), ev("file-watch", "success")), (1.0, 2.0));
    guard.shutdown();
    logs.shutdown();

    let records = outbox_records(dir.path());
    assert!(records.iter().all(|r| r.source == "audit"));
    let by_action = |a: &str| records.iter().filter(|r| r.get("event.action") == Some(a)).collect::<Vec<_>>();
    let login = by_action("user-login");
    assert_eq!(login.len(), 1);
    assert_eq!(login[0].get("user.name"), Some("root"));
    assert_eq!(login[0].get("source.ip"), Some("203.0.113.50"));
    assert_eq!(login[0].get("vigil.login.root"), Some("true"));
    let watch = by_action("file-watch");
    let paths: Vec<(Option<&str>, Option<&str>)> = watch.iter().map(|r| (r.get("file.path"), r.get("tags"))).collect();
    assert_eq!(paths, [(Some("/etc/passwd"), Some("identity")), (Some("/etc/sudoers.d/x"), Some("sudoers"))]);
    // The record's line is the event's audit records.
    assert_eq!(watch[0].line.lines().count(), 5, "{}", watch[0].line);
    let cmd = by_action("user-command");
    assert_eq!(cmd[0].get("process.command_line"), Some("ls /root"));
    assert_eq!(cmd[0].get("vigil.sudo.outside_group"), Some("true"));
}

#[test]
fn access_log_scans_are_banned_by_the_nginx_scan_jail() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("nginx/access.log");
    std::fs::create_dir_all(access.parent().unwrap()).unwrap();
    let text = format!(
        "agent:\n  guard:\n    sources: [{{access: {{path: '{}/nginx/*.log'}}}}]\n    data_dir: {}\n    signals: {{watch_files: []}}\n",
        dir.path().display(),
        dir.path().join("guard").display()
    );
    let cfg = vigil_config::Config::parse(&text, "t.yml").unwrap();
    let mut s = GuardSettings::from_config(
        cfg.agent.guard.as_ref().unwrap(),
        Path::new("/nowhere"),
        "h1",
        &SourceDefaults::default(),
    )
    .unwrap();
    s.poll_interval = Duration::from_millis(20);
    let names: Vec<&str> = s.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["sshd", "sudo", "nginx-scan"]);
    let t = clf_time(now_s());
    let mut lines: Vec<String> = ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/cgi-bin/x"]
        .iter()
        .cycle()
        .take(9)
        .map(|p| format!("203.0.113.9 - - [{t}] \"GET {p} HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\""))
        .collect();
    lines.push(format!("198.51.100.20 - - [{t}] \"GET / HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0\""));
    append(&access, &lines);
    let logs = shipper(dir.path());
    let guard = start(s, &logs, vigil_agent::guard::system_clock());
    let m = guard.metrics();
    let bans = |m: &GuardMetrics| metric(m, "vigil_jail_bans_total", &[("jail", "nginx-scan")]);
    wait_for("ten lines", Duration::from_secs(10), || {
        metric(&m, "vigil_guard_lines_total", &[("source", "access")]) == 10.0
    });
    assert_eq!(bans(&m), 0.0, "nine scans are one short of maxretry");
    append(&access, &[format!("203.0.113.9 - - [{t}] \"GET /.aws/credentials HTTP/1.1\" 404 153 \"-\" \"curl/8.5\"")]);
    wait_for("the ban", Duration::from_secs(10), || bans(&m) == 1.0);
    assert_eq!(metric(&m, "vigil_jail_banned", &[("jail", "nginx-scan")]), 1.0);
    guard.shutdown();
    logs.shutdown();
    let records = outbox_records(dir.path());
    let requests = records.iter().filter(|r| r.source == "access").count();
    assert_eq!(requests, 11);
    let ban: Vec<&Record> = records.iter().filter(|r| r.get("event.action") == Some("ban")).collect();
    assert_eq!(ban.len(), 1);
    assert_eq!((ban[0].get("vigil.jail"), ban[0].get("source.ip")), (Some("nginx-scan"), Some("203.0.113.9")));
}

/// `t` in the access log's `%d/%b/%Y:%H:%M:%S +0000`.
fn clf_time(t: i64) -> String {
    let rfc = vigil_model::time::format_rfc3339(t * 1000);
    let (y, mo, d) = (&rfc[0..4], &rfc[5..7], &rfc[8..10]);
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = months[mo.parse::<usize>().unwrap() - 1];
    format!("{d}/{m}/{y}:{} +0000", &rfc[11..19])
}
