//! `vigil guard match`: a jail's matchers over a log file, one JSON object per counted line and a summary.

use crate::support::vigil;

#[test]
fn guard_match_prints_the_lines_a_jail_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "2024-03-05T10:01:02.123456+01:00 web1 sshd[11]: Failed password for invalid user admin from 203.0.113.9 port 4022 ssh2\n\
         2024-03-05T10:01:03.000000+01:00 web1 sshd-session[12]: Accepted publickey for ann from 198.51.100.4 port 50022 ssh2: ED25519 SHA256:abc\n\
         garbage \u{fffd} line\n\
         2024-03-05T10:01:05.000000+01:00 web1 sudo:      bob : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh\n",
    )
    .unwrap();
    let out = vigil().args(["guard", "match", "--jail", "sshd"]).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["source.ip"], "203.0.113.9");
    assert_eq!(lines[0]["user.name"], "admin");
    assert_eq!(lines[0]["event.outcome"], "failure");
    let summary = String::from_utf8(out.stderr).unwrap();
    assert!(summary.contains("lines: 4, events: 3, matched: 1, offenders: 1"), "{summary}");

    let out = vigil().args(["guard", "match", "--jail", "sudo"]).arg(&log).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""offender":"user bob""#), "{text}");

    let out = vigil().args(["guard", "match", "--jail", "nope"]).arg(&log).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown jail \"nope\""));
}
