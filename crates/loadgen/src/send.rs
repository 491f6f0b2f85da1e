//! Posting one request body with retries and exponential backoff, and what became of it.

use std::thread;
use std::time::Duration;

use crate::http::Connection;

/// When to try a request again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after a 5xx, a 429 or a connection error.
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered 2xx.
    Accepted,
    /// Answered 4xx other than 429: the server will never take it.
    Rejected,
    /// Still failing after every retry.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub outcome: Outcome,
    pub retries: u64,
    /// The last rejection or failure, also of attempts that a retry then got through.
    pub last_error: Option<String>,
}

/// POSTs `body` until it is accepted, rejected or out of retries.
pub fn post(conn: &mut Connection, headers: &[(&str, &str)], body: &[u8], policy: &RetryPolicy) -> Sent {
    let mut sent = Sent { outcome: Outcome::Failed, retries: 0, last_error: None };
    let mut backoff = policy.min_backoff;
    for attempt in 0..=policy.max_retries {
        if attempt > 0 {
            sent.retries += 1;
            thread::sleep(backoff);
            backoff = (backoff * 2).min(policy.max_backoff);
        }
        match conn.post(headers, body) {
            Ok(r) if (200..300).contains(&r.status) => {
                sent.outcome = Outcome::Accepted;
                return sent;
            }
            Ok(r) => {
                sent.last_error = Some(format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body).trim()));
                if r.status != 429 && r.status < 500 {
                    sent.outcome = Outcome::Rejected;
                    return sent;
                }
            }
            Err(e) => sent.last_error = Some(e.to_string()),
        }
    }
    sent
}
