//! `netclass`: interface properties from `/sys/class/net/<iface>/`, as node_exporter 1.5's
//! `node_network_up`, `node_network_info` and `node_network_<property>` families.
//!
//! Attributes are read like procfs' `SysReadFile`: at most 128 bytes, trimmed. An attribute that is missing,
//! not permitted, not supported or `EINVAL` (e.g. `speed` or `carrier` of a down interface) is skipped, and a
//! number that does not parse is skipped too; any other read error fails the collection, as in node_exporter.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use regex::Regex;
use vigil_model::{Desc, MetricSink};

use crate::util::OpenFiles;
use crate::{CollectError, Collector, Options, Paths};

const UP: Desc<'static> = Desc::gauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.");
const INFO: Desc<'static> =
    Desc::gauge("node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.");
const SPEED: Desc<'static> = Desc::gauge("node_network_speed_bytes", "Network device property: speed_bytes");

/// Numeric attributes: the sysfs file and the family it becomes.
const PROPERTIES: [(&str, Desc<'static>); 16] = [
    (
        "addr_assign_type",
        Desc::gauge("node_network_address_assign_type", "Network device property: address_assign_type"),
    ),
    ("carrier", Desc::gauge("node_network_carrier", "Network device property: carrier")),
    (
        "carrier_changes",
        Desc::counter("node_network_carrier_changes_total", "Network device property: carrier_changes_total"),
    ),
    (
        "carrier_up_count",
        Desc::counter("node_network_carrier_up_changes_total", "Network device property: carrier_up_changes_total"),
    ),
    (
        "carrier_down_count",
        Desc::counter("node_network_carrier_down_changes_total", "Network device property: carrier_down_changes_total"),
    ),
    ("dev_id", Desc::gauge("node_network_device_id", "Network device property: device_id")),
    ("dormant", Desc::gauge("node_network_dormant", "Network device property: dormant")),
    ("flags", Desc::gauge("node_network_flags", "Network device property: flags")),
    ("ifindex", Desc::gauge("node_network_iface_id", "Network device property: iface_id")),
    ("iflink", Desc::gauge("node_network_iface_link", "Network device property: iface_link")),
    ("link_mode", Desc::gauge("node_network_iface_link_mode", "Network device property: iface_link_mode")),
    ("mtu", Desc::gauge("node_network_mtu_bytes", "Network device property: mtu_bytes")),
    ("name_assign_type", Desc::gauge("node_network_name_assign_type", "Network device property: name_assign_type")),
    ("netdev_group", Desc::gauge("node_network_net_dev_group", "Network device property: net_dev_group")),
    (
        "tx_queue_len",
        Desc::gauge("node_network_transmit_queue_length", "Network device property: transmit_queue_length"),
    ),
    ("type", Desc::gauge("node_network_protocol_type", "Network device property: protocol_type")),
];

/// Text attributes that become labels of `node_network_info`, under their own names.
const INFO_FILES: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];

/// At most this many attribute files stay open (about 23 interfaces' worth); more are opened per scrape.
const MAX_OPEN_FILES: usize = 512;

/// procfs reads sysfs attributes with one 128-byte `read`.
const ATTR_MAX_BYTES: usize = 128;

pub struct NetclassCollector {
    ignored: Regex,
    devices: Vec<String>,
    /// Attribute files kept open between scrapes, valid while the device list stays the same.
    files: OpenFiles,
    files_for: Vec<String>,
    attr: String,
    path: PathBuf,
    info: [String; 5],
}

impl NetclassCollector {
    pub fn new(options: &Options) -> Self {
        NetclassCollector {
            ignored: options.netclass_ignored_devices.clone(),
            devices: Vec::new(),
            files: OpenFiles::new(MAX_OPEN_FILES),
            files_for: Vec::new(),
            attr: String::new(),
            path: PathBuf::new(),
            info: Default::default(),
        }
    }

    /// Lists interface names: every entry of `class/net` but regular files such as `bonding_masters`.
    fn list_devices(&mut self, dir: &Path) -> Result<(), CollectError> {
        self.devices.clear();
        let entries = std::fs::read_dir(dir).map_err(|e| CollectError::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| CollectError::io(dir, e))?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            if self.ignored.is_match(&name) {
                continue;
            }
            self.devices.push(name);
        }
        self.devices.sort_unstable();
        if self.devices != self.files_for {
            self.files.clear();
            self.files_for.clone_from(&self.devices);
        }
        Ok(())
    }

    /// Reads `<device dir>/<attr>` into `self.attr`. `Ok(false)` when the attribute is to be skipped.
    fn read(&mut self, attr: &str) -> Result<bool, CollectError> {
        self.path.push(attr);
        let result = self.files.read(&self.path, &mut self.attr);
        let error = match result {
            Ok(()) => None,
            Err(e) if skippable(&e) => Some(Ok(false)),
            Err(e) => Some(Err(CollectError::io(&self.path, e))),
        };
        self.path.pop();
        if let Some(r) = error {
            return r;
        }
        let mut end = self.attr.len().min(ATTR_MAX_BYTES);
        while !self.attr.is_char_boundary(end) {
            end -= 1;
        }
        self.attr.truncate(end);
        let trimmed_end = self.attr.trim_end().len();
        self.attr.truncate(trimmed_end);
        let start = self.attr.len() - self.attr.trim_start().len();
        self.attr.drain(..start);
        Ok(true)
    }

    /// Writes one device's series; `self.path` is the device directory.
    fn device(&mut self, device: &str, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        for (i, file) in INFO_FILES.iter().enumerate() {
            let found = self.read(file)?;
            if let Some(slot) = self.info.get_mut(i) {
                slot.clear();
                if found {
                    slot.push_str(&self.attr);
                }
            }
        }
        let [address, broadcast, duplex, ifalias, operstate] = &self.info;
        let up = if operstate == "up" { 1.0 } else { 0.0 };
        out.sample(&UP, &[("device", device)], up);
        out.sample(
            &INFO,
            &[
                ("address", address),
                ("broadcast", broadcast),
                ("device", device),
                ("duplex", duplex),
                ("ifalias", ifalias),
                ("operstate", operstate),
            ],
            1.0,
        );
        for (file, desc) in &PROPERTIES {
            if self.read(file)? {
                if let Some(v) = parse_go_int(&self.attr) {
                    out.sample(desc, &[("device", device)], v as f64);
                }
            }
        }
        // Speed is in Mbit/s; -1 (unknown) is reported as is, scaled like any other value.
        if self.read("speed")? {
            if let Some(mbits) = parse_go_int(&self.attr) {
                out.sample(&SPEED, &[("device", device)], (mbits.wrapping_mul(1_000_000) / 8) as f64);
            }
        }
        Ok(())
    }
}

/// Read errors procfs ignores: the attribute is absent, not readable, or not meaningful for this device.
fn skippable(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidData)
        || matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EOPNOTSUPP))
}

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` does: an optional sign, then decimal, `0x` hex,
/// `0o` or leading-`0` octal, or `0b` binary.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = |p: &str| digits.get(..2).is_some_and(|d| d.eq_ignore_ascii_case(p));
    let (radix, body) = if lower("0x") {
        (16, &digits[2..])
    } else if lower("0o") {
        (8, &digits[2..])
    } else if lower("0b") {
        (2, &digits[2..])
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    // from_str_radix would accept a second sign; Go does not.
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

impl Collector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let dir = paths.sys("class/net");
        self.list_devices(&dir)?;
        let devices = std::mem::take(&mut self.devices);
        let mut result = Ok(());
        for device in &devices {
            // An interface removed since the listing is skipped rather than reported with empty values.
            self.path.as_mut_os_string().clear();
            self.path.push(&dir);
            self.path.push(device);
            if std::fs::symlink_metadata(&self.path).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
                continue;
            }
            result = self.device(device, out);
            if result.is_err() {
                break;
            }
        }
        self.devices = devices;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::parse_go_int;

    #[test]
    fn go_int_parsing() {
        assert_eq!(parse_go_int("4099"), Some(4099));
        assert_eq!(parse_go_int("0x1003"), Some(0x1003));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
        for bad in ["", "-", "0x", "+-1", "1.5", "12a", "9223372036854775808", "09"] {
            assert_eq!(parse_go_int(bad), None, "{bad:?}");
        }
    }
}
