//! The fleet's metrics: bans applied from the fleet list, its generation, polls and reports by result.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use vigil_model::{Desc, MetricSink};

const BANS: Desc<'static> = Desc::gauge("vigil_guard_fleet_bans", "Bans of the fleet-wide list applied here.");
const GENERATION: Desc<'static> =
    Desc::gauge("vigil_guard_fleet_generation", "Generation of the fleet-wide ban list applied here.");
const POLLS: Desc<'static> =
    Desc::counter("vigil_guard_fleet_polls_total", "Polls of the server's fleet-wide ban list, by result.");
const REPORTS: Desc<'static> =
    Desc::counter("vigil_guard_fleet_reports_total", "Local bans reported to the server, by result.");

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PollResult {
    Ok,
    Unchanged,
    Error,
}

/// How a report ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReportResult {
    Ok,
    /// A 4xx: the server will never take it (an allow-listed address...); dropped.
    Rejected,
    /// Tried again later.
    Error,
}

#[derive(Default)]
pub struct FleetMetrics {
    bans: AtomicU64,
    generation: AtomicI64,
    polls: [AtomicU64; 3],
    reports: [AtomicU64; 3],
}

impl FleetMetrics {
    pub(crate) fn set_applied(&self, bans: usize, generation: Option<i64>) {
        self.bans.store(bans as u64, Relaxed);
        self.generation.store(generation.unwrap_or(0), Relaxed);
    }

    pub(crate) fn poll(&self, r: PollResult) {
        self.polls[r as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn report(&self, r: ReportResult) {
        self.reports[r as usize].fetch_add(1, Relaxed);
    }

    pub fn collect(&self, out: &mut dyn MetricSink) {
        out.sample(&BANS, &[], self.bans.load(Relaxed) as f64);
        out.sample(&GENERATION, &[], self.generation.load(Relaxed) as f64);
        for (i, r) in ["ok", "unchanged", "error"].into_iter().enumerate() {
            out.sample(&POLLS, &[("result", r)], self.polls[i].load(Relaxed) as f64);
        }
        for (i, r) in ["ok", "rejected", "error"].into_iter().enumerate() {
            out.sample(&REPORTS, &[("result", r)], self.reports[i].load(Relaxed) as f64);
        }
    }
}
