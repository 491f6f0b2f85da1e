//! UTC calendar fields of a Unix time in seconds, for `year()`, `month()`, `day_of_week()` and friends.

use vigil_model::time::{civil_from_days, days_in_month};

const SECONDS_PER_DAY: i64 = 86_400;

/// The calendar fields of one instant (proleptic Gregorian calendar, UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: i64,
    /// 1 to 31.
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    /// 0 (Sunday) to 6.
    pub weekday: i64,
}

impl Civil {
    /// The fields of the second `seconds` (seconds since 1970-01-01T00:00:00Z; negative is earlier).
    pub fn from_unix(seconds: i64) -> Civil {
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7),
        }
    }

    /// 1 to 366.
    pub fn day_of_year(&self) -> i64 {
        let before: i64 = (1..self.month).map(|m| days_in_month(self.year, m)).sum();
        before + self.day
    }

    pub fn days_in_month(&self) -> i64 {
        days_in_month(self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch() {
        let c = Civil::from_unix(0);
        assert_eq!(c, Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, weekday: 4 });
        assert_eq!(c.day_of_year(), 1);
        assert_eq!(c.days_in_month(), 31);
    }

    #[test]
    fn dates_from_functions_test() {
        // 2006-01-02 22:04:05, a Monday.
        let c = Civil::from_unix(1_136_239_445);
        assert_eq!(c, Civil { year: 2006, month: 1, day: 2, hour: 22, minute: 4, weekday: 1 });
        assert_eq!(c.day_of_year(), 2);
        assert_eq!(Civil::from_unix(1_230_767_999).year, 2008);
        assert_eq!(Civil::from_unix(1_230_768_000).year, 2009);
        let leap_day = Civil::from_unix(1_456_790_399);
        assert_eq!((leap_day.month, leap_day.day), (2, 29));
        let march = Civil::from_unix(1_456_790_400);
        assert_eq!((march.month, march.day), (3, 1));
        assert_eq!(Civil::from_unix(1_483_191_420).day_of_year(), 366);
        assert_eq!(Civil::from_unix(1_672_493_820).day_of_year(), 365);
        assert_eq!(Civil::from_unix(1_454_284_800).days_in_month(), 29);
        assert_eq!(Civil::from_unix(1_485_907_200).days_in_month(), 28);
    }

    #[test]
    fn before_the_epoch() {
        // 1969-12-31 23:59:59, a Wednesday.
        let c = Civil::from_unix(-1);
        assert_eq!(c, Civil { year: 1969, month: 12, day: 31, hour: 23, minute: 59, weekday: 3 });
        assert_eq!(c.day_of_year(), 365);
        // 1900-03-01 (1900 is not a leap year); 1600-02-29 (1600 is).
        assert_eq!(
            Civil::from_unix(-2_203_891_200),
            Civil { year: 1900, month: 3, day: 1, hour: 0, minute: 0, weekday: 4 }
        );
        let c = Civil::from_unix(-11_670_998_400);
        assert_eq!((c.year, c.month, c.day), (1600, 2, 29));
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut prev = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            let next_of_prev = if prev.2 < days_in_month(prev.0, prev.1) {
                (prev.0, prev.1, prev.2 + 1)
            } else if prev.1 < 12 {
                (prev.0, prev.1 + 1, 1)
            } else {
                (prev.0 + 1, 1, 1)
            };
            assert_eq!((y, m, d), next_of_prev, "day {days}");
            prev = (y, m, d);
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        for s in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            let c = Civil::from_unix(s);
            assert!((1..=12).contains(&c.month) && (1..=31).contains(&c.day));
            assert!((1..=366).contains(&c.day_of_year()));
        }
    }
}
