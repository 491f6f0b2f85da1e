//! `uname`: the kernel's identity (`uname(2)`) as the labels of one `node_uname_info` sample.

use vigil_model::{Desc, MetricSink};

use crate::{CollectError, Collector, Options, Paths};

const INFO: Desc<'static> =
    Desc::gauge("node_uname_info", "Labeled system information as provided by the uname system call.");

pub struct UnameCollector {
    bytes: Vec<u8>,
    /// One buffer per label: domainname, machine, nodename, release, sysname and version.
    values: [String; 6],
}

impl UnameCollector {
    pub fn new(_: &Options) -> Self {
        UnameCollector { bytes: Vec::new(), values: Default::default() }
    }
}

/// Copies a NUL-terminated `utsname` field into `out` (cleared first), replacing invalid UTF-8.
fn field_into(field: &[libc::c_char], bytes: &mut Vec<u8>, out: &mut String) {
    bytes.clear();
    bytes.extend(field.iter().take_while(|&&c| c != 0).map(|&c| c as u8));
    out.clear();
    out.push_str(&String::from_utf8_lossy(bytes));
}

impl Collector for UnameCollector {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect(&mut self, _paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        // SAFETY: utsname is plain data (arrays of c_char), for which all zeroes is a valid value.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `uts` is a valid, writable utsname for the duration of the call.
        if unsafe { libc::uname(&mut uts) } != 0 {
            return Err(CollectError::Other(format!("uname: {}", std::io::Error::last_os_error())));
        }
        let fields: [&[libc::c_char]; 6] =
            [&uts.domainname, &uts.machine, &uts.nodename, &uts.release, &uts.sysname, &uts.version];
        for (field, value) in fields.into_iter().zip(&mut self.values) {
            field_into(field, &mut self.bytes, value);
        }
        let [domainname, machine, nodename, release, sysname, version] = &self.values;
        // Labels go out sorted by name, as node_exporter writes them.
        let labels = [
            ("domainname", domainname.as_str()),
            ("machine", machine.as_str()),
            ("nodename", nodename.as_str()),
            ("release", release.as_str()),
            ("sysname", sysname.as_str()),
            ("version", version.as_str()),
        ];
        out.sample(&INFO, &labels, 1.0);
        Ok(())
    }
}
