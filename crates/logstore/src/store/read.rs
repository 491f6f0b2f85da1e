//! Reading one stream: the blocks and head chunks overlapping a time range, merged into timestamp order.
//!
//! The reader takes what it needs under the store's lock (`Arc`s of parts and sealed chunks, a copy of the
//! open chunk's rows in range) and decodes outside it. Sources may overlap in time (out-of-order appends, parts
//! of successive flushes), so they are merged: a source is decoded only once the merge reaches its first
//! timestamp, which keeps memory to the sources overlapping at one point in time.

use std::collections::VecDeque;
use std::sync::Arc;

use memchr::memmem::Finder;
use vigil_model::{Direction, LogBatch};

use super::metrics::add;
use super::LogStore;
use crate::bloom::NeedleKeys;
use crate::error::Error;
use crate::head::Chunk;
use crate::part::Part;

/// A batch is handed out once it has this many rows or line bytes.
const BATCH_ROWS: usize = 1024;
const BATCH_BYTES: usize = 1 << 20;

/// What a reader did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Part blocks decoded.
    pub blocks_read: u64,
    /// Part blocks overlapping the range that the bloom filters ruled out, never read.
    pub blocks_skipped: u64,
    /// Head chunks scanned.
    pub head_chunks: u64,
}

enum Pending {
    Block { part: Arc<Part>, block: usize },
    Head(Arc<Chunk>),
}

/// A source yet to be decoded and the timestamp the merge must reach before decoding it.
struct Queued {
    key: i64,
    source: Pending,
}

/// A decoded source: rows in ascending timestamp order, and the next one to hand out.
struct Source {
    rows: LogBatch,
    /// Forward: the next index; backward: one past the next index.
    pos: usize,
}

/// One stream's records in a time range, in batches; see [`LogStore::read`].
pub struct Reader<'a> {
    store: &'a LogStore,
    start: i64,
    end: i64,
    dir: Direction,
    needles: Vec<Finder<'static>>,
    queue: VecDeque<Queued>,
    active: Vec<Source>,
    stats: ReadStats,
}

impl LogStore {
    /// Reads stream `stream`'s records with a timestamp in `[start_ns, end_ns]` in `dir` order, only those
    /// whose line contains every one of `needles`. Blocks whose bloom filters rule out a line with them all
    /// are skipped unread.
    pub fn read(
        &self,
        stream: u64,
        start_ns: i64,
        end_ns: i64,
        dir: Direction,
        needles: &[&str],
    ) -> Result<Reader<'_>, Error> {
        let needles: Vec<&str> = needles.iter().copied().filter(|n| !n.is_empty()).collect();
        let keys = NeedleKeys::new(&needles);
        let needles = needles.iter().map(|n| Finder::new(n.as_bytes()).into_owned()).collect();
        let mut reader = Reader {
            store: self,
            start: start_ns,
            end: end_ns,
            dir,
            needles,
            queue: VecDeque::new(),
            active: Vec::new(),
            stats: ReadStats::default(),
        };
        if start_ns > end_ns {
            return Ok(reader);
        }
        let (parts, chunks) = {
            let st = self.state();
            let mut chunks = Vec::new();
            for head in std::iter::once(&st.head).chain(st.frozen.as_deref()) {
                if let Some(s) = head.streams.get(&stream) {
                    s.snapshot(start_ns, end_ns, &mut chunks);
                }
            }
            let parts: Vec<Arc<Part>> =
                st.parts.iter().filter(|p| p.meta.min_ts <= end_ns && p.meta.max_ts >= start_ns).cloned().collect();
            (parts, chunks)
        };
        let forward = dir == Direction::Forward;
        let mut queued = Vec::new();
        for part in parts {
            for b in part.stream_blocks(stream) {
                let m = &part.blocks[b];
                if m.min_ts > end_ns || m.max_ts < start_ns {
                    continue;
                }
                if !keys.is_empty() && !part.may_match(b, &keys) {
                    reader.stats.blocks_skipped += 1;
                    continue;
                }
                let key = if forward { m.min_ts } else { m.max_ts };
                queued.push(Queued { key, source: Pending::Block { part: Arc::clone(&part), block: b } });
            }
        }
        for c in chunks {
            let key = if forward { c.min_ts } else { c.max_ts };
            queued.push(Queued { key, source: Pending::Head(c) });
        }
        if forward {
            queued.sort_by_key(|q| q.key);
        } else {
            queued.sort_by_key(|q| std::cmp::Reverse(q.key));
        }
        add(&self.counters.blocks_skipped_bloom, reader.stats.blocks_skipped);
        reader.queue = queued.into();
        Ok(reader)
    }
}

impl Reader<'_> {
    /// What this reader did so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Replaces `out`'s rows with the next batch; `false` when there is nothing left (and `out` is empty).
    pub fn next_batch(&mut self, out: &mut LogBatch) -> Result<bool, Error> {
        out.clear();
        let forward = self.dir == Direction::Forward;
        if forward && self.handed_over_whole_source(out) {
            return Ok(true);
        }
        while out.len() < BATCH_ROWS && out.lines.len() < BATCH_BYTES {
            // The active source holding the next row; ties go to the source opened first.
            let mut best: Option<(usize, i64)> = None;
            for (i, s) in self.active.iter().enumerate() {
                let ts = if forward { s.rows.ts[s.pos] } else { s.rows.ts[s.pos - 1] };
                let better = match best {
                    None => true,
                    Some((_, b)) => (forward && ts < b) || (!forward && ts > b),
                };
                if better {
                    best = Some((i, ts));
                }
            }
            let open_next = match (best, self.queue.front()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((_, ts)), Some(q)) => (forward && q.key <= ts) || (!forward && q.key >= ts),
            };
            if open_next {
                if let Some(q) = self.queue.pop_front() {
                    self.open(q.source)?;
                }
                continue;
            }
            let Some((i, _)) = best else { break };
            let s = &mut self.active[i];
            let row = if forward { s.pos } else { s.pos - 1 };
            out.push(s.rows.ts[row], s.rows.line(row), s.rows.row_fields(row));
            let done = if forward {
                s.pos += 1;
                s.pos == s.rows.len()
            } else {
                s.pos -= 1;
                s.pos == 0
            };
            if done {
                // `remove`, not `swap_remove`: ties go to the source opened first.
                self.active.remove(i);
            }
        }
        Ok(!out.is_empty())
    }

    /// When one source alone holds the next rows, untouched and before anything still queued, it becomes the
    /// batch as it is (reading forward): no row is copied.
    fn handed_over_whole_source(&mut self, out: &mut LogBatch) -> bool {
        let [s] = self.active.as_slice() else { return false };
        if s.pos != 0 || s.rows.is_empty() {
            return false;
        }
        let last = s.rows.ts[s.rows.len() - 1];
        if self.queue.front().is_some_and(|q| q.key <= last) {
            return false;
        }
        let mut source = self.active.pop().expect("one active source");
        std::mem::swap(out, &mut source.rows);
        true
    }

    /// Decodes a source, keeping the rows in range whose lines hold every needle.
    fn open(&mut self, source: Pending) -> Result<(), Error> {
        let mut decoded = LogBatch::default();
        let chunk;
        let source_kind = match source {
            Pending::Block { .. } => SourceKind::Block,
            Pending::Head(_) => SourceKind::Head,
        };
        let (all, sorted): (&LogBatch, bool) = match source {
            Pending::Block { part, block } => {
                part.read_block(block, &mut decoded)?;
                self.stats.blocks_read += 1;
                add(&self.store.counters.blocks_read, 1);
                (&decoded, true)
            }
            Pending::Head(c) => {
                self.stats.head_chunks += 1;
                chunk = c;
                (&chunk.rows, chunk.sorted)
            }
        };
        let mut keep: Vec<usize> = (0..all.len())
            .filter(|&i| {
                let ts = all.ts[i];
                ts >= self.start
                    && ts <= self.end
                    && self.needles.iter().all(|n| n.find(all.line(i).as_bytes()).is_some())
            })
            .collect();
        if keep.is_empty() {
            return Ok(());
        }
        let rows = if sorted && keep.len() == all.len() && matches!(source_kind, SourceKind::Block) {
            // A whole decoded block in order: it becomes the source as it is, without a copy.
            std::mem::take(&mut decoded)
        } else {
            if !sorted {
                keep.sort_by_key(|&i| all.ts[i]);
            }
            let mut rows = LogBatch::default();
            for i in keep {
                rows.push(all.ts[i], all.line(i), all.row_fields(i));
            }
            rows
        };
        let pos = if self.dir == Direction::Forward { 0 } else { rows.len() };
        self.active.push(Source { rows, pos });
        Ok(())
    }
}

/// Where a source's rows come from: a decoded block (owned by the reader) or a head chunk (shared).
#[derive(Clone, Copy)]
enum SourceKind {
    Block,
    Head,
}
