//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`, like node_exporter.

use vigil_model::{Desc, MetricSink};

use crate::util::{join_into, parse_f64, read_into};
use crate::{CollectError, Collector, Options, Paths};

pub struct MeminfoCollector {
    buf: String,
    name: String,
    key: String,
    help: String,
}

impl MeminfoCollector {
    pub fn new(_: &Options) -> Self {
        MeminfoCollector { buf: String::new(), name: String::new(), key: String::new(), help: String::new() }
    }
}

impl Collector for MeminfoCollector {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("meminfo");
        read_into(&path, &mut self.buf)?;
        let mut fields = 0;
        for (n, line) in self.buf.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some((raw_key, rest)) = line.split_once(':') else {
                return Err(CollectError::parse(&path, n + 1, "expected 'Key: value'"));
            };
            let mut parts = rest.split_ascii_whitespace();
            let Some(value) = parts.next() else {
                return Err(CollectError::parse(&path, n + 1, format!("no value for {raw_key}")));
            };
            let mut value = parse_f64(value, &path, n + 1)?;
            // "Active(anon)" becomes "Active_anon"; a kB unit becomes bytes with a "_bytes" suffix.
            self.key.clear();
            for c in raw_key.trim().chars() {
                match c {
                    '(' => self.key.push('_'),
                    ')' => {}
                    c if c.is_ascii_alphanumeric() || c == '_' => self.key.push(c),
                    _ => self.key.push('_'),
                }
            }
            if self.key.is_empty() {
                return Err(CollectError::parse(&path, n + 1, "empty field name"));
            }
            match parts.next() {
                Some("kB") => {
                    value *= 1024.0;
                    self.key.push_str("_bytes");
                }
                Some(unit) => {
                    return Err(CollectError::parse(&path, n + 1, format!("unknown unit {unit:?}")));
                }
                None => {}
            }
            let name = join_into(&mut self.name, &["node_memory_", &self.key]);
            let help = join_into(&mut self.help, &["Memory information field ", &self.key, "."]);
            out.sample(&Desc::gauge(name, help), &[], value);
            fields += 1;
        }
        if fields == 0 {
            return Err(CollectError::parse(&path, 0, "no fields"));
        }
        Ok(())
    }
}
