//! Helpers for end-to-end tests: free ports, child processes killed on drop, HTTP GET through curl,
//! waiting on a condition with a deadline, and locating the peer programs unpacked by `../shared/peers`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The vigil binary built for this test run.
pub fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The repository's `../shared` directory (read-only peer scripts and conformance data).
pub fn shared_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    dir.canonicalize().unwrap_or_else(|e| panic!("{}: {e}; the repository needs ../shared beside it", dir.display()))
}

/// Where `../shared/peers/install.sh` unpacked the peers.
pub fn peers_home() -> PathBuf {
    if let Ok(p) = std::env::var("PEERS_HOME") {
        return p.into();
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache"));
    cache.join("vigil-peers")
}

/// A peer binary; fails the test with the command to run when the peers are not unpacked.
pub fn peer_bin(name: &str) -> PathBuf {
    let p = peers_home().join("root/usr/bin").join(name);
    assert!(p.exists(), "{} is missing: run ../shared/peers/install.sh first", p.display());
    p
}

/// A child process that is killed when the test ends, pass or fail.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Proc {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
        let child = cmd.stdin(Stdio::null()).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, name }
    }

    /// Panics with the process's exit status if it has died.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs a URL with curl; `None` when it does not answer 2xx.
pub fn http_get(url: &str) -> Option<String> {
    let out = Command::new("curl").args(["-sf", "--max-time", "10", url]).output().expect("curl is installed");
    out.status.success().then(|| String::from_utf8(out.stdout).expect("utf-8 body"))
}

/// Calls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `vigil agent` on a free port with extra arguments and waits until /metrics answers.
pub fn start_agent(extra: &[&str]) -> (Proc, String) {
    let addr = free_addr();
    let mut cmd = vigil();
    cmd.args(["agent", "--metrics-listen", &addr]).args(extra).env("VIGIL_LOG", "warn");
    let mut p = Proc::spawn("vigil agent", &mut cmd);
    let url = format!("http://{addr}/metrics");
    wait_for("vigil agent /metrics", Duration::from_secs(20), || {
        p.assert_alive();
        http_get(&url)
    });
    (p, addr)
}

/// Starts `vigil server` with extra arguments and waits until it is ready at `addr`.
pub fn start_vigil_server(args: &[&str], addr: &str) -> Proc {
    let mut server = Proc::spawn("vigil server", vigil().arg("server").args(args).env("VIGIL_LOG", "warn"));
    wait_for("vigil server ready", Duration::from_secs(60), || {
        server.assert_alive();
        http_get(&format!("http://{addr}/-/ready"))
    });
    server
}

/// Stdout and stderr of a peer go to `dir/name.log`, for reading after a failure.
pub fn log_to(dir: &Path, name: &str, cmd: &mut Command) {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
}

/// POSTs a JSON body with curl; the error names the status and body when it does not answer 2xx.
pub fn http_post_json(url: &str, body: &str) -> Result<(), String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/stderr", "-w", "%{http_code}", "-H"])
        .args(["Content-Type: application/json", "--data-binary", body, url])
        .output()
        .expect("curl is installed");
    let status = String::from_utf8_lossy(&out.stdout);
    match status.starts_with('2') {
        true => Ok(()),
        false => Err(format!("POST {url}: status {status}: {}", String::from_utf8_lossy(&out.stderr))),
    }
}

/// `../shared/peers/webhook-sink.py` on a free port: every POST becomes one JSON line
/// `{"received_unix", "path", "headers", "body"}` in a file the test reads.
pub struct WebhookSink {
    pub addr: String,
    out: PathBuf,
    proc: Proc,
}

impl WebhookSink {
    pub fn start(dir: &Path) -> WebhookSink {
        let addr = free_addr();
        let out = dir.join("webhook.jsonl");
        let mut cmd = Command::new("python3");
        cmd.arg(shared_dir().join("peers/webhook-sink.py")).args(["--listen", &addr]).arg("--out").arg(&out);
        log_to(dir, "webhook-sink", &mut cmd);
        let mut proc = Proc::spawn("webhook-sink.py", &mut cmd);
        wait_for("webhook sink ready", Duration::from_secs(20), || {
            proc.assert_alive();
            http_get(&format!("http://{addr}/"))
        });
        WebhookSink { addr, out, proc }
    }

    /// The bodies received on `path` so far, in arrival order.
    pub fn bodies(&mut self, path: &str) -> Vec<serde_json::Value> {
        self.proc.assert_alive();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        // Only whole lines: the sink may be writing the last one.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("sink line ({e}): {l}")))
            .filter(|r| r["path"] == path)
            .map(|mut r| r["body"].take())
            .collect()
    }

    /// Waits until `path` received at least `n` bodies; returns them all.
    pub fn wait_bodies(&mut self, path: &str, n: usize, limit: Duration) -> Vec<serde_json::Value> {
        wait_for(&format!("{n} notifications on {path}"), limit, || {
            let bodies = self.bodies(path);
            (bodies.len() >= n).then_some(bodies)
        })
    }
}

/// POSTs a protobuf body to `path` with extra header lines; returns the status code.
pub fn http_post(addr: &str, path: &str, headers: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\n{headers}\
         Connection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    String::from_utf8_lossy(&response).split(' ').nth(1)?.parse().ok()
}
