//! `tcpstat`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct TcpstatCollector;

impl TcpstatCollector {
    pub fn new(_: &Options) -> Self {
        TcpstatCollector
    }
}

impl Collector for TcpstatCollector {
    fn name(&self) -> &'static str {
        "tcpstat"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
