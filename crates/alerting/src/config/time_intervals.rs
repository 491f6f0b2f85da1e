//! `time_intervals:` and the deprecated `mute_time_intervals:`: named lists of intervals, each part checked
//! where it is written and turned into a [`TimeInterval`].

use serde::Deserialize;

use super::{err_at, Located, Problem};
use crate::timeinterval::{
    parse_day_of_month_range, parse_month_range, parse_time_range, parse_weekday_range, parse_year_range,
    InclusiveRange, TimeInterval,
};
use crate::tz::Location;

/// A named set of intervals: `name:` plus `time_intervals:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeIntervals {
    pub name: Option<Located<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub time_intervals: Vec<Located<TimeIntervalConfig>>,
    /// Filled in by validation.
    #[serde(skip)]
    pub parsed: Vec<TimeInterval>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub end_time: String,
}

/// One interval as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    pub times: Option<Vec<Located<TimeRangeConfig>>>,
    pub weekdays: Option<Vec<Located<String>>>,
    pub days_of_month: Option<Vec<Located<String>>>,
    pub months: Option<Vec<Located<String>>>,
    pub years: Option<Vec<Located<String>>>,
    /// A tz database name such as `Europe/Berlin`, `Local` or `UTC`.
    pub location: Option<Located<String>>,
}

fn ranges(
    list: &Option<Vec<Located<String>>>,
    parse: fn(&str) -> Result<InclusiveRange, String>,
) -> Result<Option<Vec<InclusiveRange>>, Problem> {
    list.as_ref()
        .map(|items| items.iter().map(|s| parse(&s.value).map_err(|e| err_at(&s.referenced, e))).collect())
        .transpose()
}

impl TimeIntervalConfig {
    pub(crate) fn parse(&self) -> Result<TimeInterval, Problem> {
        let times = self
            .times
            .as_ref()
            .map(|ts| {
                ts.iter()
                    .map(|t| {
                        parse_time_range(&t.value.start_time, &t.value.end_time).map_err(|e| err_at(&t.referenced, e))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let location = self
            .location
            .as_ref()
            .map(|l| Location::load(&l.value).map_err(|e| err_at(&l.referenced, e)))
            .transpose()?;
        Ok(TimeInterval {
            times,
            weekdays: ranges(&self.weekdays, parse_weekday_range)?,
            days_of_month: ranges(&self.days_of_month, parse_day_of_month_range)?,
            months: ranges(&self.months, parse_month_range)?,
            years: ranges(&self.years, parse_year_range)?,
            location,
        })
    }
}

impl NamedTimeIntervals {
    pub fn name(&self) -> &str {
        self.name.as_ref().map_or("", |n| n.value.as_str())
    }

    pub(crate) fn prepare(&mut self, at: &serde_saphyr::Location, deprecated: bool) -> Result<(), Problem> {
        if self.name().is_empty() {
            let what = if deprecated { "missing name in mute time interval" } else { "missing name in time interval" };
            return Err(err_at(at, what));
        }
        self.parsed = self.time_intervals.iter().map(|t| t.value.parse()).collect::<Result<_, _>>()?;
        Ok(())
    }
}
