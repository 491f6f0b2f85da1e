//! A connection to a bus: the Unix socket, `EXTERNAL` authentication, `Hello`, and method calls whose replies
//! are matched by serial. Every blocking step is bounded by a caller-given deadline.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::message::{Message, MessageType, FLAG_NO_REPLY_EXPECTED};
use super::wire::Value;
use super::{BusAddress, Error, BUS_INTERFACE, BUS_NAME, BUS_PATH, PROPERTIES_INTERFACE};

/// The longest line the server may send during authentication.
const MAX_AUTH_LINE: usize = 4096;
/// How much is read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// A read buffer bigger than this is shrunk once it is empty, so one huge reply does not pin memory.
const KEEP_BUFFER: usize = 1024 * 1024;

/// An authenticated connection to a bus, with its unique name.
pub struct Connection {
    stream: UnixStream,
    /// Bytes read but not yet consumed: a partial message survives a read timeout.
    rbuf: Vec<u8>,
    next_serial: u32,
    unique_name: String,
    /// Set when the byte stream is no longer in a known state (a partial write, a bad frame).
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("unique_name", &self.unique_name).field("broken", &self.broken).finish()
    }
}

impl Connection {
    /// Connects, authenticates with `EXTERNAL` as this process's uid, and says `Hello`.
    pub fn connect(addr: &BusAddress, deadline: Instant) -> Result<Connection, Error> {
        let stream = connect_socket(addr, deadline)?;
        let mut c = Connection { stream, rbuf: Vec::new(), next_serial: 1, unique_name: String::new(), broken: false };
        c.authenticate(deadline)?;
        let hello = Message::method_call(BUS_NAME, BUS_PATH, BUS_INTERFACE, "Hello", Vec::new());
        let reply = c.call(&hello, deadline)?;
        match reply.body.as_slice() {
            [Value::Str(name)] => c.unique_name = name.clone(),
            _ => return Err(Error::Unexpected(format!("Hello returned {:?}", reply.signature()))),
        }
        Ok(c)
    }

    /// The name the bus gave this connection, such as `:1.42`.
    pub fn unique_name(&self) -> &str {
        &self.unique_name
    }

    /// Sends `msg` with the next serial and returns that serial.
    pub fn send(&mut self, msg: &Message, deadline: Instant) -> Result<u32, Error> {
        self.usable()?;
        let serial = self.next_serial;
        self.next_serial = self.next_serial.checked_add(1).unwrap_or(1);
        let bytes = msg.encode(serial)?;
        self.write_all(&bytes, deadline)?;
        Ok(serial)
    }

    /// Receives the next message. A timeout leaves the connection usable; a partial message is kept.
    pub fn recv(&mut self, deadline: Instant) -> Result<Message, Error> {
        self.usable()?;
        loop {
            match Message::frame_len(&self.rbuf) {
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
                Ok(Some(total)) if self.rbuf.len() >= total => {
                    let result = Message::decode(&self.rbuf[..total]);
                    self.rbuf.drain(..total);
                    if self.rbuf.is_empty() && self.rbuf.capacity() > KEEP_BUFFER {
                        self.rbuf = Vec::new();
                    }
                    return result;
                }
                Ok(_) => self.fill(deadline, "waiting for a message")?,
            }
        }
    }

    /// Sends a method call and waits for its reply. An error reply becomes [`Error::Remote`]. Other messages
    /// that arrive meanwhile are dropped; method calls among them get an `UnknownMethod` error.
    pub fn call(&mut self, msg: &Message, deadline: Instant) -> Result<Message, Error> {
        let serial = self.send(msg, deadline)?;
        loop {
            let m = match self.recv(deadline) {
                Err(Error::Timeout(_)) => return Err(Error::Timeout("waiting for a reply")),
                other => other?,
            };
            match m.kind {
                MessageType::MethodReturn if m.reply_serial == Some(serial) => return Ok(m),
                MessageType::Error if m.reply_serial == Some(serial) => {
                    let message = match m.body.first() {
                        Some(Value::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    return Err(Error::Remote { name: m.error_name.unwrap_or_default(), message });
                }
                MessageType::MethodCall if m.flags & FLAG_NO_REPLY_EXPECTED == 0 => {
                    let refusal =
                        Message::error(&m, "org.freedesktop.DBus.Error.UnknownMethod", "this client serves no methods");
                    self.send(&refusal, deadline)?;
                }
                _ => {}
            }
        }
    }

    /// Calls `member` and returns the reply's body.
    pub fn call_method(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: Vec<Value>,
        deadline: Instant,
    ) -> Result<Vec<Value>, Error> {
        let msg = Message::method_call(destination, path, interface, member, args);
        Ok(self.call(&msg, deadline)?.body)
    }

    /// Reads one property with `org.freedesktop.DBus.Properties.Get` and returns the value inside the variant.
    pub fn get_property(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        name: &str,
        deadline: Instant,
    ) -> Result<Value, Error> {
        let args = vec![Value::str(interface), Value::str(name)];
        let body = self.call_method(destination, path, PROPERTIES_INTERFACE, "Get", args, deadline)?;
        match <[Value; 1]>::try_from(body) {
            Ok([Value::Variant(v)]) => Ok(*v),
            Ok([other]) => Err(Error::Unexpected(format!("Get returned a {}", other.ty().signature()))),
            Err(body) => Err(Error::Unexpected(format!("Get returned {} values", body.len()))),
        }
    }

    /// Whether the byte stream is in an unknown state; a broken connection only returns [`Error::Broken`].
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn usable(&self) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        Ok(())
    }

    fn authenticate(&mut self, deadline: Instant) -> Result<(), Error> {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let hex: String = uid.to_string().bytes().map(|b| format!("{b:02x}")).collect();
        // The protocol starts with one NUL byte, which on other systems carries credentials.
        self.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes(), deadline)?;
        let line = self.read_line(deadline)?;
        let (command, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match command {
            "OK" => {}
            "REJECTED" => return Err(Error::Auth(format!("EXTERNAL rejected; the bus offers {rest:?}"))),
            _ => return Err(Error::Auth(format!("unexpected reply {line:?}"))),
        }
        self.write_all(b"BEGIN\r\n", deadline)
    }

    /// Reads one `\r\n`-terminated line of printable ASCII.
    fn read_line(&mut self, deadline: Instant) -> Result<String, Error> {
        loop {
            if let Some(end) = self.rbuf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.rbuf.drain(..end + 2).take(end).collect();
                if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
                    return Err(Error::Auth("reply is not printable ASCII".into()));
                }
                // Printable ASCII is UTF-8.
                return String::from_utf8(line).map_err(|_| Error::Auth("reply is not printable ASCII".into()));
            }
            if self.rbuf.len() > MAX_AUTH_LINE {
                return Err(Error::Auth(format!("reply line longer than {MAX_AUTH_LINE} bytes")));
            }
            self.fill(deadline, "during authentication")?;
        }
    }

    /// Reads whatever is available (at least one byte) into the buffer.
    fn fill(&mut self, deadline: Instant, waiting_for: &'static str) -> Result<(), Error> {
        let timeout = remaining(deadline).ok_or(Error::Timeout(waiting_for))?;
        let start = self.rbuf.len();
        self.rbuf.resize(start + READ_CHUNK, 0);
        let result =
            self.stream.set_read_timeout(Some(timeout)).and_then(|()| self.stream.read(&mut self.rbuf[start..]));
        self.rbuf.truncate(start + *result.as_ref().unwrap_or(&0));
        match result {
            Ok(0) => {
                self.broken = true;
                Err(Error::Closed)
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(Error::Timeout(waiting_for))
            }
            Err(e) => {
                self.broken = true;
                Err(Error::Io(e))
            }
        }
    }

    fn write_all(&mut self, mut bytes: &[u8], deadline: Instant) -> Result<(), Error> {
        while !bytes.is_empty() {
            let Some(timeout) = remaining(deadline) else {
                self.broken = true;
                return Err(Error::Timeout("writing a message"));
            };
            let result = self.stream.set_write_timeout(Some(timeout)).and_then(|()| self.stream.write(bytes));
            match result {
                Ok(0) => {
                    self.broken = true;
                    return Err(Error::Closed);
                }
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                        return Err(Error::Timeout("writing a message"));
                    }
                    return Err(Error::Io(e));
                }
            }
        }
        Ok(())
    }
}

/// Time left before `deadline`; `None` once it has passed (a zero timeout would mean "wait forever").
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
}

/// Opens a stream socket to `addr`. The connect itself is bounded too: on Linux it blocks while the
/// listener's backlog is full, for at most the socket's send timeout.
fn connect_socket(addr: &BusAddress, deadline: Instant) -> Result<UnixStream, Error> {
    let fail = |source| Error::Connect { path: addr.to_string(), source };
    let (name, is_abstract) = match addr {
        BusAddress::Path(p) => (p.as_os_str().as_bytes(), false),
        BusAddress::Abstract(n) => (n.as_slice(), true),
    };
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // An abstract name starts after a NUL byte; a path needs room for its terminating NUL.
    let offset = usize::from(is_abstract);
    if name.is_empty() || name.len() + 1 > sa.sun_path.len() || (!is_abstract && name.contains(&0)) {
        return Err(fail(io::Error::new(io::ErrorKind::InvalidInput, "socket name is empty, too long or has a NUL")));
    }
    for (dst, src) in sa.sun_path[offset..].iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + offset + name.len() + usize::from(!is_abstract);

    // SAFETY: socket has no memory preconditions; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh socket that nothing else owns.
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let timeout = remaining(deadline).ok_or(Error::Timeout("connecting"))?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    // SAFETY: sa is a properly initialised sockaddr_un and len does not exceed its size.
    let rc = unsafe { libc::connect(fd, (&raw const sa).cast::<libc::sockaddr>(), len as libc::socklen_t) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock {
            return Err(Error::Timeout("connecting"));
        }
        return Err(fail(err));
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::thread;

    use super::*;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    /// A listener in a temp dir that runs `serve` on the first connection.
    fn fake_bus(serve: impl FnOnce(UnixStream) + Send + 'static) -> (tempfile::TempDir, BusAddress) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus");
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                serve(s);
            }
        });
        (dir, BusAddress::Path(path))
    }

    fn read_until(s: &mut UnixStream, end: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut byte = [0u8];
        while !got.ends_with(end) && s.read(&mut byte).unwrap_or(0) == 1 {
            got.push(byte[0]);
        }
        got
    }

    /// Plays the server's side of authentication, up to and including the client's `BEGIN`.
    fn read_auth(s: &mut UnixStream) {
        read_until(s, b"\r\n");
        let _ = s.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n");
        read_until(s, b"BEGIN\r\n");
    }

    #[test]
    fn missing_socket_is_a_connect_error() {
        let err = Connection::connect(&BusAddress::Path("/nonexistent/vigil/bus".into()), soon()).unwrap_err();
        match err {
            Error::Connect { source, .. } => assert_eq!(source.kind(), io::ErrorKind::NotFound),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn auth_sends_uid_in_hex_and_rejection_is_an_error() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (_dir, addr) = fake_bus(move |mut s| {
            let mut got = vec![0u8; 64];
            let n = s.read(&mut got).unwrap_or(0);
            got.truncate(n);
            let _ = tx.send(got);
            let _ = s.write_all(b"REJECTED DBUS_COOKIE_SHA1\r\n");
            thread::sleep(Duration::from_millis(200));
        });
        let err = Connection::connect(&addr, soon()).unwrap_err();
        assert!(err.to_string().contains("EXTERNAL rejected"), "{err}");
        let got = rx.recv().unwrap();
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() }.to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, format!("\0AUTH EXTERNAL {hex}\r\n").into_bytes());
    }

    #[test]
    fn silent_bus_times_out() {
        let (_dir, addr) = fake_bus(|s| {
            thread::sleep(Duration::from_secs(2));
            drop(s);
        });
        let start = Instant::now();
        let err = Connection::connect(&addr, Instant::now() + Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, Error::Timeout(_)), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn garbage_after_auth_is_an_error() {
        for garbage in [&b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..], b"l\x02\x00\x01"] {
            let garbage = garbage.to_vec();
            let (_dir, addr) = fake_bus(move |mut s| {
                read_auth(&mut s);
                let _ = s.write_all(&garbage);
                thread::sleep(Duration::from_millis(300));
            });
            let err = Connection::connect(&addr, Instant::now() + Duration::from_millis(250)).unwrap_err();
            assert!(matches!(err, Error::Malformed(_) | Error::Timeout(_)), "{err}");
        }
    }

    #[test]
    fn oversized_frame_is_refused_without_reading_it() {
        let (_dir, addr) = fake_bus(|mut s| {
            read_auth(&mut s);
            // A method return that claims a 4 GiB body.
            let mut head = vec![b'l', 2, 0, 1];
            head.extend_from_slice(&u32::MAX.to_le_bytes());
            head.extend_from_slice(&1u32.to_le_bytes());
            head.extend_from_slice(&0u32.to_le_bytes());
            let _ = s.write_all(&head);
            thread::sleep(Duration::from_millis(300));
        });
        let err = Connection::connect(&addr, soon()).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
    }

    #[test]
    fn peer_hanging_up_is_closed() {
        let (_dir, addr) = fake_bus(|mut s| {
            read_auth(&mut s);
        });
        let err = Connection::connect(&addr, soon()).unwrap_err();
        assert!(matches!(err, Error::Closed | Error::Io(_)), "{err}");
    }
}
