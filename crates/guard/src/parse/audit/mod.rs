//! Linux audit records (auditd's `/var/log/audit/audit.log`, or the kernel's `audit: type=...` lines) in,
//! security events out.
//!
//! A kernel event is several records sharing one `msg=audit(time:serial)` stamp (`SYSCALL`, `EXECVE`,
//! `CWD`, `PATH`..., then `EOE`); userspace messages (`USER_AUTH`, `USER_CMD`, `ADD_USER`...) are one record
//! each. [`Correlator`] groups records into [`AuditEvent`]s with bounded memory, and
//! [`AuditEvent::event`] reads the one [`Event`] an audit event stands for, if any:
//!
//! - `EXECVE`: `process-started`, with the arguments joined as `process.command_line`;
//! - `USER_AUTH`, `USER_ACCT`, `USER_LOGIN`, `USER_START`, `USER_END`, `USER_CMD`, `USER_CHAUTHTOK`,
//!   `ADD_USER`, `DEL_USER`, `ADD_GROUP`, `DEL_GROUP`: their outcome from `res=`, the account from `acct=`,
//!   the client from `addr=` (or `hostname=`) when it is an IP address;
//! - a `SYSCALL` with a rule key and `PATH` records (a file watch, `-w /etc/passwd -p wa -k identity`):
//!   `file-watch` with `file.path` and the key as `tags`.
//!
//! User names come from auditd's enriched fields (`AUID="alice"`) when present, else the numeric ids.

mod correlate;
mod record;

pub use correlate::{Correlator, CorrelatorStats, Limits};
pub use record::{
    decode, decoded, fields, get, get_last, parse_record, push_capped, Fields, Record, RecordType, Stamp, Value,
    MAX_RECORD_BYTES,
};

use std::net::IpAddr;

use crate::addr::parse_addr;
use crate::event::{Action, Category, Event, LineTime, Outcome};

/// Decoded strings (an account, a path, one argument) are cut at this many bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// A command line is cut at this many bytes.
pub const MAX_COMMAND_LINE_BYTES: usize = 8192;

/// `auid` and `uid` of a process no login set: `4294967295`, or `-1` in older kernels.
const UNSET_ID: [&str; 2] = ["4294967295", "-1"];

/// The records of one audit event, and what vigil read from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub stamp: Stamp,
    pub node: Option<String>,
    /// The records as written, in arrival order (at most [`Limits::max_records`]).
    pub records: Vec<String>,
    /// Records of this event left out by the per-event caps.
    pub dropped_records: u32,
    summary: Option<Summary>,
}

/// The owned values an [`Event`] borrows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Summary {
    category: Category,
    action: Action,
    outcome: Outcome,
    user_name: Option<String>,
    user_target_name: Option<String>,
    group_name: Option<String>,
    process_name: Option<String>,
    process_pid: Option<u32>,
    command_line: Option<String>,
    source_ip: Option<IpAddr>,
    source_address: Option<String>,
    file_path: Option<String>,
    key: Option<String>,
}

impl AuditEvent {
    /// An event of `records` (lines that do not parse, or whose stamp differs from the first's, are left
    /// out).
    pub fn from_records<S: AsRef<str>>(records: &[S]) -> Option<AuditEvent> {
        let first = records.iter().find_map(|r| parse_record(r.as_ref()))?;
        let mut ev = AuditEvent {
            stamp: first.stamp,
            node: first.node.map(str::to_string),
            records: Vec::new(),
            dropped_records: 0,
            summary: None,
        };
        for r in records {
            let r = r.as_ref();
            if parse_record(r).is_some_and(|p| p.stamp == first.stamp && p.node == first.node) {
                ev.records.push(r.to_string());
            }
        }
        ev.summarize();
        Some(ev)
    }

    pub(crate) fn new(stamp: Stamp, node: Option<String>, records: Vec<String>, dropped: u32) -> AuditEvent {
        let mut ev = AuditEvent { stamp, node, records, dropped_records: dropped, summary: None };
        ev.summarize();
        ev
    }

    /// The parsed records.
    pub fn parsed(&self) -> impl Iterator<Item = Record<'_>> {
        self.records.iter().filter_map(|r| parse_record(r))
    }

    /// The security event this audit event stands for, if vigil reads one from it.
    pub fn event(&self) -> Option<Event<'_>> {
        let s = self.summary.as_ref()?;
        let mut ev = Event::new(s.category, s.action, s.outcome);
        ev.user_name = s.user_name.as_deref();
        ev.user_target_name = s.user_target_name.as_deref();
        ev.group_name = s.group_name.as_deref();
        ev.process_name = s.process_name.as_deref();
        ev.process_pid = s.process_pid;
        ev.command_line = s.command_line.as_deref();
        ev.source_ip = s.source_ip;
        ev.source_address = s.source_address.as_deref();
        ev.file_path = s.file_path.as_deref();
        ev.tags = s.key.as_deref();
        ev.host_name = self.node.as_deref();
        ev.timestamp = Some(LineTime::from_unix(self.stamp.secs, self.stamp.nanos));
        Some(ev)
    }

    fn summarize(&mut self) {
        let recs: Vec<Record<'_>> = self.parsed().collect();
        let find = |t: RecordType| recs.iter().find(|r| r.record_type == t);
        self.summary = if let Some(r) = recs.iter().find(|r| user_action(r.record_type).is_some()) {
            user_message(r)
        } else if let Some(syscall) = find(RecordType::SYSCALL) {
            syscall_event(syscall, &recs)
        } else {
            None
        };
    }
}

/// The action and category of a userspace record vigil reads.
fn user_action(t: RecordType) -> Option<(Category, Action)> {
    Some(match t {
        RecordType::USER_AUTH => (Category::Authentication, Action::UserAuth),
        RecordType::USER_ACCT => (Category::Authentication, Action::UserAcct),
        RecordType::USER_LOGIN => (Category::Authentication, Action::UserLogin),
        RecordType::USER_START => (Category::Session, Action::SessionOpened),
        RecordType::USER_END => (Category::Session, Action::SessionClosed),
        RecordType::USER_CMD => (Category::Process, Action::UserCommand),
        RecordType::USER_CHAUTHTOK => (Category::Iam, Action::PasswordChanged),
        RecordType::ADD_USER => (Category::Iam, Action::UserCreated),
        RecordType::DEL_USER => (Category::Iam, Action::UserDeleted),
        RecordType::ADD_GROUP => (Category::Iam, Action::GroupCreated),
        RecordType::DEL_GROUP => (Category::Iam, Action::GroupDeleted),
        _ => return None,
    })
}

fn value(body: &str, key: &str) -> Option<String> {
    decoded(get(body, key)?, MAX_VALUE_BYTES)
}

/// A user by the enriched name (`AUID="alice"`) or else the number, unless unset.
fn user(r: &Record<'_>, key: &str, enriched_key: &str) -> Option<String> {
    let id = get(r.body, key)?.raw();
    if UNSET_ID.contains(&id) {
        return None;
    }
    match get(r.enriched, enriched_key).and_then(|v| decoded(v, MAX_VALUE_BYTES)) {
        Some(name) if name != "unset" => Some(name),
        _ => Some(id.chars().take(20).collect()),
    }
}

fn pid(body: &str) -> Option<u32> {
    get(body, "pid")?.raw().parse().ok()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `USER_AUTH`, `USER_CMD`, `ADD_USER`...: the fields nested in `msg='...'`.
fn user_message(r: &Record<'_>) -> Option<Summary> {
    let (category, action) = user_action(r.record_type)?;
    let msg = match get(r.body, "msg")? {
        Value::Nested(m) => m,
        _ => return None,
    };
    // `hostname` is not encoded (it is what DNS said), and `addr`, `terminal` and `res` follow it, so
    // those are read from the right and the fields before it from the left.
    let outcome = match get_last(msg, "res").map(|v| v.raw()) {
        Some("success") => Outcome::Success,
        Some("failed") => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    let acct = value(msg, "acct");
    let actor = user(r, "auid", "AUID").or_else(|| user(r, "uid", "UID"));
    let mut s = Summary {
        category,
        action,
        outcome,
        user_name: None,
        user_target_name: None,
        group_name: None,
        process_name: value(msg, "exe").map(|e| basename(&e).to_string()),
        process_pid: pid(r.body),
        command_line: None,
        source_ip: None,
        source_address: None,
        file_path: None,
        key: None,
    };
    let hostname = get(msg, "hostname").map(|v| v.raw());
    let addr = get_last(msg, "addr").map(|v| v.raw());
    let client = [addr, hostname].into_iter().flatten().filter_map(parse_addr).find(|a| a.ip.is_some());
    let client = client.or_else(|| hostname.and_then(parse_addr));
    if let Some(a) = client {
        s.source_ip = a.ip;
        s.source_address = Some(a.raw.to_string());
    }
    // The account acted upon: by name, or by the enriched name of `id=` (shadow-utils logs either).
    let target = || acct.clone().or_else(|| value(r.enriched, "ID")).or_else(|| value(msg, "id"));
    match action {
        Action::UserAuth | Action::UserAcct | Action::UserLogin => s.user_name = acct.or(actor),
        Action::SessionOpened | Action::SessionClosed | Action::PasswordChanged => {
            s.user_target_name = acct;
            s.user_name = actor;
        }
        Action::UserCommand => {
            s.user_name = actor;
            s.command_line = value(msg, "cmd");
        }
        Action::UserCreated | Action::UserDeleted => {
            s.user_target_name = target();
            s.user_name = actor;
        }
        Action::GroupCreated | Action::GroupDeleted => {
            s.group_name = value(msg, "grp").or_else(target);
            s.user_name = actor;
        }
        _ => return None,
    }
    Some(s)
}

/// A syscall event: `EXECVE` makes it a process start; a rule key with `PATH` records a file watch.
fn syscall_event(syscall: &Record<'_>, recs: &[Record<'_>]) -> Option<Summary> {
    let key = value(syscall.body, "key");
    let execve: Vec<&Record<'_>> = recs.iter().filter(|r| r.record_type == RecordType::EXECVE).collect();
    let (category, action) = if !execve.is_empty() {
        (Category::Process, Action::ProcessStarted)
    } else if key.is_some() && recs.iter().any(|r| r.record_type == RecordType::PATH) {
        (Category::File, Action::FileWatch)
    } else {
        return None;
    };
    let outcome = match get(syscall.body, "success").map(|v| v.raw()) {
        Some("yes") => Outcome::Success,
        Some("no") => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    let auid = user(syscall, "auid", "AUID");
    let uid = user(syscall, "uid", "UID");
    let (user_name, user_target_name) = match (auid, uid) {
        (Some(a), Some(u)) if a != u => (Some(a), Some(u)),
        (a, u) => (a.or(u), None),
    };
    let process_name =
        value(syscall.body, "comm").or_else(|| value(syscall.body, "exe").map(|e| basename(&e).to_string()));
    let mut s = Summary {
        category,
        action,
        outcome,
        user_name,
        user_target_name,
        group_name: None,
        process_name,
        process_pid: pid(syscall.body),
        command_line: None,
        source_ip: None,
        source_address: None,
        file_path: None,
        key,
    };
    if action == Action::ProcessStarted {
        s.command_line = command_line(&execve).or_else(|| {
            let title = recs.iter().find(|r| r.record_type == RecordType::PROCTITLE)?;
            decoded(get(title.body, "proctitle")?, MAX_COMMAND_LINE_BYTES)
        });
    } else {
        s.file_path = watched_path(recs);
    }
    Some(s)
}

/// `EXECVE`'s `a0="ls" a1=2D6C ...`, joined with spaces; long arguments come in pieces (`a2_len=9000
/// a2[0]=... a2[1]=...`), possibly over several records.
fn command_line(execve: &[&Record<'_>]) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for r in execve {
        for (k, v) in fields(r.body) {
            let Some(arg) = k.strip_prefix('a') else { continue };
            let (num, piece) = match arg.split_once('[') {
                Some((n, p)) => (n, Some(p.strip_suffix(']').unwrap_or(p))),
                None => (arg, None),
            };
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let starts_arg = piece.is_none_or(|p| p == "0");
            if starts_arg && any {
                push_capped(&mut out, " ", MAX_COMMAND_LINE_BYTES);
            }
            any = true;
            decode(v, &mut out, MAX_COMMAND_LINE_BYTES);
        }
    }
    any.then_some(out)
}

/// The path a watch saw: the first `PATH` item that is not the parent directory, made absolute with the
/// `CWD` record when it is relative.
fn watched_path(recs: &[Record<'_>]) -> Option<String> {
    let paths = recs.iter().filter(|r| r.record_type == RecordType::PATH);
    let item = paths
        .clone()
        .find(|r| get(r.body, "nametype").is_none_or(|t| t.raw() != "PARENT"))
        .or_else(|| paths.clone().next())?;
    let name = value(item.body, "name")?;
    if name.starts_with('/') {
        return Some(name);
    }
    let cwd = recs.iter().find(|r| r.record_type == RecordType::CWD).and_then(|r| value(r.body, "cwd"));
    match cwd {
        Some(mut dir) => {
            if !dir.ends_with('/') {
                dir.push('/');
            }
            push_capped(&mut dir, &name, MAX_VALUE_BYTES);
            Some(dir)
        }
        None => Some(name),
    }
}
