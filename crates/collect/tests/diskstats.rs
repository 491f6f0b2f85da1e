//! Fixture tests of the `diskstats` collector: /proc/diskstats of kernels with 14, 18 and 20 fields per line, and
//! udev database entries.

use vigil_collect::diskstats::DiskstatsCollector;
use vigil_collect::CollectError;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

/// sda: pre-4.18 kernel (11 counters); nvme0n1: 4.18 (15); dm-0: 5.5+ (17). Partitions and loop devices are
/// excluded by default.
const DISKSTATS: &str = "   8       0 sda 100 2 3000 6911 50 6 7000 800 1 900 1000\n\
   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n\
 259       0 nvme0n1 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25\n\
 259       1 nvme0n1p1 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25\n\
 253       0 dm-0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n\
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

const SDA_UDEV: &str = "S:disk/by-id/ata-Samsung_SSD_S123\n\
I:123456\n\
E:ID_ATA=1\n\
E:ID_ATA_WRITE_CACHE=1\n\
E:ID_ATA_WRITE_CACHE_ENABLED=0\n\
E:ID_ATA_ROTATION_RATE_RPM=7200\n\
E:ID_MODEL=Samsung_SSD\n\
E:ID_SERIAL=Samsung_SSD_S123\n\
E:ID_SERIAL_SHORT=S123\n\
E:ID_WWN=0x5002538e\n\
E:ID_REVISION=1B6Q\n\
E:ID_PATH=pci-0000:00:1f.2-ata-1\n\
E:ID_PATH=pci-0000:00:1f.2-ata-1.0\n";

const DM_UDEV: &str = "E:DM_NAME=vg-root\nE:DM_UUID=LVM-abc\nE:DM_VG_NAME=vg\nE:DM_LV_NAME=root\n\
E:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=1234-5678\nE:ID_FS_VERSION=1.0\n";

fn dev(d: &str) -> [(&str, &str); 1] {
    [("device", d)]
}

#[test]
fn counters_for_14_18_and_20_field_kernels() {
    let root = FakeRoot::new();
    root.proc("diskstats", DISKSTATS);
    let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    r.unwrap();

    let devices: Vec<&str> =
        sink.family("node_disk_info").filter_map(|s| s.labels.first()).map(|l| l.1.as_str()).collect();
    assert_eq!(devices, ["sda", "nvme0n1", "dm-0"]);

    let v = |name: &str, d: &str| sink.value(name, &dev(d));
    assert_eq!(v("node_disk_reads_completed_total", "sda"), Some(100.0));
    assert_eq!(v("node_disk_reads_merged_total", "sda"), Some(2.0));
    assert_eq!(v("node_disk_read_bytes_total", "sda"), Some(3000.0 * 512.0));
    // node_exporter multiplies milliseconds by 0.001, which is not quite dividing by 1000.
    assert_eq!(v("node_disk_read_time_seconds_total", "sda"), Some(6911.0 * 0.001));
    assert_eq!(v("node_disk_read_time_seconds_total", "sda"), Some(6.9110000000000005));
    assert_eq!(v("node_disk_writes_completed_total", "sda"), Some(50.0));
    assert_eq!(v("node_disk_writes_merged_total", "sda"), Some(6.0));
    assert_eq!(v("node_disk_written_bytes_total", "sda"), Some(7000.0 * 512.0));
    assert_eq!(v("node_disk_write_time_seconds_total", "sda"), Some(0.8));
    assert_eq!(v("node_disk_io_now", "sda"), Some(1.0));
    assert_eq!(v("node_disk_io_time_seconds_total", "sda"), Some(0.9));
    assert_eq!(v("node_disk_io_time_weighted_seconds_total", "sda"), Some(1.0));
    assert_eq!(v("node_disk_discards_completed_total", "sda"), None);
    assert_eq!(v("node_disk_flush_requests_total", "sda"), None);

    assert_eq!(v("node_disk_discards_completed_total", "nvme0n1"), Some(22.0));
    assert_eq!(v("node_disk_discards_merged_total", "nvme0n1"), Some(23.0));
    // Discarded sectors stay sectors.
    assert_eq!(v("node_disk_discarded_sectors_total", "nvme0n1"), Some(24.0));
    assert_eq!(v("node_disk_discard_time_seconds_total", "nvme0n1"), Some(25.0 * 0.001));
    assert_eq!(v("node_disk_flush_requests_total", "nvme0n1"), None);

    assert_eq!(v("node_disk_flush_requests_total", "dm-0"), Some(16.0));
    assert_eq!(v("node_disk_flush_requests_time_seconds_total", "dm-0"), Some(17.0 * 0.001));

    let per_device =
        |d: &str| sink.samples.iter().filter(|s| s.labels.iter().any(|(k, v)| k == "device" && v == d)).count();
    // Info plus 11, 15 and 17 counters.
    assert_eq!((per_device("sda"), per_device("nvme0n1"), per_device("dm-0")), (12, 16, 18));

    let s = sink.family("node_disk_io_now").next().unwrap();
    assert_eq!((s.kind, s.help.as_str()), (MetricKind::Gauge, "The number of I/Os currently in progress."));
    let s = sink.family("node_disk_flush_requests_total").next().unwrap();
    assert_eq!(
        (s.kind, s.help.as_str()),
        (MetricKind::Counter, "The total number of flush requests completed successfully")
    );
    let s = sink.family("node_disk_io_time_weighted_seconds_total").next().unwrap();
    assert_eq!(s.help, "The weighted # of seconds spent doing I/Os.");
}

#[test]
fn disk_info_without_udev_data_has_empty_labels() {
    let root = FakeRoot::new();
    root.proc("diskstats", DISKSTATS);
    let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    r.unwrap();
    let info = sink.family("node_disk_info").next().unwrap();
    assert_eq!(info.help, "Info of /sys/block/<block_device>.");
    let labels: Vec<(&str, &str)> = info.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        labels,
        [
            ("device", "sda"),
            ("major", "8"),
            ("minor", "0"),
            ("model", ""),
            ("path", ""),
            ("revision", ""),
            ("serial", ""),
            ("wwn", ""),
        ]
    );
    assert_eq!(sink.family("node_disk_filesystem_info").count(), 0);
    assert_eq!(sink.family("node_disk_ata_write_cache").count(), 0);
}

#[test]
fn udev_properties_give_info_filesystem_device_mapper_and_ata_families() {
    let root = FakeRoot::new();
    root.proc("diskstats", DISKSTATS);
    root.root("run/udev/data/b8:0", SDA_UDEV);
    root.root("run/udev/data/b253:0", DM_UDEV);
    root.root("run/udev/data/b259:0", "E:ID_ATA=1\nE:ID_ATA_WRITE_CACHE=yes\nE:ID_MODEL=a=b\ngarbage\n\u{0}\n");
    let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    r.unwrap();

    // node_exporter 1.5 takes the serial from ID_SERIAL_SHORT, and the last of repeated properties.
    let info = [
        ("device", "sda"),
        ("major", "8"),
        ("minor", "0"),
        ("model", "Samsung_SSD"),
        ("path", "pci-0000:00:1f.2-ata-1.0"),
        ("revision", "1B6Q"),
        ("serial", "S123"),
        ("wwn", "0x5002538e"),
    ];
    assert_eq!(sink.value("node_disk_info", &info), Some(1.0));
    assert_eq!(sink.value("node_disk_ata_write_cache", &dev("sda")), Some(1.0));
    assert_eq!(sink.value("node_disk_ata_write_cache_enabled", &dev("sda")), Some(0.0));
    assert_eq!(sink.value("node_disk_ata_rotation_rate_rpm", &dev("sda")), Some(7200.0));
    let s = sink.family("node_disk_ata_rotation_rate_rpm").next().unwrap();
    assert_eq!(s.help, "ATA disk rotation rate in RPMs (0 for SSDs).");

    // A value that is not a number is skipped; the value of a property may itself contain '='.
    assert_eq!(sink.value("node_disk_ata_write_cache", &dev("nvme0n1")), None);
    assert_eq!(sink.value("node_disk_info", &[("device", "nvme0n1"), ("model", "a=b")]), Some(1.0));

    let fs = [("device", "dm-0"), ("type", "ext4"), ("usage", "filesystem"), ("uuid", "1234-5678"), ("version", "1.0")];
    assert_eq!(sink.value("node_disk_filesystem_info", &fs), Some(1.0));
    assert_eq!(sink.family("node_disk_filesystem_info").count(), 1);
    let dm = [
        ("device", "dm-0"),
        ("lv_layer", ""),
        ("lv_name", "root"),
        ("name", "vg-root"),
        ("uuid", "LVM-abc"),
        ("vg_name", "vg"),
    ];
    assert_eq!(sink.value("node_disk_device_mapper_info", &dm), Some(1.0));
    assert_eq!(sink.family("node_disk_device_mapper_info").next().unwrap().help, "Info about disk device mapper.");
}

#[test]
fn device_exclusion_comes_from_the_options() {
    let root = FakeRoot::new();
    root.proc("diskstats", DISKSTATS);
    let mut options = root.options();
    options.diskstats_device_exclude = regex::Regex::new("^(sd|dm-)").unwrap();
    let (sink, r) = collect(&mut DiskstatsCollector::new(&options), &root);
    r.unwrap();
    let devices: Vec<&str> =
        sink.family("node_disk_info").filter_map(|s| s.labels.first()).map(|l| l.1.as_str()).collect();
    assert_eq!(devices, ["nvme0n1", "nvme0n1p1", "loop0"]);
}

#[test]
fn garbage_and_truncated_lines_are_errors_naming_file_and_line() {
    let good = "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n";
    for (bad, line) in [
        ("8 16 sdb 1 2 x 4 5 6 7 8 9 10 11\n", ":2:"),
        ("8 16 sdb 1 2 3\n", ":2:"),
        ("8 16\n", ":2:"),
        ("x 16 sdb 1 2 3 4 5 6 7 8 9 10 11\n", ":2:"),
        ("8 -1 sdb 1 2 3 4 5 6 7 8 9 10 11\n", ":2:"),
        ("8 16 sdb 1 2 3 4 5 6 7 8 9 10 99999999999999999999\n", ":2:"),
        ("\u{0}\u{1}garbage\n", ":2:"),
    ] {
        let root = FakeRoot::new();
        root.proc("diskstats", &format!("{good}{bad}"));
        let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
        let err = r.expect_err(bad);
        assert!(matches!(err, CollectError::Parse { .. }), "{err}");
        let err = err.to_string();
        assert!(err.contains("diskstats") && err.contains(line), "{bad:?}: {err}");
        // As in node_exporter, a broken file gives no samples rather than some.
        assert!(sink.samples.is_empty(), "{bad:?}");
    }
}

#[test]
fn blank_lines_and_extra_fields_are_tolerated() {
    let root = FakeRoot::new();
    root.proc("diskstats", "\n8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n\n");
    let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_disk_flush_requests_total", &dev("sda")), Some(16.0));
}

#[test]
fn missing_or_empty_file() {
    let root = FakeRoot::new();
    let (_, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    assert!(r.unwrap_err().to_string().contains("proc/diskstats"));
    root.proc("diskstats", "");
    let (sink, r) = collect(&mut DiskstatsCollector::new(&root.options()), &root);
    r.unwrap();
    assert!(sink.samples.is_empty());
}
