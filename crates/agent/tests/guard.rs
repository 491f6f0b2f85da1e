//! The guard runtime on real files and a real SQLite database, with a firewall that records what it is told:
//! failures in an auth log lead to a ban with the jail's bantime, an allow-listed address is never banned, a
//! ban survives a restart (applied again for what remains of it) and ends on time, bans that ended while the
//! agent was down are lifted at start, journald records (from a stand-in journalctl) count like file lines,
//! a corrupt database is a clear error, and the security records reach the log shipper's outbox.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod support;

use support::*;
use vigil_agent::guard::{
    system_clock, BanStore, FirewallSettings, Guard, GuardMetrics, GuardSettings, GuardSource, SignalSettings,
    FILE_NAME,
};
use vigil_guard::jail::{Ban, JailConfig, Offender};
use vigil_guard::sshd_filter::Mode;

/// The sshd jail with `bantime_s`, allow-listing 198.51.100.0/24, reading `dir/auth.log`.
fn settings(dir: &Path, bantime_s: i64) -> GuardSettings {
    let mut sshd = JailConfig::sshd(Mode::Normal);
    sshd.bantime_s = bantime_s;
    sshd.ignoreip.push("198.51.100.0/24".parse().unwrap());
    GuardSettings {
        firewall: FirewallSettings::Detect,
        sources: vec![GuardSource::Files { include: vec![dir.join("auth.log").to_string_lossy().into_owned()] }],
        jails: vec![sshd, JailConfig::sudo()],
        data_dir: dir.join("guard"),
        host: "h1".into(),
        poll_interval: Duration::from_millis(20),
        fleet: None,
        intel: None,
        signals: SignalSettings { watch_files: Vec::new(), ..SignalSettings::default() },
        rootfs: dir.to_path_buf(),
    }
}

fn failures(m: &GuardMetrics) -> f64 {
    metric(m, "vigil_auth_failures_total", &[("jail", "sshd")]).unwrap()
}

fn start(s: GuardSettings, fw: &Recorder) -> Guard {
    Guard::start(s, Box::new(fw.clone()), None, system_clock()).unwrap()
}

#[test]
fn maxretry_failures_ban_with_the_bantime_and_the_allow_list_wins() {
    let dir = tempfile::tempdir().unwrap();
    fail(dir.path(), "198.51.100.9", 7);
    fail(dir.path(), "203.0.113.7", 4);
    let fw = Recorder::default();
    let guard = start(settings(dir.path(), 600), &fw);
    let m = guard.metrics();
    wait_for("11 failures counted", Duration::from_secs(10), || (failures(&m) == 11.0).then_some(()));
    assert_eq!(fw.calls(), [Call::Prepare], "four failures and an allow-listed address ban nobody");
    fail(dir.path(), "203.0.113.7", 1);
    wait_for("the ban", Duration::from_secs(10), || (fw.calls().len() == 2).then_some(()));
    assert_eq!(fw.calls(), [Call::Prepare, Call::Ban(ip("203.0.113.7"), 600)]);

    let v = |name: &str, labels: &[(&str, &str)]| metric(&m, name, labels);
    assert_eq!(failures(&m), 12.0);
    assert_eq!(v("vigil_jail_bans_total", &[("jail", "sshd")]), Some(1.0));
    assert_eq!(v("vigil_jail_banned", &[("jail", "sshd")]), Some(1.0));
    assert_eq!(v("vigil_jail_banned", &[("jail", "sudo")]), Some(0.0));
    assert_eq!(v("vigil_jail_unbans_total", &[("jail", "sshd")]), Some(0.0));
    assert_eq!(v("vigil_security_events_total", &[("action", "ssh-login"), ("outcome", "failure")]), Some(12.0));
    assert_eq!(v("vigil_guard_lines_total", &[("source", "auth")]), Some(12.0));
    assert_eq!(v("vigil_guard_firewall_errors_total", &[("backend", "recorder")]), Some(0.0));
    guard.shutdown();
}

#[test]
fn a_ban_is_applied_again_after_a_restart_and_ends_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let fw = Recorder::default();
    let guard = start(settings(dir.path(), 5), &fw);
    fail(dir.path(), "203.0.113.7", 5);
    let banned = Call::Ban(ip("203.0.113.7"), 5);
    wait_for("the ban", Duration::from_secs(10), || fw.at(&banned));
    guard.shutdown();
    let (_, loaded) = BanStore::open(&dir.path().join("guard")).unwrap();
    let until = loaded.bans[0].ban.until;

    // The restarted guard puts the ban back on the firewall before `start` returns.
    let fw = Recorder::default();
    let guard = start(settings(dir.path(), 5), &fw);
    let calls = fw.calls();
    assert_eq!(calls[0], Call::Prepare);
    let Call::Ban(addr, remaining) = calls[1] else { panic!("{calls:?}") };
    assert_eq!(addr, ip("203.0.113.7"));
    assert!((1..=5).contains(&remaining), "{remaining}");
    assert_eq!(guard.metrics().banned("sshd"), Some(1));

    let unbanned = Call::Unban(ip("203.0.113.7"));
    let at = wait_for("the unban", Duration::from_secs(15), || fw.at(&unbanned));
    assert!(at >= until, "lifted at {at}, before the ban's end {until}");
    assert!(at <= until + 2, "lifted at {at}, long after the ban's end {until}");
    let m = guard.metrics();
    wait_for("the gauge to follow", Duration::from_secs(5), || (m.banned("sshd") == Some(0)).then_some(()));
    assert_eq!(metric(&m, "vigil_jail_unbans_total", &[("jail", "sshd")]), Some(1.0));
    // The lines were committed before the restart: they are not counted again.
    assert_eq!(failures(&m), 0.0);
    guard.shutdown();
    let (_, loaded) = BanStore::open(&dir.path().join("guard")).unwrap();
    assert!(loaded.bans.is_empty(), "{loaded:?}");
    assert_eq!(loaded.history.len(), 1);
}

#[test]
fn bans_that_ended_while_down_are_lifted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("guard");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(dir.path().join("auth.log"), "").unwrap();
    let (mut store, _) = BanStore::open(&data).unwrap();
    let now = now_s();
    let ban = |who: &str, until: i64| Ban { offender: Offender::Ip(ip(who)), since: now - 1000, until, count: 1 };
    store.record_ban("sshd", &ban("192.0.2.1", now - 10)).unwrap();
    store.record_ban("sshd", &ban("192.0.2.2", now + 3600)).unwrap();
    store.record_ban("nginx-gone", &ban("192.0.2.3", now + 3600)).unwrap();
    // An address the configuration now allow-lists is lifted too.
    store.record_ban("sshd", &ban("198.51.100.4", now + 3600)).unwrap();
    drop(store);
    let fw = Recorder::default();
    let guard = start(settings(dir.path(), 600), &fw);
    let calls = fw.calls();
    assert_eq!(calls[0], Call::Prepare);
    let mut rest = calls[1..].to_vec();
    rest.sort_by_key(|c| format!("{c:?}"));
    let remaining = match rest.iter().find(|c| matches!(c, Call::Ban(..))) {
        Some(Call::Ban(_, r)) => *r,
        _ => panic!("{calls:?}"),
    };
    assert!((3598..=3600).contains(&remaining), "{remaining}");
    assert_eq!(
        rest,
        [
            Call::Ban(ip("192.0.2.2"), remaining),
            Call::Unban(ip("192.0.2.1")),
            Call::Unban(ip("192.0.2.3")),
            Call::Unban(ip("198.51.100.4")),
        ]
    );
    assert_eq!(guard.metrics().banned("sshd"), Some(1));
    guard.shutdown();
    let (_, loaded) = BanStore::open(&data).unwrap();
    let left: Vec<(&str, &Offender)> = loaded.bans.iter().map(|b| (b.jail.as_str(), &b.ban.offender)).collect();
    assert_eq!(left, [("sshd", &Offender::Ip(ip("192.0.2.2")))]);
}

#[test]
fn journald_records_feed_the_jails() {
    let dir = tempfile::tempdir().unwrap();
    // A journalctl that prints five sshd-session failures once, then waits to be stopped.
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros();
    let mut entries = String::new();
    for i in 0..5 {
        entries.push_str(&format!(
            r#"{{"__CURSOR":"c{i}","__REALTIME_TIMESTAMP":"{now_us}","SYSLOG_IDENTIFIER":"sshd-session","_PID":"{}","_HOSTNAME":"h1","MESSAGE":"Failed password for root from 2001:db8::7 port {} ssh2"}}"#,
            900 + i,
            41000 + i
        ));
        entries.push('\n');
    }
    std::fs::write(dir.path().join("entries.json"), entries).unwrap();
    let program = dir.path().join("journalctl");
    let script = format!("#!/bin/sh\ncat '{}'\nexec sleep 60\n", dir.path().join("entries.json").display());
    std::fs::write(&program, script).unwrap();
    let mut perms = std::fs::metadata(&program).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&program, perms).unwrap();

    let mut s = settings(dir.path(), 600);
    s.sources = vec![GuardSource::Journald { matches: vec!["SYSLOG_IDENTIFIER=sshd-session".into()], program }];
    let fw = Recorder::default();
    let guard = start(s, &fw);
    let banned = Call::Ban(ip("2001:db8::7"), 600);
    wait_for("the ban", Duration::from_secs(10), || fw.at(&banned));
    let m = guard.metrics();
    assert_eq!(metric(&m, "vigil_guard_lines_total", &[("source", "journal")]), Some(5.0));
    assert_eq!(failures(&m), 5.0);
    guard.shutdown();
    // The journal cursor was committed with the lines.
    let positions = vigil_ship::Positions::load(&dir.path().join("guard/positions")).unwrap();
    assert_eq!(positions.journal_cursor(), Some("c4"));
}

#[test]
fn a_corrupt_database_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("guard");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(FILE_NAME), vec![0x17; 4096]).unwrap();
    let err = Guard::start(settings(dir.path(), 600), Box::new(Recorder::default()), None, system_clock())
        .err()
        .unwrap()
        .to_string();
    let want = format!("ban database {}: ", data.join(FILE_NAME).display());
    assert!(err.starts_with(&want), "{err}");
}

#[test]
fn security_records_go_to_the_log_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let logs_dir: PathBuf = dir.path().join("logs");
    let cfg = vigil_config::Config::parse(
        &format!(
            "agent:\n  logs:\n    push_url: http://127.0.0.1:1/loki/api/v1/push\n    data_dir: {}\n",
            logs_dir.display()
        ),
        "t.yml",
    )
    .unwrap();
    let mut ls = vigil_agent::logs::LogsSettings::from_config(cfg.agent.logs.as_ref().unwrap(), "h1").unwrap();
    ls.drain_timeout = Duration::from_millis(10);
    let shipper = vigil_agent::logs::LogShipper::start(ls).unwrap();
    let fw = Recorder::default();
    let guard = Guard::start(settings(dir.path(), 600), Box::new(fw.clone()), Some(shipper.appender()), system_clock())
        .unwrap();
    fail(dir.path(), "203.0.113.7", 5);
    wait_for("the ban", Duration::from_secs(10), || (fw.calls().len() == 2).then_some(()));
    guard.shutdown();
    shipper.shutdown();

    let records = outbox_records(&logs_dir);
    let field = |fields: &[(String, String)], k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let events: Vec<_> = records.iter().filter(|(l, _, _)| l.get("source") == Some("auth")).collect();
    assert_eq!(events.len(), 5, "{records:?}");
    let (labels, line, fields) = events[0];
    assert_eq!((labels.get("job"), labels.get("host")), (Some("security"), Some("h1")));
    assert!(line.ends_with("Failed password for root from 203.0.113.7 port 40000 ssh2"), "{line}");
    assert_eq!(field(fields, "event.action").as_deref(), Some("ssh-login"));
    assert_eq!(field(fields, "event.outcome").as_deref(), Some("failure"));
    assert_eq!(field(fields, "source.ip").as_deref(), Some("203.0.113.7"));
    let bans: Vec<_> = records.iter().filter(|(l, _, _)| l.get("source") == Some("guard")).collect();
    assert_eq!(bans.len(), 1, "{records:?}");
    let (_, line, fields) = bans[0];
    assert!(line.starts_with("jail sshd: ban 203.0.113.7 for 600s"), "{line}");
    assert_eq!(field(fields, "event.action").as_deref(), Some("ban"));
    assert_eq!(field(fields, "vigil.jail").as_deref(), Some("sshd"));
    assert!(field(fields, "vigil.ban.until").is_some());
}
