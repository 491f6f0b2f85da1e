//! A private `dbus-daemon` in a temp dir, and a fake `org.freedesktop.systemd1` on it that answers `ListUnits`
//! and `Properties.Get`/`GetAll` from fixtures, spoken through vigil's own D-Bus client.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vigil_collect::systemd::dbus::{
    self, BusAddress, Connection, Message, MessageType, Type, Value, BUS_INTERFACE, BUS_NAME, BUS_PATH,
    PROPERTIES_INTERFACE,
};

/// How long anything in the harness may take to come up.
const STARTUP: Duration = Duration::from_secs(10);

pub const SYSTEMD: &str = "org.freedesktop.systemd1";
pub const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
pub const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// A running `dbus-daemon` listening on a socket in a temp dir; killed on drop.
pub struct Bus {
    child: Child,
    pub socket: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Bus {
    /// Starts a bus in a fresh temp dir.
    pub fn start() -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let mut bus = Bus::start_in(dir.path());
        bus._dir = Some(dir);
        bus
    }

    /// Starts a bus whose socket is `dir/bus`, and returns once it is listening.
    pub fn start_in(dir: &Path) -> Bus {
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>vigil-test</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut child = match Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "dbus-daemon not found ({e}): the systemd collector tests need a real bus; \
                 install the `dbus-daemon` package (apt-get install -y dbus-daemon)"
            ),
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        // The daemon prints its address once it is listening; read it on a thread so a hang cannot block.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(STARTUP) {
            Ok(line) if line.contains("unix:path=") => {}
            other => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let _ = child.wait();
                panic!("dbus-daemon did not come up ({other:?}); stderr: {err}");
            }
        }
        Bus { child, socket, _dir: None }
    }

    pub fn address(&self) -> BusAddress {
        BusAddress::Path(self.socket.clone())
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One unit as the fake systemd knows it.
pub struct FakeUnit {
    pub name: String,
    pub load: String,
    pub active: String,
    /// Properties by interface and name.
    pub props: Vec<(String, String, Value)>,
}

/// A unit with properties given as `(interface suffix, name, value)`, e.g. `("Service", "Type", ...)`.
pub fn unit(name: &str, load: &str, active: &str, props: Vec<(&str, &str, Value)>) -> FakeUnit {
    FakeUnit {
        name: name.into(),
        load: load.into(),
        active: active.into(),
        props: props.into_iter().map(|(i, n, v)| (format!("{SYSTEMD}.{i}"), n.to_owned(), v)).collect(),
    }
}

/// What the fake systemd serves.
pub struct Fixture {
    /// Manager properties, such as `Version` and `SystemState`.
    pub manager: Vec<(&'static str, Value)>,
    pub units: Vec<FakeUnit>,
    /// Never answer `ListUnits`, like a hung systemd.
    pub stall_list_units: bool,
}

/// A thread owning `org.freedesktop.systemd1` on a [`Bus`]; stopped on drop.
pub struct FakeSystemd {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSystemd {
    /// Starts serving and returns once the name is owned.
    pub fn start(bus: &Bus, fixture: Fixture) -> FakeSystemd {
        let addr = bus.address();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || serve(addr, fixture, stop, ready_tx))
        };
        match ready_rx.recv_timeout(STARTUP) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("fake systemd failed to start: {e}"),
            Err(e) => panic!("fake systemd did not come up: {e}"),
        }
        FakeSystemd { stop, thread: Some(thread) }
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The object path systemd gives a unit: the name with every byte but letters (and digits after the first
/// byte) written as `_xx`.
pub fn unit_path(name: &str) -> String {
    let mut p = format!("{MANAGER_PATH}/unit/");
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            p.push(b as char);
        } else {
            p.push_str(&format!("_{b:02x}"));
        }
    }
    p
}

fn serve(addr: BusAddress, fixture: Fixture, stop: Arc<AtomicBool>, ready: mpsc::Sender<Result<(), String>>) {
    let soon = || Instant::now() + STARTUP;
    let setup = || -> Result<Connection, dbus::Error> {
        let mut conn = Connection::connect(&addr, soon())?;
        // Flag 4 is DO_NOT_QUEUE; reply 1 is PRIMARY_OWNER.
        let args = vec![Value::str(SYSTEMD), Value::U32(4)];
        let reply = conn.call_method(BUS_NAME, BUS_PATH, BUS_INTERFACE, "RequestName", args, soon())?;
        if reply != [Value::U32(1)] {
            return Err(dbus::Error::Unexpected(format!("RequestName returned {reply:?}")));
        }
        Ok(conn)
    };
    let mut conn = match setup() {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let msg = match conn.recv(Instant::now() + Duration::from_millis(50)) {
            Ok(m) => m,
            Err(dbus::Error::Timeout(_)) => continue,
            Err(_) => return,
        };
        if msg.kind != MessageType::MethodCall {
            continue;
        }
        let reply = match answer(&fixture, &msg) {
            Some(Ok(body)) => Message::method_return(&msg, body),
            Some(Err((name, text))) => Message::error(&msg, name, text),
            None => continue,
        };
        if conn.send(&reply, soon()).is_err() {
            return;
        }
    }
}

type Answer = Result<Vec<Value>, (&'static str, &'static str)>;

/// The reply to one method call; `None` to leave it unanswered.
fn answer(fixture: &Fixture, msg: &Message) -> Option<Answer> {
    let path = msg.path.as_deref().unwrap_or("");
    let props: Vec<(&str, &str, &Value)> = if path == MANAGER_PATH {
        fixture.manager.iter().map(|(n, v)| (MANAGER, *n, v)).collect()
    } else if let Some(u) = fixture.units.iter().find(|u| unit_path(&u.name) == path) {
        u.props.iter().map(|(i, n, v)| (i.as_str(), n.as_str(), v)).collect()
    } else {
        return Some(Err(("org.freedesktop.DBus.Error.UnknownObject", "unknown object")));
    };
    let arg = |i: usize| msg.body.get(i).and_then(Value::as_str).unwrap_or("");
    Some(match (msg.interface.as_deref().unwrap_or(""), msg.member.as_deref().unwrap_or("")) {
        (MANAGER, "ListUnits") if path == MANAGER_PATH => {
            if fixture.stall_list_units {
                return None;
            }
            Ok(vec![list_units(fixture)])
        }
        (PROPERTIES_INTERFACE, "Get") => match props.iter().find(|(i, n, _)| *i == arg(0) && *n == arg(1)) {
            Some((_, _, v)) => Ok(vec![Value::variant((*v).clone())]),
            None => Err(("org.freedesktop.DBus.Error.UnknownProperty", "unknown property")),
        },
        (PROPERTIES_INTERFACE, "GetAll") => {
            let pairs = props
                .iter()
                .filter(|(i, _, _)| *i == arg(0))
                .map(|(_, n, v)| (Value::str(*n), Value::variant((*v).clone())))
                .collect();
            Ok(vec![Value::dict(Type::Str, Type::Variant, pairs)])
        }
        _ => Err(("org.freedesktop.DBus.Error.UnknownMethod", "unknown method")),
    })
}

/// `ListUnits`' `a(ssssssouso)`: name, description, load, active and sub state, followed unit, path, job id,
/// job type and job path.
fn list_units(fixture: &Fixture) -> Value {
    let entries: Vec<Value> = fixture
        .units
        .iter()
        .map(|u| {
            Value::Struct(vec![
                Value::str(&u.name),
                Value::str(format!("Fake {}", u.name)),
                Value::str(&u.load),
                Value::str(&u.active),
                Value::str("running"),
                Value::str(""),
                Value::ObjectPath(unit_path(&u.name)),
                Value::U32(0),
                Value::str(""),
                Value::ObjectPath("/".into()),
            ])
        })
        .collect();
    let Type::Array(elem) = vigil_collect::systemd::list_units_type() else { unreachable!("an array type") };
    let elem = *elem;
    Value::array(elem, entries)
}
