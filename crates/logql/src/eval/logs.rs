//! Log queries: the selected streams' readers merged by time in the query's direction (a heap over one batch
//! per stream), each entry through the pipeline, stopping once `limit` entries came out.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use vigil_model::log::{Direction, LogBatch};
use vigil_model::Labels;

use super::{Ctx, StreamResult};
use crate::ast::LogExpr;
use crate::error::EvalError;
use crate::pipeline::{LabelsBuilder, Pipeline};
use crate::storage::BatchReader;

struct Cursor<'a> {
    reader: Box<dyn BatchReader + 'a>,
    batch: LogBatch,
    pos: usize,
    builder: LabelsBuilder,
}

impl Cursor<'_> {
    /// Moves to the next record, reading the next batch when needed; false at the end of the stream.
    fn advance(&mut self) -> Result<bool, EvalError> {
        self.pos += 1;
        while self.pos >= self.batch.len() {
            if !self.reader.next_batch(&mut self.batch)? {
                return Ok(false);
            }
            self.pos = 0;
        }
        Ok(true)
    }
}

/// Heap key: the greatest key is the next record to emit; ties go to the lower stream index.
fn key(ts: i64, dir: Direction, stream: usize) -> (i64, Reverse<usize>) {
    match dir {
        Direction::Backward => (ts, Reverse(stream)),
        // Bitwise not reverses the order without overflow.
        Direction::Forward => (!ts, Reverse(stream)),
    }
}

pub(super) fn eval(ctx: &mut Ctx<'_>, log: &LogExpr) -> Result<Vec<StreamResult>, EvalError> {
    ctx.check_deadline()?;
    let pipeline = Pipeline::new(&log.stages).map_err(EvalError::Execution)?;
    let (start, end) = (ctx.params.start_ns, ctx.params.end_ns - 1);
    let dir = ctx.params.direction;
    let limit = if ctx.params.limit == 0 { usize::MAX } else { ctx.params.limit };
    let mut streams = ctx.storage.streams(&log.matchers, start, end)?;
    ctx.check_streams(streams.len())?;
    streams.sort_by(|a, b| a.1.cmp(&b.1));
    let needles = pipeline.needles();

    let mut cursors: Vec<Option<Cursor<'_>>> = Vec::with_capacity(streams.len());
    let mut heap = BinaryHeap::with_capacity(streams.len());
    for (id, labels) in streams {
        let reader = ctx.storage.read(id, start, end, dir, &needles)?;
        let mut c = Cursor { reader, batch: LogBatch::default(), pos: 0, builder: LabelsBuilder::new(labels) };
        let has = loop {
            if !c.reader.next_batch(&mut c.batch)? {
                break false;
            }
            if !c.batch.is_empty() {
                break true;
            }
        };
        if has {
            heap.push(key(c.batch.ts[0], dir, cursors.len()));
            cursors.push(Some(c));
        } else {
            cursors.push(None);
        }
    }

    let mut out: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    let mut emitted = 0;
    while emitted < limit {
        let Some((_, Reverse(i))) = heap.pop() else { break };
        let Some(c) = cursors[i].as_mut() else { continue };
        ctx.tick()?;
        let ts = c.batch.ts[c.pos];
        c.builder.reset();
        c.builder.set_fields(c.batch.row_fields(c.pos));
        if let Some(line) = pipeline.process(ts, c.batch.line(c.pos), &mut c.builder) {
            let line = line.into_owned();
            out.entry(c.builder.labels()).or_default().push((ts, line));
            emitted += 1;
        }
        if c.advance()? {
            heap.push(key(c.batch.ts[c.pos], dir, i));
        } else {
            cursors[i] = None;
        }
    }
    Ok(out.into_iter().map(|(labels, entries)| StreamResult { labels, entries }).collect())
}
