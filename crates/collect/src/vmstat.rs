//! `vmstat`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct VmstatCollector;

impl VmstatCollector {
    pub fn new(_: &Options) -> Self {
        VmstatCollector
    }
}

impl Collector for VmstatCollector {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
