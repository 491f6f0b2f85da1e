//! Reading an index file in place: symbols, series records, the name and value tables, and postings. Nothing
//! is loaded at open; every lookup reads the mapped bytes and checks every offset it follows.

use std::cmp::Ordering;
use std::path::Path;

use roaring::RoaringBitmap;

use super::cursor::{Cursor, Malformed};
use super::error::{corrupt, BlockError};
use super::layout::{Toc, NAME_ENTRY_BYTES, STRIDE, VALUE_ENTRY_BYTES};
use super::postings;
use super::series::SeriesRecord;

/// A checked index: its bytes, table of contents and path (for errors).
#[derive(Clone, Copy, Debug)]
pub(super) struct IndexView<'a> {
    pub data: &'a [u8],
    pub toc: &'a Toc,
    pub path: &'a Path,
}

/// A label name of the index: its symbol and its table of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NameEntry {
    pub sym: u32,
    pub values: u32,
    /// File offset of the name's value table.
    pub table: u64,
}

/// A value of a label name: its symbol and the offset of its postings within the postings section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ValueEntry {
    pub sym: u32,
    pub postings: u32,
}

impl<'a> IndexView<'a> {
    fn err(&self, e: Malformed) -> BlockError {
        e.in_file(self.path)
    }

    fn cursor(&self, start: u64, end: u64) -> Result<Cursor<'a>, BlockError> {
        Cursor::new(self.data, start, end).map_err(|e| self.err(e))
    }

    pub(super) fn num_series(&self) -> u32 {
        self.toc.series_count as u32
    }

    fn check_symbol(&self, sym: u32) -> Result<(), BlockError> {
        if u64::from(sym) >= self.toc.symbol_count {
            return Err(corrupt(self.path, None, format!("symbol reference {sym} out of range")));
        }
        Ok(())
    }

    /// A cursor at the first string of a group of [`STRIDE`] symbols, bounded by the symbol section.
    fn group_start(&self, group: u64) -> Result<Cursor<'a>, BlockError> {
        if group >= self.toc.symbol_count.div_ceil(STRIDE) {
            return Err(corrupt(self.path, None, "symbol reference out of range"));
        }
        let mut sample = self.cursor(self.toc.symbol_samples + 4 * group, self.toc.series)?;
        let offset = sample.u32_le().map_err(|e| self.err(e))?;
        self.cursor(self.toc.symbols + u64::from(offset), self.toc.symbol_samples)
    }

    fn next_string(&self, c: &mut Cursor<'a>) -> Result<&'a str, BlockError> {
        let at = c.pos();
        let len = c.uvarint().map_err(|e| self.err(e))?;
        let bytes = c.take(len).map_err(|e| self.err(e))?;
        std::str::from_utf8(bytes).map_err(|_| corrupt(self.path, Some(at), "symbol is not UTF-8"))
    }

    /// The symbol of `s` if the index has it, else the symbol the first string after `s` has (or the
    /// symbol count): the result of a binary search over the sorted symbols.
    pub(super) fn find_symbol(&self, s: &str) -> Result<Result<u32, u32>, BlockError> {
        let count = self.toc.symbol_count;
        let groups = count.div_ceil(STRIDE);
        // The last group whose first string is <= s.
        let (mut lo, mut hi) = (0u64, groups);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let first = self.next_string(&mut self.group_start(mid)?)?;
            if first <= s {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(group) = lo.checked_sub(1) else { return Ok(Err(0)) };
        let mut c = self.group_start(group)?;
        let end = ((group + 1) * STRIDE).min(count);
        for sym in group * STRIDE..end {
            match self.next_string(&mut c)?.cmp(s) {
                Ordering::Less => {}
                Ordering::Equal => return Ok(Ok(sym as u32)),
                Ordering::Greater => return Ok(Err(sym as u32)),
            }
        }
        Ok(Err(end as u32))
    }

    /// The record of series `ord`, positioned after its length.
    pub(super) fn series(&self, ord: u32) -> Result<SeriesRecord<'a>, BlockError> {
        if ord >= self.num_series() {
            return Err(corrupt(self.path, None, format!("series ordinal {ord} out of range")));
        }
        let group = u64::from(ord) / STRIDE;
        let mut sample = self.cursor(self.toc.series_samples + 8 * group, self.toc.postings)?;
        let start = sample.u64_le().map_err(|e| self.err(e))?;
        if start < self.toc.series {
            return Err(corrupt(self.path, Some(self.toc.series_samples + 8 * group), "series offset out of range"));
        }
        let mut c = self.cursor(start, self.toc.series_samples)?;
        for _ in 0..u64::from(ord) % STRIDE {
            let len = c.uvarint().map_err(|e| self.err(e))?;
            c.take(len).map_err(|e| self.err(e))?;
        }
        let len = c.uvarint().map_err(|e| self.err(e))?;
        let record = c.sub(len).map_err(|e| self.err(e))?;
        SeriesRecord::new(record).map_err(|e| self.err(e))
    }

    /// The label names, in order.
    pub(super) fn names(&self) -> impl Iterator<Item = Result<NameEntry, BlockError>> + 'a {
        let view = *self;
        (0..self.toc.name_count).map(move |i| view.name_at(i))
    }

    pub(super) fn name_at(&self, i: u64) -> Result<NameEntry, BlockError> {
        let start = self.toc.names + NAME_ENTRY_BYTES * i;
        let mut c = self.cursor(start, start + NAME_ENTRY_BYTES)?;
        let mut read = || -> Result<NameEntry, Malformed> {
            Ok(NameEntry { sym: c.u32_le()?, values: c.u32_le()?, table: c.u64_le()? })
        };
        read().map_err(|e| self.err(e))
    }

    /// Checks the name table: names in order, every value table inside the value-table section. Returns how
    /// many label pairs there are.
    pub(super) fn check_names(&self) -> Result<u64, BlockError> {
        let mut pairs = 0;
        let mut prev: Option<u32> = None;
        for (i, entry) in self.names().enumerate() {
            let entry = entry?;
            let at = Some(self.toc.names + NAME_ENTRY_BYTES * i as u64);
            let end = entry.table.checked_add(u64::from(entry.values) * VALUE_ENTRY_BYTES);
            let inside = entry.table >= self.toc.value_tables && end.is_some_and(|end| end <= self.toc.names);
            if prev.is_some_and(|p| p >= entry.sym) || u64::from(entry.sym) >= self.toc.symbol_count {
                return Err(corrupt(self.path, at, "label names not in order"));
            }
            if entry.values == 0 || !inside {
                return Err(corrupt(self.path, at, "value table out of range"));
            }
            prev = Some(entry.sym);
            pairs += u64::from(entry.values);
        }
        Ok(pairs)
    }

    /// The entry of label name `name`, if any series has it.
    pub(super) fn find_name(&self, name: &str) -> Result<Option<NameEntry>, BlockError> {
        let Ok(sym) = self.find_symbol(name)? else { return Ok(None) };
        let (mut lo, mut hi) = (0, self.toc.name_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let entry = self.name_at(mid)?;
            match entry.sym.cmp(&sym) {
                Ordering::Less => lo = mid + 1,
                Ordering::Equal => return Ok(Some(entry)),
                Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    /// Entry `i` of a name's value table.
    pub(super) fn value_at(&self, name: &NameEntry, i: u32) -> Result<ValueEntry, BlockError> {
        let start = name.table + VALUE_ENTRY_BYTES * u64::from(i);
        let mut c = self.cursor(start, start + VALUE_ENTRY_BYTES)?;
        let mut read =
            || -> Result<ValueEntry, Malformed> { Ok(ValueEntry { sym: c.u32_le()?, postings: c.u32_le()? }) };
        read().map_err(|e| self.err(e))
    }

    /// The position of the first value of `name` whose symbol is not below `sym`.
    pub(super) fn lower_bound_value(&self, name: &NameEntry, sym: u32) -> Result<u32, BlockError> {
        let (mut lo, mut hi) = (0, name.values);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.value_at(name, mid)?.sym < sym {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The value entry of `name="value"`, if any series has that pair.
    pub(super) fn find_value(&self, name: &NameEntry, value: &str) -> Result<Option<ValueEntry>, BlockError> {
        let Ok(sym) = self.find_symbol(value)? else { return Ok(None) };
        let i = self.lower_bound_value(name, sym)?;
        if i == name.values {
            return Ok(None);
        }
        let entry = self.value_at(name, i)?;
        Ok((entry.sym == sym).then_some(entry))
    }

    /// The series of one label pair.
    pub(super) fn postings(&self, value: &ValueEntry) -> Result<RoaringBitmap, BlockError> {
        let mut c = self.cursor(self.toc.postings + u64::from(value.postings), self.toc.value_tables)?;
        postings::decode(&mut c, self.num_series()).map_err(|e| self.err(e))
    }

    /// Resolves symbols in increasing order, reading forward instead of from a sample where that is shorter.
    pub(super) fn symbol_reader(&self) -> SymbolReader<'a> {
        SymbolReader { view: *self, next: None }
    }
}

/// See [`IndexView::symbol_reader`].
#[derive(Debug)]
pub(super) struct SymbolReader<'a> {
    view: IndexView<'a>,
    /// The symbol after the last one read, and a cursor at its string.
    next: Option<(u32, Cursor<'a>)>,
}

impl<'a> SymbolReader<'a> {
    pub(super) fn get(&mut self, sym: u32) -> Result<&'a str, BlockError> {
        self.view.check_symbol(sym)?;
        let near = match self.next {
            Some((next, c)) if next <= sym && u64::from(sym - next) < STRIDE => Some((next, c)),
            _ => None,
        };
        let (mut at, mut c) = match near {
            Some(found) => found,
            None => {
                let group = u64::from(sym) / STRIDE;
                ((group * STRIDE) as u32, self.view.group_start(group)?)
            }
        };
        while at < sym {
            self.view.next_string(&mut c)?;
            at += 1;
        }
        let s = self.view.next_string(&mut c)?;
        self.next = Some((sym + 1, c));
        Ok(s)
    }
}
