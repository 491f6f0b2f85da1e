//! `entropy`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct EntropyCollector;

impl EntropyCollector {
    pub fn new(_: &Options) -> Self {
        EntropyCollector
    }
}

impl Collector for EntropyCollector {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
