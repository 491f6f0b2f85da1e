//! Answering label matchers, label names and label values from a block's index, with the semantics of the
//! head's [`crate::index::Index`]: Prometheus matching, where a series lacking a label matches as `""`.

use roaring::{MultiOps, RoaringBitmap};
use vigil_model::Matcher;

use super::error::BlockError;
use super::reader::Block;
use super::view::{IndexView, NameEntry};
use crate::matching::{self, Filter, Plan, Postings};

impl Block {
    /// The series every matcher accepts, with exactly the semantics of [`crate::index::Index::select`]: a
    /// series lacking a label is matched as if its value were empty; with no matchers, every series.
    pub fn select(&self, matchers: &[Matcher]) -> Result<RoaringBitmap, BlockError> {
        matching::select(self, matchers, Filter::Auto)
    }

    /// The label names of the given series, sorted. Ordinals without a series are ignored.
    pub fn label_names(&self, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        if ids.is_superset(&self.all()) {
            return resolve(&view, view.names().map(|n| n.map(|n| n.sym)));
        }
        if ids.len() < self.pairs() {
            self.label_names_by_series(ids)
        } else {
            self.label_names_by_postings(ids)
        }
    }

    /// The values label `name` takes in the given series, sorted, without the empty value of series lacking it.
    pub fn label_values(&self, name: &str, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        let Some(entry) = view.find_name(name)? else { return Ok(Vec::new()) };
        if ids.is_superset(&self.all()) {
            return resolve(&view, (0..entry.values).map(|i| view.value_at(&entry, i).map(|v| v.sym)));
        }
        // Looking up a series' value is many times cheaper than testing a value's postings against `ids`.
        if ids.len() < 16 * u64::from(entry.values) {
            self.label_values_by_series(&entry, ids)
        } else {
            self.label_values_by_postings(&entry, ids)
        }
    }

    fn label_names_by_series(&self, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        let mut syms = Vec::new();
        for ord in ids.iter().take_while(|&ord| ord < self.num_series()) {
            let mut record = view.series(ord)?;
            while let Some((name, _)) = record.next_label().map_err(|e| e.in_file(view.path))? {
                syms.push(name);
            }
        }
        syms.sort_unstable();
        syms.dedup();
        resolve(&view, syms.into_iter().map(Ok))
    }

    fn label_names_by_postings(&self, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        let mut syms = Vec::new();
        for name in view.names() {
            let name = name?;
            if self.any_value(&view, &name, ids)? {
                syms.push(name.sym);
            }
        }
        resolve(&view, syms.into_iter().map(Ok))
    }

    fn label_values_by_series(&self, name: &NameEntry, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        let mut syms = Vec::new();
        for ord in ids.iter().take_while(|&ord| ord < self.num_series()) {
            syms.extend(value_sym(&view, ord, name.sym)?);
        }
        syms.sort_unstable();
        syms.dedup();
        resolve(&view, syms.into_iter().map(Ok))
    }

    fn label_values_by_postings(&self, name: &NameEntry, ids: &RoaringBitmap) -> Result<Vec<String>, BlockError> {
        let view = self.view();
        let mut syms = Vec::new();
        for i in 0..name.values {
            let entry = view.value_at(name, i)?;
            if !view.postings(&entry)?.is_disjoint(ids) {
                syms.push(entry.sym);
            }
        }
        resolve(&view, syms.into_iter().map(Ok))
    }

    /// Whether any value of `name` has a series in `ids`.
    fn any_value(&self, view: &IndexView, name: &NameEntry, ids: &RoaringBitmap) -> Result<bool, BlockError> {
        for i in 0..name.values {
            if !view.postings(&view.value_at(name, i)?)?.is_disjoint(ids) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The value symbol of label `name` of series `ord`.
fn value_sym(view: &IndexView, ord: u32, name: u32) -> Result<Option<u32>, BlockError> {
    let mut record = view.series(ord)?;
    while let Some((n, v)) = record.next_label().map_err(|e| e.in_file(view.path))? {
        if n == name {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The strings of increasing symbols, which are therefore sorted.
fn resolve(view: &IndexView, syms: impl Iterator<Item = Result<u32, BlockError>>) -> Result<Vec<String>, BlockError> {
    let mut symbols = view.symbol_reader();
    syms.map(|sym| Ok(symbols.get(sym?)?.to_string())).collect()
}

impl Postings for Block {
    type Error = BlockError;

    fn all(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.num_series());
        all
    }

    fn value_count(&self, name: &str) -> Result<u64, BlockError> {
        Ok(self.view().find_name(name)?.map_or(0, |n| u64::from(n.values)))
    }

    /// Keeps the candidates whose value of the matcher's label (empty if absent) the matcher accepts.
    fn filter_series(&self, candidates: RoaringBitmap, m: &Matcher) -> Result<RoaringBitmap, BlockError> {
        let view = self.view();
        let Some(name) = view.find_name(m.name())? else {
            return Ok(if m.matches_empty() { candidates } else { RoaringBitmap::new() });
        };
        let mut symbols = view.symbol_reader();
        let mut kept = RoaringBitmap::new();
        for ord in candidates {
            let value = match value_sym(&view, ord, name.sym)? {
                Some(sym) => symbols.get(sym)?,
                None => "",
            };
            if m.matches(value) {
                kept.insert(ord);
            }
        }
        Ok(kept)
    }

    /// The union of the postings of the values `v` of the matcher's label with `m.matches(v) == want`.
    fn values_where(&self, m: &Matcher, want: bool, plan: Plan) -> Result<RoaringBitmap, BlockError> {
        let view = self.view();
        let Some(name) = view.find_name(m.name())? else { return Ok(RoaringBitmap::new()) };
        let mut found = Vec::new();
        match plan {
            Plan::Lookup(literals) => {
                for value in literals {
                    if let Some(entry) = view.find_value(&name, value)? {
                        found.push(view.postings(&entry)?);
                    }
                }
            }
            Plan::Prefix(prefix) => {
                let start = view.find_symbol(prefix)?.unwrap_or_else(|insert_at| insert_at);
                let mut symbols = view.symbol_reader();
                for i in view.lower_bound_value(&name, start)?..name.values {
                    let entry = view.value_at(&name, i)?;
                    let value = symbols.get(entry.sym)?;
                    if !value.starts_with(prefix) {
                        break;
                    }
                    if m.matches(value) == want {
                        found.push(view.postings(&entry)?);
                    }
                }
            }
            Plan::Scan => {
                let mut symbols = view.symbol_reader();
                for i in 0..name.values {
                    let entry = view.value_at(&name, i)?;
                    if m.matches(symbols.get(entry.sym)?) == want {
                        found.push(view.postings(&entry)?);
                    }
                }
            }
        }
        Ok(found.union())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vigil_model::Labels;

    use super::*;
    use crate::backend::{Backend, MemBackend};
    use crate::block::{BlockParams, BlockWriter, ChunkData};
    use crate::chunk::ChunkAppender;
    use vigil_model::MatchOp;

    /// 60 series like the head index's unit tests use, in a block.
    fn sample_block() -> Block {
        let mut all = Vec::new();
        let names = ["up", "node_cpu_seconds_total", "node_load1"];
        for i in 0..60u32 {
            let cpu = (i % 4).to_string();
            let mode = ["idle", "user", "system", ""][i as usize % 4];
            let instance = format!("host{}", i % 7);
            let pairs = [("__name__", names[i as usize % 3]), ("cpu", &cpu), ("mode", mode), ("instance", &instance)];
            all.push(Labels::from_pairs(pairs).unwrap());
        }
        all.sort();
        all.dedup();
        let mem = MemBackend::new();
        mem.create_dir_all(std::path::Path::new("/blocks")).unwrap();
        let backend: Arc<dyn Backend> = Arc::new(mem);
        let params = BlockParams { min_t: 0, max_t: 1000, resolution_ms: 0, level: 1, sources: Vec::new() };
        let dir = std::path::Path::new("/blocks/b");
        let mut writer = BlockWriter::create(Arc::clone(&backend), dir, params).unwrap();
        let mut appender = ChunkAppender::new();
        appender.append(10, 1.0).unwrap();
        let chunk = ChunkData { min_t: 10, max_t: 10, bytes: appender.bytes().to_vec() };
        for labels in &all {
            writer.add_series(labels, std::slice::from_ref(&chunk)).unwrap();
        }
        writer.finish().unwrap();
        Block::open(backend, dir).unwrap()
    }

    #[test]
    fn filter_and_postings_paths_agree() {
        let block = sample_block();
        let selectors: [&[(MatchOp, &str, &str)]; 7] = [
            &[(MatchOp::Equal, "__name__", "up"), (MatchOp::Regex, "mode", "i.*")],
            &[(MatchOp::Equal, "__name__", "up"), (MatchOp::NotRegex, "mode", "i.*|")],
            &[(MatchOp::Regex, "instance", "host[12]"), (MatchOp::NotEqual, "mode", "")],
            &[(MatchOp::Regex, "cpu", ".*"), (MatchOp::Equal, "mode", "")],
            &[(MatchOp::Equal, "cpu", "1"), (MatchOp::Regex, "nope", ".*")],
            &[(MatchOp::Equal, "cpu", "1"), (MatchOp::Regex, "nope", ".+")],
            &[(MatchOp::Equal, "cpu", "1"), (MatchOp::Regex, "instance", "host.+"), (MatchOp::Regex, "mode", "user")],
        ];
        for selector in selectors {
            let matchers: Vec<Matcher> = selector.iter().map(|&(op, n, v)| Matcher::new(op, n, v).unwrap()).collect();
            let never = matching::select(&block, &matchers, Filter::Never).unwrap();
            assert_eq!(matching::select(&block, &matchers, Filter::Always).unwrap(), never, "{selector:?}");
            assert_eq!(block.select(&matchers).unwrap(), never, "{selector:?}");
        }
    }

    #[test]
    fn label_paths_agree() {
        let block = sample_block();
        let n = block.num_series();
        for ids in [RoaringBitmap::new(), (0..5).collect(), (10..50).step_by(3).collect(), (0..n + 5).collect()] {
            assert_eq!(block.label_names_by_series(&ids).unwrap(), block.label_names_by_postings(&ids).unwrap());
            let view = block.view();
            for name in ["mode", "cpu", "instance"] {
                let entry = view.find_name(name).unwrap().unwrap();
                assert_eq!(
                    block.label_values_by_series(&entry, &ids).unwrap(),
                    block.label_values_by_postings(&entry, &ids).unwrap()
                );
            }
        }
    }
}
