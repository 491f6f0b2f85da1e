//! A driver for real-crash tests: starts a child test of this binary that prints `ack N done` for each batch it
//! got acknowledged, kills it with SIGKILL at a random point, and lets the caller check what survived.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A small deterministic random number generator (SplitMix64).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// How to run the child and when to kill it.
pub struct KillLoop<'a> {
    /// The child test's full name, e.g. `wal::sigkill_child_helper`.
    pub child_test: &'a str,
    /// The environment variable that tells the child where to work (and that it is the child).
    pub dir_env: &'a str,
    pub dir: &'a Path,
    pub seed: u64,
    /// The child is killed after a random number of acknowledgements from 1 to this.
    pub max_acks: u64,
    /// ...plus a random pause of up to this many microseconds.
    pub max_pause_us: u64,
}

/// The number of kills: 50, or `VIGIL_CRASH_ITERATIONS` for a long-running mode.
pub fn iterations() -> u64 {
    std::env::var("VIGIL_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50)
}

impl KillLoop<'_> {
    /// Runs `iterations` kills; after each, `check(iteration, acknowledged so far)` inspects what survived.
    /// Returns every acknowledged batch.
    pub fn run(&self, iterations: u64, check: &mut dyn FnMut(u64, &BTreeSet<u64>)) -> BTreeSet<u64> {
        let mut rng = SplitMix(self.seed);
        let mut acked = BTreeSet::new();
        let started = Instant::now();
        for iteration in 0..iterations {
            self.kill_once(iteration, &mut rng, &mut acked);
            check(iteration, &acked);
        }
        eprintln!(
            "{}: {iterations} kills, {} acknowledged batches, {:?}",
            self.child_test,
            acked.len(),
            started.elapsed()
        );
        acked
    }

    fn kill_once(&self, iteration: u64, rng: &mut SplitMix, acked: &mut BTreeSet<u64>) {
        let kill_after = 1 + rng.next() % self.max_acks;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", self.child_test, "--nocapture", "--test-threads", "1"])
            .env(self.dir_env, self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut seen, mut killed) = (0, false);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let Some(batch) = line.strip_prefix("ack ").and_then(|l| l.strip_suffix(" done")) else {
                        continue;
                    };
                    acked.insert(batch.parse::<u64>().unwrap());
                    seen += 1;
                    if seen == kill_after {
                        // Not a wait for a condition: a random pause moves the kill to a random point of
                        // whatever the child does next.
                        std::thread::sleep(Duration::from_micros(rng.next() % self.max_pause_us));
                        child.kill().unwrap();
                        killed = true;
                    }
                }
                // The child is gone and every line it printed has been read.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("iteration {iteration}: the child printed nothing for 30 s");
                }
            }
        }
        let status = child.wait().unwrap();
        reader.join().unwrap();
        if !killed {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("iteration {iteration}: the child exited on its own ({status}): {stderr}");
        }
        assert_eq!(status.signal(), Some(9), "iteration {iteration}");
    }
}
