//! Time intervals with time zones: the tz database reader against the system's `date`, and `ContainsTime`
//! semantics in local time, including negative days of the month.

use std::io::Write;
use std::process::{Command, Stdio};

use vigil_alerting::timeinterval::{parse_day_of_month_range, parse_time_range, parse_weekday_range};
use vigil_alerting::{Location, TimeInterval, Timestamp};
use vigil_model::time::days_from_civil;

fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Timestamp {
    Timestamp::from_secs(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60)
}

/// `TZ=zone date +%::z` (offsets with seconds, for local mean times) for each instant, one process per zone.
fn date_offsets(zone: &str, instants: &[i64]) -> Option<Vec<i32>> {
    let mut child = Command::new("date")
        .env("TZ", zone)
        .args(["-f", "-", "+%::z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let input: String = instants.iter().map(|t| format!("@{t}\n")).collect();
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .map(|l| {
            let sign = if l.starts_with('-') { -1 } else { 1 };
            let (h, m, s): (i32, i32, i32) =
                (l.get(1..3)?.parse().ok()?, l.get(4..6)?.parse().ok()?, l.get(7..9)?.parse().ok()?);
            Some(sign * (h * 3600 + m * 60 + s))
        })
        .collect()
}

#[test]
fn offsets_agree_with_the_system_date_command() {
    // Every 6 hours over five years around DST changes, a far-future span covered only by the POSIX rule at
    // the end of the zone file, and the distant past.
    let mut instants: Vec<i64> = (0..5 * 365 * 4).map(|i| 1_609_459_200 + i * 6 * 3600).collect();
    instants.extend((0..400).map(|i| 4_102_444_800 + i * 7 * 86_400 + 3600));
    instants.extend([-2_000_000_000, -1_000_000_000, 0, 946_684_800]);
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
        "America/Sao_Paulo",
        "Pacific/Chatham",
        "Europe/Dublin",
        "Africa/Casablanca",
        "America/St_Johns",
        "Etc/GMT+5",
        "UTC",
    ];
    let mut checked = 0;
    for zone in zones {
        let Ok(loc) = Location::load(zone) else {
            continue; // Not in this system's tz database.
        };
        let Some(want) = date_offsets(zone, &instants) else {
            eprintln!("FIXME: no `date` command to compare against");
            return;
        };
        for (t, w) in instants.iter().zip(want) {
            assert_eq!(loc.offset_at(*t), w, "{zone} at {t}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "the tz database should have the common zones");
}

fn interval(f: impl FnOnce(&mut TimeInterval)) -> TimeInterval {
    let mut ti = TimeInterval::default();
    f(&mut ti);
    ti
}

#[test]
fn business_hours_follow_the_zone_and_its_summer_time() {
    let berlin = Location::load("Europe/Berlin").unwrap();
    let ti = interval(|t| {
        t.times = Some(vec![parse_time_range("09:00", "17:00").unwrap()]);
        t.weekdays = Some(vec![parse_weekday_range("monday:friday").unwrap()]);
        t.location = Some(berlin);
    });
    // Winter, UTC+1: 08:00 UTC is 09:00 in Berlin.
    assert!(!ti.contains(utc(2024, 1, 15, 7, 59)));
    assert!(ti.contains(utc(2024, 1, 15, 8, 0)));
    assert!(ti.contains(utc(2024, 1, 15, 15, 59)));
    assert!(!ti.contains(utc(2024, 1, 15, 16, 0)));
    // Summer, UTC+2: 07:00 UTC is 09:00.
    assert!(ti.contains(utc(2024, 7, 15, 7, 0)));
    assert!(!ti.contains(utc(2024, 7, 15, 15, 0)));
    // Friday 23:30 UTC is Saturday in Berlin.
    assert!(!ti.contains(utc(2024, 7, 19, 23, 30)));
    // The weekday is the local one: Sunday 23:30 UTC is Monday 01:30 in Berlin, outside the hours.
    let monday_early = interval(|t| {
        t.weekdays = Some(vec![parse_weekday_range("monday").unwrap()]);
        t.location = Some(Location::load("Europe/Berlin").unwrap());
    });
    assert!(monday_early.contains(utc(2024, 7, 14, 23, 30)));
    assert!(!monday_early.contains(utc(2024, 7, 15, 22, 30)));
}

#[test]
fn negative_days_of_month_in_a_zone() {
    let last_day = |zone: &str| {
        interval(|t| {
            t.days_of_month = Some(vec![parse_day_of_month_range("-1").unwrap()]);
            t.location = Some(Location::load(zone).unwrap());
        })
    };
    let tokyo = last_day("Asia/Tokyo");
    // 2024-01-31 15:00 UTC is already February 1st in Tokyo.
    assert!(tokyo.contains(utc(2024, 1, 31, 14, 59)));
    assert!(!tokyo.contains(utc(2024, 1, 31, 15, 0)));
    assert!(tokyo.contains(utc(2024, 2, 29, 3, 0)));
    // Alertmanager counts the days of a month as the hours between its local midnights divided by 24, rounded
    // down; in a month where clocks spring forward that is one short, so in Berlin "-1" is March 30th, not
    // the 31st. vigil does the same, to send on the same days.
    let berlin = last_day("Europe/Berlin");
    assert!(berlin.contains(utc(2024, 3, 30, 12, 0)));
    assert!(!berlin.contains(utc(2024, 3, 31, 12, 0)));
    assert!(berlin.contains(utc(2024, 10, 31, 12, 0)));
    // In UTC there is no such effect.
    let utc_last = interval(|t| t.days_of_month = Some(vec![parse_day_of_month_range("-1").unwrap()]));
    assert!(utc_last.contains(utc(2024, 3, 31, 12, 0)));
    // A range across the end of a month, counted from the end: the last week.
    let last_week = interval(|t| t.days_of_month = Some(vec![parse_day_of_month_range("-7:-1").unwrap()]));
    assert!(last_week.contains(utc(2023, 2, 22, 0, 0)));
    assert!(!last_week.contains(utc(2023, 2, 21, 23, 59)));
    assert!(last_week.contains(utc(2024, 2, 23, 0, 0)));
    assert!(!last_week.contains(utc(2024, 2, 22, 23, 59)));
}

#[test]
fn years_months_and_combinations() {
    let ti = interval(|t| {
        t.months = Some(vec![vigil_alerting::timeinterval::parse_month_range("december:december").unwrap()]);
        t.years = Some(vec![vigil_alerting::timeinterval::parse_year_range("2024").unwrap()]);
        t.days_of_month = Some(vec![parse_day_of_month_range("24:26").unwrap()]);
    });
    assert!(ti.contains(utc(2024, 12, 25, 10, 0)));
    assert!(!ti.contains(utc(2025, 12, 25, 10, 0)));
    assert!(!ti.contains(utc(2024, 11, 25, 10, 0)));
    assert!(!ti.contains(utc(2024, 12, 27, 0, 0)));
}
