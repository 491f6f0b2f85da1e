//! `loadavg`: the 1, 5 and 15 minute load averages from `/proc/loadavg`.

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_f64, read_into};
use crate::{CollectError, Collector, Options, Paths};

/// The families of the first three fields of /proc/loadavg, in order.
const LOADS: [Desc<'static>; 3] = [
    Desc::gauge("node_load1", "1m load average."),
    Desc::gauge("node_load5", "5m load average."),
    Desc::gauge("node_load15", "15m load average."),
];

pub struct LoadavgCollector {
    buf: String,
}

impl LoadavgCollector {
    pub fn new(_: &Options) -> Self {
        LoadavgCollector { buf: String::new() }
    }
}

impl Collector for LoadavgCollector {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("loadavg");
        read_into(&path, &mut self.buf)?;
        let mut fields = self.buf.split_ascii_whitespace();
        let mut loads = [0.0; 3];
        for load in &mut loads {
            let Some(field) = fields.next() else {
                return Err(CollectError::parse(&path, 1, "expected three load averages"));
            };
            *load = parse_f64(field, &path, 1)?;
        }
        for (desc, load) in LOADS.iter().zip(loads) {
            out.sample(desc, &[], load);
        }
        Ok(())
    }
}
