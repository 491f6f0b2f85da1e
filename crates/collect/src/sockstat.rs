//! `sockstat`: socket counts by protocol from `/proc/net/sockstat` and `/proc/net/sockstat6`, as
//! `node_sockstat_<PROTO>_<state>` gauges plus `node_sockstat_sockets_used`.
//!
//! Like node_exporter, a missing file (IPv4 or IPv6 disabled) is skipped; `mem` (in pages) is also exported as
//! `mem_bytes`; `inuse` is always exported for a protocol, the other states only when the kernel prints them.

use std::io::ErrorKind;
use std::path::Path;

use vigil_model::{Desc, MetricSink};

use crate::util::{join_into, read_into};
use crate::{CollectError, Collector, Options, Paths};

const SOCKETS_USED: Desc<'static> = Desc::gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.");

/// The per-protocol keys node_exporter knows, in the order it exports them; other keys are ignored.
const KEYS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];
const INUSE: usize = 0;
const MEM: usize = 4;

pub struct SockstatCollector {
    buf: String,
    name: String,
    help: String,
    page_size: f64,
}

impl SockstatCollector {
    pub fn new(_: &Options) -> Self {
        SockstatCollector { buf: String::new(), name: String::new(), help: String::new(), page_size: page_size() }
    }

    fn emit(&mut self, proto: &str, state: &str, value: f64, out: &mut dyn MetricSink) {
        let name = join_into(&mut self.name, &["node_sockstat_", proto, "_", state]);
        let help = join_into(&mut self.help, &["Number of ", proto, " sockets in state ", state, "."]);
        out.sample(&Desc::gauge(name, help), &[], value);
    }

    /// Parses one sockstat file already in `text` and writes its samples.
    fn parse(&mut self, text: &str, path: &Path, ipv6: bool, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let mut lines = 0;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            lines += 1;
            let mut fields = line.split_ascii_whitespace();
            let Some(head) = fields.next() else { continue };
            let proto = head.strip_suffix(':').unwrap_or(head);
            if proto.is_empty() || !proto.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(CollectError::parse(path, n + 1, format!("bad protocol name {head:?}")));
            }
            // Every pair is checked before anything of the line is written.
            let mut values: [Option<i64>; KEYS.len()] = [None; KEYS.len()];
            let mut used = None;
            let mut pairs = 0;
            loop {
                let (key, value) = match (fields.next(), fields.next()) {
                    (None, _) => break,
                    (Some(key), Some(value)) => (key, value),
                    (Some(key), None) => {
                        return Err(CollectError::parse(path, n + 1, format!("no value for {key:?}")));
                    }
                };
                let Ok(value) = value.parse::<i64>() else {
                    return Err(CollectError::parse(path, n + 1, format!("expected an integer, got {value:?}")));
                };
                pairs += 1;
                if let Some(i) = KEYS.iter().position(|k| *k == key) {
                    values[i] = Some(value);
                }
                if key == "used" {
                    used = Some(value);
                }
            }
            if pairs == 0 {
                return Err(CollectError::parse(path, n + 1, "expected 'PROTO: key value ...'"));
            }
            if proto == "sockets" {
                // Only IPv4 has a meaningful sockets line; node_exporter exports 0 when "used" is missing.
                if !ipv6 {
                    out.sample(&SOCKETS_USED, &[], used.unwrap_or(0) as f64);
                }
                continue;
            }
            for (i, (key, value)) in KEYS.iter().zip(values).enumerate() {
                let value = if i == INUSE { Some(value.unwrap_or(0)) } else { value };
                if let Some(v) = value {
                    self.emit(proto, key, v as f64, out);
                }
            }
            if let Some(pages) = values[MEM] {
                self.emit(proto, "mem_bytes", pages as f64 * self.page_size, out);
            }
        }
        if lines == 0 {
            return Err(CollectError::parse(path, 0, "no lines"));
        }
        Ok(())
    }
}

/// The kernel's page size, the unit of the `mem` values.
fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as f64
    } else {
        4096.0
    }
}

impl Collector for SockstatCollector {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let mut found = false;
        for (file, ipv6) in [("net/sockstat", false), ("net/sockstat6", true)] {
            let path = paths.proc(file);
            match read_into(&path, &mut self.buf) {
                Ok(()) => found = true,
                // IPv4 or IPv6 disabled on this kernel.
                Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            let text = std::mem::take(&mut self.buf);
            let result = self.parse(&text, &path, ipv6, out);
            self.buf = text;
            result?;
        }
        if !found {
            return Err(CollectError::NoData(format!(
                "neither {} nor sockstat6 exists",
                paths.proc("net/sockstat").display()
            )));
        }
        Ok(())
    }
}
