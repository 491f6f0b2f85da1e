//! Tests of the `systemd` collector against a real `dbus-daemon` (package `dbus-daemon`) with a fake systemd
//! on it, and of its D-Bus client against that daemon.

mod bus;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use regex::Regex;
use vigil_collect::systemd::dbus::{Connection, Type, Value, PROPERTIES_INTERFACE};
use vigil_collect::systemd::SystemdCollector;
use vigil_collect::{CollectError, Collector, Options, Paths};
use vigil_model::metric::VecSink;
use vigil_model::MetricKind;

use bus::{unit, unit_path, Bus, FakeSystemd, FakeUnit, Fixture, MANAGER, MANAGER_PATH, SYSTEMD};

/// A mixed host: services running, failed, reloading and not found, an excluded mount, two sockets (one from
/// before systemd 239, without NRefused), a timer, a target, and a unit whose name needs escaping.
fn units() -> Vec<FakeUnit> {
    let s = Value::str;
    vec![
        unit(
            "ssh.service",
            "loaded",
            "active",
            vec![("Service", "Type", s("notify")), ("Service", "NRestarts", Value::U32(2))],
        ),
        unit(
            "broken.service",
            "loaded",
            "failed",
            vec![("Service", "Type", s("simple")), ("Service", "NRestarts", Value::U32(5))],
        ),
        unit(
            "reload.service",
            "loaded",
            "reloading",
            vec![("Service", "Type", s("oneshot")), ("Service", "NRestarts", Value::U32(0))],
        ),
        // No NRestarts: systemd before 235.
        unit("getty@tty1.service", "loaded", "active", vec![("Service", "Type", s("idle"))]),
        unit("ghost.service", "not-found", "inactive", vec![]),
        unit("home.mount", "loaded", "active", vec![("Mount", "Type", s("ext4"))]),
        unit(
            "docker.socket",
            "loaded",
            "active",
            vec![
                ("Socket", "NAccepted", Value::U32(12)),
                ("Socket", "NConnections", Value::U32(3)),
                ("Socket", "NRefused", Value::U32(1)),
            ],
        ),
        unit(
            "old.socket",
            "loaded",
            "inactive",
            vec![("Socket", "NAccepted", Value::U32(5)), ("Socket", "NConnections", Value::U32(0))],
        ),
        unit(
            "apt-daily.timer",
            "loaded",
            "active",
            vec![("Timer", "LastTriggerUSec", Value::U64(1_700_000_000_123_456))],
        ),
        unit("multi-user.target", "loaded", "active", vec![]),
    ]
}

fn fixture(version: &str) -> Fixture {
    Fixture {
        manager: vec![("Version", Value::str(version)), ("SystemState", Value::str("running"))],
        units: units(),
        stall_list_units: false,
    }
}

fn options(bus: &Bus) -> Options {
    Options { systemd_bus: Some(bus.socket.clone()), ..Options::default() }
}

fn scrape(c: &mut SystemdCollector) -> (VecSink, Result<(), CollectError>) {
    let mut sink = VecSink::default();
    let r = c.collect(&Paths::default(), &mut sink);
    (sink, r)
}

/// Every sample as `name{k="v",...}` → value, checking that no series appears twice.
fn series(sink: &VecSink) -> BTreeMap<String, f64> {
    let map: BTreeMap<String, f64> = sink
        .samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            (format!("{}{{{}}}", s.name, labels.join(",")), s.value)
        })
        .collect();
    assert_eq!(map.len(), sink.samples.len(), "duplicate series in {:#?}", sink.samples);
    map
}

/// The five `node_systemd_unit_state` series of a unit.
fn unit_states(name: &str, ty: &str, current: &str) -> Vec<(String, f64)> {
    ["active", "activating", "deactivating", "inactive", "failed"]
        .iter()
        .map(|s| {
            let v = if *s == current { 1.0 } else { 0.0 };
            (format!("node_systemd_unit_state{{name={name:?},state={s:?},type={ty:?}}}"), v)
        })
        .collect()
}

fn expect(lines: Vec<(String, f64)>) -> BTreeMap<String, f64> {
    let n = lines.len();
    let map: BTreeMap<String, f64> = lines.into_iter().collect();
    assert_eq!(map.len(), n, "duplicate expected series");
    map
}

fn line(s: &str, v: f64) -> (String, f64) {
    (s.to_owned(), v)
}

/// Families, help texts and types exactly as node_exporter 1.5 writes them.
const FAMILIES: &[(&str, &str, MetricKind)] = &[
    ("node_systemd_unit_state", "Systemd unit", MetricKind::Gauge),
    ("node_systemd_units", "Summary of systemd unit states", MetricKind::Gauge),
    (
        "node_systemd_system_running",
        "Whether the system is operational (see 'systemctl is-system-running')",
        MetricKind::Gauge,
    ),
    ("node_systemd_version", "Detected systemd version", MetricKind::Gauge),
    (
        "node_systemd_socket_accepted_connections_total",
        "Total number of accepted socket connections",
        MetricKind::Counter,
    ),
    ("node_systemd_socket_current_connections", "Current number of socket connections", MetricKind::Gauge),
    ("node_systemd_socket_refused_connections_total", "Total number of refused socket connections", MetricKind::Gauge),
    ("node_systemd_timer_last_trigger_seconds", "Seconds since epoch of last trigger.", MetricKind::Gauge),
    ("node_systemd_service_restart_total", "Service unit count of Restart triggers", MetricKind::Counter),
];

fn check_families(sink: &VecSink) {
    for s in &sink.samples {
        let Some((_, help, kind)) = FAMILIES.iter().find(|(n, _, _)| *n == s.name) else {
            panic!("unexpected family {}", s.name);
        };
        assert_eq!(s.help, *help, "{}", s.name);
        assert_eq!(s.kind, *kind, "{}", s.name);
    }
}

#[test]
fn default_output_matches_node_exporter() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, fixture("252.22-1~deb12u1"));
    let mut c = SystemdCollector::new(&options(&bus));
    let (sink, r) = scrape(&mut c);
    r.unwrap();
    check_families(&sink);

    let mut want = vec![
        line("node_systemd_version{version=\"252.22-1~deb12u1\"}", 252.22),
        // Every unit counts, loaded or not, excluded or not; an unusual state gets its own series.
        line("node_systemd_units{state=\"active\"}", 6.0),
        line("node_systemd_units{state=\"activating\"}", 0.0),
        line("node_systemd_units{state=\"deactivating\"}", 0.0),
        line("node_systemd_units{state=\"inactive\"}", 2.0),
        line("node_systemd_units{state=\"failed\"}", 1.0),
        line("node_systemd_units{state=\"reloading\"}", 1.0),
        line("node_systemd_timer_last_trigger_seconds{name=\"apt-daily.timer\"}", 1_700_000_000_123_456_f64 / 1e6),
        line("node_systemd_socket_accepted_connections_total{name=\"docker.socket\"}", 12.0),
        line("node_systemd_socket_current_connections{name=\"docker.socket\"}", 3.0),
        line("node_systemd_socket_refused_connections_total{name=\"docker.socket\"}", 1.0),
        line("node_systemd_socket_accepted_connections_total{name=\"old.socket\"}", 5.0),
        line("node_systemd_socket_current_connections{name=\"old.socket\"}", 0.0),
        line("node_systemd_system_running{}", 1.0),
    ];
    // home.mount is excluded by default and ghost.service is not loaded; the type label is the service's
    // Type= and empty for other units.
    want.extend(unit_states("ssh.service", "notify", "active"));
    want.extend(unit_states("broken.service", "simple", "failed"));
    want.extend(unit_states("reload.service", "oneshot", "reloading"));
    want.extend(unit_states("getty@tty1.service", "idle", "active"));
    want.extend(unit_states("docker.socket", "", "active"));
    want.extend(unit_states("old.socket", "", "inactive"));
    want.extend(unit_states("apt-daily.timer", "", "active"));
    want.extend(unit_states("multi-user.target", "", "active"));
    assert_eq!(series(&sink), expect(want));

    // The connection is kept, and a second collection says the same.
    let (again, r) = scrape(&mut c);
    r.unwrap();
    assert_eq!(series(&again), series(&sink));
}

#[test]
fn unit_filters_come_from_options() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, fixture("252"));
    let options = Options {
        systemd_unit_include: Regex::new(r"^(?:.+\.(service|mount))$").unwrap(),
        systemd_unit_exclude: Regex::new(r"^(?:broken\.service)$").unwrap(),
        ..options(&bus)
    };
    let (sink, r) = scrape(&mut SystemdCollector::new(&options));
    r.unwrap();
    let mut names: Vec<&str> = sink
        .family("node_systemd_unit_state")
        .filter(|s| s.labels[1].1 == "active")
        .map(|s| s.labels[0].1.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["getty@tty1.service", "home.mount", "reload.service", "ssh.service"]);
    // A mount's type label is its file system type.
    assert_eq!(sink.value("node_systemd_unit_state", &[("name", "home.mount"), ("state", "active")]), Some(1.0));
    assert!(sink.family("node_systemd_unit_state").any(|s| s.labels[0].1 == "home.mount" && s.labels[2].1 == "ext4"));
    // Filters do not touch the summary, and sockets and timers filtered out report nothing.
    assert_eq!(sink.value("node_systemd_units", &[("state", "active")]), Some(6.0));
    assert_eq!(sink.family("node_systemd_socket_accepted_connections_total").count(), 0);
    assert_eq!(sink.family("node_systemd_timer_last_trigger_seconds").count(), 0);
}

#[test]
fn restart_metrics_are_opt_in() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, fixture("252"));
    // The bus may also be given as a D-Bus address.
    let options =
        Options { systemd_bus: Some(PathBuf::from(format!("unix:path={}", bus.socket.display()))), ..options(&bus) };
    let (sink, r) = scrape(&mut SystemdCollector::new(&options));
    r.unwrap();
    assert_eq!(sink.family("node_systemd_service_restart_total").count(), 0);

    let (sink, r) = scrape(&mut SystemdCollector::new(&options).with_restart_metrics(true));
    r.unwrap();
    check_families(&sink);
    let restarts: BTreeMap<String, f64> =
        series(&sink).into_iter().filter(|(k, _)| k.starts_with("node_systemd_service_restart_total")).collect();
    // getty@tty1.service has no NRestarts, as before systemd 235.
    assert_eq!(
        restarts,
        expect(vec![
            line("node_systemd_service_restart_total{name=\"broken.service\"}", 5.0),
            line("node_systemd_service_restart_total{name=\"reload.service\"}", 0.0),
            line("node_systemd_service_restart_total{name=\"ssh.service\"}", 2.0),
        ])
    );
}

#[test]
fn old_systemd_has_no_timers_or_system_state() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, fixture("210"));
    let (sink, r) = scrape(&mut SystemdCollector::new(&options(&bus)));
    r.unwrap();
    assert_eq!(sink.value("node_systemd_version", &[("version", "210")]), Some(210.0));
    assert_eq!(sink.family("node_systemd_timer_last_trigger_seconds").count(), 0);
    assert_eq!(sink.family("node_systemd_system_running").count(), 0);
    assert_eq!(sink.family("node_systemd_socket_accepted_connections_total").count(), 2);
}

#[test]
fn system_not_running_and_missing_system_state() {
    let bus = Bus::start();
    let mut f = fixture("252");
    f.manager[1].1 = Value::str("degraded");
    let systemd = FakeSystemd::start(&bus, f);
    let (sink, r) = scrape(&mut SystemdCollector::new(&options(&bus)));
    r.unwrap();
    assert_eq!(sink.value("node_systemd_system_running", &[]), Some(0.0));
    drop(systemd);

    // Without SystemState the collection fails, as node_exporter's does, after reporting everything else.
    let mut f = fixture("252");
    f.manager.truncate(1);
    let _systemd = FakeSystemd::start(&bus, f);
    let (sink, r) = scrape(&mut SystemdCollector::new(&options(&bus)));
    let err = r.unwrap_err().to_string();
    assert!(err.contains("couldn't get system state") && err.contains("UnknownProperty"), "{err}");
    assert_eq!(sink.family("node_systemd_unit_state").count(), 40);
}

#[test]
fn missing_socket_is_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { systemd_bus: Some(dir.path().join("no-such-bus")), ..Options::default() };
    let (sink, r) = scrape(&mut SystemdCollector::new(&options));
    assert!(matches!(r, Err(CollectError::NoData(_))), "{r:?}");
    assert!(sink.samples.is_empty());
}

#[test]
fn bus_without_systemd_fails_after_version_zero() {
    let bus = Bus::start();
    let (sink, r) = scrape(&mut SystemdCollector::new(&options(&bus)));
    let err = r.unwrap_err().to_string();
    assert!(err.contains("couldn't get units") && err.contains("ServiceUnknown"), "{err}");
    assert_eq!(series(&sink), expect(vec![line("node_systemd_version{version=\"\"}", 0.0)]));
}

#[test]
fn hung_systemd_cannot_hang_a_collection() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, Fixture { stall_list_units: true, ..fixture("252") });
    let mut c = SystemdCollector::new(&options(&bus)).with_timeout(Duration::from_millis(500));
    let start = Instant::now();
    let (_, r) = scrape(&mut c);
    let err = r.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[test]
fn reconnects_after_the_bus_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::start_in(dir.path());
    let systemd = FakeSystemd::start(&bus, fixture("252"));
    let mut c = SystemdCollector::new(&options(&bus));
    scrape(&mut c).1.unwrap();
    drop(systemd);
    drop(bus);
    std::fs::remove_file(dir.path().join("bus")).unwrap();

    let bus = Bus::start_in(dir.path());
    let _systemd = FakeSystemd::start(&bus, fixture("253"));
    let (sink, r) = scrape(&mut c);
    r.unwrap();
    assert_eq!(sink.value("node_systemd_version", &[("version", "253")]), Some(253.0));
}

#[test]
fn client_talks_to_a_real_bus() {
    let bus = Bus::start();
    let _systemd = FakeSystemd::start(&bus, fixture("252"));
    let soon = Instant::now() + Duration::from_secs(5);
    let mut conn = Connection::connect(&bus.address(), soon).unwrap();
    assert!(conn.unique_name().starts_with(':'), "{}", conn.unique_name());

    // Properties.GetAll returns a dictionary of variants.
    let path = unit_path("docker.socket");
    let args = vec![Value::str("org.freedesktop.systemd1.Socket")];
    let body = conn.call_method(SYSTEMD, &path, PROPERTIES_INTERFACE, "GetAll", args, soon).unwrap();
    let [Value::Array(dict)] = body.as_slice() else { panic!("{body:?}") };
    assert_eq!(dict.elem, Type::DictEntry(Box::new(Type::Str), Box::new(Type::Variant)));
    assert_eq!(dict.items.len(), 3);
    assert_eq!(dict.items[0], Value::DictEntry(Box::new((Value::str("NAccepted"), Value::variant(Value::U32(12))))));

    // The bus's own errors come back typed, with their names.
    let err = conn.get_property(SYSTEMD, MANAGER_PATH, MANAGER, "Nope", soon).unwrap_err();
    assert!(err.to_string().contains("org.freedesktop.DBus.Error.UnknownProperty"), "{err}");
    let err = conn.call_method("org.example.Nobody", "/", "org.example.Nobody", "Hi", Vec::new(), soon).unwrap_err();
    assert!(err.to_string().contains("org.freedesktop.DBus.Error.ServiceUnknown"), "{err}");
    // And the connection stays usable after them.
    let v = conn.get_property(SYSTEMD, MANAGER_PATH, MANAGER, "Version", soon).unwrap();
    assert_eq!(v, Value::str("252"));
}
