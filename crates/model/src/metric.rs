//! Metric families and the sink that collectors write samples into.
//!
//! A collector never knows whether its samples end up as Prometheus text on `/metrics` or as rows in the
//! time-series store: it describes each family with a [`Desc`] and pushes samples into a [`MetricSink`].

/// The type of a metric family, as in the Prometheus exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Untyped,
}

impl MetricKind {
    /// The word used on a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
        }
    }
}

/// Describes a metric family: its full name, help text and kind.
#[derive(Clone, Copy, Debug)]
pub struct Desc<'a> {
    pub name: &'a str,
    pub help: &'a str,
    pub kind: MetricKind,
}

impl<'a> Desc<'a> {
    pub const fn counter(name: &'a str, help: &'a str) -> Self {
        Desc { name, help, kind: MetricKind::Counter }
    }
    pub const fn gauge(name: &'a str, help: &'a str) -> Self {
        Desc { name, help, kind: MetricKind::Gauge }
    }
    pub const fn untyped(name: &'a str, help: &'a str) -> Self {
        Desc { name, help, kind: MetricKind::Untyped }
    }
}

/// Receives samples. Samples of one family may arrive interleaved with other families; the sink groups them.
///
/// Label pairs are `(name, value)`; the sink does not require them sorted. The first `Desc` seen for a family
/// name wins for its help text and kind.
pub trait MetricSink {
    fn sample(&mut self, desc: &Desc<'_>, labels: &[(&str, &str)], value: f64);
}

/// A sink that keeps every sample in memory; handy in tests.
#[derive(Debug, Default)]
pub struct VecSink {
    pub samples: Vec<OwnedSample>,
}

/// One sample with owned strings, as kept by [`VecSink`].
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedSample {
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl MetricSink for VecSink {
    fn sample(&mut self, desc: &Desc<'_>, labels: &[(&str, &str)], value: f64) {
        self.samples.push(OwnedSample {
            name: desc.name.to_owned(),
            help: desc.help.to_owned(),
            kind: desc.kind,
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            value,
        });
    }
}

impl VecSink {
    /// Samples of one family.
    pub fn family<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s OwnedSample> + 's {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the single sample of `name` whose labels include every pair in `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self
            .family(name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v)));
        let first = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(first.value)
    }
}
