//! The log store's self-metrics, `vigil_logstore_*`.

use vigil_logstore::LogStore;
use vigil_model::{Desc, MetricSink};

/// Writes the log store's counters and gauges into `sink`.
pub fn collect(logs: &LogStore, sink: &mut dyn MetricSink) {
    let m = logs.metrics();
    let counters: [(&str, &str, u64); 8] = [
        ("vigil_logstore_appended_lines_total", "Log lines stored.", m.appended_lines),
        ("vigil_logstore_appended_bytes_total", "Bytes of log lines stored.", m.appended_bytes),
        (
            "vigil_logstore_rejected_lines_total",
            "Log lines refused (too long, too far in the future...).",
            m.rejected_lines,
        ),
        ("vigil_logstore_streams_created_total", "Log streams created.", m.streams_created),
        ("vigil_logstore_parts_written_total", "Immutable parts written from the head or by merges.", m.parts_written),
        ("vigil_logstore_blocks_read_total", "Blocks decoded by queries.", m.blocks_read),
        (
            "vigil_logstore_blocks_skipped_bloom_total",
            "Blocks queries skipped unread because their bloom filter lacked a searched token.",
            m.blocks_skipped_bloom,
        ),
        ("vigil_logstore_partitions_deleted_total", "Time partitions removed by retention.", m.partitions_deleted),
    ];
    for (name, help, value) in counters {
        sink.sample(&Desc::counter(name, help), &[], value as f64);
    }
    let gauges: [(&str, &str, u64); 5] = [
        ("vigil_logstore_streams", "Log streams known.", m.streams),
        ("vigil_logstore_parts", "Immutable parts on disk.", m.parts),
        ("vigil_logstore_disk_bytes", "Bytes the log store's parts take on disk.", m.disk_bytes),
        ("vigil_logstore_wal_bytes", "Bytes of the log store's write-ahead log.", m.wal_bytes),
        ("vigil_logstore_head_lines", "Log lines in memory, not yet in a part.", m.head_lines),
    ];
    for (name, help, value) in gauges {
        sink.sample(&Desc::gauge(name, help), &[], value as f64);
    }
}
