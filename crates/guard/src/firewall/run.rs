//! Running a firewall program: argv only (never a shell), optional stdin, output capped, a deadline.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::FirewallError;

/// How long a firewall program may run before it is killed.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);
/// Bytes of stdout kept (a listing of a large set); the rest is read and dropped.
pub(crate) const MAX_STDOUT: usize = 16 << 20;
/// Bytes of stderr kept for an error message.
pub(crate) const MAX_STDERR: usize = 64 << 10;
/// Characters of stderr put into a [`FirewallError`].
const MAX_MESSAGE: usize = 1024;

/// What a program run produced.
#[derive(Debug)]
pub(crate) struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The error for a run that did not exit 0, naming `action`.
    pub(crate) fn error(&self, action: &str) -> FirewallError {
        let trimmed = self.stderr.trim();
        let message = if trimmed.is_empty() {
            match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".to_string(),
            }
        } else {
            cap_message(trimmed)
        };
        FirewallError { action: action.to_string(), message }
    }

    /// `self` when it exited 0, else its error.
    pub(crate) fn ok(self, action: &str) -> Result<Output, FirewallError> {
        if self.code == Some(0) {
            Ok(self)
        } else {
            Err(self.error(action))
        }
    }
}

/// Runs `argv` with `stdin` fed to it (or `/dev/null`), killing it after `deadline`. Errors only when it
/// cannot be started or waited for, or ran out of time; a non-zero exit is in [`Output::code`].
pub(crate) fn run(
    argv: &[String],
    stdin: Option<&str>,
    action: &str,
    deadline: Duration,
) -> Result<Output, FirewallError> {
    let fail = |message: String| FirewallError { action: action.to_string(), message };
    let (program, args) = argv.split_first().ok_or_else(|| fail("empty command".to_string()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program:?}: {e}")))?;
    // Both pipes are drained on their own threads, so a chatty program never blocks on a full pipe.
    let out = child.stdout.take().map(|p| std::thread::spawn(move || read_capped(p, MAX_STDOUT)));
    let err = child.stderr.take().map(|p| std::thread::spawn(move || read_capped(p, MAX_STDERR)));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A program that exits without reading its input closes the pipe; its exit status says why.
        let _ = pipe.write_all(text.as_bytes());
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("{program:?} did not finish within {deadline:?} and was killed")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(fail(format!("cannot wait for {program:?}: {e}"))),
        }
    };
    let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    };
    Ok(Output { code: status.code(), stdout: join(out), stderr: join(err) })
}

/// Reads `r` to its end, keeping the first `cap` bytes.
fn read_capped(mut r: impl Read, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// The first [`MAX_MESSAGE`] characters of `s`, marked when cut.
fn cap_message(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn feeds_stdin_and_collects_output() {
        let out = run(&argv(&["sh", "-c", "cat; echo oops >&2; exit 3"]), Some("hello\n"), "t", DEADLINE).unwrap();
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Some(3), "hello\n", "oops\n"));
        assert_eq!(out.error("nft -f -").to_string(), "nft -f -: oops");
    }

    #[test]
    fn empty_stderr_names_the_exit_status() {
        let out = run(&argv(&["false"]), None, "t", DEADLINE).unwrap();
        assert_eq!(out.ok("ipset add").unwrap_err().to_string(), "ipset add: exit status 1");
    }

    #[test]
    fn stderr_is_capped() {
        let out = run(&argv(&["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x >&2; exit 1"]), None, "t", DEADLINE)
            .unwrap();
        assert_eq!(out.stderr.len(), MAX_STDERR);
        let msg = out.error("t").message;
        assert!(msg.len() < 1100 && msg.ends_with("... (65536 bytes)"), "{msg}");
    }

    #[test]
    fn missing_program_and_deadline_are_errors() {
        let e = run(&argv(&["/nonexistent/nft"]), None, "nft list", DEADLINE).unwrap_err();
        assert!(e.to_string().starts_with("nft list: cannot run \"/nonexistent/nft\": "), "{e}");
        let started = Instant::now();
        let e = run(&argv(&["sleep", "30"]), None, "t", Duration::from_millis(100)).unwrap_err();
        assert!(e.message.contains("did not finish"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
