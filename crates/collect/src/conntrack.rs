//! `conntrack`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct ConntrackCollector;

impl ConntrackCollector {
    pub fn new(_: &Options) -> Self {
        ConntrackCollector
    }
}

impl Collector for ConntrackCollector {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
