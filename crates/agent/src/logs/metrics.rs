//! The log shipper's self-metrics (`vigil_agent_log_*`): counters shared by the reader and sender threads, and
//! the outbox's gauges read at each scrape.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use vigil_model::{Desc, MetricSink};
use vigil_ship::Outbox;

const LINES_READ: Desc<'static> =
    Desc::counter("vigil_agent_log_lines_read_total", "Log lines read from the sources, by source kind.");
const PIPELINE_DROPPED: Desc<'static> =
    Desc::counter("vigil_agent_log_pipeline_dropped_lines_total", "Log records the pipelines' filters dropped.");
const MULTILINE_DROPPED: Desc<'static> = Desc::counter(
    "vigil_agent_log_multiline_dropped_lines_total",
    "Lines left out of multi-line records that reached their size limit.",
);
const SENT_BATCHES: Desc<'static> =
    Desc::counter("vigil_agent_log_sent_batches_total", "Batches the log receiver acknowledged.");
const SENT_LINES: Desc<'static> =
    Desc::counter("vigil_agent_log_sent_lines_total", "Log records in batches the receiver acknowledged.");
const SENT_BYTES: Desc<'static> =
    Desc::counter("vigil_agent_log_sent_bytes_total", "Compressed push bytes the receiver acknowledged.");
const SEND_FAILURES: Desc<'static> =
    Desc::counter("vigil_agent_log_send_failures_total", "Failed push attempts, by reason.");
const RETRIES: Desc<'static> = Desc::counter("vigil_agent_log_send_retries_total", "Pushes retried after a failure.");
const REJECTED_BATCHES: Desc<'static> = Desc::counter(
    "vigil_agent_log_rejected_batches_total",
    "Batches the receiver refused with a 4xx other than 429: dropped, since sending them again cannot succeed.",
);
const REJECTED_LINES: Desc<'static> =
    Desc::counter("vigil_agent_log_rejected_lines_total", "Log records in batches the receiver refused.");
const OUTBOX_BYTES: Desc<'static> =
    Desc::gauge("vigil_agent_log_outbox_bytes", "Bytes of the outbox's segment files on disk.");
const OUTBOX_BATCHES: Desc<'static> =
    Desc::gauge("vigil_agent_log_outbox_pending_batches", "Batches in the outbox not acknowledged yet.");
const OUTBOX_LINES: Desc<'static> =
    Desc::gauge("vigil_agent_log_outbox_pending_lines", "Log records in the outbox not acknowledged yet.");
const OUTBOX_DROPPED: Desc<'static> = Desc::counter(
    "vigil_agent_log_outbox_dropped_lines_total",
    "Log records dropped unsent because the outbox reached outbox_max_bytes.",
);
const OUTBOX_ERRORS: Desc<'static> =
    Desc::counter("vigil_agent_log_outbox_errors_total", "Failed outbox writes (each retried after reopening).");
const POSITIONS_ERRORS: Desc<'static> =
    Desc::counter("vigil_agent_log_positions_commit_errors_total", "Failed commits of the positions file.");
const OVERFLOW: Desc<'static> = Desc::counter(
    "vigil_agent_log_promoted_label_overflow_total",
    "Values of labels_from_fields replaced by __other__ because the label had too many distinct values.",
);

/// Why a push failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    Connect,
    Timeout,
    Http,
    Status5xx,
    Status429,
    Status4xx,
    Auth,
}

impl FailReason {
    const ALL: [FailReason; 7] = [
        FailReason::Connect,
        FailReason::Timeout,
        FailReason::Http,
        FailReason::Status5xx,
        FailReason::Status429,
        FailReason::Status4xx,
        FailReason::Auth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Connect => "connect",
            FailReason::Timeout => "timeout",
            FailReason::Http => "http",
            FailReason::Status5xx => "5xx",
            FailReason::Status429 => "429",
            FailReason::Status4xx => "4xx",
            FailReason::Auth => "auth",
        }
    }
}

/// Counters of the log shipper.
#[derive(Default)]
pub struct LogMetrics {
    pub(crate) file_lines: AtomicU64,
    pub(crate) journald_lines: AtomicU64,
    pub(crate) pipeline_dropped: AtomicU64,
    pub(crate) multiline_dropped: AtomicU64,
    pub(crate) sent_batches: AtomicU64,
    pub(crate) sent_lines: AtomicU64,
    pub(crate) sent_bytes: AtomicU64,
    failures: [AtomicU64; 7],
    pub(crate) retries: AtomicU64,
    pub(crate) rejected_batches: AtomicU64,
    pub(crate) rejected_lines: AtomicU64,
    pub(crate) outbox_errors: AtomicU64,
    pub(crate) positions_errors: AtomicU64,
    pub(crate) overflow: AtomicU64,
    outbox: Mutex<Option<Arc<Mutex<Outbox>>>>,
}

impl LogMetrics {
    pub(crate) fn fail(&self, reason: FailReason) {
        let i = FailReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.failures[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn set_outbox(&self, outbox: Arc<Mutex<Outbox>>) {
        *self.outbox.lock().unwrap_or_else(PoisonError::into_inner) = Some(outbox);
    }

    /// The value of a counter, for tests.
    pub fn failures(&self, reason: FailReason) -> u64 {
        let i = FailReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.failures[i].load(Relaxed)
    }

    pub fn rejected_batches(&self) -> u64 {
        self.rejected_batches.load(Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Relaxed)
    }

    /// Writes every metric; may block briefly on the outbox's lock (call it off async worker threads).
    pub fn collect(&self, out: &mut dyn MetricSink) {
        let v = |a: &AtomicU64| a.load(Relaxed) as f64;
        out.sample(&LINES_READ, &[("source", "file")], v(&self.file_lines));
        out.sample(&LINES_READ, &[("source", "journald")], v(&self.journald_lines));
        out.sample(&PIPELINE_DROPPED, &[], v(&self.pipeline_dropped));
        out.sample(&MULTILINE_DROPPED, &[], v(&self.multiline_dropped));
        out.sample(&SENT_BATCHES, &[], v(&self.sent_batches));
        out.sample(&SENT_LINES, &[], v(&self.sent_lines));
        out.sample(&SENT_BYTES, &[], v(&self.sent_bytes));
        for (r, a) in FailReason::ALL.iter().zip(&self.failures) {
            out.sample(&SEND_FAILURES, &[("reason", r.as_str())], v(a));
        }
        out.sample(&RETRIES, &[], v(&self.retries));
        out.sample(&REJECTED_BATCHES, &[], v(&self.rejected_batches));
        out.sample(&REJECTED_LINES, &[], v(&self.rejected_lines));
        out.sample(&OUTBOX_ERRORS, &[], v(&self.outbox_errors));
        out.sample(&POSITIONS_ERRORS, &[], v(&self.positions_errors));
        out.sample(&OVERFLOW, &[], v(&self.overflow));
        let outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(outbox) = outbox {
            let stats = outbox.lock().unwrap_or_else(PoisonError::into_inner).stats();
            out.sample(&OUTBOX_BYTES, &[], stats.disk_bytes as f64);
            out.sample(&OUTBOX_BATCHES, &[], stats.pending_batches as f64);
            out.sample(&OUTBOX_LINES, &[], stats.pending_lines as f64);
            out.sample(&OUTBOX_DROPPED, &[], stats.dropped_lines as f64);
        }
    }
}
