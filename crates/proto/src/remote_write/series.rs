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
    if let Some((name, _)) = pairs.iter().find(|(n, _)| !is_label_name(n)) {
        return Err(invalid(SeriesProblem::InvalidLabelName(name.clone())));
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(invalid(SeriesProblem::DuplicateLabel(w[0].0.clone())));
    }
    match pairs.iter().find(|(n, _)| n == METRIC_NAME) {
        None => return Err(invalid(SeriesProblem::MissingMetricName)),
        Some((_, v)) if v.is_empty() => return Err(invalid(SeriesProblem::MissingMetricName)),
        Some((_, v)) if !is_metric_name(v) => return Err(invalid(SeriesProblem::InvalidMetricName(v.clone()))),
        Some(_) => {}
    }
    // Names are valid and unique, so this cannot fail; map the error anyway rather than unwrap.
    let labels = Labels::from_pairs(pairs).map_err(|e| invalid(SeriesProblem::InvalidLabelName(e.to_string())))?;
    Ok(DecodedSeries {
        labels,
        samples: ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
        exemplars: ts.exemplars.len(),
        histograms: ts.histograms.len(),
    })
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: the legacy charset Prometheus 2.x requires of label names.
pub(crate) fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}
