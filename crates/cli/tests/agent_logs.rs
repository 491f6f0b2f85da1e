//! `vigil agent` shipping a file to a Loki push receiver loses no line: a writer appends numbered lines while
//! the file is rotated by rename and by copytruncate, the agent is SIGKILLed and restarted, and the receiver is
//! down for a while; at the end every number was received at least once. The same against a real `vigil server`
//! killed and restarted mid-run: every number is in its log store. Also: log config errors are reported with
//! their position by `vigil check config`. And the guard: an agent with `agent.guard` in detect mode turns failed
//! logins appended to a file into `{job="security"}` records in the server and a ban on its `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_proto::loki::{decode_push, PushLimits};

use crate::support::{free_addr, http_get, start_vigil_server, vigil, wait_for, Proc};

/// A blocking Loki push receiver that records the numbers of the lines it stored; `set_up(false)` closes its
/// port so that connections are refused, `set_up(true)` opens the same port again.
struct Receiver {
    addr: String,
    seen: Arc<Mutex<BTreeSet<u64>>>,
    up: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let addr = free_addr();
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let up = Arc::new(AtomicBool::new(true));
        let done = Arc::new(AtomicBool::new(false));
        let (a, s, u, d) = (addr.clone(), seen.clone(), up.clone(), done.clone());
        let thread = std::thread::spawn(move || serve(&a, &s, &u, &d));
        wait_for("the receiver", Duration::from_secs(5), || TcpStream::connect(&addr).ok());
        Receiver { addr, seen, up, done, thread: Some(thread) }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        let addr = self.addr.clone();
        wait_for("the receiver's port to follow", Duration::from_secs(5), || {
            (TcpStream::connect(&addr).is_ok() == up).then_some(())
        });
    }

    fn missing(&self, n: u64) -> Vec<u64> {
        let seen = self.seen.lock().unwrap();
        (0..n).filter(|i| !seen.contains(i)).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener with `SO_REUSEADDR`, so that the port can be bound again while old connections linger.
fn listen(addr: &str) -> TcpListener {
    let sa: std::net::SocketAddrV4 = addr.parse().unwrap();
    // SAFETY: plain socket calls on a descriptor this function owns until it is handed to TcpListener.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let one: libc::c_int = 1;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&one as *const libc::c_int).cast(), size);
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: sa.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from(*sa.ip()).to_be() },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len), 0, "bind {addr}");
        assert_eq!(libc::listen(fd, 64), 0);
        TcpListener::from_raw_fd(fd)
    }
}

fn serve(addr: &str, seen: &Mutex<BTreeSet<u64>>, up: &AtomicBool, done: &AtomicBool) {
    let mut listener: Option<TcpListener> = None;
    while !done.load(Ordering::SeqCst) {
        if !up.load(Ordering::SeqCst) {
            listener = None;
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let l = listener.get_or_insert_with(|| {
            let l = listen(addr);
            l.set_nonblocking(true).unwrap();
            l
        });
        match l.accept() {
            Ok((stream, _)) => handle(stream, seen),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn handle(stream: TcpStream, seen: &Mutex<BTreeSet<u64>>) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                len = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let streams = decode_push(&body, &PushLimits::default()).expect("a valid push");
    {
        let mut seen = seen.lock().unwrap();
        for (_, entries) in streams {
            for e in entries {
                seen.insert(e.line.parse().unwrap_or_else(|_| panic!("unexpected line {:?}", e.line)));
            }
        }
    }
    let _ = reader.get_mut().write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// Appends numbered lines to `path` until told to stop, rotating it by rename at `rename_at` and by
/// copytruncate at `copy_at` (done by the writer itself, so no line falls between the copy and the truncation).
fn writer(path: PathBuf, next: Arc<AtomicU64>, stop: Arc<AtomicBool>, rename_at: u64, copy_at: u64) {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let mut text = String::new();
        for _ in 0..20 {
            text.push_str(&format!("{n}\n"));
            n += 1;
        }
        f.write_all(text.as_bytes()).unwrap();
        next.store(n, Ordering::SeqCst);
        if n == rename_at {
            std::fs::rename(&path, path.with_extension("log.1")).unwrap();
        }
        if n == copy_at {
            std::fs::copy(&path, path.with_extension("log.2")).unwrap();
            f.set_len(0).unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A shipping scenario: an agent config tailing `app.log*` in `dir` towards `push_addr`, and the writer thread
/// appending numbered lines to it (renamed at line 1000, copytruncated at 3000).
pub(crate) struct Scenario {
    pub(crate) config: PathBuf,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Scenario {
    fn start(dir: &Path, push_addr: &str) -> Scenario {
        Scenario::start_with(dir, push_addr, "")
    }

    /// The same with more of the `agent:` section (indented by two spaces), such as `guard:`.
    pub(crate) fn start_with(dir: &Path, push_addr: &str, more_agent_yaml: &str) -> Scenario {
        let log = dir.join("app.log");
        let config = dir.join("vigil.yml");
        let text = format!(
            "agent:\n  logs:\n    push_url: http://{push_addr}/loki/api/v1/push\n    data_dir: {}\n    batch_max_wait: 100ms\n    poll_interval: 50ms\n    timeout: 2s\n    sources:\n      - files: ['{}*']\n        labels: {{job: test}}\n{more_agent_yaml}",
            dir.join("agent-data").display(),
            log.display()
        );
        std::fs::write(&config, text).unwrap();
        let (next, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let writer = {
            let (next, stop) = (next.clone(), stop.clone());
            std::thread::spawn(move || writer(log, next, stop, 1000, 3000))
        };
        Scenario { config, next, stop, writer: Some(writer) }
    }

    /// Waits until line `n` is written.
    fn at(&self, n: u64) {
        wait_for(&format!("line {n} written"), Duration::from_secs(20), || {
            (self.next.load(Ordering::SeqCst) >= n).then_some(())
        })
    }

    /// Stops the writer; the number of lines written.
    pub(crate) fn finish(&mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.writer.take() {
            w.join().unwrap();
        }
        self.next.load(Ordering::SeqCst)
    }
}

pub(crate) fn start_agent(config: &Path) -> (Proc, String) {
    let addr = free_addr();
    let mut cmd = vigil();
    cmd.args(["agent", "--collectors", "loadavg", "--metrics-listen", &addr, "--config"]).arg(config);
    let mut p = Proc::spawn("vigil agent", cmd.env("VIGIL_LOG", "error"));
    wait_for("vigil agent /metrics", Duration::from_secs(20), || {
        p.assert_alive();
        http_get(&format!("http://{addr}/metrics"))
    });
    (p, format!("http://{addr}/metrics"))
}

#[test]
fn kill_rotation_and_receiver_downtime_lose_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let mut run = Scenario::start(dir.path(), &rx.addr);
    let (mut agent, _) = start_agent(&run.config);
    run.at(600);
    // SIGKILL mid-run, then a restart while the writer goes on (and renames the file meanwhile).
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    run.at(1200);
    let (mut agent, metrics) = start_agent(&run.config);
    run.at(2000);
    rx.set_up(false);
    run.at(3400);
    rx.set_up(true);
    run.at(4000);
    let total = run.finish();

    let started = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("every line at the receiver", Duration::from_secs(20), || rx.missing(total).is_empty().then_some(()))
    }));
    agent.assert_alive();
    if result.is_err() {
        let missing = rx.missing(total);
        panic!("{} of {total} lines missing, first {:?}", missing.len(), &missing[..missing.len().min(20)]);
    }
    let text = http_get(&metrics).unwrap();
    let refused = text.lines().find(|l| l.starts_with("vigil_agent_log_send_failures_total{reason=\"connect\"}"));
    let refused: f64 = refused.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0);
    assert!(refused >= 1.0, "the receiver's downtime was seen:\n{text}");
    eprintln!("{total} lines received, the last within {:?} of the end", started.elapsed());

    // SIGTERM: a clean stop, quickly, with the receiver up.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(agent.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let status = wait_for("the agent to exit", Duration::from_secs(10), || agent.child.try_wait().unwrap());
    assert!(status.success(), "{status}");
}

#[test]
fn log_config_errors_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    let text = "agent:\n  logs:\n    push_url: http://127.0.0.1:1/loki/api/v1/push\n    sources:\n      - files: [/var/log/a.log]\n        pipeline: '| json | level = '\n";
    std::fs::write(&file, text).unwrap();
    let out = vigil().args(["check", "config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:6:19: pipeline: parse error at line 1, col", file.display());
    assert!(stderr.starts_with(&want), "{stderr}");
}

#[test]
fn up_ships_the_configured_logs() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let log = dir.path().join("up.log");
    std::fs::write(&log, "7\n8\n").unwrap();
    let config = dir.path().join("vigil.yml");
    let text = format!(
        "agent:\n  logs:\n    push_url: http://{}/loki/api/v1/push\n    data_dir: {}\n    batch_max_wait: 100ms\n    sources:\n      - files: ['{}']\n",
        rx.addr,
        dir.path().join("agent").display(),
        log.display()
    );
    std::fs::write(&config, text).unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut up = Proc::spawn(
        "vigil up",
        vigil()
            .args(["up", "--listen", &addr, "--data", data.to_str().unwrap(), "--config"])
            .arg(&config)
            .env("VIGIL_LOG", "warn"),
    );
    wait_for("the file's lines at the receiver", Duration::from_secs(30), || {
        up.assert_alive();
        (rx.seen.lock().unwrap().len() == 2).then_some(())
    });
    assert_eq!(rx.missing(9), (0..7).collect::<Vec<_>>());
}

/// The numbers of the lines of stream `{job="test"}` in the log store under `data`, with how often each is there.
fn stored_numbers(data: &Path) -> BTreeMap<u64, u32> {
    use vigil_model::log::{Direction, LogBatch};
    let store = vigil_logstore::LogStore::open(&data.join("logs"), vigil_logstore::Options::default()).unwrap();
    let matcher = vigil_model::Matcher::new(vigil_model::MatchOp::Equal, "job", "test").unwrap();
    let mut counts = BTreeMap::new();
    for stream in store.streams(&[matcher], 0, i64::MAX).unwrap() {
        let mut reader = store.read(stream.id, 0, i64::MAX, Direction::Forward, &[]).unwrap();
        let mut batch = LogBatch::default();
        while reader.next_batch(&mut batch).unwrap() {
            for i in 0..batch.len() {
                *counts.entry(batch.line(i).parse::<u64>().unwrap()).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[test]
fn agent_to_server_loses_no_line_through_kills_rotations_and_server_downtime() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server-data");
    let server_addr = free_addr();
    let server_args = ["--listen", server_addr.as_str(), "--data", data.to_str().unwrap()];
    let mut server = start_vigil_server(&server_args, &server_addr);
    let mut run = Scenario::start(dir.path(), &server_addr);
    let (mut agent, _) = start_agent(&run.config);
    run.at(600);
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    run.at(1200);
    let (mut agent, _) = start_agent(&run.config);
    run.at(2000);
    // The server stops (SIGKILL, the worst case) while lines keep coming, and comes back on the same data.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    run.at(3400);
    let mut server = start_vigil_server(&server_args, &server_addr);
    run.at(4000);
    let total = run.finish();
    // Every line reaches the server: poll its API until every number is there. Counting lines would not do:
    // duplicates (allowed) could make up for a line still on its way.
    wait_for("every line in the server", Duration::from_secs(30), || {
        let seen = served_numbers(&server_addr)?;
        (0..total).all(|n| seen.contains(&n)).then_some(())
    });
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    wait_for("the server to exit", Duration::from_secs(20), || server.child.try_wait().unwrap());
    let counts = stored_numbers(&data);
    let missing: Vec<u64> = (0..total).filter(|n| !counts.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {total} lines missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let doubled = counts.values().filter(|&&c| c > 1).count();
    eprintln!("{total} lines stored, {doubled} more than once");
}

/// A stored security record: its stream's `source` label, its line, its fields.
type SecurityRecord = (String, String, Vec<(String, String)>);

/// The records of streams matching `job="security"` in the log store under `data`.
fn stored_security_records(data: &Path) -> Vec<SecurityRecord> {
    use vigil_model::log::{Direction, LogBatch};
    let store = vigil_logstore::LogStore::open(&data.join("logs"), vigil_logstore::Options::default()).unwrap();
    let matcher = vigil_model::Matcher::new(vigil_model::MatchOp::Equal, "job", "security").unwrap();
    let mut out = Vec::new();
    for stream in store.streams(&[matcher], 0, i64::MAX).unwrap() {
        let source = stream.labels.get("source").unwrap_or_default().to_string();
        let mut reader = store.read(stream.id, 0, i64::MAX, Direction::Forward, &[]).unwrap();
        let mut batch = LogBatch::default();
        while reader.next_batch(&mut batch).unwrap() {
            for i in 0..batch.len() {
                let fields = match batch.field_ends.is_empty() {
                    true => Vec::new(),
                    false => {
                        let start = if i == 0 { 0 } else { batch.field_ends[i - 1] as usize };
                        batch.fields[start..batch.field_ends[i] as usize].to_vec()
                    }
                };
                out.push((source.clone(), batch.line(i).to_string(), fields));
            }
        }
    }
    out
}

#[test]
fn agent_guard_in_detect_mode_records_security_events_and_bans() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server-data");
    let server_addr = free_addr();
    let server_args = ["--listen", server_addr.as_str(), "--data", data.to_str().unwrap()];
    let mut server = start_vigil_server(&server_args, &server_addr);
    let auth = dir.path().join("auth.log");
    std::fs::write(&auth, "").unwrap();
    let guard = format!(
        "  guard:\n    mode: detect\n    data_dir: {}\n    sources: [{{path: '{}', format: syslog}}]\n",
        dir.path().join("guard").display(),
        auth.display()
    );
    let mut run = Scenario::start_with(dir.path(), &server_addr, &guard);
    let (mut agent, metrics) = start_agent(&run.config);
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&auth).unwrap();
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let t = vigil_model::time::format_rfc3339(now_ms as i64);
        for i in 0..5 {
            writeln!(
                f,
                "{t} web1 sshd[{}]: Failed password for invalid user admin from 203.0.113.7 port {} ssh2",
                700 + i,
                50000 + i
            )
            .unwrap();
        }
    }
    wait_for("the ban on the agent's /metrics", Duration::from_secs(20), || {
        agent.assert_alive();
        http_get(&metrics)?.lines().any(|l| l == "vigil_jail_banned{jail=\"sshd\"} 1").then_some(())
    });
    let text = http_get(&metrics).unwrap();
    for want in [
        "vigil_auth_failures_total{jail=\"sshd\"} 5",
        "vigil_jail_bans_total{jail=\"sshd\"} 1",
        "vigil_security_events_total{action=\"ssh-login\",outcome=\"failure\"} 5",
        "vigil_guard_lines_total{source=\"auth\"} 5",
    ] {
        assert!(text.lines().any(|l| l == want), "{want} missing:\n{text}");
    }
    // Five events and the ban are queryable through the server's Loki API.
    let url = format!("http://{server_addr}/loki/api/v1/query_range?query=%7Bjob%3D%22security%22%7D&limit=100");
    let streams = wait_for("the security records in the server", Duration::from_secs(20), || {
        let body: serde_json::Value = serde_json::from_str(&http_get(&url)?).ok()?;
        let streams = body["data"]["result"].as_array()?.clone();
        let n: usize = streams.iter().filter_map(|s| s["values"].as_array().map(Vec::len)).sum();
        (n >= 6).then_some(streams)
    });
    let ban = streams.iter().find(|s| s["stream"]["source"] == "guard").expect("a guard stream");
    assert_eq!(ban["stream"]["job"], "security");
    let line = ban["values"][0][1].as_str().unwrap();
    assert!(line.starts_with("jail sshd: ban 203.0.113.7 for 600s"), "{line}");
    // The records' fields are labels in the answer (Loki 3's structured metadata), under label-safe names.
    let auth: Vec<_> = streams.iter().filter(|s| s["stream"]["source"] == "auth").collect();
    assert_eq!(auth.iter().map(|s| s["values"].as_array().unwrap().len()).sum::<usize>(), 5, "{auth:?}");
    for s in &auth {
        assert_eq!(s["stream"]["event_action"], "ssh-login", "{s}");
        assert_eq!(s["stream"]["source_ip"], "203.0.113.7", "{s}");
    }
    // And label filters select on them.
    let url = format!(
        "http://{server_addr}/loki/api/v1/query_range?query={}&limit=100",
        url_encode(r#"{job="security"} | event_action="ban""#)
    );
    let body: serde_json::Value = serde_json::from_str(&http_get(&url).unwrap()).unwrap();
    let bans = body["data"]["result"].as_array().unwrap();
    assert_eq!(bans.len(), 1, "{body}");
    assert_eq!(bans[0]["stream"]["source"], "guard");
    run.finish();
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    wait_for("the server to exit", Duration::from_secs(20), || server.child.try_wait().unwrap());

    // The ECS fields are stored with the records under their own names.
    let records = stored_security_records(&data);
    let field = |f: &[(String, String)], k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let auth_records: Vec<_> = records.iter().filter(|r| r.0 == "auth").collect();
    assert_eq!(auth_records.len(), 5, "{records:?}");
    for (_, line, _) in &auth_records {
        assert!(line.contains("Failed password for invalid user admin from 203.0.113.7"), "{line}");
    }
    for (_, _, fields) in &auth_records {
        assert_eq!(field(fields, "event.action").as_deref(), Some("ssh-login"), "{fields:?}");
        assert_eq!(field(fields, "event.outcome").as_deref(), Some("failure"));
        assert_eq!(field(fields, "source.ip").as_deref(), Some("203.0.113.7"));
        assert_eq!(field(fields, "user.name").as_deref(), Some("admin"));
    }
    let (_, line, fields) = records.iter().find(|r| r.0 == "guard").expect("the ban record");
    assert!(line.starts_with("jail sshd: ban 203.0.113.7"), "{line}");
    assert_eq!(field(fields, "event.action").as_deref(), Some("ban"), "{fields:?}");
}

/// The numbers of the lines of `{job="test"}` the server's Loki API returns, page by page; `None` on an error.
fn served_numbers(server_addr: &str) -> Option<std::collections::BTreeSet<u64>> {
    const LIMIT: usize = 5000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
    let (mut start, end) = (now - 3_600_000_000_000, now + 60_000_000_000);
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let url = format!(
            "http://{server_addr}/loki/api/v1/query_range?query={}&start={start}&end={end}&limit={LIMIT}&direction=forward",
            url_encode(r#"{job="test"}"#)
        );
        let body: serde_json::Value = serde_json::from_str(&http_get(&url)?).ok()?;
        let mut rows = 0;
        let mut last = start;
        for stream in body["data"]["result"].as_array()? {
            for value in stream["values"].as_array()? {
                let ts: i64 = value[0].as_str()?.parse().ok()?;
                seen.insert(value[1].as_str()?.parse().ok()?);
                last = last.max(ts);
                rows += 1;
            }
        }
        if rows < LIMIT {
            return Some(seen);
        }
        // The next page starts at the last timestamp seen, again: rows sharing it are read twice, none skipped.
        start = last;
    }
}

/// Percent-encodes everything but unreserved characters, for a query parameter.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
