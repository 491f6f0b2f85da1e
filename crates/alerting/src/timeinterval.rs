//! Time intervals (`time_intervals:` / `mute_time_intervals:`): ranges of times of day, weekdays, days of
//! the month (negative ones count from the month's end), months and years, in an optional time zone, with
//! Alertmanager's `ContainsTime` semantics and its parsing and validation messages.

use vigil_model::time::{civil_from_days, days_from_civil};

use crate::time::Timestamp;
use crate::tz::Location;

/// `[start, end)` in minutes of the day, 0 to 1440.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// An inclusive range of weekdays (0 = Sunday), days of the month (negative from the end), months (1 =
/// January) or years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InclusiveRange {
    pub begin: i64,
    pub end: i64,
}

/// One entry of a named interval's `time_intervals:` list. Every part that is present must contain the time;
/// an absent part places no restriction (and a present but empty list contains nothing, as in Alertmanager).
#[derive(Clone, Debug, Default)]
pub struct TimeInterval {
    pub times: Option<Vec<TimeRange>>,
    pub weekdays: Option<Vec<InclusiveRange>>,
    pub days_of_month: Option<Vec<InclusiveRange>>,
    pub months: Option<Vec<InclusiveRange>>,
    pub years: Option<Vec<InclusiveRange>>,
    pub location: Option<Location>,
}

/// The calendar fields of an instant in a time zone.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    weekday: i64,
    minute_of_day: i64,
}

impl TimeInterval {
    /// Alertmanager's `TimeInterval.ContainsTime`.
    pub fn contains(&self, t: Timestamp) -> bool {
        let loc = self.location.clone().unwrap_or_else(Location::utc);
        let unix = t.as_secs();
        let local = unix + i64::from(loc.offset_at(unix));
        let days = local.div_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let c =
            Civil { year, month, day, weekday: (days + 4).rem_euclid(7), minute_of_day: local.rem_euclid(86_400) / 60 };
        if let Some(times) = &self.times {
            let m = c.minute_of_day;
            if !times.iter().any(|r| m >= i64::from(r.start_minute) && m < i64::from(r.end_minute)) {
                return false;
            }
        }
        if let Some(ranges) = &self.days_of_month {
            let dim = days_in_month_go(&loc, c.year, c.month);
            let found = ranges.iter().any(|r| {
                let begin = if r.begin < 0 { dim + r.begin + 1 } else { r.begin };
                let end = if r.end < 0 { dim + r.end + 1 } else { r.end };
                if begin > dim {
                    return false;
                }
                let (begin, end) = (begin.clamp(-dim, dim), end.clamp(-dim, dim));
                c.day >= begin && c.day <= end
            });
            if !found {
                return false;
            }
        }
        let within = |ranges: &Option<Vec<InclusiveRange>>, v: i64| {
            ranges.as_ref().is_none_or(|rs| rs.iter().any(|r| v >= r.begin && v <= r.end))
        };
        within(&self.months, c.month) && within(&self.weekdays, c.weekday) && within(&self.years, c.year)
    }
}

/// The number of days in a month as Alertmanager computes it: the hours between the local midnights that
/// start this month and the next, divided by 24 and truncated. In a month where clocks spring forward that
/// is one day short (March in Europe counts 30 days), so `-1` means the 30th there; vigil keeps this to fire
/// on the same days as Alertmanager.
fn days_in_month_go(loc: &Location, year: i64, month: i64) -> i64 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    let start = loc.local_to_unix(days_from_civil(year, month, 1) * 86_400);
    let end = loc.local_to_unix(days_from_civil(ny, nm, 1) * 86_400);
    ((end - start) as f64 / 3600.0 / 24.0) as i64
}

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse().map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// `a:b` or `a` (lowercased first), each member read by `member`.
fn range_from_string(input: &str, member: impl Fn(&str) -> Result<i64, String>) -> Result<InclusiveRange, String> {
    let input = input.to_lowercase();
    if input.contains(':') {
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {input}, invalid format"));
        }
        return Ok(InclusiveRange { begin: member(parts[0])?, end: member(parts[1])? });
    }
    let v = member(&input)?;
    Ok(InclusiveRange { begin: v, end: v })
}

pub fn parse_weekday_range(s: &str) -> Result<InclusiveRange, String> {
    let r = range_from_string(s, |m| {
        WEEKDAYS.iter().position(|d| *d == m).map(|i| i as i64).ok_or_else(|| format!("{m} is not a valid weekday"))
    })?;
    if r.begin > r.end {
        return Err("start day cannot be before end day".into());
    }
    if !(0..=6).contains(&r.begin) || !(0..=6).contains(&r.end) {
        return Err(format!("{s} is not a valid day of the week: out of range"));
    }
    Ok(r)
}

pub fn parse_day_of_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = range_from_string(s, atoi)?;
    for v in [r.begin, r.end] {
        if v == 0 || !(-31..=31).contains(&v) {
            return Err(format!("{v} is not a valid day of the month: out of range"));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    // Negative days can only be compared assuming some month length; 28 catches the always-wrong ranges.
    let check = |v: i64| if v < 0 { 28 + v } else { v };
    if check(r.begin) > check(r.end) {
        return Err(format!("end day {} is always before start day {}", r.end, r.begin));
    }
    Ok(r)
}

pub fn parse_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = range_from_string(s, |m| match MONTHS.iter().position(|n| *n == m) {
        Some(i) => Ok(i as i64 + 1),
        None => atoi(m).map_err(|_| format!("{m} is not a valid month")),
    })?;
    if r.begin > r.end {
        let name = |v: i64| usize::try_from(v - 1).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("");
        return Err(format!("end month {} is before start month {}", name(r.end), name(r.begin)));
    }
    Ok(r)
}

pub fn parse_year_range(s: &str) -> Result<InclusiveRange, String> {
    let r = range_from_string(s, atoi)?;
    if r.begin > r.end {
        return Err(format!("end year {} is before start year {}", r.end, r.begin));
    }
    Ok(r)
}

/// `HH:MM` from `00:00` to `23:59`, or `24:00`, as minutes of the day.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let b = s.as_bytes();
    let valid = s == "24:00"
        || (b.len() == 5
            && b[2] == b':'
            && ((matches!(b[0], b'0' | b'1') && b[1].is_ascii_digit())
                || (b[0] == b'2' && (b'0'..=b'3').contains(&b[1])))
            && (b'0'..=b'5').contains(&b[3])
            && b[4].is_ascii_digit());
    if !valid {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    Ok(h * 60 + m)
}

pub fn parse_time_range(start: &str, end: &str) -> Result<TimeRange, String> {
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".into());
    }
    let (s, e) = (parse_time_of_day(start)?, parse_time_of_day(end)?);
    if s >= e {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok(TimeRange { start_minute: s, end_minute: e })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> Timestamp {
        Timestamp::from_secs(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60)
    }

    #[test]
    fn parses_ranges_with_alertmanager_messages() {
        assert_eq!(parse_weekday_range("Monday:FRIDAY").unwrap(), InclusiveRange { begin: 1, end: 5 });
        assert_eq!(parse_weekday_range("sunday").unwrap(), InclusiveRange { begin: 0, end: 0 });
        assert_eq!(parse_weekday_range("friday:monday").unwrap_err(), "start day cannot be before end day");
        assert_eq!(parse_weekday_range("funday").unwrap_err(), "funday is not a valid weekday");
        assert_eq!(parse_weekday_range("1").unwrap_err(), "1 is not a valid weekday");
        assert_eq!(parse_day_of_month_range("-3:-1").unwrap(), InclusiveRange { begin: -3, end: -1 });
        assert_eq!(parse_day_of_month_range("0").unwrap_err(), "0 is not a valid day of the month: out of range");
        assert_eq!(parse_day_of_month_range("-1:5").unwrap_err(), "end day must be negative if start day is negative");
        assert_eq!(parse_day_of_month_range("10:-25").unwrap_err(), "end day -25 is always before start day 10");
        assert_eq!(parse_month_range("january:3").unwrap(), InclusiveRange { begin: 1, end: 3 });
        assert_eq!(parse_month_range("march:february").unwrap_err(), "end month february is before start month march");
        assert_eq!(parse_month_range("smarch").unwrap_err(), "smarch is not a valid month");
        assert_eq!(parse_year_range("2020:2022").unwrap(), InclusiveRange { begin: 2020, end: 2022 });
        assert_eq!(parse_year_range("2022:2020").unwrap_err(), "end year 2020 is before start year 2022");
        assert_eq!(parse_year_range("1:2:3").unwrap_err(), "couldn't parse range 1:2:3, invalid format");
        assert_eq!(parse_time_range("09:00", "17:30").unwrap(), TimeRange { start_minute: 540, end_minute: 1050 });
        assert_eq!(parse_time_range("00:00", "24:00").unwrap().end_minute, 1440);
        assert_eq!(parse_time_range("9:00", "10:00").unwrap_err(), "couldn't parse timestamp 9:00, invalid format");
        assert_eq!(parse_time_range("24:01", "10:00").unwrap_err(), "couldn't parse timestamp 24:01, invalid format");
        assert_eq!(
            parse_time_range("10:00", "10:00").unwrap_err(),
            "start time cannot be equal or greater than end time"
        );
        assert_eq!(parse_time_range("", "10:00").unwrap_err(), "both start and end times must be provided");
    }

    #[test]
    fn contains_checks_every_present_part() {
        let ti = TimeInterval {
            times: Some(vec![parse_time_range("09:00", "17:00").unwrap()]),
            weekdays: Some(vec![parse_weekday_range("monday:friday").unwrap()]),
            ..TimeInterval::default()
        };
        // 2024-01-08 is a Monday.
        assert!(ti.contains(at(2024, 1, 8, 9, 0)));
        assert!(ti.contains(at(2024, 1, 8, 16, 59)));
        assert!(!ti.contains(at(2024, 1, 8, 17, 0)));
        assert!(!ti.contains(at(2024, 1, 7, 12, 0)));
        assert!(TimeInterval::default().contains(at(2024, 1, 7, 12, 0)));
        let empty = TimeInterval { times: Some(vec![]), ..TimeInterval::default() };
        assert!(!empty.contains(at(2024, 1, 7, 12, 0)));
    }

    #[test]
    fn negative_days_of_month_count_from_the_end() {
        let last_two = TimeInterval {
            days_of_month: Some(vec![parse_day_of_month_range("-2:-1").unwrap()]),
            ..TimeInterval::default()
        };
        assert!(last_two.contains(at(2024, 2, 28, 0, 0)));
        assert!(last_two.contains(at(2024, 2, 29, 23, 59)));
        assert!(!last_two.contains(at(2024, 2, 27, 12, 0)));
        assert!(last_two.contains(at(2023, 2, 27, 12, 0)));
        assert!(last_two.contains(at(2024, 1, 31, 12, 0)));
        assert!(last_two.contains(at(2024, 4, 29, 12, 0)));
        assert!(!last_two.contains(at(2024, 4, 28, 12, 0)));
        // A positive start past the month's length never matches; an end past it is clamped.
        let from_31 = TimeInterval {
            days_of_month: Some(vec![parse_day_of_month_range("31").unwrap()]),
            ..TimeInterval::default()
        };
        assert!(!from_31.contains(at(2024, 4, 30, 12, 0)));
        let to_31 = TimeInterval {
            days_of_month: Some(vec![parse_day_of_month_range("28:31").unwrap()]),
            ..TimeInterval::default()
        };
        assert!(to_31.contains(at(2024, 2, 29, 12, 0)));
    }
}
