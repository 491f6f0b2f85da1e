//! Synthetic node_exporter-like series shared by the tsdb examples: a deterministic random generator, the mix of
//! series kinds one host exposes with their label sets, and per-series value generators that produce the
//! values one scrape at a time. Included with `#[path = "support/node_like.rs"] mod node_like;`.

// Each example uses only part of this module.
#![allow(dead_code)]

/// Milliseconds between two scrapes of a host.
pub const INTERVAL_MS: i64 = 10_000;

/// A tiny deterministic xorshift64* generator, so that every run measures the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly normal with mean 0 and standard deviation 1 (a sum of uniforms).
    pub fn normal(&mut self) -> f64 {
        (0..6).map(|_| self.unit()).sum::<f64>() * std::f64::consts::SQRT_2 - 3.0 * std::f64::consts::SQRT_2
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A scheduling delay of 0 to `jitter_ms` milliseconds.
    pub fn jitter(&mut self, jitter_ms: u64) -> i64 {
        (self.next_u64() % (jitter_ms + 1)) as i64
    }
}

/// Scrape timestamps from `start`: a 10 s grid plus a few milliseconds of scheduling delay (`jitter_ms` at most).
pub fn timestamps(start: i64, count: usize, rng: &mut Rng, jitter_ms: u64) -> Vec<i64> {
    (0..count as i64).map(|n| start + n * INTERVAL_MS + rng.jitter(jitter_ms)).collect()
}

/// The kinds of series, with how many of each one host exposes (roughly node_exporter's default collectors on a
/// 4-CPU machine with 2 disks, 3 network interfaces and 5 filesystems).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// `node_cpu_seconds_total`: jiffies divided by 100, 8 modes per CPU.
    CpuSeconds,
    /// `node_network_{receive,transmit}_{bytes,packets}_total`, bursty traffic.
    NetBytes,
    /// `node_disk_*`: operations, bytes in 512-byte sectors, milliseconds times 0.001.
    Disk,
    /// `node_memory_*_bytes` that move by whole pages.
    MemBytes,
    /// `node_load1/5/15` with two decimals.
    Load,
    /// `node_filesystem_{avail,free}_bytes`, moving by 4 KiB blocks now and then.
    FsBytes,
    /// Error, drop and event counters that rarely move.
    RareCounter,
    /// Info metrics, sizes, limits, flags.
    Constant,
    /// `node_scrape_collector_duration_seconds`: nanoseconds divided by 1e9, as Go reports durations.
    Duration,
    /// Arbitrary floats; not node_exporter-like, shown for the XOR fallback only.
    RandomFloat,
}

pub const KINDS: [(Kind, &str, usize); 10] = [
    (Kind::CpuSeconds, "cpu seconds (counter, 0.01)", 32),
    (Kind::NetBytes, "network bytes/packets (counter)", 12),
    (Kind::Disk, "disk ops/bytes/seconds (counter)", 24),
    (Kind::MemBytes, "memory bytes (gauge, pages)", 24),
    (Kind::Load, "load average (gauge, 0.01)", 3),
    (Kind::FsBytes, "filesystem bytes (gauge)", 10),
    (Kind::RareCounter, "rarely-moving counters", 60),
    (Kind::Constant, "constants (info, sizes, flags)", 150),
    (Kind::Duration, "scrape durations (gauge, ns)", 40),
    (Kind::RandomFloat, "random floats (not in the mix)", 10),
];

/// The series of one host in the node_exporter-like mix (every kind but `RandomFloat`), as (kind, index).
pub fn host_mix() -> impl Iterator<Item = (Kind, usize)> {
    KINDS.iter().filter(|k| k.0 != Kind::RandomFloat).flat_map(|&(kind, _, count)| (0..count).map(move |i| (kind, i)))
}

/// How many series one host of the mix has.
pub fn series_per_host() -> usize {
    host_mix().count()
}

/// Generates `count` values of series number `index` of `kind`.
pub fn values(kind: Kind, index: usize, rng: &mut Rng, count: usize) -> Vec<f64> {
    let mut series = SeriesGen::new(kind, index, rng);
    (0..count).map(|_| series.next(rng)).collect()
}

/// The state of one series' value generator: its random parameters, drawn once, and its current value.
pub struct SeriesGen(State);

enum State {
    CpuSeconds { mean: f64, spread: f64, ticks: f64 },
    NetBytes { rate: f64, packet_size: f64, packets: bool, total: f64 },
    Disk { ops_rate: f64, unit: DiskUnit, total: f64 },
    MemBytes { step_pages: f64, moves: f64, pages: f64 },
    Load { decay: f64, runnable: f64, load: f64 },
    FsBytes { blocks: f64, moves: f64, step: f64 },
    RareCounter { p: f64, total: f64 },
    Constant(f64),
    Duration { typical_ns: f64 },
    RandomFloat(f64),
}

#[derive(Clone, Copy)]
enum DiskUnit {
    Operations,
    Bytes,
    Seconds,
}

impl SeriesGen {
    /// Draws the parameters of series number `index` of `kind`.
    pub fn new(kind: Kind, index: usize, rng: &mut Rng) -> SeriesGen {
        let state = match kind {
            Kind::CpuSeconds => {
                // Mean and spread of the jiffies (1/100 s) each mode gains per 10 s scrape, in the order of
                // `CPU_MODES`.
                const MODES: [(f64, f64); 8] = [
                    (850.0, 60.0),
                    (80.0, 50.0),
                    (30.0, 15.0),
                    (3.0, 3.0),
                    (0.3, 0.5),
                    (4.0, 3.0),
                    (0.02, 0.2),
                    (1.0, 1.0),
                ];
                let (mean, spread) = MODES[index % MODES.len()];
                let ticks = (rng.range(0.5, 2.0) * 2.6e8 * mean / 1000.0).round();
                State::CpuSeconds { mean, spread, ticks }
            }
            Kind::NetBytes => {
                let rate = rng.range(2e3, 2e5) * 10.0;
                let packet_size = rng.range(300.0, 1200.0);
                let total = rng.range(1e9, 1e12).round();
                State::NetBytes { rate, packet_size, packets: index % 2 == 1, total }
            }
            Kind::Disk => {
                let ops_rate = rng.range(1.0, 60.0);
                let total = rng.range(1e6, 1e9).round();
                let unit = [DiskUnit::Operations, DiskUnit::Bytes, DiskUnit::Seconds][index % 3];
                State::Disk { ops_rate, unit, total }
            }
            Kind::MemBytes => {
                let step_pages = rng.range(1.0, 2000.0);
                let moves = rng.range(0.3, 1.0);
                let pages = rng.range(1e4, 4e6).round();
                State::MemBytes { step_pages, moves, pages }
            }
            Kind::Load => {
                let decay = (-10.0 / [60.0f64, 300.0, 900.0][index % 3]).exp();
                let runnable: f64 = rng.range(0.0, 4.0);
                State::Load { decay, runnable, load: runnable }
            }
            Kind::FsBytes => {
                let blocks = rng.range(1e5, 1e8).round();
                let moves = rng.range(0.05, 0.5);
                let step = rng.range(1.0, 5000.0);
                State::FsBytes { blocks, moves, step }
            }
            Kind::RareCounter => {
                let p = rng.range(0.001, 0.05);
                let total = if rng.chance(0.5) { 0.0 } else { rng.range(1.0, 1e5).round() };
                State::RareCounter { p, total }
            }
            Kind::Constant => {
                const VALUES: [f64; 8] = [1.0, 0.0, 1500.0, 8_345_178_112.0, 1.712e9, 2.4e9, 65536.0, 0.5];
                State::Constant(VALUES[index % VALUES.len()])
            }
            Kind::Duration => State::Duration { typical_ns: rng.range(1e4, 5e6) },
            Kind::RandomFloat => State::RandomFloat(rng.range(0.0, 100.0)),
        };
        SeriesGen(state)
    }

    /// The value at the next scrape.
    pub fn next(&mut self, rng: &mut Rng) -> f64 {
        match &mut self.0 {
            State::CpuSeconds { mean, spread, ticks } => {
                *ticks += (*mean + *spread * rng.normal()).round().max(0.0);
                *ticks / 100.0
            }
            State::NetBytes { rate, packet_size, packets, total } => {
                let burst = if rng.chance(0.05) { rng.range(5.0, 20.0) } else { 1.0 };
                let bytes = (*rate * rng.range(0.3, 1.7) * burst).round();
                *total += if *packets { (bytes / *packet_size).round() } else { bytes };
                *total
            }
            State::Disk { ops_rate, unit, total } => {
                let ops = (*ops_rate * rng.range(0.0, 2.0)).round();
                match unit {
                    DiskUnit::Operations => {
                        *total += ops;
                        *total
                    }
                    // Sectors of 512 bytes, mostly in whole 4 KiB pages (8 sectors).
                    DiskUnit::Bytes => {
                        let odd_sector = if rng.chance(0.1) { 1.0 } else { 0.0 };
                        *total += ops * 8.0 * rng.range(1.0, 16.0).round() + odd_sector;
                        *total * 512.0
                    }
                    // Milliseconds times 0.001, as node_exporter computes them.
                    DiskUnit::Seconds => {
                        *total += (ops * rng.range(0.1, 4.0)).round();
                        *total * 0.001
                    }
                }
            }
            State::MemBytes { step_pages, moves, pages } => {
                if rng.chance(*moves) {
                    *pages = (*pages + (*step_pages * rng.normal()).round()).max(0.0);
                }
                *pages * 4096.0
            }
            State::Load { decay, runnable, load } => {
                *runnable = (*runnable + rng.normal() * 0.5).clamp(0.0, 8.0);
                let now = (*runnable + rng.normal()).max(0.0).round();
                *load = *load * *decay + now * (1.0 - *decay);
                (*load * 100.0).round() / 100.0
            }
            State::FsBytes { blocks, moves, step } => {
                if rng.chance(*moves) {
                    *blocks = (*blocks + (*step * rng.normal()).round()).max(0.0);
                }
                *blocks * 4096.0
            }
            State::RareCounter { p, total } => {
                if rng.chance(*p) {
                    *total += rng.range(1.0, 4.0).round();
                }
                *total
            }
            State::Constant(v) => *v,
            State::Duration { typical_ns } => {
                let ns = (*typical_ns * rng.range(0.5, 1.5) * if rng.chance(0.02) { 10.0 } else { 1.0 }).round();
                ns / 1e9
            }
            State::RandomFloat(v) => {
                *v += rng.normal();
                *v
            }
        }
    }
}

const CPU_MODES: [&str; 8] = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"];
const NET_DEVICES: [&str; 3] = ["eth0", "eth1", "lo"];
const DISKS: [&str; 2] = ["nvme0n1", "nvme1n1"];
/// Mount point, device and file system type.
const FILESYSTEMS: [(&str, &str, &str); 5] = [
    ("/", "/dev/nvme0n1p2", "ext4"),
    ("/boot", "/dev/nvme0n1p1", "vfat"),
    ("/var/lib/data", "/dev/nvme1n1", "xfs"),
    ("/run", "tmpfs", "tmpfs"),
    ("/dev/shm", "tmpfs", "tmpfs"),
];
/// Operation, byte and time counters of a disk, in groups of three as `DiskUnit` cycles.
const DISK_METRICS: [&str; 12] = [
    "reads_completed_total",
    "read_bytes_total",
    "read_time_seconds_total",
    "writes_completed_total",
    "written_bytes_total",
    "write_time_seconds_total",
    "discards_completed_total",
    "discarded_bytes_total",
    "discard_time_seconds_total",
    "flush_requests_total",
    "io_bytes_total",
    "io_time_seconds_total",
];
const MEMORY_FIELDS: [&str; 24] = [
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "Active",
    "Inactive",
    "Active_anon",
    "Inactive_anon",
    "Active_file",
    "Inactive_file",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "Committed_AS",
    "SwapFree",
    "SwapCached",
    "AnonHugePages",
];
const NET_ERROR_COUNTERS: [&str; 12] = [
    "receive_errs_total",
    "receive_drop_total",
    "receive_fifo_total",
    "receive_frame_total",
    "receive_compressed_total",
    "receive_multicast_total",
    "transmit_errs_total",
    "transmit_drop_total",
    "transmit_fifo_total",
    "transmit_colls_total",
    "transmit_carrier_total",
    "transmit_compressed_total",
];
const RARE_COUNTERS: [&str; 24] = [
    "node_vmstat_oom_kill",
    "node_vmstat_pswpin",
    "node_vmstat_pswpout",
    "node_vmstat_pgmajfault",
    "node_netstat_Tcp_RetransSegs",
    "node_netstat_Tcp_InErrs",
    "node_netstat_Tcp_OutRsts",
    "node_netstat_Tcp_ActiveOpens",
    "node_netstat_Tcp_PassiveOpens",
    "node_netstat_TcpExt_ListenDrops",
    "node_netstat_TcpExt_ListenOverflows",
    "node_netstat_TcpExt_SyncookiesFailed",
    "node_netstat_TcpExt_SyncookiesRecv",
    "node_netstat_TcpExt_SyncookiesSent",
    "node_netstat_TcpExt_TCPTimeouts",
    "node_netstat_Udp_InErrors",
    "node_netstat_Udp_NoPorts",
    "node_netstat_Udp_RcvbufErrors",
    "node_netstat_Udp_SndbufErrors",
    "node_netstat_Icmp_InErrors",
    "node_netstat_Icmp_OutMsgs",
    "node_edac_correctable_errors_total",
    "node_edac_uncorrectable_errors_total",
    "node_timex_pps_error_total",
];
/// node_exporter's collectors, for `node_scrape_collector_{duration_seconds,success}`.
const COLLECTORS: [&str; 40] = [
    "arp",
    "bcache",
    "bonding",
    "btrfs",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "ipvs",
    "loadavg",
    "mdadm",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
];
const FS_CONSTANTS: [&str; 5] = ["size_bytes", "files", "readonly", "device_error", "mount_info"];
const NET_CONSTANTS: [&str; 14] = [
    "mtu_bytes",
    "speed_bytes",
    "up",
    "carrier",
    "info",
    "flags",
    "transmit_queue_length",
    "iface_id",
    "iface_link",
    "address_assign_type",
    "dormant",
    "protocol_type",
    "net_dev_group",
    "carrier_changes_total",
];
const CPU_CONSTANTS: [&str; 4] = [
    "node_cpu_scaling_frequency_min_hertz",
    "node_cpu_scaling_frequency_max_hertz",
    "node_cpu_online",
    "node_cpu_core_throttles_total",
];
const PLAIN_CONSTANTS: [&str; 27] = [
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_HugePages_Total",
    "node_memory_Hugepagesize_bytes",
    "node_boot_time_seconds",
    "node_time_zone_offset_seconds",
    "node_exporter_build_info",
    "node_os_info",
    "node_uname_info",
    "node_dmi_info",
    "node_filefd_maximum",
    "node_entropy_pool_size_bits",
    "node_textfile_scrape_error",
    "node_nf_conntrack_entries_limit",
    "node_selinux_enabled",
    "node_timex_tick_seconds",
    "node_timex_status",
    "node_procs_blocked",
    "node_network_route_count",
    "node_cooling_device_max_state",
    "node_power_supply_online",
    "node_hwmon_temp_crit_celsius",
    "node_hwmon_temp_max_celsius",
    "node_nvme_info",
    "node_md_disks_required",
    "node_zfs_arc_c_max",
    "node_bonding_slaves",
];

/// The metric name and the labels other than `instance` and `job` of series number `index` of `kind`.
pub fn series_labels(kind: Kind, index: usize) -> (String, Vec<(&'static str, String)>) {
    let fs = |i: usize| {
        let (mountpoint, device, fstype) = FILESYSTEMS[i % FILESYSTEMS.len()];
        vec![("device", device.to_string()), ("fstype", fstype.to_string()), ("mountpoint", mountpoint.to_string())]
    };
    let device = |name: &str| vec![("device", name.to_string())];
    match kind {
        Kind::CpuSeconds => (
            "node_cpu_seconds_total".to_string(),
            vec![
                ("cpu", (index / CPU_MODES.len()).to_string()),
                ("mode", CPU_MODES[index % CPU_MODES.len()].to_string()),
            ],
        ),
        Kind::NetBytes => {
            let name = ["receive_bytes", "receive_packets", "transmit_bytes", "transmit_packets"][index % 4];
            (format!("node_network_{name}_total"), device(NET_DEVICES[index / 4 % NET_DEVICES.len()]))
        }
        Kind::Disk => (
            format!("node_disk_{}", DISK_METRICS[index % DISK_METRICS.len()]),
            device(DISKS[index / DISK_METRICS.len() % DISKS.len()]),
        ),
        Kind::MemBytes => (format!("node_memory_{}_bytes", MEMORY_FIELDS[index % MEMORY_FIELDS.len()]), Vec::new()),
        Kind::Load => (["node_load1", "node_load5", "node_load15"][index % 3].to_string(), Vec::new()),
        Kind::FsBytes => (format!("node_filesystem_{}_bytes", ["avail", "free"][index % 2]), fs(index / 2)),
        Kind::RareCounter => {
            let per_device = NET_ERROR_COUNTERS.len() * NET_DEVICES.len();
            if index < per_device {
                let name = NET_ERROR_COUNTERS[index % NET_ERROR_COUNTERS.len()];
                (format!("node_network_{name}"), device(NET_DEVICES[index / NET_ERROR_COUNTERS.len()]))
            } else {
                (RARE_COUNTERS[(index - per_device) % RARE_COUNTERS.len()].to_string(), Vec::new())
            }
        }
        Kind::Constant => constant_labels(index),
        Kind::Duration => (
            "node_scrape_collector_duration_seconds".to_string(),
            vec![("collector", COLLECTORS[index % COLLECTORS.len()].to_string())],
        ),
        Kind::RandomFloat => (format!("random_float_{index}"), Vec::new()),
    }
}

/// Constants: per filesystem, per network device, per CPU, per collector, then plain ones.
fn constant_labels(index: usize) -> (String, Vec<(&'static str, String)>) {
    let mut i = index;
    if i < FS_CONSTANTS.len() * FILESYSTEMS.len() {
        let (mountpoint, device, fstype) = FILESYSTEMS[i / FS_CONSTANTS.len()];
        let labels = vec![
            ("device", device.to_string()),
            ("fstype", fstype.to_string()),
            ("mountpoint", mountpoint.to_string()),
        ];
        return (format!("node_filesystem_{}", FS_CONSTANTS[i % FS_CONSTANTS.len()]), labels);
    }
    i -= FS_CONSTANTS.len() * FILESYSTEMS.len();
    if i < NET_CONSTANTS.len() * NET_DEVICES.len() {
        let labels = vec![("device", NET_DEVICES[i / NET_CONSTANTS.len()].to_string())];
        return (format!("node_network_{}", NET_CONSTANTS[i % NET_CONSTANTS.len()]), labels);
    }
    i -= NET_CONSTANTS.len() * NET_DEVICES.len();
    if i < CPU_CONSTANTS.len() * 4 {
        let labels = vec![("cpu", (i / CPU_CONSTANTS.len()).to_string())];
        return (CPU_CONSTANTS[i % CPU_CONSTANTS.len()].to_string(), labels);
    }
    i -= CPU_CONSTANTS.len() * 4;
    if i < COLLECTORS.len() {
        return ("node_scrape_collector_success".to_string(), vec![("collector", COLLECTORS[i].to_string())]);
    }
    i -= COLLECTORS.len();
    match PLAIN_CONSTANTS.get(i) {
        Some(name) => (name.to_string(), Vec::new()),
        None => (format!("node_textfile_constant_{i}"), Vec::new()),
    }
}
