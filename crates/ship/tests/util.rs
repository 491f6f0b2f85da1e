//! Test helpers: waiting on a condition with a deadline, a tailer driver, line numbers.

use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant},
};

use vigil_ship::{Positions, TailConfig, TailLine, Tailer};

/// Calls `step` until it returns true; panics after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut step: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !step() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn config(dir: &Path, globs: &[&str]) -> TailConfig {
    TailConfig {
        include: globs.iter().map(|g| dir.join(g).to_string_lossy().into_owned()).collect(),
        rotate_wait: Duration::from_millis(300),
        partial_timeout: Duration::from_secs(60),
        ..TailConfig::default()
    }
}

pub fn tailer(cfg: TailConfig, positions: &Positions) -> Tailer {
    Tailer::new(cfg, positions).unwrap()
}

/// How often each numbered line was seen.
#[derive(Default)]
pub struct Seen(pub BTreeMap<u64, u32>);

impl Seen {
    pub fn add(&mut self, lines: &[TailLine]) {
        for l in lines {
            let n: u64 = l.entry.line.parse().unwrap_or_else(|_| panic!("unexpected line {:?}", l.entry.line));
            *self.0.entry(n).or_default() += 1;
        }
    }

    pub fn has_all(&self, n: u64) -> bool {
        (0..n).all(|i| self.0.contains_key(&i))
    }

    /// The first few missing numbers below `n`, and how many are missing.
    pub fn missing(&self, n: u64) -> (Vec<u64>, usize) {
        let all: Vec<u64> = (0..n).filter(|i| !self.0.contains_key(i)).collect();
        (all.iter().take(20).copied().collect(), all.len())
    }

    pub fn duplicates(&self) -> usize {
        self.0.values().filter(|&&c| c > 1).count()
    }
}

pub fn write_lines(path: &Path, range: std::ops::Range<u64>) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    let mut s = String::new();
    for i in range {
        s.push_str(&format!("{i}\n"));
    }
    f.write_all(s.as_bytes()).unwrap();
}
