//! `netdev`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct NetdevCollector;

impl NetdevCollector {
    pub fn new(_: &Options) -> Self {
        NetdevCollector
    }
}

impl Collector for NetdevCollector {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
