//! What happened to recent notifications, newest last, kept in a bounded ring for an API to list.

use std::collections::VecDeque;

use serde::Serialize;
use vigil_alerting::Timestamp;

/// One notification's fate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// When the outcome was known.
    pub at: Timestamp,
    pub notification_id: u64,
    pub receiver: String,
    pub integration: &'static str,
    pub index: usize,
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// `delivered`, `skipped` or `failed`.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub attempts: u32,
}

/// The last `capacity` entries.
#[derive(Debug)]
pub struct History {
    entries: VecDeque<HistoryEntry>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History { entries: VecDeque::with_capacity(capacity.min(1024)), capacity }
    }

    pub fn push(&mut self, e: HistoryEntry) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }

    pub fn list(&self) -> Vec<HistoryEntry> {
        self.entries.iter().cloned().collect()
    }
}
