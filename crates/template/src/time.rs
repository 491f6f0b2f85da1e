//! Go's `time.Time` (in UTC) and `time.Duration` as template objects: `.Format` with Go layouts, `.Unix`,
//! Go's printed forms (`2015-06-23 13:19:44.128 +0000 UTC`, `1h2m3.5s`), for `toTime`, `since` and host data
//! such as Alertmanager's `.StartsAt`.

use crate::error::FuncError;
use crate::funcs::{check_arity, string_arg};
use crate::value::{Object, Value};

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Seconds from Go's zero time (January 1, year 1) to the Unix epoch.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// An instant, always shown in UTC (there is no time zone database).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time {
    secs: i64,
    nanos: u32,
}

/// Go's `time.Duration`: nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Time {
    /// Seconds and nanoseconds since the Unix epoch; nanoseconds outside `0..1e9` carry into the seconds.
    pub fn from_unix(secs: i64, nanos: i64) -> Time {
        let secs = secs.saturating_add(nanos.div_euclid(NANOS_PER_SEC));
        Time { secs, nanos: nanos.rem_euclid(NANOS_PER_SEC) as u32 }
    }

    pub fn from_unix_millis(ms: i64) -> Time {
        Time::from_unix(ms.div_euclid(1000), ms.rem_euclid(1000) * 1_000_000)
    }

    /// The current time from the system clock.
    pub fn now() -> Time {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Time::from_unix(i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos().into())
    }

    pub fn unix(&self) -> i64 {
        self.secs
    }

    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos)
    }

    /// `self - other`, saturating as Go's `Time.Sub` does.
    pub fn sub(&self, other: &Time) -> Duration {
        let d = self.unix_nanos() - other.unix_nanos();
        Duration(d.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
    }

    pub fn add(&self, d: Duration) -> Time {
        Time::from_unix(self.secs, i64::from(self.nanos).saturating_add(d.0))
    }

    fn civil(&self) -> Civil {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            yday: days - days_from_civil(year, 1, 1) + 1,
            weekday: (days + 4).rem_euclid(7),
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            nanos: self.nanos,
        }
    }

    /// Go's `Time.Format`: the layout is the reference time `Mon Jan 2 15:04:05 MST 2006` written as desired.
    pub fn format(&self, layout: &str) -> String {
        format_layout(&self.civil(), layout)
    }
}

impl std::fmt::Display for Time {
    /// Go's `Time.String`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
}

impl Duration {
    pub fn seconds(&self) -> f64 {
        (self.0 / NANOS_PER_SEC) as f64 + (self.0 % NANOS_PER_SEC) as f64 / 1e9
    }
}

impl std::fmt::Display for Duration {
    /// Go's `Duration.String`: `1h2m3.5s`, `1.5µs`, `0s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let frac = |v: u64, digits: u32| {
            let unit = 10u64.pow(digits);
            let (int, rest) = (v / unit, v % unit);
            if rest == 0 {
                return int.to_string();
            }
            let rest = format!("{rest:0width$}", width = digits as usize);
            format!("{int}.{}", rest.trim_end_matches('0'))
        };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000 {
            return write!(f, "{sign}{u}ns");
        }
        if u < 1_000_000 {
            return write!(f, "{sign}{}µs", frac(u, 3));
        }
        if u < 1_000_000_000 {
            return write!(f, "{sign}{}ms", frac(u, 6));
        }
        let secs = u / 1_000_000_000;
        let s = format!("{}s", frac(u % 60_000_000_000, 9));
        let (mins, hours) = (secs / 60 % 60, secs / 3600);
        if hours > 0 {
            write!(f, "{sign}{hours}h{mins}m{s}")
        } else if mins > 0 {
            write!(f, "{sign}{mins}m{s}")
        } else {
            write!(f, "{sign}{s}")
        }
    }
}

fn time_arg<'v>(v: &'v Value, what: &str) -> Result<&'v Time, FuncError> {
    v.as_object().and_then(|o| o.downcast_ref::<Time>()).ok_or_else(|| FuncError::wrong_type(what, v))
}

fn duration_arg(v: &Value) -> Result<Duration, FuncError> {
    match v {
        Value::Int(n) => Ok(Duration(*n)),
        v => v
            .as_object()
            .and_then(|o| o.downcast_ref::<Duration>())
            .copied()
            .ok_or_else(|| FuncError::wrong_type("time.Duration", v)),
    }
}

const TIME_METHODS: &[&str] = &[
    "Format",
    "Unix",
    "UnixMilli",
    "UnixMicro",
    "UnixNano",
    "UTC",
    "Local",
    "String",
    "Year",
    "YearDay",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "Nanosecond",
    "IsZero",
    "Sub",
    "Add",
    "Before",
    "After",
    "Equal",
];

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn has_method(&self, name: &str) -> bool {
        TIME_METHODS.contains(&name)
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let want = if matches!(name, "Format" | "Sub" | "Add" | "Before" | "After" | "Equal") { 1 } else { 0 };
        check_arity(name, args, want)?;
        let c = self.civil();
        let nanos = self.unix_nanos();
        Ok(match name {
            "Format" => self.format(string_arg(&args[0])?).into(),
            "Unix" => self.secs.into(),
            "UnixMilli" => ((nanos / 1_000_000) as i64).into(),
            "UnixMicro" => ((nanos / 1_000) as i64).into(),
            "UnixNano" => (nanos as i64).into(),
            "UTC" | "Local" => Value::object(*self),
            "String" => self.to_string().into(),
            "Year" => c.year.into(),
            "YearDay" => c.yday.into(),
            "Day" => c.day.into(),
            "Hour" => c.hour.into(),
            "Minute" => c.minute.into(),
            "Second" => c.second.into(),
            "Nanosecond" => i64::from(c.nanos).into(),
            "IsZero" => (self.secs == ZERO_TIME_UNIX && self.nanos == 0).into(),
            "Sub" => Value::object(self.sub(time_arg(&args[0], "time.Time")?)),
            "Add" => Value::object(self.add(duration_arg(&args[0])?)),
            "Before" => (self < time_arg(&args[0], "time.Time")?).into(),
            "After" => (self > time_arg(&args[0], "time.Time")?).into(),
            _ => (self == time_arg(&args[0], "time.Time")?).into(),
        })
    }

    fn display(&self) -> Option<String> {
        Some(self.to_string())
    }
}

const DURATION_METHODS: &[&str] =
    &["Seconds", "Minutes", "Hours", "Milliseconds", "Microseconds", "Nanoseconds", "String", "Abs"];

impl Object for Duration {
    fn type_name(&self) -> &str {
        "time.Duration"
    }

    fn has_method(&self, name: &str) -> bool {
        DURATION_METHODS.contains(&name)
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        check_arity(name, args, 0)?;
        Ok(match name {
            "Seconds" => self.seconds().into(),
            "Minutes" => (self.seconds() / 60.0).into(),
            "Hours" => (self.seconds() / 3600.0).into(),
            "Milliseconds" => (self.0 / 1_000_000).into(),
            "Microseconds" => (self.0 / 1_000).into(),
            "Nanoseconds" => self.0.into(),
            "Abs" => Value::object(Duration(self.0.checked_abs().unwrap_or(i64::MAX))),
            _ => self.to_string().into(),
        })
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::Int(self.0))
    }

    fn display(&self) -> Option<String> {
        Some(self.to_string())
    }
}

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    weekday: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: u32,
}

/// Year, month and day of a day count from 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Formats a UTC time with a Go layout. Zone elements print `UTC`, `Z` or `+0000`.
fn format_layout(c: &Civil, layout: &str) -> String {
    let mut out = String::new();
    let b = layout.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let (text, len) = match b[i] {
            b'J' if rest.starts_with("January") => (MONTHS[(c.month - 1) as usize].to_string(), 7),
            b'J' if rest.starts_with("Jan") && !starts_with_lower(&rest[3..]) => {
                (MONTHS[(c.month - 1) as usize][..3].to_string(), 3)
            }
            b'M' if rest.starts_with("Monday") => (DAYS[c.weekday as usize].to_string(), 6),
            b'M' if rest.starts_with("Mon") && !starts_with_lower(&rest[3..]) => {
                (DAYS[c.weekday as usize][..3].to_string(), 3)
            }
            b'M' if rest.starts_with("MST") => ("UTC".to_string(), 3),
            b'0' if matches!(b.get(i + 1), Some(b'1'..=b'6')) => {
                let v = match b[i + 1] {
                    b'1' => c.month,
                    b'2' => c.day,
                    b'3' => hour12(c.hour),
                    b'4' => c.minute,
                    b'5' => c.second,
                    _ => c.year.rem_euclid(100),
                };
                (format!("{v:02}"), 2)
            }
            b'0' if rest.starts_with("002") => (format!("{:03}", c.yday), 3),
            b'1' if rest.starts_with("15") => (format!("{:02}", c.hour), 2),
            b'1' => (c.month.to_string(), 1),
            b'2' if rest.starts_with("2006") => (format!("{:04}", c.year), 4),
            b'2' => (c.day.to_string(), 1),
            b'_' if rest.starts_with("_2006") => (format!("_{:04}", c.year), 5),
            b'_' if rest.starts_with("_2") => (format!("{:>2}", c.day), 2),
            b'_' if rest.starts_with("__2") => (format!("{:>3}", c.yday), 3),
            b'3' => (hour12(c.hour).to_string(), 1),
            b'4' => (c.minute.to_string(), 1),
            b'5' => (c.second.to_string(), 1),
            b'P' if rest.starts_with("PM") => ((if c.hour >= 12 { "PM" } else { "AM" }).to_string(), 2),
            b'p' if rest.starts_with("pm") => ((if c.hour >= 12 { "pm" } else { "am" }).to_string(), 2),
            b'-' | b'Z' => {
                match ["070000", "07:00:00", "0700", "07:00", "07"].iter().find(|z| rest[1..].starts_with(**z)) {
                    Some(z) if b[i] == b'Z' => ("Z".to_string(), z.len() + 1),
                    Some(z) => (format!("+{}", z.replace('7', "0")), z.len() + 1),
                    None => (rest[..1].to_string(), 1),
                }
            }
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    (rest[..1].to_string(), 1)
                } else {
                    let n = j - i - 1;
                    let digits = format!("{:09}", c.nanos);
                    let digits = &digits[..n.min(9)];
                    let digits = if ch == b'9' { digits.trim_end_matches('0') } else { digits };
                    let text = if digits.is_empty() { String::new() } else { format!("{}{digits}", b[i] as char) };
                    (text, j - i)
                }
            }
            _ => {
                let ch = rest.chars().next().unwrap_or(' ');
                (ch.to_string(), ch.len_utf8())
            }
        };
        out.push_str(&text);
        i += len;
    }
    out
}

fn hour12(hour: i64) -> i64 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go() {
        let t = Time::from_unix_millis(1_435_065_584_128);
        assert_eq!(t.to_string(), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(Time::from_unix(-1, 0).to_string(), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(Time::from_unix(9_223_372_036, 0).to_string(), "2262-04-11 23:47:16 +0000 UTC");
        assert_eq!(t.format("2006"), "2015");
        assert_eq!(t.format("Mon Jan _2 15:04:05.000 MST 2006"), "Tue Jun 23 13:19:44.128 UTC 2015");
        assert_eq!(
            t.format("Monday, 02-January-06 3:4:5 PM Z07:00 -07:00 002"),
            "Tuesday, 23-June-15 1:19:44 PM Z +00:00 174"
        );
        assert_eq!(t.format(time_rfc3339()), "2015-06-23T13:19:44Z");
        assert_eq!(Time::from_unix(ZERO_TIME_UNIX, 0).to_string(), "0001-01-01 00:00:00 +0000 UTC");
    }

    fn time_rfc3339() -> &'static str {
        "2006-01-02T15:04:05Z07:00"
    }

    #[test]
    fn durations_print_as_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (1_000_000_000, "1s"),
            (60_000_000_000, "1m0s"),
            (3_661_500_000_000, "1h1m1.5s"),
            (-90_000_000_000, "-1m30s"),
            (100 * 3_600_000_000_000, "100h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(Duration(d).to_string(), want);
        }
    }
}
