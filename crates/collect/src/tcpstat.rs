//! `tcpstat`: TCP sockets by state, and their queued bytes, as `node_tcp_connection_states{state}`.
//!
//! node_exporter 1.5 asks the kernel over `NETLINK_SOCK_DIAG` (inet_diag) for every IPv4 socket, and every IPv6
//! socket when `/proc/net/tcp6` exists. For a listening socket inet_diag reports the accept backlog limit as its
//! send queue, so `tx_queued_bytes` counts that too; `/proc/net/tcp` cannot show it. vigil therefore uses
//! inet_diag as well when reading the agent's own `/proc`, and streams `/proc/net/tcp{,6}` line by line
//! otherwise (fixtures, another procfs mount) or when netlink is not available.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use vigil_model::{Desc, MetricSink};

use crate::{CollectError, Collector, Options, Paths};

const STATES: Desc<'static> = Desc::gauge("node_tcp_connection_states", "Number of connection states.");

/// Names of the kernel's TCP states 1 to 11 (`TCP_ESTABLISHED` .. `TCP_CLOSING`), as node_exporter names them.
const STATE_NAMES: [&str; 11] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
];

/// The longest `/proc/net/tcp` line accepted; real lines are about 150 bytes.
const MAX_LINE_BYTES: u64 = 4096;

/// Socket counts by state and summed queues of one collection.
#[derive(Default)]
struct Tally {
    states: [u64; 11],
    unknown: u64,
    sockets: u64,
    rx_queued: u64,
    tx_queued: u64,
}

impl Tally {
    fn add(&mut self, state: i64, rx_queued: u64, tx_queued: u64) {
        let slot = usize::try_from(state).ok().and_then(|s| s.checked_sub(1)).and_then(|i| self.states.get_mut(i));
        match slot {
            Some(count) => *count += 1,
            None => self.unknown += 1,
        }
        self.sockets += 1;
        self.rx_queued = self.rx_queued.wrapping_add(rx_queued);
        self.tx_queued = self.tx_queued.wrapping_add(tx_queued);
    }

    /// Writes the states seen (node_exporter omits states with no socket) and, when any socket was seen, the
    /// queue totals.
    fn write(&self, out: &mut dyn MetricSink) {
        for (name, count) in STATE_NAMES.iter().zip(self.states) {
            if count > 0 {
                out.sample(&STATES, &[("state", name)], count as f64);
            }
        }
        if self.unknown > 0 {
            out.sample(&STATES, &[("state", "unknown")], self.unknown as f64);
        }
        if self.sockets > 0 {
            out.sample(&STATES, &[("state", "rx_queued_bytes")], self.rx_queued as f64);
            out.sample(&STATES, &[("state", "tx_queued_bytes")], self.tx_queued as f64);
        }
    }
}

pub struct TcpstatCollector {
    line: String,
    netlink_buf: Vec<u8>,
}

impl TcpstatCollector {
    pub fn new(_: &Options) -> Self {
        TcpstatCollector { line: String::new(), netlink_buf: Vec::new() }
    }

    /// Streams one `/proc/net/tcp`-format file into `tally`, one line at a time.
    fn read_file(&mut self, path: &Path, tally: &mut Tally) -> Result<(), CollectError> {
        let file = File::open(path).map_err(|e| CollectError::io(path, e))?;
        let mut reader = BufReader::new(file);
        let mut line_no = 0;
        loop {
            self.line.clear();
            line_no += 1;
            let read = (&mut reader).take(MAX_LINE_BYTES + 1).read_line(&mut self.line);
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::InvalidData => {
                    return Err(CollectError::parse(path, line_no, "line is not utf-8"));
                }
                Err(e) => return Err(CollectError::io(path, e)),
            };
            if n == 0 {
                return Ok(());
            }
            if n as u64 > MAX_LINE_BYTES {
                return Err(CollectError::parse(path, line_no, format!("line longer than {MAX_LINE_BYTES} bytes")));
            }
            // The first line is the column header.
            if line_no == 1 {
                continue;
            }
            let mut fields = self.line.split_ascii_whitespace();
            let (Some(_sl), Some(_local), Some(_remote), Some(state), Some(queues)) =
                (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
            else {
                if self.line.trim().is_empty() {
                    continue;
                }
                return Err(CollectError::parse(path, line_no, "expected at least 5 fields"));
            };
            let Some((tx, rx)) = queues.split_once(':') else {
                return Err(CollectError::parse(path, line_no, format!("expected tx_queue:rx_queue, got {queues:?}")));
            };
            let rx = rx.split(':').next().unwrap_or(rx);
            let hex = |s: &str| u64::from_str_radix(s, 16).ok().filter(|_| !s.starts_with('+'));
            let (Some(tx), Some(rx)) = (hex(tx), hex(rx)) else {
                return Err(CollectError::parse(path, line_no, format!("bad queue sizes {queues:?}")));
            };
            let Ok(state) = i8::from_str_radix(state, 16) else {
                return Err(CollectError::parse(path, line_no, format!("bad state {state:?}")));
            };
            tally.add(i64::from(state), rx, tx);
        }
    }

    /// Counts over inet_diag, like node_exporter 1.5. `Err` means netlink is unusable here.
    fn read_netlink(&mut self, paths: &Paths, tally: &mut Tally) -> std::io::Result<()> {
        netlink::dump_tcp(libc::AF_INET as u8, &mut self.netlink_buf, tally)?;
        if paths.proc("net/tcp6").exists() {
            netlink::dump_tcp(libc::AF_INET6 as u8, &mut self.netlink_buf, tally)?;
        }
        Ok(())
    }
}

impl Collector for TcpstatCollector {
    fn name(&self) -> &'static str {
        "tcpstat"
    }

    fn collect(&mut self, paths: &Paths, out: &mut dyn MetricSink) -> Result<(), CollectError> {
        let mut tally = Tally::default();
        if paths.procfs == Path::new("/proc") {
            match self.read_netlink(paths, &mut tally) {
                Ok(()) => {
                    tally.write(out);
                    return Ok(());
                }
                Err(err) => {
                    tracing::debug!(%err, "inet_diag unavailable, reading /proc/net/tcp instead");
                    tally = Tally::default();
                }
            }
        }
        self.read_file(&paths.proc("net/tcp"), &mut tally)?;
        let tcp6 = paths.proc("net/tcp6");
        if tcp6.exists() {
            self.read_file(&tcp6, &mut tally)?;
        }
        tally.write(out);
        Ok(())
    }
}

/// A minimal `NETLINK_SOCK_DIAG` client: one `SOCK_DIAG_BY_FAMILY` dump of TCP sockets in every state.
mod netlink {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::Tally;

    const NETLINK_SOCK_DIAG: libc::c_int = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    /// `TCPF_ALL`: a bit for every state from `TCP_ESTABLISHED` to `TCP_CLOSING`.
    const TCPF_ALL: u32 = 0xfff;
    const HEADER_LEN: usize = 16;
    /// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, then a 48-byte `inet_diag_sockid`.
    const REQUEST_LEN: usize = 56;
    /// `struct inet_diag_msg` up to `idiag_inode`.
    const MSG_LEN: usize = 72;
    const RQUEUE_AT: usize = 56;
    const WQUEUE_AT: usize = 60;
    /// The kernel sizes dump messages to the reader's buffer, capped at 32 KiB.
    const BUF_LEN: usize = 64 * 1024;

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn malformed(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("malformed inet_diag reply: {what}"))
    }

    /// Dumps every TCP socket of `family` into `tally`.
    pub(super) fn dump_tcp(family: u8, buf: &mut Vec<u8>, tally: &mut Tally) -> io::Result<()> {
        // SAFETY: socket has no memory preconditions; a non-negative return is a new descriptor we own.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_SOCK_DIAG) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket and is owned by nothing else.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval { tv_sec: 5, tv_usec: 0 };
        // SAFETY: the option value points to a live timeval and its exact size is passed.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }

        let mut request = [0u8; HEADER_LEN + REQUEST_LEN];
        request[0..4].copy_from_slice(&((HEADER_LEN + REQUEST_LEN) as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        request[8..12].copy_from_slice(&1u32.to_ne_bytes());
        request[HEADER_LEN] = family;
        request[HEADER_LEN + 1] = libc::IPPROTO_TCP as u8;
        request[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&TCPF_ALL.to_ne_bytes());
        // SAFETY: sockaddr_nl is plain data; all-zero is valid, and the family is set below.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: the buffer and address point to live memory of the lengths passed.
        let sent = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }

        buf.resize(BUF_LEN, 0);
        loop {
            // SAFETY: buf is a live, initialised buffer of buf.len() bytes.
            let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            let n = n as usize;
            if n == 0 {
                return Err(malformed("end of stream before NLMSG_DONE"));
            }
            if n > buf.len() {
                return Err(malformed("message larger than the buffer"));
            }
            if parse(buf.get(..n).unwrap_or_default(), tally)? {
                return Ok(());
            }
        }
    }

    /// Adds the sockets of one datagram to `tally`. `Ok(true)` once the dump is done.
    pub(super) fn parse(mut data: &[u8], tally: &mut Tally) -> io::Result<bool> {
        while !data.is_empty() {
            let (Some(len), Some(kind)) = (u32_at(data, 0), u16_at(data, 4)) else {
                return Err(malformed("short header"));
            };
            let len = len as usize;
            if len < HEADER_LEN || len > data.len() {
                return Err(malformed("bad message length"));
            }
            let payload = data.get(HEADER_LEN..len).unwrap_or_default();
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let errno = u32_at(payload, 0).ok_or_else(|| malformed("short error"))? as i32;
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(errno.saturating_neg()));
                    }
                }
                SOCK_DIAG_BY_FAMILY => {
                    if payload.len() < MSG_LEN {
                        return Err(malformed("short inet_diag_msg"));
                    }
                    let state = payload.get(1).copied().unwrap_or(0);
                    let rqueue = u32_at(payload, RQUEUE_AT).unwrap_or(0);
                    let wqueue = u32_at(payload, WQUEUE_AT).unwrap_or(0);
                    tally.add(i64::from(state), u64::from(rqueue), u64::from(wqueue));
                }
                _ => {}
            }
            let aligned = (len + 3) & !3;
            data = data.get(aligned..).unwrap_or_default();
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::{netlink, Tally};

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn diag(state: u8, rqueue: u32, wqueue: u32) -> Vec<u8> {
        let mut p = vec![0u8; 72];
        p[0] = 2;
        p[1] = state;
        p[56..60].copy_from_slice(&rqueue.to_ne_bytes());
        p[60..64].copy_from_slice(&wqueue.to_ne_bytes());
        p
    }

    #[test]
    fn inet_diag_messages_are_tallied() {
        let mut data = message(20, &diag(10, 0, 4096));
        data.extend(message(20, &diag(1, 7, 9)));
        let mut tally = Tally::default();
        assert!(!netlink::parse(&data, &mut tally).unwrap());
        assert_eq!((tally.states[9], tally.states[0]), (1, 1));
        assert_eq!((tally.rx_queued, tally.tx_queued), (7, 4105));
        assert!(netlink::parse(&message(3, &[0; 4]), &mut tally).unwrap());
    }

    #[test]
    fn malformed_replies_are_errors() {
        let mut tally = Tally::default();
        assert!(netlink::parse(&[1, 2, 3], &mut tally).is_err());
        assert!(netlink::parse(&message(20, &[0; 10]), &mut tally).is_err());
        let mut bad_len = message(20, &diag(1, 0, 0));
        bad_len[0] = 0xff;
        assert!(netlink::parse(&bad_len, &mut tally).is_err());
        assert!(netlink::parse(&message(2, &(-13i32).to_ne_bytes()), &mut tally).is_err());
    }
}
