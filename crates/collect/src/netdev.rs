//! `netdev`: per-interface traffic counters from `/proc/net/dev`, as `node_network_{receive,transmit}_*_total`.
//!
//! node_exporter 1.5 reads these counters over rtnetlink and renames them to the `/proc/net/dev` column names,
//! which the kernel derives from the same counters. Netlink also carries `rx_nohandler`, which `/proc/net/dev`
//! lacks; it is read from `/sys/class/net/<device>/statistics/rx_nohandler` (0 when absent, as netlink reports
//! it on kernels without the counter).

use std::path::{Path, PathBuf};

use regex::Regex;
use vigil_model::{Desc, MetricSink};

use crate::util::{join_into, parse_u64, read_attr, read_into};
use crate::{CollectError, Collector, Options, Paths};

/// The line of `/proc/net/dev` that names the columns; the first line only groups them.
const HEADER_LINE: usize = 2;

pub struct NetdevCollector {
    exclude: Option<Regex>,
    buf: String,
    attr: String,
    name: String,
    help: String,
    /// The header line the column names below were taken from, so they are rebuilt only when it changes.
    header: String,
    /// Family names (`receive_bytes`, ...) of every value column, receive columns first.
    columns: Vec<String>,
    values: Vec<u64>,
    sys_path: PathBuf,
}

impl NetdevCollector {
    pub fn new(options: &Options) -> Self {
        NetdevCollector {
            exclude: options.netdev_device_exclude.clone(),
            buf: String::new(),
            attr: String::new(),
            name: String::new(),
            help: String::new(),
            header: String::new(),
            columns: Vec::new(),
            values: Vec::new(),
            sys_path: PathBuf::new(),
        }
    }

    /// Takes the column names from the `face |bytes packets ...|bytes packets ...` header line.
    fn parse_header(&mut self, line: &str, path: &Path) -> Result<(), CollectError> {
        if self.header == line && !self.columns.is_empty() {
            return Ok(());
        }
        let mut parts = line.split('|');
        let (Some(_), Some(rx), Some(tx), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(CollectError::parse(path, HEADER_LINE, "expected 'face |receive columns|transmit columns'"));
        };
        self.columns.clear();
        for (direction, cols) in [("receive_", rx), ("transmit_", tx)] {
            for col in cols.split_ascii_whitespace() {
                if !col.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(CollectError::parse(path, HEADER_LINE, format!("bad column name {col:?}")));
                }
                self.columns.push(format!("{direction}{col}"));
            }
        }
        if self.columns.is_empty() {
            return Err(CollectError::parse(path, HEADER_LINE, "no columns in header"));
        }
        self.header.clear();
        self.header.push_str(line);
        Ok(())
    }

    /// Reads `rx_nohandler` of one device from sysfs; 0 when the kernel or sysfs does not have it.
    fn rx_nohandler(&mut self, paths: &Paths, device: &str) -> u64 {
        self.sys_path.as_mut_os_string().clear();
        self.sys_path.push(&paths.sysfs);
        self.sys_path.push("class/net");
        self.sys_path.push(device);
        self.sys_path.push("statistics/rx_nohandler");
        match read_attr(&self.sys_path, &mut self.attr) {
            Some(()) => self.attr.trim().parse().unwrap_or(0),
            None => 0,
        }
    }
}

fn emit(name: &mut String, help: &mut String, column: &str, device: &str, value: u64, out: &mut dyn MetricSink) {
    let help = join_into(help, &["Network device statistic ", column, "."]);
    let name = join_into(name, &["node_network_", column, "_total"]);
    out.sample(&Desc::counter(name, help), &[("device", device)], value as f64);
}

impl Collector for NetdevCollector {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("net/dev");
        read_into(&path, &mut self.buf)?;
        let text = std::mem::take(&mut self.buf);
        let result = self.parse(&text, &path, paths, out);
        self.buf = text;
        result
    }
}

impl NetdevCollector {
    fn parse(&mut self, text: &str, path: &Path, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let mut lines = text.lines();
        if lines.next().is_none() {
            return Err(CollectError::parse(path, 1, "empty file"));
        }
        let Some(header) = lines.next() else {
            return Err(CollectError::parse(path, HEADER_LINE, "missing column header"));
        };
        self.parse_header(header, path)?;
        let has_nohandler = self.columns.iter().any(|c| c == "receive_nohandler");
        for (n, line) in lines.enumerate() {
            let line_no = n + HEADER_LINE + 1;
            if line.trim().is_empty() {
                continue;
            }
            let Some((device, rest)) = line.split_once(':') else {
                return Err(CollectError::parse(path, line_no, "expected 'device: counters'"));
            };
            let device = device.trim();
            if device.is_empty() {
                return Err(CollectError::parse(path, line_no, "empty device name"));
            }
            // The whole line is checked before any of it is written, so a bad line leaves no partial device.
            self.values.clear();
            for value in rest.split_ascii_whitespace() {
                self.values.push(parse_u64(value, path, line_no)?);
            }
            if self.values.len() != self.columns.len() {
                return Err(CollectError::parse(
                    path,
                    line_no,
                    format!("{device} has {} counters, the header names {}", self.values.len(), self.columns.len()),
                ));
            }
            if self.exclude.as_ref().is_some_and(|re| re.is_match(device)) {
                continue;
            }
            for (column, value) in self.columns.iter().zip(&self.values) {
                emit(&mut self.name, &mut self.help, column, device, *value, out);
            }
            if !has_nohandler {
                let nohandler = self.rx_nohandler(paths, device);
                emit(&mut self.name, &mut self.help, "receive_nohandler", device, nohandler, out);
            }
        }
        Ok(())
    }
}
