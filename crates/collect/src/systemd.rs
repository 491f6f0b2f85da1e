//! `systemd`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct SystemdCollector;

impl SystemdCollector {
    pub fn new(_: &Options) -> Self {
        SystemdCollector
    }
}

impl Collector for SystemdCollector {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
