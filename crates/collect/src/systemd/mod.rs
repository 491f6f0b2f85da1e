//! `systemd`: unit states, unit counts, socket and timer statistics and the system state, asked of systemd over
//! the D-Bus system bus, with node_exporter 1.5's names, help texts, types and labels.

pub mod dbus;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use regex::Regex;
use vigil_model::{Desc, MetricSink};

use crate::{CollectError, Collector, Options, Paths};
use dbus::{BusAddress, Connection, Type, Value};

const UNIT_STATE: Desc<'static> = Desc::gauge("node_systemd_unit_state", "Systemd unit");
const UNITS: Desc<'static> = Desc::gauge("node_systemd_units", "Summary of systemd unit states");
const SYSTEM_RUNNING: Desc<'static> =
    Desc::gauge("node_systemd_system_running", "Whether the system is operational (see 'systemctl is-system-running')");
const VERSION: Desc<'static> = Desc::gauge("node_systemd_version", "Detected systemd version");
const SOCKET_ACCEPTED: Desc<'static> =
    Desc::counter("node_systemd_socket_accepted_connections_total", "Total number of accepted socket connections");
const SOCKET_CURRENT: Desc<'static> =
    Desc::gauge("node_systemd_socket_current_connections", "Current number of socket connections");
/// A gauge despite its `_total` name: node_exporter 1.5 reports it so.
const SOCKET_REFUSED: Desc<'static> =
    Desc::gauge("node_systemd_socket_refused_connections_total", "Total number of refused socket connections");
const TIMER_LAST_TRIGGER: Desc<'static> =
    Desc::gauge("node_systemd_timer_last_trigger_seconds", "Seconds since epoch of last trigger.");
const RESTARTS: Desc<'static> =
    Desc::counter("node_systemd_service_restart_total", "Service unit count of Restart triggers");

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
const MOUNT: &str = "org.freedesktop.systemd1.Mount";
const SOCKET: &str = "org.freedesktop.systemd1.Socket";
const TIMER: &str = "org.freedesktop.systemd1.Timer";

/// Where the system bus listens when neither the options nor `$DBUS_SYSTEM_BUS_ADDRESS` say.
pub const DEFAULT_SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// How long one collection may take in all, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first systemd with the manager's `SystemState` and the timers' `LastTriggerUSec`.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;
/// The unit states every unit gets a series for, in node_exporter's order.
const UNIT_STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

/// One entry of `ListUnits`, the fields vigil uses.
#[derive(Debug)]
struct Unit {
    name: String,
    load_state: String,
    active_state: String,
    path: String,
}

pub struct SystemdCollector {
    include: Regex,
    exclude: Regex,
    bus: Option<PathBuf>,
    timeout: Duration,
    restarts: bool,
    /// Kept between collections; dropped when the byte stream breaks.
    conn: Option<Connection>,
}

impl SystemdCollector {
    pub fn new(o: &Options) -> Self {
        SystemdCollector {
            include: o.systemd_unit_include.clone(),
            exclude: o.systemd_unit_exclude.clone(),
            bus: o.systemd_bus.clone(),
            timeout: DEFAULT_TIMEOUT,
            restarts: false,
            conn: None,
        }
    }

    /// Bounds one whole collection (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Also reports `node_systemd_service_restart_total`, like node_exporter's
    /// `--collector.systemd.enable-restarts-metrics` (off by default there too).
    pub fn with_restart_metrics(mut self, on: bool) -> Self {
        self.restarts = on;
        self
    }

    /// The bus to use: the configured socket, else `$DBUS_SYSTEM_BUS_ADDRESS`, else [`DEFAULT_SYSTEM_BUS`].
    fn address(&self) -> Result<BusAddress, CollectError> {
        let parse = |a: &str| BusAddress::parse(a).map_err(|e| CollectError::Other(e.to_string()));
        if let Some(p) = &self.bus {
            return match p.to_str() {
                Some(a) if a.starts_with("unix:") => parse(a),
                _ => Ok(BusAddress::Path(p.clone())),
            };
        }
        match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() => parse(&a),
            _ => Ok(BusAddress::Path(DEFAULT_SYSTEM_BUS.into())),
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Connection, CollectError> {
        let addr = self.address()?;
        Connection::connect(&addr, deadline).map_err(|e| match e {
            dbus::Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                CollectError::NoData(format!("no d-bus socket at {addr}"))
            }
            e => CollectError::Other(format!("couldn't get dbus connection: {e}")),
        })
    }

    fn scrape(
        &self,
        conn: &mut Connection,
        version: Result<Value, dbus::Error>,
        out: &mut dyn MetricSink,
        deadline: Instant,
    ) -> Result<(), CollectError> {
        let (version, version_label) = match version {
            Ok(Value::Str(s)) => (parse_version(&s), s),
            Ok(other) => {
                tracing::debug!(signature = %other.ty().signature(), "systemd version is not a string");
                (0.0, String::new())
            }
            Err(e) => {
                tracing::debug!(err = %e, "couldn't get systemd version, defaulting to 0");
                (0.0, String::new())
            }
        };
        out.sample(&VERSION, &[("version", &version_label)], version);

        let body = conn
            .call_method(SYSTEMD, MANAGER_PATH, MANAGER, "ListUnits", Vec::new(), deadline)
            .map_err(|e| CollectError::Other(format!("couldn't get units: {e}")))?;
        let all = parse_units(body).map_err(|e| CollectError::Other(format!("couldn't get units: {e}")))?;

        // The summary counts every unit, before filtering; unusual states get their own series.
        let mut summary: Vec<(&str, u32)> = UNIT_STATES.iter().map(|s| (*s, 0)).collect();
        for u in &all {
            match summary.iter_mut().find(|(s, _)| *s == u.active_state) {
                Some((_, n)) => *n += 1,
                None => summary.push((&u.active_state, 1)),
            }
        }
        for (state, n) in &summary {
            out.sample(&UNITS, &[("state", state)], f64::from(*n));
        }

        let units: Vec<&Unit> = all
            .iter()
            .filter(|u| {
                let keep =
                    self.include.is_match(&u.name) && !self.exclude.is_match(&u.name) && u.load_state == "loaded";
                if !keep {
                    tracing::debug!(unit = %u.name, "ignoring unit");
                }
                keep
            })
            .collect();

        for u in &units {
            // The type label is the service's or mount's Type=; other units have none.
            let type_interface = if u.name.ends_with(".service") {
                Some(SERVICE)
            } else if u.name.ends_with(".mount") {
                Some(MOUNT)
            } else {
                None
            };
            let ty = match type_interface {
                Some(iface) => unit_property(conn, u, iface, "Type", deadline)?,
                None => None,
            };
            let ty = ty.as_ref().and_then(Value::as_str).unwrap_or("");
            for state in UNIT_STATES {
                let v = if state == u.active_state { 1.0 } else { 0.0 };
                out.sample(&UNIT_STATE, &[("name", &u.name), ("state", state), ("type", ty)], v);
            }
            if self.restarts && u.name.ends_with(".service") {
                // NRestarts appeared in systemd 235.
                if let Some(n) =
                    unit_property(conn, u, SERVICE, "NRestarts", deadline)?.as_ref().and_then(Value::as_u32)
                {
                    out.sample(&RESTARTS, &[("name", &u.name)], f64::from(n));
                }
            }
        }

        if version >= MIN_VERSION_SYSTEM_STATE {
            for u in units.iter().filter(|u| u.name.ends_with(".timer")) {
                let v = unit_property(conn, u, TIMER, "LastTriggerUSec", deadline)?;
                if let Some(usec) = v.as_ref().and_then(Value::as_u64) {
                    out.sample(&TIMER_LAST_TRIGGER, &[("name", &u.name)], usec as f64 / 1e6);
                }
            }
        }

        for u in units.iter().filter(|u| u.name.ends_with(".socket")) {
            let u32_property = |conn: &mut Connection, name| {
                unit_property(conn, u, SOCKET, name, deadline).map(|v| v.as_ref().and_then(Value::as_u32))
            };
            // As in node_exporter, a socket missing one of the first two counts reports nothing after it.
            let Some(accepted) = u32_property(conn, "NAccepted")? else { continue };
            out.sample(&SOCKET_ACCEPTED, &[("name", &u.name)], f64::from(accepted));
            let Some(current) = u32_property(conn, "NConnections")? else { continue };
            out.sample(&SOCKET_CURRENT, &[("name", &u.name)], f64::from(current));
            // NRefused appeared in systemd 239.
            if let Some(refused) = u32_property(conn, "NRefused")? {
                out.sample(&SOCKET_REFUSED, &[("name", &u.name)], f64::from(refused));
            }
        }

        if version >= MIN_VERSION_SYSTEM_STATE {
            let state = conn
                .get_property(SYSTEMD, MANAGER_PATH, MANAGER, "SystemState", deadline)
                .map_err(|e| CollectError::Other(format!("couldn't get system state: {e}")))?;
            let Value::Str(state) = state else {
                return Err(CollectError::Other(format!(
                    "couldn't get system state: it is a {}, not a string",
                    state.ty().signature()
                )));
            };
            out.sample(&SYSTEM_RUNNING, &[], if state == "running" { 1.0 } else { 0.0 });
        }
        Ok(())
    }
}

impl Collector for SystemdCollector {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn collect(&mut self, _paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let deadline = Instant::now() + self.timeout;
        let (mut conn, reused) = match self.conn.take() {
            Some(c) => (c, true),
            None => (self.connect(deadline)?, false),
        };
        let mut version = conn.get_property(SYSTEMD, MANAGER_PATH, MANAGER, "Version", deadline);
        if reused && conn.is_broken() {
            // The bus went away since the last collection (restarted, say): one fresh try.
            tracing::debug!("d-bus connection went stale, reconnecting");
            conn = self.connect(deadline)?;
            version = conn.get_property(SYSTEMD, MANAGER_PATH, MANAGER, "Version", deadline);
        }
        if conn.is_broken() {
            let err = version.err().map_or_else(|| "connection broke".to_owned(), |e| e.to_string());
            return Err(CollectError::Other(format!("couldn't get systemd version: {err}")));
        }
        let result = self.scrape(&mut conn, version, out, deadline);
        if !conn.is_broken() {
            self.conn = Some(conn);
        }
        result
    }
}

/// Reads a property of a unit. A property the unit lacks is `None`, as node_exporter skips those; a broken
/// connection or a spent deadline ends the collection.
fn unit_property(
    conn: &mut Connection,
    unit: &Unit,
    interface: &str,
    name: &str,
    deadline: Instant,
) -> Result<Option<Value>, CollectError> {
    match conn.get_property(SYSTEMD, &unit.path, interface, name, deadline) {
        Ok(v) => Ok(Some(v)),
        Err(e) if conn.is_broken() || matches!(e, dbus::Error::Timeout(_)) => {
            Err(CollectError::Other(format!("couldn't get {name} of {}: {e}", unit.name)))
        }
        Err(e) => {
            tracing::debug!(unit = %unit.name, property = name, err = %e, "couldn't get unit property");
            Ok(None)
        }
    }
}

/// The type of `ListUnits`' reply: `a(ssssssouso)`.
pub fn list_units_type() -> Type {
    Type::parse_single("a(ssssssouso)").expect("a valid signature")
}

/// Takes name, load state, active state and object path from a `ListUnits` reply.
fn parse_units(body: Vec<Value>) -> Result<Vec<Unit>, String> {
    let want = list_units_type();
    let Ok([Value::Array(array)]) = <[Value; 1]>::try_from(body) else {
        return Err(format!("ListUnits reply is not {}", want.signature()));
    };
    if Type::Array(Box::new(array.elem.clone())) != want {
        return Err(format!("ListUnits reply is a{}, not {}", array.elem.signature(), want.signature()));
    }
    let mut units = Vec::new();
    for item in array.items {
        let Value::Struct(fields) = item else { return Err("ListUnits entry is not a struct".into()) };
        let Ok(
            [Value::Str(name), _, Value::Str(load_state), Value::Str(active_state), _, _, Value::ObjectPath(path), _, _, _],
        ) = <[Value; 10]>::try_from(fields)
        else {
            return Err("ListUnits entry has the wrong fields".into());
        };
        units.push(Unit { name, load_state, active_state, path });
    }
    Ok(units)
}

/// The number node_exporter reports for a version string: the first run of three or more digits, with the
/// fraction after it if there is one (`252.22-1~deb12u1` is 252.22). Zero when there is none.
fn parse_version(v: &str) -> f64 {
    let b = v.as_bytes();
    let digits_from = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < b.len() {
        let n = digits_from(i);
        if n >= 3 {
            let mut end = i + n;
            if b.get(end) == Some(&b'.') {
                let frac = digits_from(end + 1);
                if frac > 0 {
                    end += 1 + frac;
                }
            }
            return v[i..end].parse().unwrap_or(0.0);
        }
        i += n.max(1);
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (s, want) in [
            ("252.22-1~deb12u1", 252.22),
            ("249.11-0ubuntu3.12", 249.11),
            ("245", 245.0),
            ("v239", 239.0),
            ("12.34 and 256", 256.0),
            ("256.", 256.0),
            ("", 0.0),
            ("unknown", 0.0),
            ("1.2.3", 0.0),
        ] {
            assert_eq!(parse_version(s), want, "{s:?}");
        }
    }

    fn entry(name: &str, load: &str, active: &str) -> Value {
        let s = Value::str;
        Value::Struct(vec![
            s(name),
            s("desc"),
            s(load),
            s(active),
            s("running"),
            s(""),
            Value::ObjectPath("/org/freedesktop/systemd1/unit/x".into()),
            Value::U32(0),
            s(""),
            Value::ObjectPath("/".into()),
        ])
    }

    #[test]
    fn list_units_replies() {
        let elem = match list_units_type() {
            Type::Array(e) => *e,
            _ => unreachable!(),
        };
        let units =
            parse_units(vec![Value::array(elem.clone(), vec![entry("a.service", "loaded", "active")])]).unwrap();
        assert_eq!(units[0].name, "a.service");
        assert_eq!(units[0].active_state, "active");
        assert_eq!(units[0].path, "/org/freedesktop/systemd1/unit/x");
        for bad in [
            vec![],
            vec![Value::U32(1)],
            vec![Value::array(Type::Str, vec![])],
            vec![Value::array(elem.clone(), vec![]), Value::U32(1)],
        ] {
            assert!(parse_units(bad).unwrap_err().contains("ListUnits"));
        }
    }
}
