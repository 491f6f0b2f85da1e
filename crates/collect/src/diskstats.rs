//! `diskstats`: per-device I/O counters from `/proc/diskstats`, and device identity from udev's database
//! (`<rootfs>/run/udev/data/b<major>:<minor>`), with node_exporter 1.5's names, help texts and units.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use regex::Regex;
use vigil_model::{Desc, MetricSink};

use crate::util::read_into;
use crate::{CollectError, Collector, Options, Paths};

/// One family per /proc/diskstats column after the device name, in column order.
const STATS: [Desc<'static>; 17] = [
    Desc::counter("node_disk_reads_completed_total", "The total number of reads completed successfully."),
    Desc::counter("node_disk_reads_merged_total", "The total number of reads merged."),
    Desc::counter("node_disk_read_bytes_total", "The total number of bytes read successfully."),
    Desc::counter("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads."),
    Desc::counter("node_disk_writes_completed_total", "The total number of writes completed successfully."),
    Desc::counter("node_disk_writes_merged_total", "The number of writes merged."),
    Desc::counter("node_disk_written_bytes_total", "The total number of bytes written successfully."),
    Desc::counter("node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes."),
    Desc::gauge("node_disk_io_now", "The number of I/Os currently in progress."),
    Desc::counter("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os."),
    Desc::counter("node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os."),
    Desc::counter("node_disk_discards_completed_total", "The total number of discards completed successfully."),
    Desc::counter("node_disk_discards_merged_total", "The total number of discards merged."),
    Desc::counter("node_disk_discarded_sectors_total", "The total number of sectors discarded successfully."),
    Desc::counter("node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards."),
    Desc::counter("node_disk_flush_requests_total", "The total number of flush requests completed successfully"),
    Desc::counter(
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
    ),
];

/// Bytes per sector in /proc/diskstats: always the UNIX 512-byte sector, whatever the device's block size.
const SECTOR: f64 = 512.0;
/// Seconds per millisecond tick. node_exporter multiplies by this constant rather than dividing by 1000, which
/// rounds differently (6911 ticks give 6.9110000000000005 s), so vigil does the same.
const TICK: f64 = 1.0 / 1000.0;

/// What each column is multiplied by: sectors become bytes (except discarded sectors, which node_exporter keeps
/// as sectors) and millisecond ticks become seconds.
const SCALE: [f64; 17] =
    [1.0, 1.0, SECTOR, TICK, 1.0, 1.0, SECTOR, TICK, 1.0, TICK, TICK, 1.0, 1.0, 1.0, TICK, 1.0, TICK];

/// Kernels before 4.18 have 11 counters per line (14 fields), 4.18 adds 4 discard counters (18 fields) and 5.5
/// adds 2 flush counters (20 fields).
const MIN_FIELDS: usize = 14;
const MAX_FIELDS: usize = 3 + STATS.len();

const INFO: Desc<'static> = Desc::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
const FILESYSTEM_INFO: Desc<'static> = Desc::gauge("node_disk_filesystem_info", "Info about disk filesystem.");
const DEVICE_MAPPER_INFO: Desc<'static> = Desc::gauge("node_disk_device_mapper_info", "Info about disk device mapper.");
/// Numeric udev properties of ATA disks and the family each becomes.
const ATA: [(&str, Desc<'static>); 3] = [
    ("ID_ATA_WRITE_CACHE", Desc::gauge("node_disk_ata_write_cache", "ATA disk has a write cache.")),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        Desc::gauge("node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled."),
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        Desc::gauge("node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs)."),
    ),
];

/// One parsed line of /proc/diskstats.
struct Line<'a> {
    major: u32,
    minor: u32,
    name: &'a str,
    stats: [u64; STATS.len()],
    /// How many of `stats` the kernel gave.
    count: usize,
}

/// Parses one line the way node_exporter's procfs library does: up to 20 whitespace-separated fields, the first
/// two and the fourth onwards unsigned integers. `Ok(None)` for a blank line. A line with fewer than 14 fields,
/// which no kernel since 2.6.25 writes, is an error here where node_exporter silently skips it: it means the
/// file was cut short.
fn parse_line<'a>(line: &'a str, path: &Path, n: usize) -> Result<Option<Line<'a>>, CollectError> {
    let mut fields = line.split_whitespace();
    let Some(major) = fields.next() else { return Ok(None) };
    let bad = |what: &str, s: &str| CollectError::parse(path, n, format!("bad {what} {s:?}"));
    let major = major.parse::<u32>().map_err(|_| bad("major number", major))?;
    let Some(minor) = fields.next() else { return Err(short(path, n, 1)) };
    let minor = minor.parse::<u32>().map_err(|_| bad("minor number", minor))?;
    let Some(name) = fields.next() else { return Err(short(path, n, 2)) };
    let mut stats = [0u64; STATS.len()];
    let mut count = 0;
    for (slot, field) in stats.iter_mut().zip(fields) {
        *slot = field.parse::<u64>().map_err(|_| bad("counter", field))?;
        count += 1;
    }
    if 3 + count < MIN_FIELDS {
        return Err(short(path, n, 3 + count));
    }
    Ok(Some(Line { major, minor, name, stats, count }))
}

fn short(path: &Path, n: usize, fields: usize) -> CollectError {
    CollectError::parse(path, n, format!("truncated line: {fields} fields, want {MIN_FIELDS} to {MAX_FIELDS}"))
}

/// The value of udev property `key` in a udev database file (`E:KEY=value` lines; the last one wins), or "".
fn udev_property<'a>(data: &'a str, key: &str) -> &'a str {
    let mut found = "";
    for line in data.lines() {
        let Some(prop) = line.strip_prefix("E:") else { continue };
        if let Some((k, v)) = prop.split_once('=') {
            if k == key {
                found = v;
            }
        }
    }
    found
}

/// Parses a float as Go's `strconv.ParseFloat` does for the inputs udev writes: out-of-range values are errors
/// rather than infinities.
fn parse_go_float(s: &str) -> Option<f64> {
    let v = s.parse::<f64>().ok()?;
    if v.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    Some(v)
}

pub struct DiskstatsCollector {
    device_exclude: Regex,
    buf: String,
    udev: String,
    udev_path: PathBuf,
    scratch: String,
    major: String,
    minor: String,
}

impl DiskstatsCollector {
    pub fn new(options: &Options) -> Self {
        DiskstatsCollector {
            device_exclude: options.diskstats_device_exclude.clone(),
            buf: String::new(),
            udev: String::new(),
            udev_path: PathBuf::new(),
            scratch: String::new(),
            major: String::new(),
            minor: String::new(),
        }
    }

    /// Reads udev's database entry for a block device into `self.udev`; left empty when there is none.
    fn read_udev(&mut self, udev_dir: &Path, major: u32, minor: u32) {
        self.scratch.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.scratch, "b{major}:{minor}");
        self.udev_path.as_mut_os_string().clear();
        self.udev_path.push(udev_dir);
        self.udev_path.push(&self.scratch);
        if let Err(err) = read_into(&self.udev_path, &mut self.udev) {
            tracing::trace!(%err, "no udev data");
            self.udev.clear();
        }
    }
}

impl Collector for DiskstatsCollector {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let path = paths.proc("diskstats");
        read_into(&path, &mut self.buf)?;
        // Check every line before writing anything, so a broken file gives an error and no partial data,
        // as in node_exporter.
        for (n, line) in self.buf.lines().enumerate() {
            parse_line(line, &path, n + 1)?;
        }
        let udev_dir = paths.root("run/udev/data");
        let buf = std::mem::take(&mut self.buf);
        for (n, line) in buf.lines().enumerate() {
            let Ok(Some(disk)) = parse_line(line, &path, n + 1) else { continue };
            if self.device_exclude.is_match(disk.name) {
                continue;
            }
            self.read_udev(&udev_dir, disk.major, disk.minor);
            let udev = self.udev.as_str();
            let dev = disk.name;
            self.major.clear();
            let _ = write!(self.major, "{}", disk.major);
            self.minor.clear();
            let _ = write!(self.minor, "{}", disk.minor);
            out.sample(
                &INFO,
                &[
                    ("device", dev),
                    ("major", &self.major),
                    ("minor", &self.minor),
                    ("model", udev_property(udev, "ID_MODEL")),
                    ("path", udev_property(udev, "ID_PATH")),
                    ("revision", udev_property(udev, "ID_REVISION")),
                    ("serial", udev_property(udev, "ID_SERIAL_SHORT")),
                    ("wwn", udev_property(udev, "ID_WWN")),
                ],
                1.0,
            );
            for ((desc, scale), v) in STATS.iter().zip(SCALE).zip(disk.stats.iter().take(disk.count)) {
                out.sample(desc, &[("device", dev)], *v as f64 * scale);
            }
            let fs_type = udev_property(udev, "ID_FS_TYPE");
            if !fs_type.is_empty() {
                out.sample(
                    &FILESYSTEM_INFO,
                    &[
                        ("device", dev),
                        ("type", fs_type),
                        ("usage", udev_property(udev, "ID_FS_USAGE")),
                        ("uuid", udev_property(udev, "ID_FS_UUID")),
                        ("version", udev_property(udev, "ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            let dm_name = udev_property(udev, "DM_NAME");
            if !dm_name.is_empty() {
                out.sample(
                    &DEVICE_MAPPER_INFO,
                    &[
                        ("device", dev),
                        ("lv_layer", udev_property(udev, "DM_LV_LAYER")),
                        ("lv_name", udev_property(udev, "DM_LV_NAME")),
                        ("name", dm_name),
                        ("uuid", udev_property(udev, "DM_UUID")),
                        ("vg_name", udev_property(udev, "DM_VG_NAME")),
                    ],
                    1.0,
                );
            }
            if !udev_property(udev, "ID_ATA").is_empty() {
                for (key, desc) in &ATA {
                    // Like node_exporter, a property that is absent or not a number is skipped.
                    if let Some(v) = parse_go_float(udev_property(udev, key)) {
                        out.sample(desc, &[("device", dev)], v);
                    }
                }
            }
        }
        self.buf = buf;
        Ok(())
    }
}
