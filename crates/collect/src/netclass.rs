//! `netclass`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct NetclassCollector;

impl NetclassCollector {
    pub fn new(_: &Options) -> Self {
        NetclassCollector
    }
}

impl Collector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
