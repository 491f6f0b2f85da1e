//! What the engine reads from: series selected by matchers over a time range, and label names/values.

use vigil_model::{Labels, Matcher};

/// A series as stored: its labels and its raw samples, ascending by time. Values are raw, so the staleness
/// marker (Prometheus' stale NaN, bits `0x7ff0000000000002`) comes through as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// Bit pattern of Prometheus' staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A storage failure, passed through to the caller of the query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

/// Series a select found, sorted by labels. Their samples are read on demand and from any thread, so that an
/// evaluation can spread decoding over cores and never hold every selected sample at once.
pub trait SeriesSet: Send + Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of series `i < len()`.
    fn labels(&self, i: usize) -> &Labels;

    /// Replaces the contents of `out` with series `i`'s samples in the selected range, ascending by time, one
    /// per timestamp, values raw (staleness markers included). A series may turn out to have none.
    fn samples(&self, i: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError>;

    /// Like [`SeriesSet::samples`] without the staleness markers (bits `0x7ff0000000000002`), as range
    /// windows read them.
    fn samples_without_stale(&self, i: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError> {
        self.samples(i, out)?;
        out.retain(|p| p.1.to_bits() != STALE_NAN_BITS);
        Ok(())
    }

    /// Every series' labels, in order, moved out rather than copied.
    fn into_labels(self: Box<Self>) -> Vec<Labels>;
}

/// Series already in memory form a [`SeriesSet`] as they are.
impl SeriesSet for Vec<StoredSeries> {
    fn len(&self) -> usize {
        <[StoredSeries]>::len(self)
    }

    fn labels(&self, i: usize) -> &Labels {
        &self[i].labels
    }

    fn samples(&self, i: usize, out: &mut Vec<(i64, f64)>) -> Result<(), StorageError> {
        out.clear();
        out.extend_from_slice(&self[i].samples);
        Ok(())
    }

    fn into_labels(self: Box<Self>) -> Vec<Labels> {
        self.into_iter().map(|s| s.labels).collect()
    }
}

/// One of the per-bucket aggregates a downsampling store keeps of each raw series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Min,
    Max,
    Sum,
    Count,
    Last,
}

/// The read side of a metric store. Times are milliseconds since the Unix epoch, bounds inclusive.
pub trait Storage: Send + Sync {
    /// The series matching all `matchers` that have a sample in `[mint, maxt]` (and perhaps a few whose data
    /// only overlaps that range), with their samples there.
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Box<dyn SeriesSet + '_>, StorageError>;

    /// Bucket widths in milliseconds of the downsampled resolutions [`Storage::select_aggregate`] serves,
    /// finest first. None by default.
    fn resolutions(&self) -> &[i64] {
        &[]
    }

    /// Like [`Storage::select`], but each series' points are `aggregate` over buckets `resolution_ms` wide
    /// (one of [`Storage::resolutions`]): one point per bucket, at the time of the bucket's last raw sample,
    /// with staleness markers left out.
    fn select_aggregate(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
        resolution_ms: i64,
        aggregate: Aggregate,
    ) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        let _ = (mint, maxt, matchers, aggregate);
        Err(StorageError(format!("no data downsampled to {resolution_ms} ms")))
    }
    /// Label names of the series matching `matchers` (all series when empty) with samples in `[mint, maxt]`, sorted.
    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
    /// Values of label `name` over those series, sorted and unique.
    fn label_values(&self, name: &str, mint: i64, maxt: i64, matchers: &[Matcher])
        -> Result<Vec<String>, StorageError>;
}

/// An in-memory [`Storage`], for tests and for rule unit tests.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    series: Vec<StoredSeries>,
    index: std::collections::HashMap<Labels, usize>,
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Adds samples to the series `labels`, creating it if needed. Samples are kept sorted by time; a sample at
    /// an already stored timestamp replaces the old one.
    pub fn add(&mut self, labels: Labels, samples: impl IntoIterator<Item = (i64, f64)>) {
        let idx = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(StoredSeries { labels, samples: Vec::new() });
                self.series.len() - 1
            }
        };
        let stored = &mut self.series[idx].samples;
        let was_sorted_len = stored.len();
        stored.extend(samples);
        if stored[..].windows(2).skip(was_sorted_len.saturating_sub(1)).any(|w| w[0].0 >= w[1].0) {
            // Stable sort keeps the later of two samples with the same timestamp last; dedup keeps that one.
            stored.sort_by_key(|s| s.0);
            let mut out: Vec<(i64, f64)> = Vec::with_capacity(stored.len());
            for s in stored.drain(..) {
                match out.last_mut() {
                    Some(last) if last.0 == s.0 => *last = s,
                    _ => out.push(s),
                }
            }
            *stored = out;
        }
    }

    /// The latest sample of the series with exactly `labels`, if it has one.
    pub fn last_sample(&self, labels: &Labels) -> Option<(i64, f64)> {
        self.index.get(labels).and_then(|&i| self.series[i].samples.last().copied())
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
        self.index.clear();
    }

    /// Number of stored series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn matching<'a>(&'a self, mint: i64, maxt: i64, matchers: &'a [Matcher]) -> impl Iterator<Item = &'a StoredSeries> {
        self.series.iter().filter(move |s| {
            matchers.iter().all(|m| m.matches(s.labels.get(m.name()).unwrap_or("")))
                && s.samples.iter().any(|&(t, _)| t >= mint && t <= maxt)
        })
    }
}

impl Storage for MemStorage {
    fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Box<dyn SeriesSet + '_>, StorageError> {
        let mut out: Vec<StoredSeries> = self
            .matching(mint, maxt, matchers)
            .map(|s| StoredSeries {
                labels: s.labels.clone(),
                samples: s.samples.iter().copied().filter(|&(t, _)| t >= mint && t <= maxt).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(Box::new(out))
    }

    fn label_names(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> =
            self.matching(mint, maxt, matchers).flat_map(|s| s.labels.iter().map(|l| l.name.clone())).collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<String> =
            self.matching(mint, maxt, matchers).filter_map(|s| s.labels.get(name).map(str::to_string)).collect();
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::MatchOp;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn select_applies_matchers_and_time_bounds() {
        let mut s = MemStorage::new();
        s.add(labels(&[("__name__", "up"), ("job", "a")]), [(10, 1.0), (20, 2.0)]);
        s.add(labels(&[("__name__", "up"), ("job", "b")]), [(30, 3.0)]);
        s.add(labels(&[("__name__", "down")]), [(10, 4.0)]);
        let up = Matcher::new(MatchOp::Equal, "__name__", "up").unwrap();
        let got = s.select(0, 25, std::slice::from_ref(&up)).unwrap();
        assert_eq!(got.len(), 1);
        let mut samples = vec![(1, 1.0)];
        got.samples(0, &mut samples).unwrap();
        assert_eq!(samples, vec![(10, 1.0), (20, 2.0)]);
        let no_job = Matcher::new(MatchOp::Equal, "job", "").unwrap();
        let got = s.select(0, 100, &[no_job]).unwrap();
        assert_eq!(got.len(), 1, "a missing label matches the empty string");
        let re = Matcher::new(MatchOp::NotRegex, "job", "a|").unwrap();
        assert_eq!(s.select(0, 100, &[up, re]).unwrap().labels(0).get("job"), Some("b"));
        assert_eq!(s.label_names(0, 100, &[]).unwrap(), vec!["__name__".to_string(), "job".into()]);
        assert_eq!(s.label_values("job", 0, 15, &[]).unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn add_keeps_samples_sorted_and_unique() {
        let mut s = MemStorage::new();
        let l = labels(&[("__name__", "x")]);
        s.add(l.clone(), [(30, 3.0), (10, 1.0)]);
        s.add(l, [(10, 9.0), (20, 2.0)]);
        assert_eq!(s.len(), 1);
        let mut samples = Vec::new();
        s.select(0, 100, &[]).unwrap().samples(0, &mut samples).unwrap();
        assert_eq!(samples, vec![(10, 9.0), (20, 2.0), (30, 3.0)]);
        s.clear();
        assert!(s.is_empty());
    }
}
