//! Collector options: where the host's pseudo-filesystems are and which devices and fields to skip.
//! Defaults are node_exporter 1.5's.

use std::path::{Path, PathBuf};

use regex::Regex;

/// Roots of the pseudo-filesystems, like node_exporter's `--path.procfs`, `--path.sysfs` and `--path.rootfs`.
#[derive(Clone, Debug)]
pub struct Paths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths { procfs: "/proc".into(), sysfs: "/sys".into(), rootfs: "/".into() }
    }
}

impl Paths {
    pub fn proc(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.procfs.join(rel)
    }

    pub fn sys(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// A mount point as seen from the agent: `rootfs` joined with the host path.
    pub fn root(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }
}

/// Regex defaults, written as node_exporter 1.5 writes them.
pub mod defaults {
    pub const FS_MOUNT_POINTS_EXCLUDE: &str =
        "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
    pub const FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
    pub const DISKSTATS_DEVICE_EXCLUDE: &str = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
    pub const NETCLASS_IGNORED_DEVICES: &str = "^$";
    pub const NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
    pub const VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
    pub const SYSTEMD_UNIT_INCLUDE: &str = ".+";
    pub const SYSTEMD_UNIT_EXCLUDE: &str = ".+\\.(automount|device|mount|scope|slice)";
}

/// Everything the collectors can be told. Regexes are compiled once, at start-up.
#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Paths,
    pub fs_mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub diskstats_device_exclude: Regex,
    /// Devices the netdev collector skips; none by default.
    pub netdev_device_exclude: Option<Regex>,
    pub netclass_ignored_devices: Regex,
    pub netstat_fields: Regex,
    pub vmstat_fields: Regex,
    pub systemd_unit_include: Regex,
    pub systemd_unit_exclude: Regex,
    /// The D-Bus socket the systemd collector talks to; `None` means the system bus
    /// (`$DBUS_SYSTEM_BUS_ADDRESS`, else `/run/dbus/system_bus_socket`).
    pub systemd_bus: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        use defaults::*;
        let re = |s: &str| Regex::new(s).expect("default regexes are valid");
        Options {
            paths: Paths::default(),
            fs_mount_points_exclude: re(FS_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: re(FS_TYPES_EXCLUDE),
            diskstats_device_exclude: re(DISKSTATS_DEVICE_EXCLUDE),
            netdev_device_exclude: None,
            netclass_ignored_devices: re(NETCLASS_IGNORED_DEVICES),
            netstat_fields: re(NETSTAT_FIELDS),
            vmstat_fields: re(VMSTAT_FIELDS),
            systemd_unit_include: re(&format!("^(?:{SYSTEMD_UNIT_INCLUDE})$")),
            systemd_unit_exclude: re(&format!("^(?:{SYSTEMD_UNIT_EXCLUDE})$")),
            systemd_bus: None,
        }
    }
}
