//! What happens to a source's lines before batching: multi-line grouping (per file), the LogQL pipeline (a
//! filtered-out record only moves the source's position), and turning extracted labels into fields, or into
//! stream labels for `labels_from_fields`, whose distinct values are capped.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use vigil_logql::{LabelsBuilder, Pipeline};
use vigil_model::log::LogEntry;
use vigil_model::Labels;
use vigil_ship::{BatchBuilder, FileId, Multiline, MultilineConfig, Position};

use super::metrics::LogMetrics;

/// Distinct values a promoted label may take; later values become [`OTHER`].
pub const MAX_PROMOTED_VALUES: usize = 64;
/// The value of a promoted label beyond [`MAX_PROMOTED_VALUES`].
pub const OTHER: &str = "__other__";

/// Which multi-line buffer a line goes to: one per file, or per stream label set.
#[derive(Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    File(FileId),
    Stream(Labels),
}

/// The processing of one source.
pub(crate) struct Processor {
    multiline: Option<MultilineConfig>,
    groups: HashMap<GroupKey, (Labels, Multiline<Position>)>,
    pipeline: Option<Pipeline>,
    promote: Vec<String>,
    promoted: HashMap<String, HashSet<String>>,
    records: Vec<(LogEntry, Position)>,
    /// Lines dropped by multi-line groups already forgotten.
    dropped_before: u64,
}

impl Processor {
    pub fn new(multiline: Option<MultilineConfig>, pipeline: Option<Pipeline>, promote: Vec<String>) -> Processor {
        Processor {
            multiline,
            groups: HashMap::new(),
            pipeline,
            promote,
            promoted: HashMap::new(),
            records: Vec::new(),
            dropped_before: 0,
        }
    }

    /// Takes one line read from the source; complete records go through the pipeline into `out`.
    pub fn push(
        &mut self,
        labels: &Labels,
        entry: LogEntry,
        pos: Position,
        now: Instant,
        out: &mut BatchBuilder,
        m: &LogMetrics,
    ) {
        let Some(cfg) = &self.multiline else {
            self.emit(labels, entry, pos, out, m);
            return;
        };
        let key = match &pos {
            Position::File(f) => GroupKey::File(f.id),
            Position::Journal(_) => GroupKey::Stream(labels.clone()),
        };
        let (_, group) = self.groups.entry(key).or_insert_with(|| (labels.clone(), Multiline::new(cfg.clone())));
        let mut records = std::mem::take(&mut self.records);
        group.push(entry, pos, now, &mut records);
        for (e, p) in records.drain(..) {
            self.emit(labels, e, p, out, m);
        }
        self.records = records;
    }

    /// Ends the multi-line records that waited `max_wait` for a next line.
    pub fn flush_due(&mut self, now: Instant, out: &mut BatchBuilder, m: &LogMetrics) {
        let mut due = Vec::new();
        for (labels, group) in self.groups.values_mut() {
            if let Some(r) = group.flush_due(now) {
                due.push((labels.clone(), r));
            }
        }
        for (labels, (e, p)) in due {
            self.emit(&labels, e, p, out, m);
        }
        // Files closed for good leave idle groups behind: forget them.
        let dropped = &mut self.dropped_before;
        self.groups.retain(|_, (_, g)| {
            if !g.is_pending() {
                *dropped += g.dropped_lines();
            }
            g.is_pending()
        });
    }

    /// Lines left out of over-long records so far.
    pub fn multiline_dropped(&self) -> u64 {
        self.dropped_before + self.groups.values().map(|(_, g)| g.dropped_lines()).sum::<u64>()
    }

    fn emit(&mut self, labels: &Labels, mut entry: LogEntry, pos: Position, out: &mut BatchBuilder, m: &LogMetrics) {
        let Some(pipeline) = &self.pipeline else {
            out.add(labels, entry, pos);
            return;
        };
        let mut b = LabelsBuilder::new(labels.clone());
        let line = match pipeline.process(entry.ts_ns, &entry.line, &mut b) {
            None => {
                m.pipeline_dropped.fetch_add(1, Relaxed);
                out.set_position(pos);
                return;
            }
            Some(Cow::Owned(s)) => Some(s),
            Some(Cow::Borrowed(_)) => None,
        };
        if let Some(line) = line {
            entry.line = line;
        }
        if b.unchanged() {
            out.add(labels, entry, pos);
            return;
        }
        let mut stream = labels.clone();
        stream.retain(|l| b.get(&l.name).is_some());
        let mut stream_sets = Vec::new();
        b.for_each(|n, v| {
            if v.is_empty() || labels.get(n) == Some(v) {
                return;
            }
            if labels.get(n).is_some() || self.promote.iter().any(|p| p == n) {
                stream_sets.push((n.to_string(), v.to_string()));
            } else {
                entry.fields.push((n.to_string(), v.to_string()));
            }
        });
        for (n, v) in stream_sets {
            let seen = self.promoted.entry(n.clone()).or_default();
            let v = if seen.contains(&v) {
                v
            } else if seen.len() < MAX_PROMOTED_VALUES {
                seen.insert(v.clone());
                v
            } else {
                m.overflow.fetch_add(1, Relaxed);
                OTHER.to_string()
            };
            stream.set(&n, &v);
        }
        out.add(&stream, entry, pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(n: u64) -> Position {
        Position::Journal(n.to_string())
    }

    fn run(p: &mut Processor, lines: &[&str]) -> vigil_ship::Batch {
        let labels = Labels::from_pairs([("job", "app")]).unwrap();
        let (mut out, m) = (BatchBuilder::default(), LogMetrics::default());
        for (i, l) in lines.iter().enumerate() {
            let e = LogEntry { ts_ns: i as i64, line: l.to_string(), fields: Vec::new() };
            p.push(&labels, e, pos(i as u64), Instant::now(), &mut out, &m);
        }
        out.take()
    }

    #[test]
    fn extracted_labels_become_fields_or_capped_stream_labels() {
        let pipeline = vigil_logql::parse_pipeline(r#"| logfmt | level != "debug""#).unwrap();
        let mut p = Processor::new(None, Some(pipeline), vec!["level".into()]);
        let mut lines = vec!["level=debug msg=no".to_string(), "level=info msg=yes ip=10.0.0.1".to_string()];
        for i in 0..MAX_PROMOTED_VALUES + 1 {
            lines.push(format!("level=l{i} msg=m"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let batch = run(&mut p, &refs);
        assert_eq!(batch.lines(), lines.len() - 1);
        let (labels, entries) = &batch.streams[0];
        assert_eq!(labels.get("level"), Some("info"));
        assert_eq!(entries[0].fields, [("msg".into(), "yes".into()), ("ip".into(), "10.0.0.1".into())]);
        let other = batch.streams.iter().find(|(l, _)| l.get("level") == Some(OTHER)).unwrap();
        assert_eq!(other.1.len(), 2, "info plus 63 values fit; the last two overflow");
        assert_eq!(batch.positions, [pos(lines.len() as u64 - 1)]);
    }

    #[test]
    fn multiline_records_carry_their_last_lines_position() {
        let ml = MultilineConfig::new(regex::Regex::new(r"^\d").unwrap());
        let mut p = Processor::new(Some(ml), None, Vec::new());
        let batch = run(&mut p, &["1 start", "  more", "2 next", "  tail"]);
        assert_eq!(batch.streams[0].1.len(), 1);
        assert_eq!(batch.streams[0].1[0].line, "1 start\n  more");
        assert_eq!(batch.positions, [pos(1)], "the open record's lines commit nothing");
    }
}
