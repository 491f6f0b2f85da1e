//! Helpers of the guard, fleet and threat-intel runtime tests: a firewall that records its calls, waiting on a
//! condition with a deadline, sshd failure lines, the guard's metrics and security records.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_agent::guard::{GuardMetrics, GuardSettings, GuardSource, SignalSettings};
use vigil_guard::firewall::{Firewall, FirewallError};
use vigil_guard::jail::JailConfig;
use vigil_guard::sshd_filter::Mode;
use vigil_model::metric::VecSink;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Prepare,
    Ban(IpAddr, u64),
    Unban(IpAddr),
}

/// A firewall that records its calls, with the wall-clock second of each.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<(Call, i64)>>>);

impl Recorder {
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().iter().map(|(c, _)| c.clone()).collect()
    }

    /// The calls about `ip`.
    pub fn of(&self, ip: IpAddr) -> Vec<Call> {
        self.calls().into_iter().filter(|c| matches!(c, Call::Ban(i, _) | Call::Unban(i) if *i == ip)).collect()
    }

    /// When `call` was first made.
    pub fn at(&self, call: &Call) -> Option<i64> {
        self.0.lock().unwrap().iter().find(|(c, _)| c == call).map(|(_, t)| *t)
    }

    fn push(&self, c: Call) {
        self.0.lock().unwrap().push((c, now_s()));
    }
}

impl Firewall for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn prepare(&mut self) -> Result<(), FirewallError> {
        self.push(Call::Prepare);
        Ok(())
    }
    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError> {
        self.push(Call::Ban(ip, timeout_s));
        Ok(())
    }
    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError> {
        self.push(Call::Unban(ip));
        Ok(())
    }
}

pub fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sshd jail (bantime 1h) reading `dir/auth.log`, host `h1`, without fleet or intel.
pub fn settings(dir: &Path) -> GuardSettings {
    let mut sshd = JailConfig::sshd(Mode::Normal);
    sshd.bantime_s = 3600;
    GuardSettings {
        firewall: vigil_agent::guard::FirewallSettings::Detect,
        sources: vec![GuardSource::Files { include: vec![dir.join("auth.log").to_string_lossy().into_owned()] }],
        jails: vec![sshd],
        data_dir: dir.join("guard"),
        host: "h1".into(),
        poll_interval: Duration::from_millis(20),
        fleet: None,
        intel: None,
        signals: SignalSettings { watch_files: Vec::new(), ..SignalSettings::default() },
        rootfs: dir.to_path_buf(),
    }
}

/// Appends `n` sshd password failures of `addr`, stamped now.
pub fn fail(dir: &Path, addr: &str, n: usize) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("auth.log")).unwrap();
    let t = vigil_model::time::format_rfc3339(now_s() * 1000);
    for i in 0..n {
        writeln!(f, "{t} h1 sshd[{}]: Failed password for root from {addr} port {} ssh2", 100 + i, 40000 + i).unwrap();
    }
}

pub fn metric(m: &GuardMetrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut sink = VecSink::default();
    m.collect(&mut sink);
    sink.value(name, labels)
}

/// The allow-list the configuration gives without `ignoreip`: loopback.
pub fn loopback() -> Vec<vigil_guard::cidr::Cidr> {
    vigil_config::default_ignoreip()
}

/// A record in the outbox: its stream's labels, its line, its fields.
pub type Record = (vigil_model::Labels, String, Vec<(String, String)>);

/// A log shipper whose pushes go nowhere, so that the security records stay in its outbox under `dir`.
pub fn shipper(dir: &Path) -> vigil_agent::logs::LogShipper {
    let cfg = vigil_config::Config::parse(
        &format!(
            "agent:\n  logs:\n    push_url: http://127.0.0.1:1/loki/api/v1/push\n    data_dir: {}\n",
            dir.display()
        ),
        "t.yml",
    )
    .unwrap();
    let mut ls = vigil_agent::logs::LogsSettings::from_config(cfg.agent.logs.as_ref().unwrap(), "h1").unwrap();
    ls.drain_timeout = Duration::from_millis(10);
    vigil_agent::logs::LogShipper::start(ls).unwrap()
}

/// The outbox's records under `dir` (read once the shipper stopped).
pub fn outbox_records(dir: &Path) -> Vec<Record> {
    let mut outbox = vigil_ship::Outbox::open(vigil_ship::OutboxConfig::new(dir.join("outbox"))).unwrap();
    let mut out = Vec::new();
    while let Some((id, batch)) = outbox.peek().unwrap() {
        for (labels, entries) in batch.streams {
            for e in entries {
                out.push((labels.clone(), e.line, e.fields));
            }
        }
        outbox.ack(id).unwrap();
    }
    out
}

pub fn field<'a>(fields: &'a [(String, String)], k: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}
