//! Self-metrics of the database: a plain snapshot struct, and the same figures written into a metric sink for
//! `/metrics`.

use std::sync::atomic::Ordering;

use vigil_model::{Desc, MetricSink};

use super::Db;

/// A snapshot of the database's counters and sizes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DbStats {
    pub head_series: u64,
    pub head_bytes: u64,
    pub head_min_t: Option<i64>,
    pub head_max_t: Option<i64>,
    /// Bytes of closed head chunks in `chunks_head/` files (not on the heap).
    pub head_chunk_file_bytes: u64,
    /// Failed writes of `chunks_head/` files; the chunks concerned stay on the heap.
    pub head_chunk_file_errors: u64,
    pub samples_appended: u64,
    pub out_of_order: u64,
    pub too_old: u64,
    pub duplicate: u64,
    pub series_created: u64,
    pub series_removed: u64,
    pub wal_fsyncs: u64,
    pub wal_fsync_seconds: f64,
    pub wal_bytes_written: u64,
    pub wal_bytes: u64,
    pub checkpoints: u64,
    pub head_persists: u64,
    pub compactions: u64,
    pub compaction_failures: u64,
    pub downsamplings: u64,
    pub blocks: u64,
    pub blocks_bytes: u64,
    pub blocks_deleted: u64,
    pub quarantined: u64,
}

impl Db {
    /// The database's counters and sizes now.
    pub fn stats(&self) -> DbStats {
        let c = &self.counters;
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let (head_series, head_bytes, head_min_t, head_max_t, spill) = {
            let head = self.head();
            (head.num_series() as u64, head.heap_bytes() as u64, head.min_t(), head.max_t(), head.spill_stats())
        };
        let wal = self.wal.stats();
        let blocks = self.blocks();
        DbStats {
            head_series,
            head_bytes,
            head_min_t,
            head_max_t,
            head_chunk_file_bytes: spill.file_bytes,
            head_chunk_file_errors: spill.errors,
            samples_appended: load(&c.appended),
            out_of_order: load(&c.out_of_order),
            too_old: load(&c.too_old),
            duplicate: load(&c.duplicate),
            series_created: load(&c.series_created),
            series_removed: load(&c.series_removed),
            wal_fsyncs: wal.fsyncs,
            wal_fsync_seconds: wal.fsync_time.as_secs_f64(),
            wal_bytes_written: wal.bytes_written,
            wal_bytes: self.wal_bytes(),
            checkpoints: load(&c.checkpoints),
            head_persists: load(&c.head_persists),
            compactions: load(&c.compactions),
            compaction_failures: load(&c.compaction_failures),
            downsamplings: load(&c.downsamplings),
            blocks: blocks.len() as u64,
            blocks_bytes: blocks.iter().map(|b| b.size_bytes()).sum(),
            blocks_deleted: load(&c.blocks_deleted),
            quarantined: load(&c.quarantined),
        }
    }

    /// Writes the self-metrics (`vigil_tsdb_*`) into `sink`.
    pub fn collect_metrics(&self, sink: &mut dyn MetricSink) {
        let s = self.stats();
        let gauge = |sink: &mut dyn MetricSink, name, help, v: f64| sink.sample(&Desc::gauge(name, help), &[], v);
        let counter =
            |sink: &mut dyn MetricSink, name, help, v: u64| sink.sample(&Desc::counter(name, help), &[], v as f64);
        gauge(sink, "vigil_tsdb_head_series", "Series in the head.", s.head_series as f64);
        gauge(
            sink,
            "vigil_tsdb_head_bytes",
            "Approximate heap bytes of the head (index and chunks).",
            s.head_bytes as f64,
        );
        gauge(
            sink,
            "vigil_tsdb_head_chunk_file_bytes",
            "Bytes of closed head chunks in chunks_head/ files.",
            s.head_chunk_file_bytes as f64,
        );
        counter(
            sink,
            "vigil_tsdb_head_chunk_file_errors_total",
            "Failed writes of chunks_head/ files; those chunks stay on the heap.",
            s.head_chunk_file_errors,
        );
        counter(sink, "vigil_tsdb_head_samples_appended_total", "Samples appended.", s.samples_appended);
        let rejected = Desc::counter("vigil_tsdb_samples_rejected_total", "Samples refused, by reason.");
        for (reason, n) in [("out_of_order", s.out_of_order), ("too_old", s.too_old), ("duplicate", s.duplicate)] {
            sink.sample(&rejected, &[("reason", reason)], n as f64);
        }
        counter(sink, "vigil_tsdb_head_series_created_total", "Series created in the head.", s.series_created);
        counter(sink, "vigil_tsdb_head_series_removed_total", "Series removed from the head.", s.series_removed);
        counter(sink, "vigil_tsdb_wal_fsyncs_total", "Fsyncs of WAL segments.", s.wal_fsyncs);
        sink.sample(
            &Desc::counter("vigil_tsdb_wal_fsync_seconds_total", "Time spent in WAL fsyncs."),
            &[],
            s.wal_fsync_seconds,
        );
        counter(sink, "vigil_tsdb_wal_written_bytes_total", "Bytes written to the WAL.", s.wal_bytes_written);
        gauge(sink, "vigil_tsdb_wal_bytes", "Bytes of the WAL on disk.", s.wal_bytes as f64);
        counter(sink, "vigil_tsdb_checkpoints_total", "WAL checkpoints written.", s.checkpoints);
        counter(sink, "vigil_tsdb_head_persists_total", "Blocks written from the head.", s.head_persists);
        counter(sink, "vigil_tsdb_compactions_total", "Blocks written by compaction.", s.compactions);
        counter(sink, "vigil_tsdb_compactions_failed_total", "Compactions that failed.", s.compaction_failures);
        counter(sink, "vigil_tsdb_downsamplings_total", "Downsampled blocks written.", s.downsamplings);
        gauge(sink, "vigil_tsdb_blocks", "Blocks in service.", s.blocks as f64);
        gauge(sink, "vigil_tsdb_blocks_bytes", "Bytes of the blocks on disk.", s.blocks_bytes as f64);
        counter(sink, "vigil_tsdb_blocks_deleted_total", "Blocks deleted by retention.", s.blocks_deleted);
        counter(sink, "vigil_tsdb_blocks_quarantined_total", "Damaged blocks taken out of service.", s.quarantined);
    }
}
