//! Questions about streams rather than records: which streams match, their label names and values, and
//! Loki's index statistics.

use std::collections::BTreeSet;
use std::sync::Arc;

use vigil_model::{Labels, Matcher};

use super::LogStore;
use crate::error::Error;
use crate::head::Head;
use crate::part::Part;

/// A stream: its id (for [`LogStore::read`]) and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub id: u64,
    pub labels: Labels,
}

/// Loki's `index/stats`: what a query over the matched streams would touch. Part blocks count whole when they
/// overlap the range (as Loki counts chunks); head records count exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub streams: u64,
    pub chunks: u64,
    pub entries: u64,
    /// Line bytes, uncompressed.
    pub bytes: u64,
}

/// What the stream questions need, taken under the lock.
struct Snapshot {
    streams: Vec<StreamInfo>,
    /// Per stream, whether the head (live or frozen) has a record in range.
    in_head: Vec<bool>,
    heads: Vec<Arc<Head>>,
    parts: Vec<Arc<Part>>,
}

impl LogStore {
    fn snapshot(&self, matchers: &[Matcher], start: i64, end: i64, with_heads: bool) -> Snapshot {
        let st = self.state();
        let streams: Vec<StreamInfo> =
            st.index.select(matchers).into_iter().map(|(id, l)| StreamInfo { id, labels: l.clone() }).collect();
        let in_head = streams
            .iter()
            .map(|s| {
                std::iter::once(&st.head)
                    .chain(st.frozen.as_deref())
                    .any(|h| h.streams.get(&s.id).is_some_and(|hs| hs.has_record_in(start, end)))
            })
            .collect();
        let parts = st.parts.iter().filter(|p| p.meta.min_ts <= end && p.meta.max_ts >= start).cloned().collect();
        let heads = if with_heads { st.frozen.iter().cloned().collect() } else { Vec::new() };
        Snapshot { streams, in_head, heads, parts }
    }

    /// Whether some part holds a record of `stream` in `[start, end]`, checking timestamps of blocks that only
    /// partly overlap the range.
    fn in_parts(parts: &[Arc<Part>], stream: u64, start: i64, end: i64) -> Result<bool, Error> {
        let mut ts = Vec::new();
        for p in parts {
            for b in p.stream_blocks(stream) {
                let m = &p.blocks[b];
                if m.min_ts > end || m.max_ts < start {
                    continue;
                }
                if m.min_ts >= start && m.max_ts <= end {
                    return Ok(true);
                }
                p.read_ts(b, &mut ts)?;
                if ts.iter().any(|&t| t >= start && t <= end) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Streams with at least one record in `[start_ns, end_ns]` whose labels match every matcher.
    pub fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<StreamInfo>, Error> {
        if start_ns > end_ns {
            return Ok(Vec::new());
        }
        let snap = self.snapshot(matchers, start_ns, end_ns, false);
        let mut out = Vec::new();
        for (s, in_head) in snap.streams.into_iter().zip(snap.in_head) {
            if in_head || LogStore::in_parts(&snap.parts, s.id, start_ns, end_ns)? {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// The label names of the matching streams with records in the range, sorted.
    pub fn label_names(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<String>, Error> {
        let mut names = BTreeSet::new();
        for s in self.streams(matchers, start_ns, end_ns)? {
            names.extend(s.labels.iter().map(|l| l.name.clone()));
        }
        Ok(names.into_iter().collect())
    }

    /// The values of label `name` among the matching streams with records in the range, sorted.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, Error> {
        let mut values = BTreeSet::new();
        for s in self.streams(matchers, start_ns, end_ns)? {
            if let Some(v) = s.labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }

    /// Loki's index statistics for the matching streams over `[start_ns, end_ns]`.
    pub fn stats(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Stats, Error> {
        let mut stats = Stats::default();
        if start_ns > end_ns {
            return Ok(stats);
        }
        let (snap, live) = {
            let snap = self.snapshot(matchers, start_ns, end_ns, true);
            // The live head's counts, under the lock; the frozen one is immutable and counted after.
            let st = self.state();
            let live: Vec<Stats> = snap.streams.iter().map(|s| head_stats(&st.head, s.id, start_ns, end_ns)).collect();
            (snap, live)
        };
        for (s, mut st) in snap.streams.iter().zip(live) {
            for h in &snap.heads {
                let f = head_stats(h, s.id, start_ns, end_ns);
                st.chunks += f.chunks;
                st.entries += f.entries;
                st.bytes += f.bytes;
            }
            for p in &snap.parts {
                for b in p.stream_blocks(s.id) {
                    let m = &p.blocks[b];
                    if m.min_ts <= end_ns && m.max_ts >= start_ns {
                        st.chunks += 1;
                        st.entries += u64::from(m.records);
                        st.bytes += u64::from(m.line_bytes);
                    }
                }
            }
            if st.entries > 0 {
                stats.streams += 1;
                stats.chunks += st.chunks;
                stats.entries += st.entries;
                stats.bytes += st.bytes;
            }
        }
        Ok(stats)
    }
}

fn head_stats(head: &Head, stream: u64, start: i64, end: i64) -> Stats {
    let mut out = Stats::default();
    let Some(hs) = head.streams.get(&stream) else { return out };
    for c in hs.chunks().filter(|c| c.overlaps(start, end)) {
        let mut n = 0;
        for i in 0..c.rows.len() {
            if c.rows.ts[i] >= start && c.rows.ts[i] <= end {
                n += 1;
                out.bytes += c.rows.line(i).len() as u64;
            }
        }
        if n > 0 {
            out.chunks += 1;
            out.entries += n;
        }
    }
    out
}
