//! Points in time with nanosecond precision, printed as Go prints `time.Time` in JSON, and the clock the
//! dispatcher is driven by (a real one, and one tests move by hand).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_model::time::{civil_from_days, days_from_civil, days_in_month};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Nanoseconds since the Unix epoch, UTC. Covers the years 1678 to 2261, which is every time an alert carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    pub const fn from_nanos(ns: i64) -> Timestamp {
        Timestamp(ns)
    }

    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    pub const fn from_secs(s: i64) -> Timestamp {
        Timestamp(s.saturating_mul(NANOS_PER_SEC))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Whole seconds since the epoch, rounded down.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }

    /// How long after `earlier` this is; zero when it is not after it.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// Parses RFC 3339 with up to nine fractional digits. Go's zero time (`0001-01-01T00:00:00Z`) and any
    /// other time before 1678 parse as `None`, the "unset" of Alertmanager's API.
    pub fn parse_rfc3339(text: &str) -> Result<Option<Timestamp>, String> {
        parse_rfc3339(text)
    }

    /// As Go's `time.Time.MarshalJSON` prints a UTC time: RFC 3339 with the fraction's trailing zeros removed.
    pub fn to_go_string(self) -> String {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_nanos(d)))
    }
}

impl std::ops::AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(duration_nanos(d)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_go_string())
    }
}

/// What Go prints for the zero `time.Time`, Alertmanager's "no end time".
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's JSON text for an optional time: the zero time when unset.
pub fn go_time_string(t: Option<Timestamp>) -> String {
    t.map_or_else(|| GO_ZERO_TIME.to_owned(), Timestamp::to_go_string)
}

pub(crate) fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn parse_rfc3339(text: &str) -> Result<Option<Timestamp>, String> {
    let err = || format!("invalid RFC 3339 timestamp {text:?}");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let s = text.get(range).ok_or_else(err)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        s.parse::<i64>().map_err(|_| err())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 {
        return Err(err());
    }
    if second > 59 {
        return Err(err());
    }
    let mut pos = 19;
    let mut nanos = 0i64;
    if b.get(pos) == Some(&b'.') {
        let digits = b[pos + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(err());
        }
        for (i, c) in b[pos + 1..pos + 1 + digits].iter().enumerate() {
            nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
        }
        pos += 1 + digits;
    }
    let offset_secs = match b.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let (h, m) = (num(pos + 1..pos + 3)?, num(pos + 4..pos + 6)?);
            if h > 23 || m > 59 {
                return Err(err());
            }
            let s = h * 3600 + m * 60;
            if sign == b'+' {
                s
            } else {
                -s
            }
        }
        _ => return Err(err()),
    };
    // Go's zero time and anything before 1678 is "unset" for Alertmanager; nothing real lives there.
    if year < 1678 {
        return Ok(None);
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)
        .and_then(|ns| ns.checked_add(nanos))
        .map(|ns| Some(Timestamp(ns)))
        .ok_or_else(|| format!("timestamp {text:?} is out of range"))
}

/// Where the dispatcher's runtime reads the time. The dispatcher itself takes `now` as an argument, so tests
/// drive it with a [`ManualClock`] and never sleep.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.as_nanos()))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_nanos(), Ordering::SeqCst);
    }

    pub fn advance(&self, d: Duration) -> Timestamp {
        let t = self.now() + d;
        self.set(t);
        t
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go_rfc3339nano() {
        assert_eq!(Timestamp::from_secs(0).to_go_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_millis(1_435_781_451_781).to_go_string(), "2015-07-01T20:10:51.781Z");
        assert_eq!(Timestamp::from_nanos(1_000_000_001).to_go_string(), "1970-01-01T00:00:01.000000001Z");
        assert_eq!(Timestamp::from_nanos(1_500_000_000).to_go_string(), "1970-01-01T00:00:01.5Z");
        assert_eq!(Timestamp::from_nanos(-1).to_go_string(), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(go_time_string(None), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn parses_rfc3339_with_nanoseconds_and_offsets() {
        let t = |s: &str| Timestamp::parse_rfc3339(s).unwrap().unwrap();
        assert_eq!(t("2015-07-01T20:10:51.781Z"), Timestamp::from_millis(1_435_781_451_781));
        assert_eq!(t("2015-07-01T22:10:51.781+02:00"), Timestamp::from_millis(1_435_781_451_781));
        assert_eq!(t("1970-01-01T00:00:01.000000001Z").as_nanos(), 1_000_000_001);
        assert_eq!(Timestamp::parse_rfc3339("0001-01-01T00:00:00Z"), Ok(None));
        for bad in ["2015-07-01", "2015-07-01T20:10:51", "2015-07-01T20:10:51.Z", "2015-07-01T20:10:51.1234567890Z"] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
        for ns in [0, 1, 1_435_781_451_781_000_123, -5_000_000_000] {
            let ts = Timestamp::from_nanos(ns);
            assert_eq!(t(&ts.to_go_string()), ts);
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_secs(10));
        assert_eq!(c.now(), Timestamp::from_secs(10));
        assert_eq!(c.advance(Duration::from_millis(1500)), Timestamp::from_millis(11_500));
        assert_eq!(c.now(), Timestamp::from_millis(11_500));
    }
}
