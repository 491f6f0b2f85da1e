//! `netstat`: protocol counters from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as untyped
//! `node_netstat_<Proto>_<Field>` families, filtered by `Options::netstat_fields` like node_exporter.
//!
//! `netstat` and `snmp` come in line pairs (`Proto: names...` then `Proto: values...`); `snmp6` has one
//! `Ip6InOctets 123` per line, split after the first `6` into protocol and field. A missing `snmp6` (IPv6
//! disabled) is skipped. As in node_exporter, every value must be a number, filtered out or not.

use std::io::ErrorKind;
use std::path::Path;

use vigil_model::{Desc, MetricSink};

use crate::util::{join_into, parse_f64, read_into, CachedMatcher};
use crate::{CollectError, Collector, Options, Paths};

pub struct NetstatCollector {
    fields: CachedMatcher,
    buf: String,
    key: String,
    name: String,
    help: String,
}

/// A protocol or field name that can go into a metric name.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl NetstatCollector {
    pub fn new(options: &Options) -> Self {
        NetstatCollector {
            fields: CachedMatcher::new(options.netstat_fields.clone()),
            buf: String::new(),
            key: String::new(),
            name: String::new(),
            help: String::new(),
        }
    }

    /// Writes one field when its `<Proto>_<Field>` key passes the filter.
    fn emit(&mut self, proto: &str, field: &str, value: f64, out: &mut dyn MetricSink) {
        let key = join_into(&mut self.key, &[proto, "_", field]);
        if !self.fields.is_match(key) {
            return;
        }
        let name = join_into(&mut self.name, &["node_netstat_", key]);
        let help = join_into(&mut self.help, &["Statistic ", proto, field, "."]);
        out.sample(&Desc::untyped(name, help), &[], value);
    }

    /// Parses a file of `Proto: names...` / `Proto: values...` line pairs.
    fn parse_pairs(&mut self, text: &str, path: &Path, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let mut pairs = 0;
        while let Some((n, names)) = lines.next() {
            let Some((m, values)) = lines.next() else {
                return Err(CollectError::parse(path, n + 1, "field names without a line of values"));
            };
            let mut names = names.split_ascii_whitespace();
            let mut values = values.split_ascii_whitespace();
            let (Some(head), Some(value_head)) = (names.next(), values.next()) else {
                return Err(CollectError::parse(path, n + 1, "empty line"));
            };
            let Some(proto) = head.strip_suffix(':').filter(|p| valid_name(p)) else {
                return Err(CollectError::parse(path, n + 1, format!("expected 'Proto:', got {head:?}")));
            };
            if value_head != head {
                return Err(CollectError::parse(
                    path,
                    m + 1,
                    format!("values of {value_head:?} follow names of {head:?}"),
                ));
            }
            // The pair is checked whole before any of it is written.
            let (names_count, values_count) = (names.clone().count(), values.clone().count());
            if names_count != values_count {
                return Err(CollectError::parse(
                    path,
                    m + 1,
                    format!("{proto} has {names_count} field names but {values_count} values"),
                ));
            }
            for (name, value) in names.clone().zip(values.clone()) {
                if !valid_name(name) {
                    return Err(CollectError::parse(path, n + 1, format!("bad field name {name:?}")));
                }
                parse_f64(value, path, m + 1)?;
            }
            for (name, value) in names.zip(values) {
                let value = parse_f64(value, path, m + 1)?;
                self.emit(proto, name, value, out);
            }
            pairs += 1;
        }
        if pairs == 0 {
            return Err(CollectError::parse(path, 0, "no statistics"));
        }
        Ok(())
    }

    /// Parses `/proc/net/snmp6`: one `<Proto>6<Field> value` per line; lines without a `6` are skipped.
    fn parse_snmp6(&mut self, text: &str, path: &Path, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        for (n, line) in text.lines().enumerate() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(stat), Some(value)) = (fields.next(), fields.next()) else { continue };
            let Some(six) = stat.find('6') else { continue };
            let (proto, field) = stat.split_at(six + 1);
            let value = parse_f64(value, path, n + 1)?;
            if !valid_name(proto) || !valid_name(field) {
                return Err(CollectError::parse(path, n + 1, format!("bad statistic name {stat:?}")));
            }
            self.emit(proto, field, value, out);
        }
        Ok(())
    }
}

impl Collector for NetstatCollector {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        for file in ["net/netstat", "net/snmp"] {
            let path = paths.proc(file);
            read_into(&path, &mut self.buf)?;
            let text = std::mem::take(&mut self.buf);
            let result = self.parse_pairs(&text, &path, out);
            self.buf = text;
            result?;
        }
        let path = paths.proc("net/snmp6");
        match read_into(&path, &mut self.buf) {
            Ok(()) => {}
            // IPv6 is disabled on this kernel.
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        let text = std::mem::take(&mut self.buf);
        let result = self.parse_snmp6(&text, &path, out);
        self.buf = text;
        result
    }
}
