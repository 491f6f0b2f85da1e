//! Fixture tests of the `hwmon` collector: fake `/sys/class/hwmon` trees with the symlinks the kernel makes.

use std::os::unix::fs::symlink;

use vigil_collect::hwmon::HwmonCollector;
use vigil_collect::CollectError;
use vigil_model::metric::VecSink;
use vigil_model::MetricKind;

use crate::common::{collect, FakeRoot};

/// Writes the files of one chip under `sys/<dir>` and links `sys/class/hwmon/<name>` to it.
fn chip(root: &FakeRoot, dir: &str, files: &[(&str, &str)]) {
    for (name, content) in files {
        root.sys(&format!("{dir}/{name}"), content);
    }
    let link = root.path().join("sys/class/hwmon").join(dir.rsplit('/').next().unwrap());
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    symlink(root.path().join("sys").join(dir), link).unwrap();
}

fn coretemp(root: &FakeRoot) {
    chip(
        root,
        "devices/platform/coretemp.0/hwmon/hwmon1",
        &[
            ("name", "coretemp\n"),
            ("temp1_input", "45000\n"),
            ("temp1_label", "Package id 0\n"),
            ("temp1_max", "84000\n"),
            ("temp1_crit", "100000\n"),
            ("temp1_crit_alarm", "0\n"),
            ("temp2_input", "43500\n"),
            ("temp2_label", "Core 0 \n"),
            ("uevent", "x\n"),
        ],
    );
    // The chip's device directory holds more sensor files; they are read after the chip's own.
    symlink("../..", root.path().join("sys/devices/platform/coretemp.0/hwmon/hwmon1/device")).unwrap();
    root.sys("devices/platform/coretemp.0/temp3_input", "50000\n");
}

fn value(sink: &VecSink, name: &str, chip: &str, sensor: &str) -> Option<f64> {
    sink.value(name, &[("chip", chip), ("sensor", sensor)])
}

#[test]
fn temperatures_labels_and_chip_names() {
    let root = FakeRoot::new();
    coretemp(&root);
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    r.unwrap();
    let c = "platform_coretemp_0";
    assert_eq!(sink.value("node_hwmon_chip_names", &[("chip", c), ("chip_name", "coretemp")]), Some(1.0));
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", c, "temp1"), Some(45.0));
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", c, "temp2"), Some(43.5));
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", c, "temp3"), Some(50.0));
    assert_eq!(value(&sink, "node_hwmon_temp_max_celsius", c, "temp1"), Some(84.0));
    assert_eq!(value(&sink, "node_hwmon_temp_crit_celsius", c, "temp1"), Some(100.0));
    // node_exporter gives the crit_alarm flag the temperature unit too.
    assert_eq!(value(&sink, "node_hwmon_temp_crit_alarm_celsius", c, "temp1"), Some(0.0));
    // Labels are kept as written, blanks included.
    let label =
        |sensor, label| sink.value("node_hwmon_sensor_label", &[("chip", c), ("sensor", sensor), ("label", label)]);
    assert_eq!(label("temp1", "Package id 0"), Some(1.0));
    assert_eq!(label("temp2", "Core 0 "), Some(1.0));

    let s = sink.family("node_hwmon_temp_celsius").next().unwrap();
    assert_eq!((s.kind, s.help.as_str()), (MetricKind::Gauge, "Hardware monitor for temperature (input)"));
    let s = sink.family("node_hwmon_temp_max_celsius").next().unwrap();
    assert_eq!(s.help, "Hardware monitor for temperature (max)");
    let s = sink.family("node_hwmon_sensor_label").next().unwrap();
    assert_eq!(s.help, "Label for given chip and sensor");
    let s = sink.family("node_hwmon_chip_names").next().unwrap();
    assert_eq!(s.help, "Annotation metric for human-readable chip names");
}

#[test]
fn fans_voltages_power_and_the_rest() {
    let root = FakeRoot::new();
    chip(
        &root,
        "devices/platform/nct6775.656/hwmon/hwmon2",
        &[
            ("name", "nct6775\n"),
            ("in0_input", "1200\n"),
            ("in0_min", "1000\n"),
            ("in0_alarm", "0\n"),
            ("in0_beep", "1\n"),
            ("fan1_input", "1500\n"),
            ("fan1_min", "300\n"),
            ("fan1_fault", "0\n"),
            ("fan1_pulses", "2\n"),
            ("pwm1", "128\n"),
            ("pwm1_enable", "2\n"),
            ("beep_enable", "1\n"),
            ("vrm", "9.1\n"),
            ("update_interval", "1000\n"),
            ("curr1_input", "1500\n"),
            ("energy1_input", "12345678\n"),
            ("power1_input", "25000000\n"),
            ("power1_average_interval", "1000\n"),
            ("power1_accuracy", "500000\n"),
            ("humidity1_input", "450000\n"),
            ("intrusion0_alarm", "1\n"),
            ("cpu0_vid", "900\n"),
        ],
    );
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    r.unwrap();
    // No device link: the chip is named after its name file.
    let c = "nct6775";
    let want: &[(&str, &str, f64, &str)] = &[
        ("node_hwmon_in_volts", "in0", 1.2, "Hardware monitor for voltage (input)"),
        ("node_hwmon_in_min_volts", "in0", 1.0, "Hardware monitor for voltage (min)"),
        ("node_hwmon_in_alarm", "in0", 0.0, "Hardware sensor alarm status (in)"),
        ("node_hwmon_in_beep_enabled", "in0", 1.0, "Hardware monitor sensor has beeping enabled"),
        ("node_hwmon_fan_rpm", "fan1", 1500.0, "Hardware monitor for fan revolutions per minute (input)"),
        ("node_hwmon_fan_min_rpm", "fan1", 300.0, "Hardware monitor for fan revolutions per minute (min)"),
        ("node_hwmon_fan_fault", "fan1", 0.0, "Hardware sensor fault status (fan)"),
        ("node_hwmon_fan_pulses", "fan1", 2.0, "Hardware monitor fan element pulses"),
        ("node_hwmon_pwm", "pwm1", 128.0, "Hardware monitor pwm element "),
        ("node_hwmon_pwm_enable", "pwm1", 2.0, "Hardware monitor pwm element enable"),
        ("node_hwmon_beep_enabled", "beep_enable0", 1.0, "Hardware beep enabled"),
        ("node_hwmon_voltage_regulator_version", "vrm0", 9.1, "Hardware voltage regulator"),
        ("node_hwmon_update_interval_seconds", "update_interval0", 1.0, "Hardware monitor update interval"),
        ("node_hwmon_curr_amps", "curr1", 1.5, "Hardware monitor for current (input)"),
        ("node_hwmon_energy_joule_total", "energy1", 12.345678, "Hardware monitor for joules used so far (input)"),
        ("node_hwmon_power_watt", "power1", 25.0, "Hardware monitor for power usage in watts (input)"),
        (
            "node_hwmon_power_average_interval_seconds",
            "power1",
            1.0,
            "Hardware monitor power usage update interval (average_interval)",
        ),
        ("node_hwmon_power_accuracy", "power1", 0.5, "Hardware monitor power meter accuracy, as a ratio"),
        (
            "node_hwmon_humidity",
            "humidity1",
            0.45,
            "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (input)",
        ),
        ("node_hwmon_intrusion_alarm", "intrusion0", 1.0, "Hardware sensor alarm status (intrusion)"),
        ("node_hwmon_cpu_vid_volts", "cpu0", 0.9, "Hardware monitor for voltage (vid)"),
    ];
    for (name, sensor, v, help) in want {
        assert_eq!(value(&sink, name, c, sensor), Some(*v), "{name}");
        assert_eq!(sink.family(name).next().unwrap().help, *help, "{name}");
    }
    assert_eq!(sink.family("node_hwmon_energy_joule_total").next().unwrap().kind, MetricKind::Counter);
    assert_eq!(sink.samples.len(), want.len() + 1, "one chip_names sample besides the sensors");
}

#[test]
fn chip_names_fall_back_to_the_hwmon_directory() {
    let root = FakeRoot::new();
    chip(&root, "devices/virtual/hwmon/hwmon4", &[("name", "Some Chip!\n"), ("temp1_input", "1000\n")]);
    chip(&root, "devices/virtual/hwmon/hwmon5", &[("temp1_input", "2000\n"), ("name", "\n")]);
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", "some_chip", "temp1"), Some(1.0));
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", "hwmon5", "temp1"), Some(2.0));
    // A name that cleans to nothing gives no chip_names sample.
    assert_eq!(sink.family("node_hwmon_chip_names").count(), 1);
}

#[test]
fn a_bare_sensor_file_and_its_input_get_separate_names() {
    let root = FakeRoot::new();
    chip(&root, "devices/virtual/hwmon/hwmon0", &[("name", "x\n"), ("temp1", "12\n"), ("temp1_input", "13\n")]);
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    r.unwrap();
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", "x", "temp1"), Some(0.012));
    assert_eq!(value(&sink, "node_hwmon_temp_input_celsius", "x", "temp1"), Some(13.0 * 0.001));
}

#[test]
fn garbage_values_are_skipped_without_failing() {
    let root = FakeRoot::new();
    chip(
        &root,
        "devices/virtual/hwmon/hwmon0",
        &[
            ("name", "x\n"),
            ("temp1_input", "garbage\n"),
            ("temp2_input", ""),
            ("temp3_input", "1e400\n"),
            ("temp4_input", "\u{0}\u{1}\n"),
            ("temp5_input", "45000 \n"),
            ("temp6_input", "30000"),
            ("fan1input", "5\n"),
            ("temp99999999999999999999_input", "1\n"),
        ],
    );
    // A directory where a value file should be cannot be read and is skipped.
    std::fs::create_dir_all(root.path().join("sys/devices/virtual/hwmon/hwmon0/temp7_input")).unwrap();
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    r.unwrap();
    let temps: Vec<&str> =
        sink.family("node_hwmon_temp_celsius").filter_map(|s| s.labels.get(1)).map(|l| l.1.as_str()).collect();
    assert_eq!(temps, ["temp6"]);
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", "x", "temp6"), Some(30.0));
    assert_eq!(sink.samples.len(), 2, "chip_names and temp6 only");
}

#[test]
fn no_hwmon_directory_is_no_data() {
    let root = FakeRoot::new();
    root.sys("class/net/lo/mtu", "65536\n");
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    assert!(matches!(r, Err(CollectError::NoData(_))), "{r:?}");
    assert!(sink.samples.is_empty());
}

#[test]
fn a_dangling_chip_link_fails_the_collection_but_keeps_the_others() {
    let root = FakeRoot::new();
    coretemp(&root);
    // Sorted after hwmon1, so, as in node_exporter, its error is the one that stays.
    symlink(root.path().join("sys/nowhere"), root.path().join("sys/class/hwmon/hwmon9")).unwrap();
    root.sys("class/hwmon/not_a_chip", "x");
    let (sink, r) = collect(&mut HwmonCollector::new(&root.options()), &root);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("hwmon9"), "{err}");
    assert_eq!(value(&sink, "node_hwmon_temp_celsius", "platform_coretemp_0", "temp1"), Some(45.0));
}

#[test]
fn repeated_scrapes_give_the_same_samples() {
    let root = FakeRoot::new();
    coretemp(&root);
    let mut c = HwmonCollector::new(&root.options());
    let (first, r) = collect(&mut c, &root);
    r.unwrap();
    let (second, r) = collect(&mut c, &root);
    r.unwrap();
    assert_eq!(first.samples, second.samples);
}
