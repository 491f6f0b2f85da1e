//! `loadavg`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct LoadavgCollector;

impl LoadavgCollector {
    pub fn new(_: &Options) -> Self {
        LoadavgCollector
    }
}

impl Collector for LoadavgCollector {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
