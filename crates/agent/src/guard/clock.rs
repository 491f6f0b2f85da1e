//! Time for the guard: the wall clock in Unix seconds (passed into the pure jails), and a log line's own time,
//! which classic syslog writes in local time without a year.

use std::time::{SystemTime, UNIX_EPOCH};

use vigil_guard::LineTime;

/// Where the guard reads the time; tests may substitute their own.
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock, in Unix seconds.
pub fn system_clock() -> Clock {
    std::sync::Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
}

/// The local time zone's offset from UTC at `t`, in seconds (0 when unknown).
pub fn local_offset_s(t: i64) -> i32 {
    let t = t as libc::time_t;
    // SAFETY: localtime_r only writes into the tm we pass; a zeroed tm is a valid value of the struct.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff as i32
    }
}

/// When a line says it was written, in Unix seconds, as of `now`: a line without a year is taken to be from
/// this year, or from last year when that would put it more than a day in the future (a December line read in
/// January); one without a zone is local time.
pub fn line_time_s(t: &LineTime, now: i64) -> i64 {
    let offset = local_offset_s(now);
    let year = vigil_model::time::civil_from_days(now.div_euclid(86_400)).0 as i32;
    let s = t.unix_seconds(year, offset);
    if t.year.is_none() && s > now + 86_400 {
        return t.unix_seconds(year - 1, offset);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_a_year_are_from_the_last_twelve_months() {
        // 2024-01-02T00:00:00Z.
        let now = 1_704_153_600;
        let utc = LineTime { month: 12, day: 31, hour: 23, utc_offset_s: Some(0), ..Default::default() };
        assert_eq!(line_time_s(&utc, now), now - 3600 - 86_400);
        let with_year = LineTime { year: Some(2024), month: 1, day: 1, utc_offset_s: Some(0), ..Default::default() };
        assert_eq!(line_time_s(&with_year, now), now - 86_400);
    }
}
