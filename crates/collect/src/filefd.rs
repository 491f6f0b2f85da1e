//! `filefd`: allocated and maximum file handles from `/proc/sys/fs/file-nr`.

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_f64, read_into};
use crate::{CollectError, Collector, Options, Paths};

const ALLOCATED: Desc<'static> = Desc::gauge("node_filefd_allocated", "File descriptor statistics: allocated.");
const MAXIMUM: Desc<'static> = Desc::gauge("node_filefd_maximum", "File descriptor statistics: maximum.");

pub struct FilefdCollector {
    buf: String,
}

impl FilefdCollector {
    pub fn new(_: &Options) -> Self {
        FilefdCollector { buf: String::new() }
    }
}

impl Collector for FilefdCollector {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("sys/fs/file-nr");
        read_into(&path, &mut self.buf)?;
        // The file is one line: allocated, free (always 0 since Linux 2.6) and maximum.
        let mut fields = self.buf.split_ascii_whitespace();
        let (Some(allocated), Some(_), Some(maximum)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(CollectError::parse(&path, 1, "expected three fields"));
        };
        let allocated = parse_f64(allocated, &path, 1)?;
        let maximum = parse_f64(maximum, &path, 1)?;
        out.sample(&ALLOCATED, &[], allocated);
        out.sample(&MAXIMUM, &[], maximum);
        Ok(())
    }
}
