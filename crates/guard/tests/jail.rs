//! Jail semantics: counting within findtime, bans, increments, ignoreip, expiry, persistence.

use std::net::IpAddr;

use vigil_guard::jail::{Ban, Decision, Increment, Jail, JailConfig, JailState, Matcher, Offender};
use vigil_guard::parse::parse_line;
use vigil_guard::sshd_filter::Mode;
use vigil_guard::Action;

fn ip(s: &str) -> Offender {
    Offender::Ip(s.parse::<IpAddr>().unwrap())
}

fn config(maxretry: u32) -> JailConfig {
    JailConfig { maxretry, findtime_s: 60, bantime_s: 100, ..JailConfig::sshd(Mode::Normal) }
}

#[test]
fn bans_at_maxretry_within_findtime() {
    let mut j = Jail::new(config(3)).unwrap();
    assert_eq!(j.fail(ip("192.0.2.1"), 0), None);
    assert_eq!(j.fail(ip("192.0.2.1"), 30), None);
    // The first failure leaves the window before the third arrives.
    assert_eq!(j.fail(ip("192.0.2.1"), 61), None);
    let ban = j.fail(ip("192.0.2.1"), 62).unwrap();
    assert_eq!(ban, Ban { offender: ip("192.0.2.1"), since: 62, until: 162, count: 1 });
    assert!(j.is_banned(&ip("192.0.2.1")));
    // Failures while banned are not counted again.
    assert_eq!(j.fail(ip("192.0.2.1"), 63), None);
    assert_eq!(j.next_deadline(), Some(162));
    assert!(j.run_due(161).is_empty());
    assert_eq!(j.run_due(162), [Decision::Unban { offender: ip("192.0.2.1"), at: 162 }]);
    assert_eq!(j.next_deadline(), None);
    assert!(!j.is_banned(&ip("192.0.2.1")));
}

#[test]
fn ignoreip_always_wins() {
    let mut c = config(1);
    c.ignoreip = vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()];
    let mut j = Jail::new(c.clone()).unwrap();
    for t in 0..10 {
        assert_eq!(j.fail(ip("10.9.9.9"), t), None);
        assert_eq!(j.fail(ip("::ffff:10.1.1.1"), t), None);
        assert_eq!(j.fail(ip("2001:db8:1::5"), t), None);
    }
    assert!(j.fail(ip("2001:db9::5"), 0).is_some());
    // A ban restored from before the address was allowed ends at once.
    let state = JailState {
        bans: vec![Ban { offender: ip("10.2.3.4"), since: 5, until: 1000, count: 1 }],
        ..JailState::default()
    };
    let mut j = Jail::restore(c, state).unwrap();
    assert_eq!(j.next_deadline(), Some(5));
    assert_eq!(j.run_due(6), [Decision::Unban { offender: ip("10.2.3.4"), at: 6 }]);
}

#[test]
fn bantime_increment_follows_fail2ban_formula() {
    let mut c = config(1);
    c.increment = Some(Increment { factor: 1.0, multipliers: vec![], maxtime_s: Some(500), forget_after_s: 10_000 });
    let mut j = Jail::new(c.clone()).unwrap();
    let mut durations = Vec::new();
    let mut now = 0;
    for _ in 0..5 {
        let ban = j.fail(ip("198.51.100.7"), now).unwrap();
        durations.push(ban.until - ban.since);
        now = ban.until;
        j.run_due(now);
    }
    assert_eq!(durations, [100, 200, 400, 500, 500]);
    // Multipliers replace the formula; factor scales them.
    c.increment = Some(Increment { factor: 2.0, multipliers: vec![1, 5, 30], maxtime_s: None, forget_after_s: 10_000 });
    let j = Jail::new(c).unwrap();
    assert_eq!((1..=5).map(|n| j.ban_duration(n)).collect::<Vec<_>>(), [100, 1000, 6000, 6000, 6000]);
    // Without increment every ban lasts bantime.
    let j = Jail::new(config(1)).unwrap();
    assert_eq!(j.ban_duration(7), 100);
}

#[test]
fn history_is_forgotten_after_a_while() {
    let mut c = config(1);
    c.increment = Some(Increment { forget_after_s: 1000, ..Increment::default() });
    let mut j = Jail::new(c).unwrap();
    let b = j.fail(ip("192.0.2.9"), 0).unwrap();
    j.run_due(b.until);
    assert_eq!(j.fail(ip("192.0.2.9"), 200).unwrap().count, 2);
    j.run_due(5000);
    assert_eq!(j.fail(ip("192.0.2.9"), 5000).unwrap().count, 1);
}

#[test]
fn state_round_trips_through_serde() {
    let mut c = config(3);
    c.increment = Some(Increment::default());
    let mut j = Jail::new(c.clone()).unwrap();
    j.fail(ip("192.0.2.1"), 1);
    j.fail(ip("2001:db8::1"), 2);
    for t in 0..3 {
        j.fail(ip("203.0.113.5"), 10 + t);
    }
    let state = j.state();
    let json = serde_json::to_string(&state).unwrap();
    let back: JailState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    let mut j2 = Jail::restore(c.clone(), back).unwrap();
    assert_eq!(j2.state(), state);
    assert!(j2.is_banned(&ip("203.0.113.5")));
    // Two more failures complete the restored count.
    assert_eq!(j2.fail(ip("192.0.2.1"), 20), None);
    assert!(j2.fail(ip("192.0.2.1"), 21).is_some());
    // The configuration is plain data too.
    let cj = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<JailConfig>(&cj).unwrap(), c);
}

#[test]
fn invalid_configs_are_refused() {
    let mut c = config(0);
    assert_eq!(Jail::new(c.clone()).unwrap_err().to_string(), "jail \"sshd\": maxretry must be at least 1");
    c.maxretry = 1;
    c.findtime_s = 0;
    assert!(Jail::new(c.clone()).is_err());
    c.findtime_s = 1;
    c.increment = Some(Increment { factor: f64::NAN, ..Increment::default() });
    assert!(Jail::new(c).is_err());
}

#[test]
fn failure_memory_is_bounded() {
    let mut c = config(5);
    c.max_offenders = 1000;
    let mut j = Jail::new(c).unwrap();
    for i in 0..20_000u32 {
        j.fail(Offender::Ip(IpAddr::V4(i.into())), i64::from(i / 100));
    }
    assert!(j.state().failures.len() <= 1000);
}

#[test]
fn sshd_jail_bans_from_log_lines() {
    let mut j = Jail::new(JailConfig::sshd(Mode::Normal)).unwrap();
    let mut bans = Vec::new();
    for i in 0..5 {
        let line = format!(
            "Mar  5 10:01:0{i} web sshd-session[{}]: Failed password for invalid user admin from 2001:db8::66 port {} ssh2",
            100 + i,
            40000 + i
        );
        let ev = parse_line(&line).unwrap();
        bans.extend(j.observe(&ev, i64::from(i)));
    }
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].offender, ip("2001:db8::66"));
    // Loopback is never banned by default.
    let mut j = Jail::new(JailConfig::sshd(Mode::Normal)).unwrap();
    for i in 0..10 {
        let ev =
            parse_line("Mar  5 10:01:02 web sshd[1]: Failed password for root from 127.0.0.1 port 5 ssh2").unwrap();
        assert_eq!(j.observe(&ev, i), None);
    }
}

#[test]
fn aggressive_jail_counts_preauth_disconnects_normal_does_not() {
    let line = "Mar  5 10:01:02 web sshd[7]: Connection closed by 198.51.100.3 port 5 [preauth]";
    let mut normal = Jail::new(JailConfig { maxretry: 1, ..JailConfig::sshd(Mode::Normal) }).unwrap();
    let mut aggressive = Jail::new(JailConfig { maxretry: 1, ..JailConfig::sshd(Mode::Aggressive) }).unwrap();
    let ev = parse_line(line).unwrap();
    assert_eq!(normal.observe(&ev, 0), None);
    assert!(aggressive.observe(&ev, 0).is_some());
    assert_eq!(aggressive.config().name, "sshd-aggressive");
}

#[test]
fn sudo_jail_counts_per_user() {
    let mut j = Jail::new(JailConfig::sudo()).unwrap();
    assert!(
        matches!(&j.config().matcher, Matcher::Events { actions, .. } if actions.contains(&Action::SudoAuthFailure))
    );
    let fail = "Mar  5 10:01:02 web sudo[9]:      bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh";
    let ok = "Mar  5 10:01:02 web sudo[9]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id";
    let mut bans = Vec::new();
    for t in 0..3 {
        bans.extend(j.observe(&parse_line(ok).unwrap(), t));
        bans.extend(j.observe(&parse_line(fail).unwrap(), t));
    }
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].offender, Offender::User("bob".into()));
}
