//! Threat-intel matches on the guard thread: every parsed event is checked against the current
//! [`IntelMatcher`]; a hit is counted per feed, recorded on the security stream with the event's own fields,
//! and, with `intel.ban: true`, bans the source address as jail `intel` (persisted, held and reported like any
//! jail's ban).

use vigil_guard::event::ecs;
use vigil_guard::intel::IntelMatcher;
use vigil_guard::jail::{JailConfig, Matcher, Offender};
use vigil_guard::Event;
use vigil_model::log::LogEntry;

use super::engine::Engine;

/// The jail of bans a threat-intel match decides.
pub const INTEL_JAIL: &str = "intel";
/// The `event.action` of a match's record.
pub const INTEL_ACTION: &str = "threat-intel-match";
/// Not ECS: the feeds that list the address, comma-separated.
pub const FEEDS_FIELD: &str = "vigil.intel.feeds";
/// ECS: the matched address.
pub const INDICATOR_IP_FIELD: &str = "threat.indicator.ip";
/// Not ECS: the matched event's own `event.action`.
pub const EVENT_ACTION_FIELD: &str = "vigil.intel.event.action";

/// The `intel` jail: no events of its own, one match bans for `bantime_s`, `ignoreip` never.
pub(crate) fn intel_jail(bantime_s: i64, ignoreip: Vec<vigil_guard::cidr::Cidr>) -> JailConfig {
    JailConfig {
        name: INTEL_JAIL.into(),
        matcher: Matcher::Events { actions: Vec::new(), outcome: None, by_user: false },
        maxretry: 1,
        findtime_s: 1,
        bantime_s,
        increment: None,
        ignoreip,
        ..JailConfig::sudo()
    }
}

impl Engine {
    /// Checks `ev` (read from `line`, recorded at `ts_ns`) against the feeds.
    pub(crate) fn intel_check(&mut self, m: &IntelMatcher, ev: &Event<'_>, ts_ns: i64, line: &str, now: i64) {
        let Some(hit) = m.check(ev) else { return };
        let names: Vec<&str> = hit.feed_names().collect();
        if let Some(im) = self.metrics.intel.get() {
            for n in &names {
                im.hit(n);
            }
        }
        let Some(ip) = hit.source.or(hit.destination).map(|h| h.ip) else { return };
        tracing::info!(%ip, feeds = names.join(","), action = ev.action.as_str(), "threat-intel match");
        self.records.push(match_entry(ev, ts_ns, line, ip, &names));
        let Some(source) = hit.source else { return };
        if let Some(i) = self.jails.iter().position(|j| j.config().name == INTEL_JAIL) {
            if let Some(ban) = self.jails[i].fail(Offender::Ip(source.ip), now) {
                self.banned(i, ban, now);
            }
        }
    }
}

fn match_entry(ev: &Event<'_>, ts_ns: i64, line: &str, ip: std::net::IpAddr, feeds: &[&str]) -> LogEntry {
    let mut e = ev.to_log_entry(ts_ns, line);
    e.fields.retain(|(k, _)| k != ecs::EVENT_ACTION && k != ecs::EVENT_CATEGORY);
    e.fields.extend([
        (ecs::EVENT_CATEGORY.to_owned(), "threat".to_owned()),
        (ecs::EVENT_ACTION.to_owned(), INTEL_ACTION.to_owned()),
        (EVENT_ACTION_FIELD.to_owned(), ev.action.as_str().to_owned()),
        (INDICATOR_IP_FIELD.to_owned(), ip.to_string()),
        (FEEDS_FIELD.to_owned(), feeds.join(",")),
    ]);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_guard::event::{Action, Category, Outcome};

    #[test]
    fn a_match_keeps_the_event_fields() {
        let mut ev = Event::new(Category::Authentication, Action::SshLogin, Outcome::Failure);
        ev.source_ip = Some("192.0.2.9".parse().unwrap());
        let e = match_entry(&ev, 5, "the line", "192.0.2.9".parse().unwrap(), &["a", "b"]);
        let get = |k: &str| e.fields.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("event.action"), ["threat-intel-match"]);
        assert_eq!(get("vigil.intel.event.action"), ["ssh-login"]);
        assert_eq!(get("event.outcome"), ["failure"]);
        assert_eq!(get("source.ip"), ["192.0.2.9"]);
        assert_eq!(get("threat.indicator.ip"), ["192.0.2.9"]);
        assert_eq!(get("vigil.intel.feeds"), ["a,b"]);
        assert_eq!(e.line, "the line");
    }
}
