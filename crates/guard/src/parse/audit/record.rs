//! One Linux audit record: its header (`type=`, `msg=audit(SECS.MILLIS:SERIAL):`, auditd's `node=`), its
//! `key=value` fields, the `msg='...'` part userspace records nest, and the enriched fields auditd appends
//! after a `\x1d` byte. Values stay borrowed and encoded; [`decode`] turns auditd's hex into text.

/// Records longer than this are not parsed (the kernel caps a record at about 8.8 KiB; auditd's
/// enrichment adds a few hundred bytes).
pub const MAX_RECORD_BYTES: usize = 32 * 1024;

/// A record type, by the kernel's number (`linux/audit.h`); names auditd writes map to the same numbers,
/// and a name vigil does not know is [`RecordType::UNKNOWN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

macro_rules! record_types {
    ($($name:ident = $num:literal,)*) => {
        impl RecordType {
            $(pub const $name: RecordType = RecordType($num);)*

            /// The type auditd names `name` (`SYSCALL`), or a number as the kernel prints it (`1300`).
            pub fn from_name(name: &str) -> RecordType {
                match name {
                    $(stringify!($name) => RecordType::$name,)*
                    _ => match name.parse::<u16>() {
                        Ok(n) if name.len() <= 5 && name.bytes().all(|b| b.is_ascii_digit()) => RecordType(n),
                        _ => RecordType::UNKNOWN,
                    },
                }
            }

            /// auditd's name, when vigil knows it.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(RecordType::$name => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

record_types! {
    USER_AUTH = 1100, USER_ACCT = 1101, USER_MGMT = 1102, CRED_ACQ = 1103, CRED_DISP = 1104,
    USER_START = 1105, USER_END = 1106, USER_AVC = 1107, USER_CHAUTHTOK = 1108, USER_ERR = 1109,
    CRED_REFR = 1110, USYS_CONFIG = 1111, USER_LOGIN = 1112, USER_LOGOUT = 1113, ADD_USER = 1114,
    DEL_USER = 1115, ADD_GROUP = 1116, DEL_GROUP = 1117, USER_CMD = 1123, USER_TTY = 1124,
    GRP_AUTH = 1126, SYSTEM_BOOT = 1127, SYSTEM_SHUTDOWN = 1128, SERVICE_START = 1130, SERVICE_STOP = 1131,
    GRP_MGMT = 1132, GRP_CHAUTHTOK = 1133, ACCT_LOCK = 1135, ACCT_UNLOCK = 1136, SOFTWARE_UPDATE = 1138,
    DAEMON_START = 1200, DAEMON_END = 1201, DAEMON_ABORT = 1202, DAEMON_CONFIG = 1203,
    SYSCALL = 1300, PATH = 1302, IPC = 1303, SOCKETCALL = 1304, CONFIG_CHANGE = 1305, SOCKADDR = 1306,
    CWD = 1307, EXECVE = 1309, EOE = 1320, BPRM_FCAPS = 1321, CAPSET = 1322, MMAP = 1323,
    NETFILTER_CFG = 1325, SECCOMP = 1326, PROCTITLE = 1327, AVC = 1400, ANOM_PROMISCUOUS = 1700,
    ANOM_ABEND = 1701,
}

impl RecordType {
    pub const UNKNOWN: RecordType = RecordType(0);

    /// Userspace messages (`USER_*`, `ADD_USER`, `DAEMON_*`...) are one record each, with no `EOE`.
    pub fn is_standalone(self) -> bool {
        matches!(self.0, 1100..=1299 | 2100..=2999)
    }
}

/// When an event happened and its serial number: `msg=audit(1700000000.123:4567)`. Records with the same
/// stamp (and node) belong to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    pub secs: i64,
    pub nanos: u32,
    pub serial: u64,
}

impl Stamp {
    /// Milliseconds since the Unix epoch, saturating.
    pub fn millis(&self) -> i64 {
        self.secs.saturating_mul(1000).saturating_add(i64::from(self.nanos / 1_000_000))
    }
}

/// One audit record as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub record_type: RecordType,
    /// The type as written: `SYSCALL`, or `1300` as the kernel prints it.
    pub type_name: &'a str,
    pub stamp: Stamp,
    /// auditd's `node=` (with `name_format` set), the host the record came from.
    pub node: Option<&'a str>,
    /// The fields after the header, up to the enrichment separator.
    pub body: &'a str,
    /// auditd's `log_format = ENRICHED` fields after the `\x1d` byte (`UID="root" AUID="alice"`), or "".
    pub enriched: &'a str,
}

/// Parses one record: auditd's `[node=N ]type=NAME msg=audit(T:S): fields`, or the kernel's
/// `audit: type=NUM audit(T:S): fields` as dmesg and journald print it (anything before `audit:` is skipped,
/// so a syslog header may lead).
pub fn parse_record(line: &str) -> Option<Record<'_>> {
    if line.len() > MAX_RECORD_BYTES {
        return None;
    }
    let line = line.trim_end_matches(['\n', '\r']);
    let start = find_type(line)?;
    let node = line[..start].trim_end().rsplit(' ').next().and_then(|t| t.strip_prefix("node=")).filter(|n| {
        !n.is_empty() && n.len() <= 255 && n.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    });
    let rest = &line[start + 5..];
    let (type_name, rest) = rest.split_once(' ')?;
    if type_name.is_empty() || type_name.len() > 32 {
        return None;
    }
    let rest = rest.strip_prefix("msg=audit(").or_else(|| rest.strip_prefix("audit("))?;
    let close = rest.find(')')?;
    let stamp = parse_stamp(&rest[..close])?;
    let rest = rest[close + 1..].strip_prefix(':')?;
    let rest = rest.trim_start_matches(' ');
    let (body, enriched) = rest.split_once('\x1d').unwrap_or((rest, ""));
    Some(Record { record_type: RecordType::from_name(type_name), type_name, stamp, node, body, enriched })
}

/// Where `type=` starts: at the start of the line or after a space.
fn find_type(line: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let i = from + line.get(from..)?.find("type=")?;
        if i == 0 || line.as_bytes()[i - 1] == b' ' {
            return Some(i);
        }
        from = i + 5;
    }
}

/// `1700000000.123:4567`.
fn parse_stamp(s: &str) -> Option<Stamp> {
    let (time, serial) = s.split_once(':')?;
    let (secs, frac) = time.split_once('.')?;
    let digits = |t: &str, max: usize| !t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs, 18) || !digits(frac, 9) || !digits(serial, 19) {
        return None;
    }
    let mut nanos: u32 = frac.parse().ok()?;
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    Some(Stamp { secs: secs.parse().ok()?, nanos, serial: serial.parse().ok()? })
}

/// A field's value as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `"..."`, without the quotes: auditd quotes strings that need no encoding.
    Quoted(&'a str),
    /// Unquoted: a number, `?`, `(null)`, a flag, or auditd's hex encoding of a string.
    Bare(&'a str),
    /// `'...'`, without the quotes: the fields a userspace record nests in `msg=`.
    Nested(&'a str),
}

impl<'a> Value<'a> {
    /// The text as written, without quotes.
    pub fn raw(&self) -> &'a str {
        match *self {
            Value::Quoted(s) | Value::Bare(s) | Value::Nested(s) => s,
        }
    }
}

/// The `key=value` fields of a record body (or of a nested `msg='...'`, or of the enrichment), in order.
/// Tokens without `=` are skipped.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a str,
}

pub fn fields(body: &str) -> Fields<'_> {
    Fields { rest: body }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest.trim_start_matches(' ');
            if rest.is_empty() {
                self.rest = rest;
                return None;
            }
            let space = rest.find(' ').unwrap_or(rest.len());
            let Some(eq) = rest[..space].find('=') else {
                self.rest = &rest[space..];
                continue;
            };
            let key = &rest[..eq];
            let after = &rest[eq + 1..];
            let (value, tail) = match after.as_bytes().first() {
                Some(b'"') => match after[1..].find('"') {
                    Some(end) => (Value::Quoted(&after[1..end + 1]), &after[end + 2..]),
                    None => (Value::Quoted(&after[1..]), ""),
                },
                // The nested part runs to the record's last quote: a value inside that auditd did not encode
                // (a host name from DNS) may hold one.
                Some(b'\'') => match after.rfind('\'') {
                    Some(end) if end > 0 => (Value::Nested(&after[1..end]), &after[end + 1..]),
                    _ => (Value::Nested(&after[1..]), ""),
                },
                _ => {
                    let end = after.find(' ').unwrap_or(after.len());
                    (Value::Bare(&after[..end]), &after[end..])
                }
            };
            self.rest = tail;
            return Some((key, value));
        }
    }
}

/// The first value of `key` in `body`.
pub fn get<'a>(body: &'a str, key: &str) -> Option<Value<'a>> {
    fields(body).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// The last value of `key` in `body`: for fields that follow one auditd leaves unencoded, so that what
/// such a value holds cannot stand in for them.
pub fn get_last<'a>(body: &'a str, key: &str) -> Option<Value<'a>> {
    fields(body).filter(|(k, _)| *k == key).last().map(|(_, v)| v)
}

/// Decodes a string field auditd may hex-encode (`proctitle`, `cmd`, `acct`, `exe`, `comm`, `name`,
/// `EXECVE`'s `aN`...) onto `out`, adding at most `cap` bytes: quoted values as they are, unquoted ones
/// from hex when they are hex (NUL bytes, which separate `proctitle`'s arguments, become spaces; invalid
/// UTF-8 becomes U+FFFD). `(null)` and `?` decode to nothing and return false.
pub fn decode(value: Value<'_>, out: &mut String, cap: usize) -> bool {
    let raw = match value {
        Value::Quoted(s) => {
            push_capped(out, s, cap);
            return true;
        }
        Value::Nested(s) => {
            push_capped(out, s, cap);
            return true;
        }
        Value::Bare(s) => s,
    };
    if raw.is_empty() || raw == "(null)" || raw == "?" {
        return false;
    }
    let b = raw.as_bytes();
    if b.len() % 2 != 0 || !b.iter().all(u8::is_ascii_hexdigit) {
        push_capped(out, raw, cap);
        return true;
    }
    let mut bytes = Vec::with_capacity((b.len() / 2).min(cap));
    for pair in b.chunks_exact(2).take(cap) {
        let byte = (hex(pair[0]) << 4) | hex(pair[1]);
        bytes.push(if byte == 0 { b' ' } else { byte });
    }
    while bytes.last() == Some(&b' ') {
        bytes.pop();
    }
    push_capped(out, &String::from_utf8_lossy(&bytes), cap);
    true
}

/// A decoded copy of `value`, at most `cap` bytes; `None` for `(null)`, `?` and empty values.
pub fn decoded(value: Value<'_>, cap: usize) -> Option<String> {
    let mut s = String::new();
    (decode(value, &mut s, cap) && !s.is_empty()).then_some(s)
}

/// The value of a hex digit (the caller checked that it is one).
fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10) & 0x0f,
    }
}

/// Appends as much of `s` as keeps `out` within `cap` bytes, cut at a character boundary.
pub fn push_capped(out: &mut String, s: &str, cap: usize) {
    let room = cap.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return;
    }
    let mut end = room;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&s[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditd_and_kernel_headers() {
        let r =
            parse_record("type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes").unwrap();
        assert_eq!((r.record_type, r.type_name, r.node), (RecordType::SYSCALL, "SYSCALL", None));
        assert_eq!(r.stamp, Stamp { secs: 1_700_000_000, nanos: 123_000_000, serial: 4567 });
        assert_eq!(r.stamp.millis(), 1_700_000_000_123);
        assert_eq!(r.body, "arch=c000003e syscall=59 success=yes");
        let r = parse_record("node=web-1 type=EOE msg=audit(1700000000.123:4567): ").unwrap();
        assert_eq!((r.record_type, r.node, r.body), (RecordType::EOE, Some("web-1"), ""));
        let r = parse_record("[ 1234.567890] audit: type=1300 audit(1700000000.123:4567): arch=c000003e syscall=59")
            .unwrap();
        assert_eq!((r.record_type, r.type_name, r.stamp.serial), (RecordType::SYSCALL, "1300", 4567));
        let r = parse_record("Nov 14 22:13:20 web kernel: audit: type=1327 audit(1700000000.123:4567): proctitle=6C73")
            .unwrap();
        assert_eq!(r.record_type, RecordType::PROCTITLE);
        let r = parse_record("type=FANOTIFY msg=audit(1.5:1): resp=2").unwrap();
        assert_eq!((r.record_type, r.type_name, r.stamp.nanos), (RecordType::UNKNOWN, "FANOTIFY", 500_000_000));
        assert!(RecordType::USER_AUTH.is_standalone() && !RecordType::SYSCALL.is_standalone());
        assert_eq!(RecordType::from_name("1112"), RecordType::USER_LOGIN);
        assert_eq!(RecordType::USER_LOGIN.name(), Some("USER_LOGIN"));
    }

    #[test]
    fn malformed_headers() {
        for line in [
            "",
            "type=SYSCALL",
            "type=SYSCALL msg=audit(1700000000.123): x",
            "type=SYSCALL msg=audit(1700000000:12): x",
            "type=SYSCALL msg=audit(1700000000.123:4567) x",
            "type=SYSCALL msg=audit(a.123:4567): x",
            "type=SYSCALL msg=audit(99999999999999999999.1:1): x",
            "subtype=SYSCALL msg=audit(1.1:1): x",
            "Mar  5 10:01:02 web sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2",
        ] {
            assert!(parse_record(line).is_none(), "{line}");
        }
        let full =
            "node=h type=USER_AUTH msg=audit(1700000000.123:4567): pid=1 msg='acct=\"x\" res=failed'\x1dUID=\"root\"";
        for i in 0..full.len() {
            if let Some(r) = full.get(..i).and_then(parse_record) {
                let _ = fields(r.body).count();
            }
        }
    }

    #[test]
    fn fields_and_values() {
        let body = "pid=1 uid=0 comm=\"sshd\" msg='op=PAM:authentication acct=\"root\" hostname=a b addr=1.2.3.4 res=failed' x";
        let f: Vec<_> = fields(body).collect();
        assert_eq!(f[0], ("pid", Value::Bare("1")));
        assert_eq!(f[2], ("comm", Value::Quoted("sshd")));
        assert_eq!(f[3].0, "msg");
        let Value::Nested(inner) = f[3].1 else { panic!("{f:?}") };
        assert_eq!(get(inner, "acct"), Some(Value::Quoted("root")));
        assert_eq!(get(inner, "hostname"), Some(Value::Bare("a")));
        assert_eq!(get_last(inner, "res"), Some(Value::Bare("failed")));
        assert_eq!(f.len(), 4, "a token without = is skipped: {f:?}");
        // Unterminated quotes end at the end of the body.
        assert_eq!(get("a=\"xy", "a"), Some(Value::Quoted("xy")));
        assert_eq!(get("msg='xy", "msg"), Some(Value::Nested("xy")));
        assert_eq!(get("msg='", "msg"), Some(Value::Nested("")));
        assert_eq!(get("a=", "a"), Some(Value::Bare("")));
    }

    #[test]
    fn hex_decoding() {
        let d = |v, cap| decoded(v, cap);
        assert_eq!(d(Value::Bare("2F62696E2F6C73002D6C00"), 100).as_deref(), Some("/bin/ls -l"));
        assert_eq!(d(Value::Bare("6A6fC3B67267"), 100).as_deref(), Some("joörg"));
        assert_eq!(d(Value::Quoted("/usr/bin/id"), 100).as_deref(), Some("/usr/bin/id"));
        assert_eq!(d(Value::Bare("(null)"), 100), None);
        assert_eq!(d(Value::Bare("?"), 100), None);
        assert_eq!(d(Value::Bare("abc"), 100).as_deref(), Some("abc"), "odd length is not hex");
        assert_eq!(d(Value::Bare("FF61"), 100).as_deref(), Some("\u{fffd}a"));
        assert_eq!(d(Value::Bare("616263"), 2).as_deref(), Some("ab"));
        assert_eq!(d(Value::Quoted("jörg"), 2).as_deref(), Some("j"), "cut at a character boundary");
        let mut s = String::from("x");
        push_capped(&mut s, "yz", 1);
        assert_eq!(s, "x");
    }
}
