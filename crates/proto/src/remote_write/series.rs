//! Turns decoded remote_write series into vigil label sets and samples, validating them like Prometheus'
//! remote write handler: legacy-charset names, no duplicate label names, a metric name on every series.

use std::fmt;

use vigil_model::{Labels, METRIC_NAME};

use super::{RemoteWriteError, TimeSeries, WriteRequest};

/// One series of a request, ready for the store.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedSeries {
    pub labels: Labels,
    /// `(timestamp ms, value)` in request order.
    pub samples: Vec<(i64, f64)>,
    /// Exemplars that came with the series; vigil does not store them.
    pub exemplars: usize,
    /// Native histogram samples that came with the series; vigil does not store them.
    pub histograms: usize,
}

/// What is wrong with one series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeriesProblem {
    InvalidLabelName(String),
    DuplicateLabel(String),
    MissingMetricName,
    InvalidMetricName(String),
}

impl fmt::Display for SeriesProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesProblem::InvalidLabelName(n) => write!(f, "invalid label name {n:?}"),
            SeriesProblem::DuplicateLabel(n) => write!(f, "label name {n:?} is not unique"),
            SeriesProblem::MissingMetricName => write!(f, "missing or empty {METRIC_NAME} label"),
            SeriesProblem::InvalidMetricName(n) => write!(f, "invalid metric name {n:?}"),
        }
    }
}

/// Validates and converts every series of `req`, failing on the first invalid one.
pub fn to_series(req: &WriteRequest) -> Result<Vec<DecodedSeries>, RemoteWriteError> {
    let pairs = |ts: &TimeSeries| ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    req.timeseries.iter().enumerate().map(|(i, ts)| convert(i, pairs(ts), ts)).collect()
}

/// Like [`to_series`], but moves the strings out of the request instead of copying them.
pub fn into_series(req: WriteRequest) -> Result<Vec<DecodedSeries>, RemoteWriteError> {
    let mut out = Vec::with_capacity(req.timeseries.len());
    for (i, mut ts) in req.timeseries.into_iter().enumerate() {
        let pairs = std::mem::take(&mut ts.labels).into_iter().map(|l| (l.name, l.value)).collect();
        out.push(convert(i, pairs, &ts)?);
    }
    Ok(out)
}

fn convert(index: usize, mut pairs: Vec<(String, String)>, ts: &TimeSeries) -> Result<DecodedSeries, RemoteWriteError> {
    let invalid = |problem| RemoteWriteError::InvalidSeries { index, problem };
    check_pairs(&mut pairs).map_err(invalid)?;
    // Names are valid and unique, so this cannot fail; map the error anyway rather than unwrap.
    let labels = Labels::from_pairs(pairs).map_err(|e| invalid(SeriesProblem::InvalidLabelName(e.to_string())))?;
    Ok(DecodedSeries {
        labels,
        samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
        exemplars: ts.exemplars.len(),
        histograms: ts.histograms.len(),
    })
}

/// Sorts one series' label pairs by name and checks them, in Prometheus' order: every name valid, then no
/// name twice (empty values included), then a valid metric name. Already sorted pairs (what Prometheus sends)
/// are not moved.
pub(crate) fn check_pairs<S: AsRef<str>>(pairs: &mut [(S, S)]) -> Result<(), SeriesProblem> {
    if let Some((name, _)) = pairs.iter().find(|(n, _)| !is_label_name(n.as_ref())) {
        return Err(SeriesProblem::InvalidLabelName(name.as_ref().to_string()));
    }
    if !pairs.is_sorted_by(|a, b| a.0.as_ref() <= b.0.as_ref()) {
        pairs.sort_unstable_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    }
    if let Some(w) = pairs.windows(2).find(|w| w[0].0.as_ref() == w[1].0.as_ref()) {
        return Err(SeriesProblem::DuplicateLabel(w[0].0.as_ref().to_string()));
    }
    match pairs.iter().find(|(n, _)| n.as_ref() == METRIC_NAME).map(|(_, v)| v.as_ref()) {
        None | Some("") => Err(SeriesProblem::MissingMetricName),
        Some(v) if !is_metric_name(v) => Err(SeriesProblem::InvalidMetricName(v.to_string())),
        Some(_) => Ok(()),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: the legacy charset Prometheus 2.x requires of label names.
pub(crate) fn is_label_name(s: &str) -> bool {
    matches_classes(s, LABEL_START, LABEL_CHAR)
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(s: &str) -> bool {
    matches_classes(s, METRIC_START, METRIC_CHAR)
}

const LABEL_START: u8 = 1;
const LABEL_CHAR: u8 = 2;
const METRIC_START: u8 = 4;
const METRIC_CHAR: u8 = 8;

/// The classes of each byte. Every remote_write label name and metric name is checked, so a table and no
/// branch per byte.
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let alnum = alpha || b.is_ascii_digit();
        table[c] = (alpha as u8 * LABEL_START)
            | (alnum as u8 * LABEL_CHAR)
            | ((alpha || b == b':') as u8 * METRIC_START)
            | ((alnum || b == b':') as u8 * METRIC_CHAR);
        c += 1;
    }
    table
};

/// Whether `s` is a byte of class `start` followed by bytes of class `rest`.
fn matches_classes(s: &str, start: u8, rest: u8) -> bool {
    let Some((&first, tail)) = s.as_bytes().split_first() else { return false };
    let all = tail.iter().fold(rest, |acc, &b| acc & CLASSES[usize::from(b)]);
    CLASSES[usize::from(first)] & start != 0 && all != 0
}
