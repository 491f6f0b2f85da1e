//! `vigil logs` against a real `vigil server`: lines pushed through Loki's push API come back oldest first, a
//! metric query prints its series, `--follow` prints lines pushed later, bad queries fail with Loki's message.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use vigil_model::log::LogEntry;
use vigil_model::Labels;

use crate::support::{free_addr, http_post, start_vigil_server, vigil};

fn push(addr: &str, job: &str, lines: &[&str]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let labels = Labels::from_pairs([("job", job)]).unwrap();
    let entries = lines
        .iter()
        .enumerate()
        .map(|(i, l)| LogEntry { ts_ns: now - 1_000_000_000 + i as i64, line: l.to_string(), fields: vec![] })
        .collect();
    let body = vigil_proto::loki::encode_push(&[(labels, entries)]);
    assert_eq!(http_post(addr, vigil_proto::loki::PUSH_PATH, "", &body), Some(204));
}

fn logs(addr: &str, args: &[&str]) -> std::process::Output {
    vigil().arg("logs").args(["--url", &format!("http://{addr}")]).args(args).output().unwrap()
}

#[test]
fn logs_prints_lines_metrics_and_follows() {
    let data = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let _server = start_vigil_server(&["--listen", &addr, "--data", data.path().to_str().unwrap()], &addr);
    push(&addr, "app", &["level=info msg=started", "level=error msg=\"disk full\"", "level=info msg=ok"]);

    let out = logs(&addr, &[r#"{job="app"}"#, "--output", "raw"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "level=info msg=started\nlevel=error msg=\"disk full\"\nlevel=info msg=ok\n"
    );

    let out = logs(&addr, &[r#"{job="app"} | logfmt | level="error""#, "--limit", "5"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#"{job="app", level="error", msg="disk full"} level=error msg="disk full""#), "{text}");
    assert_eq!(text.lines().count(), 1);

    let out = logs(&addr, &[r#"sum by (job) (count_over_time({job="app"}[1h]))"#]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "{job=\"app\"} 3\n");

    let out = logs(&addr, &[r#"{job="app"} |= "#]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("server answered 400: parse error at line 1"), "{err}");

    let mut follow = vigil()
        .arg("logs")
        .args(["--url", &format!("http://{addr}"), r#"{job="app"}"#, "--output", "raw", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(follow.stdout.take().unwrap());
    let mut read = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut line = String::new();
                out.read_line(&mut line).unwrap();
                line.trim_end().to_string()
            })
            .collect()
    };
    assert_eq!(read(3).len(), 3);
    // Pushed after the first answer: printed by a later poll, once.
    push(&addr, "app", &["later line"]);
    assert_eq!(read(1), ["later line"]);
    follow.kill().unwrap();
    follow.wait().unwrap();
}
