//! The journald source against a fake `journalctl` (a shell script printing canned entries and recording its
//! argv), since test machines may have no journal.

use std::{fs, os::unix::fs::PermissionsExt as _, path::Path, time::Duration};

use vigil_model::Labels;
use vigil_ship::{journald::parse_entry, Journal, JournalConfig, Position};

const ENTRY_1: &str = r#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1700000000000001","MESSAGE":"hello","_SYSTEMD_UNIT":"ssh.service","PRIORITY":"6","_HOSTNAME":"h1","SYSLOG_IDENTIFIER":"sshd"}"#;
const ENTRY_2: &str = r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000000000002","MESSAGE":[104,105,255]}"#;
const ENTRY_3: &str = r#"{"__CURSOR":"s=1;i=3","__REALTIME_TIMESTAMP":"1700000000000003","MESSAGE":"after restart"}"#;

fn fake_journalctl(dir: &Path) -> std::path::PathBuf {
    let args = dir.join("args");
    let script = dir.join("journalctl");
    let body = format!(
        "#!/bin/sh\necho \"$*\" >> '{args}'\nif [ $(wc -l < '{args}') -eq 1 ]; then\n  echo '{ENTRY_1}'\n  echo 'not json'\n  echo '{ENTRY_2}'\n  exit 1\nfi\necho '{ENTRY_3}'\nexec sleep 30\n",
        args = args.display()
    );
    fs::write(&script, body).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn entries_flow_and_journalctl_restarts_after_the_last_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = JournalConfig {
        program: fake_journalctl(dir.path()),
        labels: Labels::from_pairs([("job", "journal")]).unwrap(),
        backoff_min: Duration::from_millis(10),
        ..JournalConfig::default()
    };
    let journal = Journal::spawn(cfg, None);
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(journal.recv_timeout(Duration::from_secs(10)).expect("an entry from the fake journalctl"));
    }
    assert_eq!(got[0].entry.line, "hello");
    assert_eq!(got[0].entry.ts_ns, 1_700_000_000_000_001_000);
    assert_eq!(got[0].labels, Labels::from_pairs([("job", "journal"), ("unit", "ssh.service")]).unwrap());
    assert_eq!(got[0].pos, Position::Journal("s=1;i=1".into()));
    assert!(got[0].entry.fields.contains(&("priority".into(), "6".into())));
    assert_eq!(got[1].entry.line, "hi\u{fffd}");
    assert_eq!(got[2].entry.line, "after restart");
    let stats = journal.stats();
    assert_eq!((stats.entries, stats.bad_lines), (3, 1));
    assert!(stats.restarts >= 1);
    drop(journal);
    let args = fs::read_to_string(dir.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[0], "-o json --follow --no-tail --all --since=-1h");
    assert_eq!(args[1], "-o json --follow --no-tail --all --after-cursor=s=1;i=2");
}

#[test]
fn a_saved_cursor_is_passed_on_the_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = JournalConfig { program: fake_journalctl(dir.path()), ..JournalConfig::default() };
    let journal = Journal::spawn(cfg, Some("s=0;i=9".into()));
    assert!(journal.recv_timeout(Duration::from_secs(10)).is_some());
    drop(journal);
    let args = fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(args.starts_with("-o json --follow --no-tail --all --after-cursor=s=0;i=9\n"), "{args}");
}

#[test]
fn hostile_entries_are_errors() {
    let labels = Labels::default();
    for bad in [
        &b"[]"[..],
        b"{\"MESSAGE\":\"no cursor\"}",
        b"{\"__CURSOR\":\"c\",\"MESSAGE\":[1,256]}",
        b"{\"__CURSOR\":\"c\",\"MESSAGE\":{}}",
        b"{\"__CURSOR\":",
    ] {
        assert!(parse_entry(bad, &labels).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let ok = parse_entry(br#"{"__CURSOR":"c","MESSAGE":null,"__REALTIME_TIMESTAMP":"x"}"#, &labels).unwrap();
    assert_eq!(ok.entry.line, "");
    assert!(ok.entry.ts_ns > 0, "an unreadable timestamp becomes the time of reading");
}
