//! Email over SMTP against a real server: Python's aiosmtpd (`scripts/setup` installs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_alerting::config::IntegrationKind;
use vigil_notify::Outcome;

use crate::support::*;

struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sink() -> Sink {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
    let mut child = Command::new("python3")
        .args([script, &port.to_string(), dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd (scripts/setup installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
    Sink { child, port, dir }
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_with_both_parts() {
    let sink = start_sink();
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  email_configs:\n  - to: 'oncall@example.org, Second <two@example.org>'\n    from: 'vigil <vigil@example.org>'\n    smarthost: 127.0.0.1:{}\n    require_tls: false\n    text: '{{{{ template \"email.default.text\" . }}}}'\n    headers: {{X-Team: '{{{{ .Receiver }}}}'}}\n",
        sink.port
    ));
    notifier.notify(firing(IntegrationKind::Email));
    let r = report(&mut rx).await;
    assert_eq!(r.outcome, Outcome::Delivered, "{r:?}");
    let path = sink.dir.path().join("1.eml");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline, "no message saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let raw = std::fs::read_to_string(&path).unwrap();
    let unfolded = raw.replace("\r\n ", " ");
    assert!(unfolded.contains("From: vigil <vigil@example.org>"), "{raw}");
    assert!(unfolded.contains("To: oncall@example.org, Second <two@example.org>"), "{raw}");
    assert!(unfolded.contains("Subject: [FIRING:1] HighLatency (db1:9090 critical)"), "{raw}");
    assert!(unfolded.contains("X-Team: team"), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("Content-Type: text/plain; charset=utf-8"), "{raw}");
    assert!(raw.contains("Content-Type: text/html; charset=utf-8"), "{raw}");
    assert!(raw.contains("instance: db1:9090"), "{raw}");
    assert!(raw.contains("<h3>Firing (1)</h3>"), "{raw}");
}

#[tokio::test]
async fn require_tls_fails_against_a_server_without_starttls() {
    let sink = start_sink();
    let yaml = format!(
        "route:\n  receiver: team\nreceivers:\n- name: team\n  email_configs:\n  - to: oncall@example.org\n    from: vigil@example.org\n    smarthost: 127.0.0.1:{}\n",
        sink.port
    );
    let config = vigil_alerting::AlertmanagerConfig::parse(&yaml, "test.yml").unwrap();
    let mut opts = options();
    opts.retry_budget = Duration::from_millis(300);
    let (notifier, mut rx) = vigil_notify::Notifier::new(&config, opts).unwrap();
    notifier.notify(firing(IntegrationKind::Email));
    let r = tokio::time::timeout(Duration::from_secs(60), report(&mut rx)).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{r:?}");
    assert!(!sink.dir.path().join("1.eml").exists());
}
