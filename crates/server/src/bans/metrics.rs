//! The fleet ban list's self-metrics: `vigil_fleet_bans_active`, `vigil_fleet_bans_added_total{origin_kind}`
//! and `vigil_fleet_bans_removed_total{reason}`.

use std::sync::atomic::Ordering;

use vigil_model::{Desc, MetricSink};

use super::FleetBans;

impl FleetBans {
    /// Writes the ban list's metrics into `sink`.
    pub fn collect_metrics(&self, sink: &mut dyn MetricSink) {
        let c = &self.counters;
        let active = Desc::gauge("vigil_fleet_bans_active", "Bans in the fleet-wide ban list.");
        sink.sample(&active, &[], self.len() as f64);
        let added = Desc::counter(
            "vigil_fleet_bans_added_total",
            "Bans added to or extended in the fleet-wide list, by who reported them.",
        );
        sink.sample(&added, &[("origin_kind", "agent")], c.added_agent.load(Ordering::Relaxed) as f64);
        sink.sample(&added, &[("origin_kind", "api")], c.added_api.load(Ordering::Relaxed) as f64);
        let removed = Desc::counter("vigil_fleet_bans_removed_total", "Bans removed from the fleet-wide list, by why.");
        sink.sample(&removed, &[("reason", "expired")], c.removed_expired.load(Ordering::Relaxed) as f64);
        sink.sample(&removed, &[("reason", "api")], c.removed_api.load(Ordering::Relaxed) as f64);
    }
}
