//! The normalized security event every parser produces, named after the Elastic Common Schema.
//!
//! An `Event` borrows its strings from the line it was parsed from, so parsing allocates nothing; the agent
//! turns the ones it keeps into log fields with [`Event::ecs_fields`].

use std::fmt;
use std::net::IpAddr;

use vigil_model::log::LogEntry;

/// ECS field names, as log field names.
pub mod ecs {
    pub const TIMESTAMP: &str = "@timestamp";
    pub const EVENT_CATEGORY: &str = "event.category";
    pub const EVENT_ACTION: &str = "event.action";
    pub const EVENT_OUTCOME: &str = "event.outcome";
    pub const SOURCE_IP: &str = "source.ip";
    pub const SOURCE_ADDRESS: &str = "source.address";
    pub const SOURCE_PORT: &str = "source.port";
    pub const DESTINATION_IP: &str = "destination.ip";
    pub const USER_NAME: &str = "user.name";
    pub const USER_TARGET_NAME: &str = "user.target.name";
    pub const GROUP_NAME: &str = "group.name";
    pub const PROCESS_NAME: &str = "process.name";
    pub const PROCESS_PID: &str = "process.pid";
    pub const PROCESS_COMMAND_LINE: &str = "process.command_line";
    pub const HOST_NAME: &str = "host.name";
    /// Not ECS: how an SSH client tried to authenticate (`password`, `publickey`, ...).
    pub const SSH_METHOD: &str = "vigil.ssh.method";
    pub const FILE_PATH: &str = "file.path";
    /// The audit rule's key (`-k identity`), where Auditbeat puts it.
    pub const TAGS: &str = "tags";
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    pub const HTTP_REQUEST_REFERRER: &str = "http.request.referrer";
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    pub const HTTP_RESPONSE_BODY_BYTES: &str = "http.response.body.bytes";
    pub const HTTP_VERSION: &str = "http.version";
    pub const URL_PATH: &str = "url.path";
    pub const URL_QUERY: &str = "url.query";
    pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
}

/// ECS `event.category`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Authentication,
    Session,
    Iam,
    Process,
    Network,
    File,
    Web,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Authentication => "authentication",
            Category::Session => "session",
            Category::Iam => "iam",
            Category::Process => "process",
            Category::Network => "network",
            Category::File => "file",
            Category::Web => "web",
        }
    }
}

/// ECS `event.outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// ECS `event.action`: what happened, one value per kind of line vigil recognizes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Action> {
                match name {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    /// `Accepted <method> for ...` (success) or `Failed <method> for ...` (failure).
    SshLogin = "ssh-login",
    /// `Invalid user X from ADDR`.
    SshInvalidUser = "ssh-invalid-user",
    /// `User X from ADDR not allowed because ...` (AllowUsers, DenyUsers, groups, locked account).
    SshUserNotAllowed = "ssh-user-not-allowed",
    /// `ROOT LOGIN REFUSED FROM ADDR`.
    SshRootLoginRefused = "ssh-root-login-refused",
    /// TCP wrappers: `refused connect from NAME (ADDR)`.
    SshRefusedConnect = "ssh-refused-connect",
    /// sshd's own PAM report: `error: PAM: Authentication failure for X from ADDR`.
    SshPamFailure = "ssh-pam-failure",
    /// `maximum authentication attempts exceeded ...`, `Disconnecting: Too many authentication failures`.
    SshTooManyFailures = "ssh-too-many-failures",
    /// `Received disconnect from ADDR: 3: ...: Auth fail`.
    SshAuthFailDisconnect = "ssh-auth-fail-disconnect",
    /// `Disconnecting invalid user X ADDR port P: Change of username or service not allowed`.
    SshChangeOfUser = "ssh-change-of-user",
    /// `Received disconnect from ADDR port P:11: ...` (and any other reason code but 3 and 14).
    SshDisconnectReceived = "ssh-disconnect-received",
    /// `Received disconnect from ADDR: 14: No supported authentication methods available`.
    SshNoAuthMethods = "ssh-no-auth-methods",
    /// `Connection closed by [invalid|authenticating user X] ADDR ...`, `Connection reset by ...`.
    SshConnectionClosed = "ssh-connection-closed",
    /// `Disconnected from [invalid|authenticating user X] ADDR port P`.
    SshDisconnected = "ssh-disconnected",
    /// `Connection from ADDR port P on ...` (LogLevel VERBOSE), `SSH: Server;Ltype: ...;Remote: ADDR-P`.
    SshConnection = "ssh-connection",
    /// The client never completed the banner exchange: `Did not receive identification string`,
    /// `kex_exchange_identification: ...`, `Bad protocol version identification`, `banner exchange: ...`.
    SshNoIdentification = "ssh-no-identification",
    /// `Read from socket failed: Connection reset by peer`.
    SshSocketReset = "ssh-socket-reset",
    /// `Unable to negotiate ...`, `no matching <algorithm> found`.
    SshNegotiationFailed = "ssh-negotiation-failed",
    /// `pam_<module>(<service>:auth): authentication failure; ...`.
    PamAuthFailure = "pam-auth-failure",
    /// `pam_<module>(<service>:session): session opened for user X`.
    SessionOpened = "session-opened",
    /// `pam_<module>(<service>:session): session closed for user X`.
    SessionClosed = "session-closed",
    /// sudo ran a command (`USER=... ; COMMAND=...`).
    SudoCommand = "sudo-command",
    /// `N incorrect password attempts`.
    SudoAuthFailure = "sudo-auth-failure",
    /// `user NOT in sudoers`, `command not allowed`, `user NOT authorized on host`.
    SudoNotAllowed = "sudo-not-allowed",
    /// su switched user (success) or failed to (failure).
    SuSwitch = "su",
    UserCreated = "user-created",
    UserModified = "user-modified",
    UserDeleted = "user-deleted",
    /// `add 'X' to group 'G'` (useradd, usermod, gpasswd).
    UserAddedToGroup = "user-added-to-group",
    /// `delete 'X' from group 'G'`.
    UserRemovedFromGroup = "user-removed-from-group",
    PasswordChanged = "password-changed",
    GroupCreated = "group-created",
    GroupDeleted = "group-deleted",
    /// auditd `EXECVE`: a program started (`process.command_line` holds its arguments).
    ProcessStarted = "process-started",
    /// auditd `USER_AUTH`: a PAM authentication (`res=success|failed`).
    UserAuth = "user-auth",
    /// auditd `USER_ACCT`: a PAM account check (expired, not allowed...).
    UserAcct = "user-acct",
    /// auditd `USER_LOGIN`: a login completed or failed.
    UserLogin = "user-login",
    /// auditd `USER_CMD`: sudo ran a command.
    UserCommand = "user-command",
    /// auditd syscall event on a watched path (`-w /etc/passwd -p wa -k identity`).
    FileWatch = "file-watch",
    /// One request of a web server's access log.
    HttpRequest = "http-request",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line's own timestamp, as written: classic syslog has no year and no zone, RFC 3339 has both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineTime {
    pub year: Option<i32>,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
    /// Offset from UTC in seconds, when the line says.
    pub utc_offset_s: Option<i32>,
}

impl LineTime {
    /// Seconds since the Unix epoch; `year` and `utc_offset_s` fill what the line left out.
    pub fn unix_seconds(&self, year: i32, utc_offset_s: i32) -> i64 {
        let y = self.year.unwrap_or(year);
        let days = days_from_civil(y, self.month.into(), self.day.into());
        let offset = self.utc_offset_s.unwrap_or(utc_offset_s);
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(offset)
    }
}

impl LineTime {
    /// The UTC time `secs` seconds after the Unix epoch (plus `nanos`), with year and zone.
    pub fn from_unix(secs: i64, nanos: u32) -> LineTime {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        LineTime {
            year: Some(year),
            month,
            day,
            hour: (sod / 3600) as u8,
            minute: (sod % 3600 / 60) as u8,
            second: (sod % 60) as u8,
            nanos,
            utc_offset_s: Some(0),
        }
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm); years
/// beyond `i32` saturate.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe.saturating_add(era.saturating_mul(400)).saturating_add(i64::from(month <= 2));
    (year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One security event. Strings borrow from the parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub category: Category,
    pub action: Action,
    pub outcome: Outcome,
    /// The client's address when it is an IP address (IPv4-mapped IPv6 addresses as IPv4).
    pub source_ip: Option<IpAddr>,
    /// The client's address as logged: an IP address or, with sshd's `UseDNS yes`, a host name.
    pub source_address: Option<&'a str>,
    pub source_port: Option<u16>,
    /// The address connected to, when a line says (firewall and connection logs; threat intel checks it).
    pub destination_ip: Option<IpAddr>,
    /// The user who authenticated or acted. Untrusted: any text a client sent.
    pub user_name: Option<&'a str>,
    /// The user acted upon: sudo's and su's target, the account useradd created.
    pub user_target_name: Option<&'a str>,
    pub group_name: Option<&'a str>,
    pub process_name: Option<&'a str>,
    pub process_pid: Option<u32>,
    /// sudo's command line.
    pub command_line: Option<&'a str>,
    pub host_name: Option<&'a str>,
    pub timestamp: Option<LineTime>,
    /// sshd's authentication method (`password`, `publickey`, `keyboard-interactive/pam`, ...).
    pub ssh_method: Option<&'a str>,
    /// sshd's line ended in `[preauth]`: the client had not authenticated.
    pub preauth: bool,
    /// sshd said the user does not exist (`Failed password for invalid user X`).
    pub user_invalid: bool,
    /// The file an audit watch saw.
    pub file_path: Option<&'a str>,
    /// The audit rule's key.
    pub tags: Option<&'a str>,
    /// An access log's request.
    pub http: Option<Http<'a>>,
}

/// An HTTP request as an access log records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Http<'a> {
    /// `None` when the request line was not `METHOD TARGET [PROTOCOL]` (scanners send TLS handshakes and
    /// binary junk to plain HTTP ports).
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub query: Option<&'a str>,
    /// `1.1` of `HTTP/1.1`.
    pub version: Option<&'a str>,
    pub status: u16,
    pub bytes: Option<u64>,
    pub referrer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(category: Category, action: Action, outcome: Outcome) -> Event<'a> {
        Event {
            category,
            action,
            outcome,
            source_ip: None,
            source_address: None,
            source_port: None,
            destination_ip: None,
            user_name: None,
            user_target_name: None,
            group_name: None,
            process_name: None,
            process_pid: None,
            command_line: None,
            host_name: None,
            timestamp: None,
            ssh_method: None,
            preauth: false,
            user_invalid: false,
            file_path: None,
            tags: None,
            http: None,
        }
    }

    /// Fills where the event came from.
    pub fn with_origin(mut self, origin: &Origin<'a>) -> Event<'a> {
        self.process_name = origin.process_name;
        self.process_pid = origin.process_pid;
        self.host_name = origin.host_name;
        self.timestamp = origin.timestamp;
        self
    }

    /// The event's fields as `(ECS name, value)` pairs, for log fields; absent fields are left out and the
    /// timestamp is the record's own.
    pub fn ecs_fields(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (ecs::EVENT_CATEGORY, self.category.as_str().to_string()),
            (ecs::EVENT_ACTION, self.action.as_str().to_string()),
            (ecs::EVENT_OUTCOME, self.outcome.as_str().to_string()),
        ];
        if let Some(ip) = self.source_ip {
            out.push((ecs::SOURCE_IP, ip.to_string()));
        }
        if let Some(ip) = self.destination_ip {
            out.push((ecs::DESTINATION_IP, ip.to_string()));
        }
        let strs = [
            (ecs::SOURCE_ADDRESS, self.source_address),
            (ecs::USER_NAME, self.user_name),
            (ecs::USER_TARGET_NAME, self.user_target_name),
            (ecs::GROUP_NAME, self.group_name),
            (ecs::PROCESS_NAME, self.process_name),
            (ecs::PROCESS_COMMAND_LINE, self.command_line),
            (ecs::HOST_NAME, self.host_name),
            (ecs::SSH_METHOD, self.ssh_method),
            (ecs::FILE_PATH, self.file_path),
            (ecs::TAGS, self.tags),
        ];
        for (name, value) in strs {
            if let Some(v) = value {
                out.push((name, v.to_string()));
            }
        }
        if let Some(port) = self.source_port {
            out.push((ecs::SOURCE_PORT, port.to_string()));
        }
        if let Some(pid) = self.process_pid {
            out.push((ecs::PROCESS_PID, pid.to_string()));
        }
        if let Some(h) = &self.http {
            h.push_fields(&mut out);
        }
        out
    }

    /// The same as [`Event::ecs_fields`], in the shape of `LogEntry::fields`.
    pub fn log_fields(&self) -> Vec<(String, String)> {
        self.ecs_fields().into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The log record of the `security` stream for this event: the original line, the event's fields.
    pub fn to_log_entry(&self, ts_ns: i64, line: &str) -> LogEntry {
        LogEntry { ts_ns, line: line.to_string(), fields: self.log_fields() }
    }
}

impl Http<'_> {
    fn push_fields(&self, out: &mut Vec<(&'static str, String)>) {
        let strs = [
            (ecs::HTTP_REQUEST_METHOD, self.method),
            (ecs::URL_PATH, self.path),
            (ecs::URL_QUERY, self.query),
            (ecs::HTTP_VERSION, self.version),
            (ecs::HTTP_REQUEST_REFERRER, self.referrer),
            (ecs::USER_AGENT_ORIGINAL, self.user_agent),
        ];
        for (name, value) in strs {
            if let Some(v) = value {
                out.push((name, v.to_string()));
            }
        }
        out.push((ecs::HTTP_RESPONSE_STATUS_CODE, self.status.to_string()));
        if let Some(b) = self.bytes {
            out.push((ecs::HTTP_RESPONSE_BODY_BYTES, b.to_string()));
        }
    }
}

/// Where a message came from: the syslog header, or journald's `SYSLOG_IDENTIFIER`, `_PID` and
/// `_HOSTNAME`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub host_name: Option<&'a str>,
    pub process_name: Option<&'a str>,
    pub process_pid: Option<u32>,
    pub timestamp: Option<LineTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for &a in Action::ALL {
            assert_eq!(Action::from_name(a.as_str()), Some(a));
        }
        assert_eq!(Action::from_name("nope"), None);
    }

    #[test]
    fn unix_seconds_of_known_dates() {
        let t = LineTime { year: Some(2024), month: 3, day: 5, hour: 10, minute: 1, second: 2, ..Default::default() };
        assert_eq!(t.unix_seconds(1970, 0), 1_709_632_862);
        let t = LineTime { utc_offset_s: Some(3600), ..t };
        assert_eq!(t.unix_seconds(1970, 0), 1_709_632_862 - 3600);
        let t = LineTime { year: None, month: 1, day: 1, ..Default::default() };
        assert_eq!(t.unix_seconds(1970, 0), 0);
    }

    #[test]
    fn from_unix_round_trips() {
        for secs in [0, 1_709_632_862, 1_700_000_000, -86_400, 951_782_400, 4_102_444_799] {
            let t = LineTime::from_unix(secs, 5);
            assert_eq!(t.unix_seconds(1970, 3600), secs, "{t:?}");
        }
        let t = LineTime::from_unix(1_700_000_000, 0);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (Some(2023), 11, 14, 22, 13, 20));
        // Hostile timestamps saturate instead of overflowing.
        let _ = LineTime::from_unix(i64::MAX, 0);
        let _ = LineTime::from_unix(i64::MIN, 0);
    }

    #[test]
    fn ecs_fields_leave_out_absent_values() {
        let mut e = Event::new(Category::Authentication, Action::SshLogin, Outcome::Failure);
        e.source_ip = Some("192.0.2.1".parse().unwrap());
        e.user_name = Some("root");
        let f = e.ecs_fields();
        assert_eq!(
            f,
            [
                (ecs::EVENT_CATEGORY, "authentication".to_string()),
                (ecs::EVENT_ACTION, "ssh-login".to_string()),
                (ecs::EVENT_OUTCOME, "failure".to_string()),
                (ecs::SOURCE_IP, "192.0.2.1".to_string()),
                (ecs::USER_NAME, "root".to_string()),
            ]
        );
    }
}
