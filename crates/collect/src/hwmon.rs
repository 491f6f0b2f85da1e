//! `hwmon`: temperatures, voltages, fan speeds, power and other sensors of the chips under `/sys/class/hwmon`,
//! named as node_exporter 1.5 names them (`node_hwmon_temp_celsius`, `node_hwmon_fan_rpm`, ...).

use std::cmp::Ordering;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use vigil_model::{Desc, MetricKind, MetricSink};

use crate::util::read_into;
use crate::{CollectError, Collector, Options, Paths};

const CHIP_NAMES: Desc<'static> =
    Desc::gauge("node_hwmon_chip_names", "Annotation metric for human-readable chip names");
const SENSOR_LABEL: Desc<'static> = Desc::gauge("node_hwmon_sensor_label", "Label for given chip and sensor");
const BEEP_ENABLED: Desc<'static> = Desc::gauge("node_hwmon_beep_enabled", "Hardware beep enabled");
const VRM: Desc<'static> = Desc::gauge("node_hwmon_voltage_regulator_version", "Hardware voltage regulator");
const UPDATE_INTERVAL: Desc<'static> =
    Desc::gauge("node_hwmon_update_interval_seconds", "Hardware monitor update interval");

/// The sensor file types node_exporter reads (`<type><n>_<property>`); other files are ignored.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// One sensor attribute file's value. Slots are kept between scrapes so their strings are reused.
#[derive(Default)]
struct Slot {
    /// `<type><n>`, e.g. `temp1`; the `sensor` label.
    sensor: String,
    /// Length of the `<type>` part of `sensor`.
    type_len: usize,
    /// The part after `<type><n>_`, e.g. `input`; empty for a bare `<type><n>` file.
    prop: String,
    /// The file's content without surrounding newlines.
    value: String,
    /// Read order; a later file with the same sensor and property replaces an earlier one.
    seq: usize,
}

impl Slot {
    fn sensor_type(&self) -> &str {
        self.sensor.get(..self.type_len).unwrap_or("")
    }

    fn cmp_key(&self, other: &Slot) -> Ordering {
        (&self.sensor, &self.prop, self.seq).cmp(&(&other.sensor, &other.prop, other.seq))
    }
}

/// Splits a sensor file name into type, number and property as node_exporter's
/// `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$` does (leftmost-first, greedy):
/// `temp1_crit_alarm` gives ("temp", 1, "crit_alarm"), `beep_enable` gives ("beep_enable", 0, "").
fn explode_sensor_filename(name: &str) -> Option<(&str, u64, &str)> {
    let valid_prop = |p: &str| !p.is_empty() && !p.contains('\n');
    let type_end = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let (ty, rest) = name.split_at_checked(type_end)?;
    if ty.is_empty() {
        return None;
    }
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (digits, tail) = rest.split_at_checked(digits_end)?;
    let prop = match tail.strip_prefix('_') {
        None if tail.is_empty() => Some(""),
        Some(p) if valid_prop(p) => Some(p),
        _ => None,
    };
    if let Some(prop) = prop {
        // node_exporter parses the number with Atoi and skips the file when it does not fit.
        let num = if digits.is_empty() { 0 } else { digits.parse::<u64>().ok().filter(|n| *n <= i64::MAX as u64)? };
        return Some((ty, num, prop));
    }
    // The greedy split failed: the regex then tries shorter types, which can only succeed with no number and
    // the property starting at an underscore inside the type.
    let mut search = ty;
    while let Some(pos) = search.rfind('_') {
        let (short, after) = name.split_at_checked(pos)?;
        let prop = after.strip_prefix('_').unwrap_or("");
        if !short.is_empty() && valid_prop(prop) {
            return Some((short, 0, prop));
        }
        search = short;
    }
    None
}

/// node_exporter's `cleanMetricName`: lower-case, every character outside `[a-z0-9:_]` becomes `_`, and
/// underscores are trimmed from both ends.
fn clean_name_into(name: &str, out: &mut String) {
    let start = out.len();
    for c in name.chars() {
        // Go's unicode.ToLower maps exactly two non-ASCII letters into ASCII: U+0130 and the Kelvin sign.
        let c = match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            '\u{130}' => 'i',
            '\u{212A}' => 'k',
            c => c,
        };
        out.push(if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' { c } else { '_' });
    }
    let trimmed_end = out.trim_end_matches('_').len().max(start);
    out.truncate(trimmed_end);
    let leading = out.get(start..).map_or(0, |s| s.len() - s.trim_start_matches('_').len());
    out.drain(start..start + leading);
}

/// Parses a float as Go's `strconv.ParseFloat` does for sysfs values: out-of-range values are errors rather
/// than infinities.
fn parse_go_float(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok()?;
    if v.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    Some(v)
}

pub struct HwmonCollector {
    slots: Vec<Slot>,
    /// How many entries of `slots` the current chip filled.
    used: usize,
    names: Vec<OsString>,
    file: PathBuf,
    attr: String,
    chip: String,
    chip_name: String,
    name: String,
    help: String,
}

impl HwmonCollector {
    pub fn new(_: &Options) -> Self {
        HwmonCollector {
            slots: Vec::new(),
            used: 0,
            names: Vec::new(),
            file: PathBuf::new(),
            attr: String::new(),
            chip: String::new(),
            chip_name: String::new(),
            name: String::new(),
            help: String::new(),
        }
    }

    /// Reads a file whole into `self.attr`, stripped of leading and trailing newlines as node_exporter strips
    /// them (other whitespace is kept). `None` when it cannot be read.
    fn read_value(&mut self, path: &Path) -> Option<()> {
        read_into(path, &mut self.attr).ok()?;
        let end = self.attr.trim_end_matches('\n').len();
        self.attr.truncate(end);
        let leading = self.attr.len() - self.attr.trim_start_matches('\n').len();
        self.attr.drain(..leading);
        Some(())
    }

    /// Works out the `chip` label into `self.chip`: the device's bus and name (`platform_coretemp_0`), else the
    /// chip's `name` file, else the hwmon directory's own name.
    fn chip_label(&mut self, dir: &Path) -> Result<(), CollectError> {
        self.chip.clear();
        if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
            let dev_name = device.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let dev_type = device.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("");
            clean_name_into(dev_type, &mut self.chip);
            if !self.chip.is_empty() {
                self.chip.push('_');
            }
            let before = self.chip.len();
            clean_name_into(dev_name, &mut self.chip);
            if self.chip.len() > before {
                return Ok(());
            }
            self.chip.clear();
        }
        if read_into(&dir.join("name"), &mut self.attr).is_ok() {
            clean_name_into(&self.attr, &mut self.chip);
            if !self.chip.is_empty() {
                return Ok(());
            }
        }
        let real = std::fs::canonicalize(dir).map_err(|e| CollectError::io(dir, e))?;
        clean_name_into(real.file_name().and_then(|n| n.to_str()).unwrap_or(""), &mut self.chip);
        if self.chip.is_empty() {
            return Err(CollectError::Other(format!("could not derive a monitoring name for {}", dir.display())));
        }
        Ok(())
    }

    /// Reads every sensor file of `dir` into slots.
    fn read_sensors(&mut self, dir: &Path) -> Result<(), CollectError> {
        self.names.clear();
        for entry in std::fs::read_dir(dir).map_err(|e| CollectError::io(dir, e))? {
            let entry = entry.map_err(|e| CollectError::io(dir, e))?;
            self.names.push(entry.file_name());
        }
        self.names.sort_unstable();
        let names = std::mem::take(&mut self.names);
        for name in &names {
            let Some((ty, num, prop)) = name.to_str().and_then(explode_sensor_filename) else { continue };
            if !SENSOR_TYPES.contains(&ty) {
                continue;
            }
            self.file.as_mut_os_string().clear();
            self.file.push(dir);
            self.file.push(name);
            let file = std::mem::take(&mut self.file);
            let read = self.read_value(&file);
            self.file = file;
            if read.is_none() {
                continue;
            }
            if self.used == self.slots.len() {
                self.slots.push(Slot::default());
            }
            let seq = self.used;
            let Some(slot) = self.slots.get_mut(seq) else { break };
            self.used += 1;
            slot.sensor.clear();
            slot.sensor.push_str(ty);
            slot.type_len = ty.len();
            // Writing to a String cannot fail.
            let _ = write!(slot.sensor, "{num}");
            slot.prop.clear();
            slot.prop.push_str(prop);
            slot.value.clear();
            slot.value.push_str(&self.attr);
            slot.seq = seq;
        }
        self.names = names;
        Ok(())
    }

    fn update_chip(&mut self, dir: &Path, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        self.chip_label(dir)?;
        self.used = 0;
        self.read_sensors(dir)?;
        let device = dir.join("device");
        if std::fs::metadata(&device).is_ok() {
            self.read_sensors(&device)?;
        }

        self.chip_name.clear();
        if read_into(&dir.join("name"), &mut self.attr).is_ok() {
            clean_name_into(&self.attr, &mut self.chip_name);
            if !self.chip_name.is_empty() {
                out.sample(&CHIP_NAMES, &[("chip", &self.chip), ("chip_name", &self.chip_name)], 1.0);
            }
        }

        let used = self.used.min(self.slots.len());
        let slots = self.slots.get_mut(..used).unwrap_or_default();
        slots.sort_unstable_by(Slot::cmp_key);
        for group in slots.chunk_by(|a, b| a.sensor == b.sensor) {
            emit_sensor(&self.chip, group, &mut self.name, &mut self.help, out);
        }
        Ok(())
    }
}

/// The value of `prop` among one sensor's slots (sorted by property, the last duplicate winning).
fn get<'a>(group: &'a [Slot], prop: &str) -> Option<&'a str> {
    group.iter().rev().find(|s| s.prop == prop).map(|s| s.value.as_str())
}

/// Writes the samples of one sensor (all its slots, sorted by property) the way node_exporter's updateHwmon does.
fn emit_sensor(chip: &str, group: &[Slot], name: &mut String, help: &mut String, out: &mut dyn MetricSink) {
    let Some(first) = group.first() else { return };
    let sensor = first.sensor.as_str();
    let ty = first.sensor_type();
    let labels = [("chip", chip), ("sensor", sensor)];
    if let Some(label) = get(group, "label") {
        out.sample(&SENSOR_LABEL, &[("chip", chip), ("label", label), ("sensor", sensor)], 1.0);
    }
    match ty {
        "beep_enable" => {
            let v = if get(group, "") == Some("1") { 1.0 } else { 0.0 };
            out.sample(&BEEP_ENABLED, &labels, v);
            return;
        }
        "vrm" => {
            if let Some(v) = get(group, "").and_then(parse_go_float) {
                out.sample(&VRM, &labels, v);
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = get(group, "").and_then(parse_go_float) {
                out.sample(&UPDATE_INTERVAL, &labels, v * 0.001);
            }
            return;
        }
        _ => {}
    }
    let has_bare = get(group, "").is_some();
    let mut iter = group.iter().peekable();
    while let Some(slot) = iter.next() {
        // Of several files with the same property only the last read counts.
        if iter.peek().is_some_and(|next| next.prop == slot.prop) {
            continue;
        }
        let element = slot.prop.as_str();
        if element == "label" {
            continue;
        }
        let Some(v) = parse_go_float(&slot.value) else { continue };
        name.clear();
        name.push_str("node_hwmon_");
        name.push_str(ty);
        if element == "input" {
            // A bare `temp1` file takes the plain name, so `temp1_input` gets its own.
            if has_bare {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            clean_name_into(element, name);
        }
        help.clear();
        let (suffix, kind, value) = if element == "fault" || element == "alarm" {
            let _ = write!(help, "Hardware sensor {element} status ({ty})");
            ("", MetricKind::Gauge, v)
        } else if element == "beep" {
            help.push_str("Hardware monitor sensor has beeping enabled");
            ("_enabled", MetricKind::Gauge, v)
        } else if ty == "in" || ty == "cpu" {
            let _ = write!(help, "Hardware monitor for voltage ({element})");
            ("_volts", MetricKind::Gauge, v * 0.001)
        } else if ty == "temp" && element != "type" {
            let element = if element.is_empty() { "input" } else { element };
            let _ = write!(help, "Hardware monitor for temperature ({element})");
            ("_celsius", MetricKind::Gauge, v * 0.001)
        } else if ty == "curr" {
            let _ = write!(help, "Hardware monitor for current ({element})");
            ("_amps", MetricKind::Gauge, v * 0.001)
        } else if ty == "energy" {
            let _ = write!(help, "Hardware monitor for joules used so far ({element})");
            ("_joule_total", MetricKind::Counter, v / 1000000.0)
        } else if ty == "power" && element == "accuracy" {
            help.push_str("Hardware monitor power meter accuracy, as a ratio");
            ("", MetricKind::Gauge, v / 1000000.0)
        } else if ty == "power"
            && matches!(element, "average_interval" | "average_interval_min" | "average_interval_max")
        {
            let _ = write!(help, "Hardware monitor power usage update interval ({element})");
            ("_seconds", MetricKind::Gauge, v * 0.001)
        } else if ty == "power" {
            let _ = write!(help, "Hardware monitor for power usage in watts ({element})");
            ("_watt", MetricKind::Gauge, v / 1000000.0)
        } else if ty == "humidity" {
            let _ = write!(
                help,
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            );
            ("", MetricKind::Gauge, v / 1000000.0)
        } else if ty == "fan" && matches!(element, "input" | "min" | "max" | "target") {
            let _ = write!(help, "Hardware monitor for fan revolutions per minute ({element})");
            ("_rpm", MetricKind::Gauge, v)
        } else {
            let _ = write!(help, "Hardware monitor {ty} element {element}");
            ("", MetricKind::Gauge, v)
        };
        name.push_str(suffix);
        out.sample(&Desc { name: name.as_str(), help: help.as_str(), kind }, &labels, value);
    }
}

impl Collector for HwmonCollector {
    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let class = paths.sys("class/hwmon");
        let entries = match std::fs::read_dir(&class) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!("{} does not exist", class.display())));
            }
            Err(e) => return Err(CollectError::io(&class, e)),
        };
        let mut chips = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CollectError::io(&class, e))?;
            let is_symlink = entry.file_type().is_ok_and(|t| t.is_symlink());
            chips.push((entry.path(), is_symlink));
        }
        chips.sort_unstable();
        // node_exporter keeps one error variable that every symlink check overwrites, nil on success, and every
        // failing chip sets; whatever it holds at the end fails the collection. The other chips are reported
        // either way. vigil follows it, so `node_scrape_collector_success` agrees.
        let mut last_err = None;
        for (dir, is_symlink) in &chips {
            let meta = match std::fs::metadata(dir) {
                Ok(meta) => {
                    if *is_symlink {
                        last_err = None;
                    }
                    meta
                }
                Err(e) => {
                    if *is_symlink {
                        last_err = Some(CollectError::io(dir, e));
                    }
                    continue;
                }
            };
            if !meta.is_dir() {
                continue;
            }
            if let Err(err) = self.update_chip(dir, out) {
                last_err = Some(err);
            }
        }
        match last_err {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_file_names_split_like_node_exporter() {
        assert_eq!(explode_sensor_filename("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(explode_sensor_filename("temp1_crit_alarm"), Some(("temp", 1, "crit_alarm")));
        assert_eq!(explode_sensor_filename("in0_input"), Some(("in", 0, "input")));
        assert_eq!(explode_sensor_filename("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(explode_sensor_filename("temp007_max"), Some(("temp", 7, "max")));
        assert_eq!(explode_sensor_filename("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode_sensor_filename("update_interval"), Some(("update_interval", 0, "")));
        assert_eq!(explode_sensor_filename("name"), Some(("name", 0, "")));
        // The greedy split fails, so the type stops at an underscore and the rest is the property.
        assert_eq!(explode_sensor_filename("fan_1input"), Some(("fan", 0, "1input")));
        assert_eq!(explode_sensor_filename("fan1input"), None);
        assert_eq!(explode_sensor_filename("temp1_"), None);
        assert_eq!(explode_sensor_filename("1temp"), None);
        assert_eq!(explode_sensor_filename(""), None);
        assert_eq!(explode_sensor_filename("temp99999999999999999999_input"), None);
    }

    #[test]
    fn names_are_cleaned_like_node_exporter() {
        let clean = |s: &str| {
            let mut out = String::from("x");
            clean_name_into(s, &mut out);
            out
        };
        assert_eq!(clean("coretemp\n"), "xcoretemp");
        assert_eq!(clean("__Core 0__"), "xcore_0");
        assert_eq!(clean("İ\u{212A}é"), "xik");
        assert_eq!(clean("___"), "x");
        assert_eq!(clean("coretemp.0"), "xcoretemp_0");
    }
}
