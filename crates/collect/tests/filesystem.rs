//! Fixture tests of the `filesystem` collector: a hand-made mount table whose mount points are directories under
//! the fake root, so statvfs runs on real paths.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use vigil_collect::filesystem::FilesystemCollector;
use vigil_collect::CollectError;
use vigil_model::metric::VecSink;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

/// The block size, size in bytes and inode count of the filesystem holding `path`, straight from statvfs.
fn statvfs(path: &Path) -> (f64, f64, f64) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is NUL-terminated and `st` is large enough for a statvfs struct.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) }, 0);
    // SAFETY: statvfs returned 0, so the struct is filled in.
    let st = unsafe { st.assume_init() };
    let b = st.f_bsize as f64;
    (b, st.f_blocks as f64 * b, st.f_files as f64)
}

fn labels<'a>(device: &'a str, fstype: &'a str, mountpoint: &'a str) -> [(&'a str, &'a str); 3] {
    [("device", device), ("fstype", fstype), ("mountpoint", mountpoint)]
}

/// Checks the samples of one mount against statvfs of `path`. Size and inode count are compared exactly; free
/// space moves while other processes write to the temp directory's filesystem, so it is only checked for shape.
fn assert_stats(sink: &VecSink, l: &[(&str, &str)], path: &Path) {
    let (bsize, size, files) = statvfs(path);
    let get = |name: &str| sink.value(name, l).unwrap_or_else(|| panic!("no {name} for {l:?}"));
    assert_eq!(get("node_filesystem_size_bytes"), size);
    assert_eq!(get("node_filesystem_files"), files);
    let (free, avail) = (get("node_filesystem_free_bytes"), get("node_filesystem_avail_bytes"));
    assert!(avail <= free && free <= size, "{avail} <= {free} <= {size}");
    assert_eq!(free % bsize, 0.0);
    assert!(get("node_filesystem_files_free") <= files);
}

fn values(sink: &VecSink, l: &[(&str, &str)]) -> [Option<f64>; 5] {
    [
        sink.value("node_filesystem_size_bytes", l),
        sink.value("node_filesystem_free_bytes", l),
        sink.value("node_filesystem_avail_bytes", l),
        sink.value("node_filesystem_files", l),
        sink.value("node_filesystem_files_free", l),
    ]
}

const MOUNTS: &str = "/dev/sda1 / ext4 rw,relatime 0 0\n\
proc /proc proc rw,nosuid 0 0\n\
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n\
/dev/sdb1 /data xfs ro,nosuid,noatime 0 0\n\
tmpfs /with\\040space\\011tab tmpfs rw,size=10k 0 0\n\
/dev/sdc1 /missing ext4 rw 0 0\n\
overlay /merged overlay rw 0 0\n";

fn fixture() -> FakeRoot {
    let root = FakeRoot::new();
    root.proc("1/mounts", MOUNTS);
    root.root("data/.keep", "");
    root.root("with space\ttab/.keep", "");
    root
}

#[test]
fn statvfs_of_each_mount_point_under_rootfs() {
    let root = fixture();
    let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
    r.unwrap();
    let fs_root = root.path().join("root");

    let l = labels("/dev/sda1", "ext4", "/");
    assert_stats(&sink, &l, &fs_root);
    assert_eq!(sink.value("node_filesystem_device_error", &l), Some(0.0));
    assert_eq!(sink.value("node_filesystem_readonly", &l), Some(0.0));

    let l = labels("/dev/sdb1", "xfs", "/data");
    assert_stats(&sink, &l, &fs_root.join("data"));
    assert_eq!(sink.value("node_filesystem_readonly", &l), Some(1.0));

    // Escaped blanks in the mount point are decoded, both in the label and in the path given to statvfs.
    let l = labels("tmpfs", "tmpfs", "/with space\ttab");
    assert_eq!(sink.value("node_filesystem_device_error", &l), Some(0.0));
    assert_stats(&sink, &l, &fs_root.join("with space\ttab"));

    // A failed statvfs reports a device error and nothing else.
    let l = labels("/dev/sdc1", "ext4", "/missing");
    assert_eq!(sink.value("node_filesystem_device_error", &l), Some(1.0));
    assert_eq!(values(&sink, &l), [None; 5]);
    assert_eq!(sink.value("node_filesystem_readonly", &l), None);

    // Excluded by the default mount point and filesystem type patterns.
    for mp in ["/proc", "/sys/fs/cgroup", "/merged"] {
        assert!(sink.samples.iter().all(|s| s.labels.iter().all(|(_, v)| v != mp)), "{mp} should be excluded");
    }
    assert_eq!(sink.family("node_filesystem_device_error").count(), 4);

    let s = sink.family("node_filesystem_avail_bytes").next().unwrap();
    assert_eq!(s.help, "Filesystem space available to non-root users in bytes.");
    assert_eq!(s.kind, MetricKind::Gauge);
    let s = sink.family("node_filesystem_device_error").next().unwrap();
    assert_eq!(s.help, "Whether an error occurred while getting statistics for the given device.");
}

#[test]
fn duplicate_mounts_are_reported_once_first_one_wins() {
    let root = FakeRoot::new();
    root.proc(
        "1/mounts",
        "/dev/sda1 / ext4 rw 0 0\n/dev/sda1 / ext4 rw 0 0\n/dev/sda1 / ext4 ro 0 0\n/dev/sdb1 / ext4 ro 0 0\n",
    );
    root.root(".keep", "");
    let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.family("node_filesystem_size_bytes").count(), 2);
    assert_eq!(sink.value("node_filesystem_readonly", &labels("/dev/sda1", "ext4", "/")), Some(0.0));
    assert_eq!(sink.value("node_filesystem_readonly", &labels("/dev/sdb1", "ext4", "/")), Some(1.0));
}

#[test]
fn exclusion_patterns_come_from_the_options() {
    let root = fixture();
    let mut options = root.options();
    options.fs_types_exclude = regex::Regex::new("^xfs$").unwrap();
    options.fs_mount_points_exclude = regex::Regex::new("^/missing$").unwrap();
    let (sink, r) = collect(&mut FilesystemCollector::new(&options), &root);
    r.unwrap();
    assert_eq!(sink.value("node_filesystem_device_error", &labels("/dev/sdb1", "xfs", "/data")), None);
    assert_eq!(sink.value("node_filesystem_device_error", &labels("/dev/sdc1", "ext4", "/missing")), None);
    assert_eq!(sink.value("node_filesystem_device_error", &labels("proc", "proc", "/proc")), Some(1.0));
}

#[test]
fn rootfs_prefix_is_stripped_from_mount_points() {
    let root = FakeRoot::new();
    root.root("data/.keep", "");
    let prefix = root.path().join("root");
    let prefix = prefix.to_str().unwrap();
    root.proc("1/mounts", &format!("tmpfs {prefix}/data tmpfs rw 0 0\n/dev/sda1 {prefix} ext4 rw 0 0\n"));
    let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(sink.value("node_filesystem_device_error", &labels("tmpfs", "tmpfs", "/data")), Some(0.0));
    assert_eq!(sink.value("node_filesystem_device_error", &labels("/dev/sda1", "ext4", "/")), Some(0.0));
}

#[test]
fn falls_back_to_the_agents_own_mount_table() {
    for rel in ["mounts", "self/mounts"] {
        let root = FakeRoot::new();
        root.proc(rel, "/dev/sda1 / ext4 rw 0 0\n");
        root.root(".keep", "");
        let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
        r.unwrap();
        assert_eq!(sink.value("node_filesystem_device_error", &labels("/dev/sda1", "ext4", "/")), Some(0.0), "{rel}");
    }
}

#[test]
fn malformed_mount_tables_are_errors_naming_file_and_line() {
    for (content, line) in [
        ("/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data\n", ":2:"),
        ("\u{0}\u{1}garbage", ":1:"),
        ("/dev/sda1 / ext4 rw 0 0\n\n/dev/sdb1 /data xfs rw 0 0\n", ":2:"),
        ("/dev/sda1", ":1:"),
    ] {
        let root = FakeRoot::new();
        root.proc("1/mounts", content);
        let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
        let err = r.expect_err(content);
        assert!(matches!(err, CollectError::Parse { .. }), "{err}");
        let err = err.to_string();
        assert!(err.contains("1/mounts") && err.contains(line), "{content:?}: {err}");
        // Like node_exporter, a broken table gives no samples at all.
        assert!(sink.samples.is_empty());
    }
}

#[test]
fn missing_mount_table_is_an_error_naming_it() {
    let root = FakeRoot::new();
    let (_, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("mounts"), "{err}");
}

#[test]
fn empty_mount_table_gives_no_samples() {
    let root = FakeRoot::new();
    root.proc("1/mounts", "");
    let (sink, r) = collect(&mut FilesystemCollector::new(&root.options()), &root);
    r.unwrap();
    assert!(sink.samples.is_empty());
}

#[test]
fn buffers_are_reused_across_scrapes() {
    let root = fixture();
    let mut c = FilesystemCollector::new(&root.options());
    let (first, r) = collect(&mut c, &root);
    r.unwrap();
    root.proc("1/mounts", "/dev/sda1 / ext4 rw 0 0\n");
    let (second, r) = collect(&mut c, &root);
    r.unwrap();
    assert_eq!(first.family("node_filesystem_device_error").count(), 4);
    assert_eq!(second.family("node_filesystem_device_error").count(), 1);
}
