//! `entropy`: available entropy and the pool size, in bits, from `/proc/sys/kernel/random`.

use vigil_model::{Desc, MetricSink};

use crate::util::{parse_u64, read_into};
use crate::{CollectError, Collector, Options, Paths};

const AVAILABLE: Desc<'static> = Desc::gauge("node_entropy_available_bits", "Bits of available entropy.");
const POOL_SIZE: Desc<'static> = Desc::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.");

pub struct EntropyCollector {
    buf: String,
}

impl EntropyCollector {
    pub fn new(_: &Options) -> Self {
        EntropyCollector { buf: String::new() }
    }

    /// Reads a file holding one unsigned integer.
    fn read_u64(&mut self, paths: &Paths, rel: &str) -> Result<u64, CollectError> {
        let path = paths.proc(rel);
        read_into(&path, &mut self.buf)?;
        parse_u64(self.buf.trim(), &path, 1)
    }
}

impl Collector for EntropyCollector {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let available = self.read_u64(paths, "sys/kernel/random/entropy_avail")?;
        out.sample(&AVAILABLE, &[], available as f64);
        let pool_size = self.read_u64(paths, "sys/kernel/random/poolsize")?;
        out.sample(&POOL_SIZE, &[], pool_size as f64);
        Ok(())
    }
}
