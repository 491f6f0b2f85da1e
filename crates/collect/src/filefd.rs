//! `filefd`: PLACEHOLDER, to be written.

use vigil_model::MetricSink;

use crate::{CollectError, Collector, Options, Paths};

pub struct FilefdCollector;

impl FilefdCollector {
    pub fn new(_: &Options) -> Self {
        FilefdCollector
    }
}

impl Collector for FilefdCollector {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect(&mut self, _paths: &Paths, _out: &mut dyn MetricSink) -> Result<(), CollectError> {
        Err(CollectError::NoData("not written yet".into()))
    }
}
