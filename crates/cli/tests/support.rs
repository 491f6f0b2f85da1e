//! Helpers for end-to-end tests: free ports, child processes killed on drop, HTTP GET through curl,
//! waiting on a condition with a deadline, and locating the peer programs unpacked by `../shared/peers`.

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
