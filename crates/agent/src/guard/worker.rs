//! The guard's helper threads (fleet, threat intel): started with a name, and stopped without letting a request
//! in flight (up to its deadline) hold up the agent's shutdown.

use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a stop waits for a helper thread to finish what it is doing.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// A running helper thread.
pub(crate) struct Worker {
    name: &'static str,
    thread: Option<JoinHandle<()>>,
    done: Receiver<()>,
}

impl Worker {
    pub fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> std::io::Result<Worker> {
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            f();
            let _ = done_tx.send(());
        })?;
        Ok(Worker { name, thread: Some(thread), done })
    }

    /// Waits for the thread, once told to stop, for a short while; a thread still busy (a request waiting for
    /// its deadline) is left to end on its own, which it does without touching anything the guard still uses.
    pub fn join(&mut self) {
        let Some(t) = self.thread.take() else { return };
        match self.done.recv_timeout(STOP_WAIT) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = t.join();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!(thread = self.name, "not waiting longer for the thread to stop");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_does_not_hold_up_the_stop() {
        let mut quick = Worker::spawn("quick", || {}).unwrap();
        quick.join();
        let (tx, rx) = mpsc::channel::<()>();
        let mut busy = Worker::spawn("busy", move || {
            let _ = rx.recv_timeout(Duration::from_secs(30));
        })
        .unwrap();
        let start = std::time::Instant::now();
        busy.join();
        assert!(start.elapsed() < Duration::from_secs(10));
        drop(tx);
    }
}
