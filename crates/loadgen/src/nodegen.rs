//! Synthetic node_exporter-like series: the families one Linux host exposes, with realistic label sets and
//! value generators. Everything is a pure function of the seed, so two runs send the same data.

use std::f64::consts::TAU;

/// A small deterministic generator (xorshift64*), seeded through splitmix64 so nearby seeds diverge.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
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

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly standard normal (sum of four uniforms, rescaled).
    pub fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.unit()).sum::<f64>() - 2.0) * 3f64.sqrt()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// How a series' value moves from one round to the next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Monotonic, gaining about `rate` per second with jitter, reported in multiples of `step`.
    Counter {
        rate: f64,
        step: f64,
    },
    /// Swings around `base` by up to `swing` (a fraction of base) over an hour, in multiples of `step`.
    Gauge {
        base: f64,
        swing: f64,
        step: f64,
    },
    Const(f64),
    /// The sample's own time in seconds, as `node_time_seconds`.
    Clock,
}

/// One series: its labels (sorted by name, `__name__` included) and how its values move.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSpec {
    pub labels: Vec<(String, String)>,
    pub host: usize,
    pub shape: Shape,
}

/// The series of `hosts` hosts, host after host.
pub fn node_hosts(hosts: usize, seed: u64) -> Vec<SeriesSpec> {
    let mut out = Vec::new();
    for host in 0..hosts {
        host_series(host, seed, &mut out);
    }
    out
}

/// `node_systemd_unit_state` of `hosts` hosts, as node_exporter's systemd collector (off by default there, on
/// in vigil's agent) reports it: a dozen common units, one series per state, 1 for the unit's current one. About
/// one host in twenty has a failed unit.
pub fn systemd_hosts(hosts: usize, seed: u64) -> Vec<SeriesSpec> {
    let mut out = Vec::new();
    for host in 0..hosts {
        let rng = Rng::new(seed ^ (host as u64).wrapping_mul(0x1000_0000_01b3) ^ 0x5157_e3d0);
        let mut h = Host { out: &mut out, host, instance: instance(host), rng };
        let failing = h.rng.unit() < 0.05;
        for (name, kind) in SYSTEMD_UNITS {
            let current = match kind {
                "oneshot" if failing => "failed",
                "oneshot" => "inactive",
                _ => "active",
            };
            for state in UNIT_STATES {
                let labels = [("name", name), ("state", state), ("type", kind)];
                h.constant("node_systemd_unit_state", &labels, if state == current { 1.0 } else { 0.0 });
            }
        }
    }
    out
}

fn instance(host: usize) -> String {
    format!("host-{host}:9100")
}

const SYSTEMD_UNITS: [(&str, &str); 12] = [
    ("backup.service", "oneshot"),
    ("containerd.service", "notify"),
    ("cron.service", "simple"),
    ("dbus.service", "dbus"),
    ("docker.service", "notify"),
    ("nginx.service", "forking"),
    ("rsyslog.service", "notify"),
    ("ssh.service", "notify"),
    ("systemd-journald.service", "notify"),
    ("systemd-logind.service", "dbus"),
    ("systemd-timesyncd.service", "notify"),
    ("unattended-upgrades.service", "simple"),
];

const UNIT_STATES: [&str; 5] = ["activating", "active", "deactivating", "inactive", "failed"];

const CPU_MODES: [(&str, f64); 8] = [
    ("idle", 0.85),
    ("user", 0.08),
    ("system", 0.03),
    ("iowait", 0.005),
    ("irq", 0.0005),
    ("softirq", 0.004),
    ("steal", 0.0002),
    ("nice", 0.001),
];

const SWAP_BYTES: f64 = 2.0 * 1024.0 * 1024.0 * 1024.0;

/// `/proc/meminfo` fields and their typical share of the memory (of the swap for `Swap*`); 0 for constants.
const MEMORY: [(&str, f64); 40] = [
    ("MemTotal", 0.0),
    ("MemFree", 0.12),
    ("MemAvailable", 0.55),
    ("Buffers", 0.02),
    ("Cached", 0.4),
    ("SwapCached", 0.001),
    ("Active", 0.3),
    ("Inactive", 0.35),
    ("Active_anon", 0.1),
    ("Inactive_anon", 0.05),
    ("Active_file", 0.2),
    ("Inactive_file", 0.3),
    ("Unevictable", 0.001),
    ("Mlocked", 0.001),
    ("SwapTotal", 0.0),
    ("SwapFree", 0.6),
    ("Dirty", 0.0005),
    ("Writeback", 0.00001),
    ("AnonPages", 0.15),
    ("Mapped", 0.03),
    ("Shmem", 0.01),
    ("KReclaimable", 0.04),
    ("Slab", 0.06),
    ("SReclaimable", 0.04),
    ("SUnreclaim", 0.02),
    ("KernelStack", 0.001),
    ("PageTables", 0.004),
    ("NFS_Unstable", 0.0),
    ("Bounce", 0.0),
    ("WritebackTmp", 0.0),
    ("CommitLimit", 0.0),
    ("Committed_AS", 0.45),
    ("VmallocTotal", 0.0),
    ("VmallocUsed", 0.002),
    ("Percpu", 0.0005),
    ("HardwareCorrupted", 0.0),
    ("AnonHugePages", 0.02),
    ("HugePages_Total", 0.0),
    ("Hugepagesize", 0.0),
    ("DirectMap2M", 0.0),
];

const NET_RECEIVE: [&str; 8] = ["bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast"];
const NET_TRANSMIT: [&str; 8] = ["bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed"];

const DISK_COUNTERS: [(&str, f64, f64); 16] = [
    ("reads_completed_total", 20.0, 1.0),
    ("reads_merged_total", 2.0, 1.0),
    ("read_bytes_total", 400_000.0, 512.0),
    ("read_time_seconds_total", 0.02, 0.001),
    ("writes_completed_total", 40.0, 1.0),
    ("writes_merged_total", 10.0, 1.0),
    ("written_bytes_total", 900_000.0, 512.0),
    ("write_time_seconds_total", 0.05, 0.001),
    ("io_time_seconds_total", 0.03, 0.001),
    ("io_time_weighted_seconds_total", 0.08, 0.001),
    ("discards_completed_total", 0.01, 1.0),
    ("discards_merged_total", 0.0, 1.0),
    ("discarded_sectors_total", 5.0, 1.0),
    ("discard_time_seconds_total", 0.0001, 0.001),
    ("flush_requests_total", 1.0, 1.0),
    ("flush_requests_time_seconds_total", 0.001, 0.001),
];

const NETSTAT: [(&str, f64); 24] = [
    ("Tcp_ActiveOpens", 5.0),
    ("Tcp_PassiveOpens", 8.0),
    ("Tcp_InErrs", 0.01),
    ("Tcp_InSegs", 900.0),
    ("Tcp_OutSegs", 1000.0),
    ("Tcp_RetransSegs", 0.5),
    ("Tcp_OutRsts", 1.0),
    ("Udp_InDatagrams", 50.0),
    ("Udp_OutDatagrams", 50.0),
    ("Udp_InErrors", 0.0),
    ("Udp_NoPorts", 0.1),
    ("Udp_RcvbufErrors", 0.0),
    ("Udp_SndbufErrors", 0.0),
    ("Icmp_InMsgs", 0.2),
    ("Icmp_OutMsgs", 0.2),
    ("Icmp_InErrors", 0.0),
    ("IpExt_InOctets", 800_000.0),
    ("IpExt_OutOctets", 900_000.0),
    ("TcpExt_ListenDrops", 0.0),
    ("TcpExt_ListenOverflows", 0.0),
    ("TcpExt_SyncookiesSent", 0.0),
    ("TcpExt_TCPSynRetrans", 0.05),
    ("TcpExt_TCPTimeouts", 0.1),
    ("Udp6_InDatagrams", 1.0),
];

const SOCKSTAT: [(&str, f64); 12] = [
    ("TCP_alloc", 300.0),
    ("TCP_inuse", 120.0),
    ("TCP_mem", 40.0),
    ("TCP_mem_bytes", 163_840.0),
    ("TCP_orphan", 0.0),
    ("TCP_tw", 60.0),
    ("UDP_inuse", 8.0),
    ("UDP_mem", 4.0),
    ("UDP_mem_bytes", 16_384.0),
    ("sockets_used", 900.0),
    ("FRAG_inuse", 0.0),
    ("RAW_inuse", 0.0),
];

const COLLECTORS: [&str; 36] = [
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
    "time",
];

/// Appends the series of host number `host`.
fn host_series(host: usize, seed: u64, out: &mut Vec<SeriesSpec>) {
    let mut rng = Rng::new(seed ^ (host as u64).wrapping_mul(0x1000_0000_01b3));
    let cpus = *rng.pick(&[8usize, 8, 12, 16, 24]);
    let mem = *rng.pick(&[8.0f64, 16.0, 32.0, 64.0]) * 1024.0 * 1024.0 * 1024.0;
    const DISK_SETS: [&[&str]; 3] = [&["sda"], &["sda", "sdb"], &["nvme0n1", "nvme1n1", "sda"]];
    let disks = *rng.pick(&DISK_SETS);
    let mut h = Host { out, host, instance: instance(host), rng };

    for cpu in 0..cpus {
        let c = cpu.to_string();
        // Each mode's share varies by host; idle is what the others leave, so that a CPU's modes add up to one
        // second per second, as the kernel's do.
        let shares: Vec<f64> = CPU_MODES.iter().map(|(_, share)| share * h.rng.range(0.5, 1.5)).collect();
        let busy: f64 = shares[1..].iter().sum();
        for ((mode, _), share) in CPU_MODES.iter().zip(&shares) {
            let rate = if *mode == "idle" { 1.0 - busy } else { *share };
            h.push("node_cpu_seconds_total", &[("cpu", &c), ("mode", mode)], Shape::Counter { rate, step: 0.01 });
        }
        for mode in ["nice", "user"] {
            h.counter("node_cpu_guest_seconds_total", &[("cpu", &c), ("mode", mode)], 0.0, 0.01);
        }
        h.gauge("node_cpu_scaling_frequency_hertz", &[("cpu", &c)], 2.4e9, 0.3, 1000.0);
        h.constant("node_cpu_scaling_frequency_max_hertz", &[("cpu", &c)], 3.6e9);
        h.constant("node_cpu_scaling_frequency_min_hertz", &[("cpu", &c)], 8e8);
        h.counter("node_softnet_processed_total", &[("cpu", &c)], 150.0, 1.0);
        h.counter("node_softnet_dropped_total", &[("cpu", &c)], 0.0, 1.0);
        h.counter("node_softnet_times_squeezed_total", &[("cpu", &c)], 0.01, 1.0);
        h.counter("node_schedstat_running_seconds_total", &[("cpu", &c)], 0.15, 1e-9);
        h.counter("node_schedstat_waiting_seconds_total", &[("cpu", &c)], 0.01, 1e-9);
        h.counter("node_schedstat_timeslices_total", &[("cpu", &c)], 400.0, 1.0);
    }

    for (field, share) in MEMORY {
        let name = format!("node_memory_{field}_bytes");
        if share == 0.0 {
            let value = match field {
                "MemTotal" => mem,
                "SwapTotal" => SWAP_BYTES,
                "CommitLimit" => mem * 0.6,
                "VmallocTotal" => 3.5e13,
                "Hugepagesize" => 2_097_152.0,
                "DirectMap2M" => mem * 0.9,
                _ => 0.0,
            };
            h.constant(&name, &[], value);
        } else {
            let of = if field.starts_with("Swap") { SWAP_BYTES } else { mem };
            h.gauge(&name, &[], of * share, 0.1, 4096.0);
        }
    }

    for dev in ["lo", "eth0", "docker0"] {
        let busy = if dev == "eth0" { 1.0 } else { 0.05 };
        for (dir, fields) in [("receive", NET_RECEIVE), ("transmit", NET_TRANSMIT)] {
            for field in fields {
                let rate = match field {
                    "bytes" => 600_000.0 * busy,
                    "packets" => 800.0 * busy,
                    "multicast" => 0.1,
                    _ => 0.0,
                };
                h.counter(&format!("node_network_{dir}_{field}_total"), &[("device", dev)], rate, 1.0);
            }
        }
        h.constant("node_network_up", &[("device", dev)], 1.0);
        h.constant("node_network_mtu_bytes", &[("device", dev)], if dev == "lo" { 65536.0 } else { 1500.0 });
        h.constant("node_network_carrier", &[("device", dev)], 1.0);
        h.constant("node_network_transmit_queue_length", &[("device", dev)], 1000.0);
        let id = h.rng.range(1.0, 10.0).round();
        h.constant("node_network_iface_id", &[("device", dev)], id);
    }

    for &disk in disks {
        for (name, rate, step) in DISK_COUNTERS {
            h.counter(&format!("node_disk_{name}"), &[("device", disk)], rate, step);
        }
        h.gauge("node_disk_io_now", &[("device", disk)], 1.0, 1.0, 1.0);
        h.constant(
            "node_disk_info",
            &[("device", disk), ("major", "8"), ("minor", "0"), ("path", ""), ("rotational", "0")],
            1.0,
        );
    }

    for (mountpoint, device, fstype) in [
        ("/", "/dev/sda1", "ext4"),
        ("/boot/efi", "/dev/sda15", "vfat"),
        ("/run", "tmpfs", "tmpfs"),
        ("/var/lib/docker", "/dev/sdb1", "xfs"),
        ("/run/user/1000", "tmpfs", "tmpfs"),
    ] {
        let fs = [("device", device), ("fstype", fstype), ("mountpoint", mountpoint)];
        let size = h.rng.range(1.0, 500.0).round() * 1024.0 * 1024.0 * 1024.0;
        h.constant("node_filesystem_size_bytes", &fs, size);
        h.gauge("node_filesystem_free_bytes", &fs, size * 0.4, 0.05, 4096.0);
        h.gauge("node_filesystem_avail_bytes", &fs, size * 0.35, 0.05, 4096.0);
        h.constant("node_filesystem_files", &fs, (size / 16384.0).round());
        h.gauge("node_filesystem_files_free", &fs, size / 20000.0, 0.01, 1.0);
        h.constant("node_filesystem_readonly", &fs, 0.0);
        h.constant("node_filesystem_device_error", &fs, 0.0);
    }

    let load = cpus as f64 * 0.3;
    h.gauge("node_load1", &[], load, 0.8, 0.01);
    h.gauge("node_load5", &[], load, 0.5, 0.01);
    h.gauge("node_load15", &[], load, 0.3, 0.01);

    for (field, rate) in NETSTAT {
        h.counter(&format!("node_netstat_{field}"), &[], rate, 1.0);
    }
    h.gauge("node_netstat_Tcp_CurrEstab", &[], 80.0, 0.3, 1.0);
    for (field, base) in SOCKSTAT {
        h.gauge(&format!("node_sockstat_{field}"), &[], base, 0.2, 1.0);
    }
    for (field, rate) in [("pgfault", 3000.0), ("pgmajfault", 0.5), ("pgpgin", 400.0), ("pgpgout", 900.0)] {
        h.counter(&format!("node_vmstat_{field}"), &[], rate, 1.0);
    }
    for field in ["pswpin", "pswpout", "oom_kill"] {
        h.counter(&format!("node_vmstat_{field}"), &[], 0.0, 1.0);
    }
    for (resource, base) in [("cpu", 0.02), ("io", 0.01), ("memory", 0.001)] {
        h.counter(&format!("node_pressure_{resource}_waiting_seconds_total"), &[], base, 1e-6);
        if resource != "cpu" {
            h.counter(&format!("node_pressure_{resource}_stalled_seconds_total"), &[], base / 2.0, 1e-6);
        }
    }
    for (chip, sensors) in [("platform_coretemp_0", 5), ("pci0000:00_0000:00:1d_0_nvme_nvme0", 2)] {
        for i in 1..=sensors {
            let s = [("chip", chip), ("sensor", &*format!("temp{i}"))];
            h.gauge("node_hwmon_temp_celsius", &s, 45.0, 0.2, 1.0);
            h.constant("node_hwmon_temp_crit_celsius", &s, 100.0);
            h.constant("node_hwmon_temp_max_celsius", &s, 84.0);
        }
    }

    h.counter("node_context_switches_total", &[], 6000.0, 1.0);
    h.counter("node_intr_total", &[], 4000.0, 1.0);
    h.counter("node_forks_total", &[], 12.0, 1.0);
    let boot = 1.7e9 + h.rng.range(0.0, 1e7).round();
    h.constant("node_boot_time_seconds", &[], boot);
    h.push("node_time_seconds", &[], Shape::Clock);
    h.gauge("node_procs_running", &[], 3.0, 1.0, 1.0);
    h.gauge("node_procs_blocked", &[], 0.3, 1.0, 1.0);
    h.gauge("node_entropy_available_bits", &[], 256.0, 0.0, 1.0);
    h.constant("node_entropy_pool_size_bits", &[], 256.0);
    h.gauge("node_filefd_allocated", &[], 4000.0, 0.2, 1.0);
    h.constant("node_filefd_maximum", &[], 9.2e18);
    h.gauge("node_nf_conntrack_entries", &[], 900.0, 0.4, 1.0);
    h.constant("node_nf_conntrack_entries_limit", &[], 262_144.0);
    h.gauge("node_timex_offset_seconds", &[], 0.0002, 1.0, 1e-6);
    h.constant("node_timex_sync_status", &[], 1.0);
    h.constant("node_textfile_scrape_error", &[], 0.0);
    let uname = [("machine", "x86_64"), ("nodename", &*format!("host-{host}")), ("release", "6.1.0-18-amd64")];
    h.constant("node_uname_info", &uname, 1.0);
    h.constant("node_os_info", &[("id", "debian"), ("name", "Debian GNU/Linux"), ("version_id", "12")], 1.0);
    h.constant("node_exporter_build_info", &[("goversion", "go1.21.4"), ("version", "1.7.0")], 1.0);

    for collector in COLLECTORS {
        h.gauge("node_scrape_collector_duration_seconds", &[("collector", collector)], 0.002, 0.5, 1e-9);
        h.constant("node_scrape_collector_success", &[("collector", collector)], 1.0);
    }

    h.counter("process_cpu_seconds_total", &[], 0.01, 0.01);
    h.gauge("process_resident_memory_bytes", &[], 2.4e7, 0.1, 4096.0);
    h.gauge("process_virtual_memory_bytes", &[], 1.3e9, 0.01, 4096.0);
    h.gauge("process_open_fds", &[], 10.0, 0.3, 1.0);
    h.constant("process_max_fds", &[], 1_048_576.0);
    h.constant("process_start_time_seconds", &[], 1.7e9);
    h.gauge("go_goroutines", &[], 9.0, 0.3, 1.0);
    h.constant("go_threads", &[], 8.0);
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        h.gauge("go_gc_duration_seconds", &[("quantile", q)], 5e-5, 0.5, 1e-9);
    }
    h.counter("go_gc_duration_seconds_sum", &[], 0.0003, 1e-9);
    h.counter("go_gc_duration_seconds_count", &[], 0.2, 1.0);
    for field in ["alloc_bytes", "heap_alloc_bytes", "heap_inuse_bytes", "heap_idle_bytes", "stack_inuse_bytes"] {
        h.gauge(&format!("go_memstats_{field}"), &[], 3e6, 0.4, 8.0);
    }
    for field in ["alloc_bytes_total", "mallocs_total", "frees_total"] {
        h.counter(&format!("go_memstats_{field}"), &[], 2e5, 1.0);
    }

    h.constant("up", &[], 1.0);
    h.gauge("scrape_duration_seconds", &[], 0.03, 0.3, 1e-6);
    let count = h.out.iter().rev().take_while(|s| s.host == host).count() as f64 + 3.0;
    h.constant("scrape_samples_scraped", &[], count);
    h.constant("scrape_samples_post_metric_relabeling", &[], count);
    h.constant("scrape_series_added", &[], 0.0);
}

/// Appends series of one host, drawing per-series parameters from the host's generator.
struct Host<'a> {
    out: &'a mut Vec<SeriesSpec>,
    host: usize,
    instance: String,
    rng: Rng,
}

impl Host<'_> {
    fn push(&mut self, name: &str, labels: &[(&str, &str)], shape: Shape) {
        let mut all: Vec<(String, String)> = Vec::with_capacity(labels.len() + 3);
        all.push(("__name__".to_owned(), name.to_owned()));
        all.push(("instance".to_owned(), self.instance.clone()));
        all.push(("job".to_owned(), "node".to_owned()));
        all.extend(labels.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        all.sort();
        self.out.push(SeriesSpec { labels: all, host: self.host, shape });
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)], rate: f64, step: f64) {
        let rate = rate * self.rng.range(0.5, 1.5);
        self.push(name, labels, Shape::Counter { rate, step });
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], base: f64, swing: f64, step: f64) {
        let base = base * self.rng.range(0.7, 1.3);
        self.push(name, labels, Shape::Gauge { base, swing, step });
    }

    fn constant(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.push(name, labels, Shape::Const(value));
    }
}

/// Rounds covered by one gauge cycle (an hour at 10 s).
const GAUGE_PERIOD_ROUNDS: f64 = 360.0;

/// The evolving value of one series.
#[derive(Clone, Debug)]
pub struct SeriesState {
    rng: Rng,
    shape: Shape,
    total: f64,
    phase: f64,
    round: u64,
}

impl SeriesState {
    /// Starts series number `index` (its position in [`node_hosts`]) of a run with `seed`.
    pub fn new(spec: &SeriesSpec, seed: u64, index: usize) -> SeriesState {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(index as u64));
        let uptime_s = rng.range(86_400.0, 30.0 * 86_400.0);
        let total = match spec.shape {
            Shape::Counter { rate, .. } => rate * uptime_s,
            _ => 0.0,
        };
        let phase = rng.range(0.0, TAU);
        SeriesState { rng, shape: spec.shape, total, phase, round: 0 }
    }

    /// The value at the next round, `interval_s` seconds after the previous one.
    pub fn next(&mut self, interval_s: f64, t_ms: i64) -> f64 {
        let round = self.round as f64;
        self.round += 1;
        match self.shape {
            Shape::Counter { rate, step } => {
                self.total += (rate * interval_s * (1.0 + 0.3 * self.rng.normal())).max(0.0);
                (self.total / step).floor() * step
            }
            Shape::Gauge { base, swing, step } => {
                let wave = (self.phase + round * TAU / GAUGE_PERIOD_ROUNDS).sin();
                let v = base * (1.0 + swing * (0.7 * wave + 0.3 * self.rng.range(-1.0, 1.0)));
                (v.max(0.0) / step).round() * step
            }
            Shape::Const(v) => v,
            Shape::Clock => t_ms as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_look_like_node_exporter() {
        let series = node_hosts(20, 7);
        let mut per_host = vec![0usize; 20];
        for s in &series {
            per_host[s.host] += 1;
            assert!(s.labels.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique: {:?}", s.labels);
            assert!(s.labels.iter().all(|(_, v)| !v.is_empty()));
        }
        assert!(per_host.iter().all(|&n| (450..=1000).contains(&n)), "{per_host:?}");
        let first = &series[0].labels;
        assert_eq!(first[0], ("__name__".to_owned(), "node_cpu_seconds_total".to_owned()));
        assert!(first.contains(&("instance".to_owned(), "host-0:9100".to_owned())));
        assert!(first.contains(&("job".to_owned(), "node".to_owned())));
        // Every label set is unique.
        let mut sets: Vec<_> = series.iter().map(|s| &s.labels).collect();
        sets.sort();
        sets.dedup();
        assert_eq!(sets.len(), series.len());
    }

    #[test]
    fn systemd_units_have_one_current_state_and_a_few_hosts_a_failed_one() {
        let units = systemd_hosts(100, 1);
        assert_eq!(units.len(), 100 * SYSTEMD_UNITS.len() * UNIT_STATES.len());
        let label = |s: &SeriesSpec, name: &str| s.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let mut current: std::collections::HashMap<(String, String), Vec<String>> = Default::default();
        for s in &units {
            assert_eq!(label(s, "__name__").as_deref(), Some("node_systemd_unit_state"));
            if s.shape == Shape::Const(1.0) {
                let key = (label(s, "instance").unwrap(), label(s, "name").unwrap());
                current.entry(key).or_default().push(label(s, "state").unwrap());
            }
        }
        assert_eq!(current.len(), 100 * SYSTEMD_UNITS.len());
        assert!(current.values().all(|states| states.len() == 1));
        let failed = current.values().filter(|states| states[0] == "failed").count();
        assert!((1..=15).contains(&failed), "{failed} failed units");
        // The same instances as the node series, and no label set of theirs.
        let node = node_hosts(2, 1);
        assert_eq!(label(&node[0], "instance"), label(&units[0], "instance"));
        assert!(units.iter().all(|u| node.iter().all(|n| n.labels != u.labels)));
    }

    #[test]
    fn cpu_modes_add_up_swap_free_fits_and_the_clock_is_the_sample_time() {
        let series = node_hosts(5, 3);
        let label = |s: &SeriesSpec, name: &str| s.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let mut per_cpu: std::collections::HashMap<(Option<String>, Option<String>), f64> = Default::default();
        for s in series.iter().filter(|s| label(s, "__name__").as_deref() == Some("node_cpu_seconds_total")) {
            let Shape::Counter { rate, .. } = s.shape else { panic!("{:?} is not a counter", s.labels) };
            assert!(rate > 0.0, "{:?}", s.labels);
            *per_cpu.entry((label(s, "instance"), label(s, "cpu"))).or_default() += rate;
        }
        assert!(per_cpu.len() >= 5 * 8);
        assert!(per_cpu.values().all(|sum| (sum - 1.0).abs() < 1e-9), "{per_cpu:?}");
        for s in series.iter().filter(|s| label(s, "__name__").as_deref() == Some("node_memory_SwapFree_bytes")) {
            let Shape::Gauge { base, swing, .. } = s.shape else { panic!("{:?} is not a gauge", s.labels) };
            assert!(base * (1.0 + swing) < SWAP_BYTES, "more swap free than there is: {base}");
        }
        let clock = series.iter().position(|s| label(s, "__name__").as_deref() == Some("node_time_seconds")).unwrap();
        let mut state = SeriesState::new(&series[clock], 3, clock);
        assert_eq!(state.next(15.0, 1_700_000_000_250), 1_700_000_000.25);
    }

    #[test]
    fn values_are_deterministic_and_counters_monotonic() {
        let specs = node_hosts(2, 42);
        let run = |seed| -> Vec<f64> {
            specs
                .iter()
                .enumerate()
                .flat_map(|(i, s)| {
                    let mut st = SeriesState::new(s, seed, i);
                    (0..5).map(move |r| st.next(10.0, r * 10_000))
                })
                .collect()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        for (i, s) in specs.iter().enumerate() {
            let mut st = SeriesState::new(s, 1, i);
            let v: Vec<f64> = (0..50).map(|r| st.next(10.0, 1_700_000_000_000 + r * 10_000)).collect();
            assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0), "{:?}", s.labels);
            if matches!(s.shape, Shape::Counter { .. }) {
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "{:?}: {v:?}", s.labels);
            }
        }
    }
}
