//! The security log stream: the labels of `{job="security", host, source}`, the record of a parsed event (its
//! original line, its ECS fields) and the records of bans and unbans.

use vigil_guard::event::ecs;
use vigil_guard::jail::{Ban, Offender};
use vigil_guard::Event;
use vigil_model::log::LogEntry;
use vigil_model::Labels;

/// The `job` label of the security stream.
pub const JOB: &str = "security";
/// The `source` label of ban and unban records.
pub const GUARD_SOURCE: &str = "guard";
/// Not ECS: the jail that decided a ban.
pub const JAIL_FIELD: &str = "vigil.jail";
/// Not ECS: when a ban ends, RFC 3339.
pub const BAN_UNTIL_FIELD: &str = "vigil.ban.until";
/// Not ECS: 1 for a first ban, 2 for the next within the increment's memory, ...
pub const BAN_COUNT_FIELD: &str = "vigil.ban.count";

/// `{job="security", host="<host>", source="<source>"}`; no `host` label when the host name is empty.
pub fn stream_labels(host: &str, source: &str) -> Labels {
    let mut labels = Labels::default();
    labels.set("job", JOB);
    labels.set("source", source);
    if !host.is_empty() {
        labels.set("host", host);
    }
    labels
}

/// A parsed event's record: the line as read, the event's ECS fields.
pub fn event_entry(ev: &Event<'_>, ts_ns: i64, line: &str) -> LogEntry {
    ev.to_log_entry(ts_ns, line)
}

/// A ban's record.
pub fn ban_entry(jail: &str, ban: &Ban, ts_ns: i64) -> LogEntry {
    let line = format!(
        "jail {jail}: ban {} for {}s (ban {}, until {})",
        ban.offender,
        ban.until.saturating_sub(ban.since),
        ban.count,
        rfc3339(ban.until)
    );
    let mut fields = decision_fields("ban", jail, &ban.offender);
    fields.push((BAN_UNTIL_FIELD.into(), rfc3339(ban.until)));
    fields.push((BAN_COUNT_FIELD.into(), ban.count.to_string()));
    LogEntry { ts_ns, line, fields }
}

/// An unban's record.
pub fn unban_entry(jail: &str, offender: &Offender, ts_ns: i64) -> LogEntry {
    let line = format!("jail {jail}: unban {offender}");
    LogEntry { ts_ns, line, fields: decision_fields("unban", jail, offender) }
}

fn decision_fields(action: &str, jail: &str, offender: &Offender) -> Vec<(String, String)> {
    let mut fields = vec![
        (ecs::EVENT_CATEGORY.into(), "intrusion_detection".into()),
        (ecs::EVENT_ACTION.into(), action.into()),
        (ecs::EVENT_OUTCOME.into(), "success".into()),
        (JAIL_FIELD.into(), jail.into()),
    ];
    match offender {
        Offender::Ip(ip) => fields.push((ecs::SOURCE_IP.into(), ip.to_string())),
        Offender::User(u) => fields.push((ecs::USER_NAME.into(), u.clone())),
    }
    fields
}

fn rfc3339(t_s: i64) -> String {
    vigil_model::time::format_rfc3339(t_s.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_records_name_the_jail_the_address_and_the_end() {
        let ban = Ban { offender: Offender::Ip("203.0.113.7".parse().unwrap()), since: 0, until: 600, count: 1 };
        let e = ban_entry("sshd", &ban, 5);
        assert_eq!(e.line, "jail sshd: ban 203.0.113.7 for 600s (ban 1, until 1970-01-01T00:10:00.000Z)");
        let get = |k: &str| e.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("event.action"), Some("ban"));
        assert_eq!(get("source.ip"), Some("203.0.113.7"));
        assert_eq!(get("vigil.jail"), Some("sshd"));
        assert_eq!(get("vigil.ban.until"), Some("1970-01-01T00:10:00.000Z"));
        let u = unban_entry("sudo", &Offender::User("bob".into()), 7);
        assert_eq!(u.line, "jail sudo: unban user bob");
        assert!(u.fields.contains(&("user.name".into(), "bob".into())));
        let l = stream_labels("h1", "auth");
        assert_eq!((l.get("job"), l.get("host"), l.get("source")), (Some("security"), Some("h1"), Some("auth")));
    }
}
