//! `vmstat`: the fields of `/proc/vmstat` selected by `Options::vmstat_fields`, as `node_vmstat_<field>`.

use vigil_model::{Desc, MetricSink};

use crate::util::{join_into, parse_f64, read_into, CachedMatcher};
use crate::{CollectError, Collector, Options, Paths};

pub struct VmstatCollector {
    fields: CachedMatcher,
    buf: String,
    name: String,
    help: String,
}

impl VmstatCollector {
    pub fn new(options: &Options) -> Self {
        VmstatCollector {
            fields: CachedMatcher::new(options.vmstat_fields.clone()),
            buf: String::new(),
            name: String::new(),
            help: String::new(),
        }
    }
}

impl Collector for VmstatCollector {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("vmstat");
        read_into(&path, &mut self.buf)?;
        let mut fields = 0;
        for (n, line) in self.buf.lines().enumerate() {
            let mut parts = line.split_ascii_whitespace();
            let Some(key) = parts.next() else { continue };
            let Some(value) = parts.next() else {
                return Err(CollectError::parse(&path, n + 1, format!("no value for {key}")));
            };
            // Every value is parsed, selected or not: node_exporter fails on any malformed line.
            let value = parse_f64(value, &path, n + 1)?;
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(CollectError::parse(&path, n + 1, format!("bad field name {key:?}")));
            }
            fields += 1;
            if !self.fields.is_match(key) {
                continue;
            }
            let name = join_into(&mut self.name, &["node_vmstat_", key]);
            let help = join_into(&mut self.help, &["/proc/vmstat information field ", key, "."]);
            out.sample(&Desc::untyped(name, help), &[], value);
        }
        if fields == 0 {
            return Err(CollectError::parse(&path, 0, "no fields"));
        }
        Ok(())
    }
}
