//! Time zones for time intervals' `location:`: the system's tz database (TZif files under
//! `/usr/share/zoneinfo`) read the way Go's `time.LoadLocation` reads it, including the POSIX TZ rule at the
//! end of the file that covers times after the last listed transition.

use std::sync::Arc;

use vigil_model::time::{civil_from_days, days_from_civil, days_in_month, is_leap};

/// Where Go looks for zone files, after `$ZONEINFO`.
const ZONE_DIRS: [&str; 4] =
    ["/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"];
/// Zone files are a few kilobytes; anything larger is not one.
const MAX_TZIF_BYTES: u64 = 1 << 20;
const ALPHA: i64 = i64::MIN;
const OMEGA: i64 = i64::MAX;

/// A named time zone. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Location {
    name: String,
    zone: Option<Arc<Zone>>,
}

#[derive(Debug)]
struct Zone {
    types: Vec<ZoneType>,
    /// Transition times (Unix seconds) and the type in force from each on; never empty.
    transitions: Vec<(i64, usize)>,
    /// The POSIX TZ rule for times after the last transition, if the file has one.
    extend: Option<String>,
}

#[derive(Clone, Copy, Debug)]
struct ZoneType {
    offset: i32,
    is_dst: bool,
}

/// The offset in force at an instant and the span of time it holds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSpan {
    /// Seconds east of UTC.
    pub offset: i32,
    pub start: i64,
    pub end: i64,
}

impl Location {
    pub fn utc() -> Location {
        Location { name: "UTC".into(), zone: None }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Go's `time.LoadLocation`: `""` and `UTC` are UTC, `Local` is the system's zone, anything else is read
    /// from `$ZONEINFO` or the system tz database.
    pub fn load(name: &str) -> Result<Location, String> {
        if name.is_empty() || name == "UTC" {
            return Ok(Location::utc());
        }
        if name == "Local" {
            return Ok(local());
        }
        if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
            return Err("time: invalid location name".into());
        }
        let mut dirs: Vec<String> = Vec::new();
        if let Ok(dir) = std::env::var("ZONEINFO") {
            if !dir.is_empty() {
                dirs.push(format!("{}/", dir.trim_end_matches('/')));
            }
        }
        dirs.extend(ZONE_DIRS.iter().map(|d| (*d).to_owned()));
        for dir in dirs {
            if let Some(data) = read_capped(&format!("{dir}{name}")) {
                return Location::from_tzif(name, &data);
            }
        }
        Err(format!("unknown time zone {name}"))
    }

    /// Parses the contents of a TZif file (versions 1 to 4).
    pub fn from_tzif(name: &str, data: &[u8]) -> Result<Location, String> {
        let zone = parse_tzif(data).ok_or_else(|| format!("malformed time zone information for {name}"))?;
        Ok(Location { name: name.to_owned(), zone: Some(Arc::new(zone)) })
    }

    /// The offset at `unix` seconds and the span it holds for, as Go's `Location.lookup`.
    pub fn lookup(&self, unix: i64) -> ZoneSpan {
        let Some(z) = &self.zone else {
            return ZoneSpan { offset: 0, start: ALPHA, end: OMEGA };
        };
        let tx = &z.transitions;
        if unix < tx[0].0 {
            let t = z.types[z.first_zone()];
            return ZoneSpan { offset: t.offset, start: ALPHA, end: tx[0].0 };
        }
        // The last transition at or before `unix`.
        let lo = tx.partition_point(|&(when, _)| when <= unix) - 1;
        let end = tx.get(lo + 1).map_or(OMEGA, |t| t.0);
        let span = ZoneSpan { offset: z.types[tx[lo].1].offset, start: tx[lo].0, end };
        if lo == tx.len() - 1 {
            if let Some(e) = z.extend.as_deref().and_then(|rule| tzset(rule, span.start, unix)) {
                return e;
            }
        }
        span
    }

    pub fn offset_at(&self, unix: i64) -> i32 {
        self.lookup(unix).offset
    }

    /// The instant of a wall-clock time (seconds since the epoch as if the wall clock were UTC), resolved
    /// the way Go's `time.Date` does in gaps and overlaps.
    pub fn local_to_unix(&self, local: i64) -> i64 {
        let span = self.lookup(local);
        let mut offset = span.offset;
        if offset != 0 {
            let utc = local - i64::from(offset);
            if utc < span.start || utc >= span.end {
                offset = self.lookup(utc).offset;
            }
        }
        local - i64::from(offset)
    }
}

impl Zone {
    /// Go's `lookupFirstZone`: the zone used before the first transition.
    fn first_zone(&self) -> usize {
        let first_used = self.transitions.iter().any(|t| t.1 == 0);
        if !first_used {
            return 0;
        }
        let first_tx_type = self.transitions[0].1;
        if self.types[first_tx_type].is_dst {
            if let Some(i) = (0..first_tx_type).rev().find(|&i| !self.types[i].is_dst) {
                return i;
            }
        }
        self.types.iter().position(|t| !t.is_dst).unwrap_or(0)
    }
}

fn read_capped(path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut data = Vec::new();
    file.take(MAX_TZIF_BYTES).read_to_end(&mut data).ok()?;
    Some(data)
}

/// Go's `Local`: `$TZ` if set (empty meaning UTC), else `/etc/localtime`, else UTC.
fn local() -> Location {
    let named = |name: &str, loc: Location| Location { name: name.to_owned(), ..loc };
    match std::env::var("TZ") {
        Ok(tz) if tz.is_empty() => named("Local", Location::utc()),
        Ok(tz) => {
            let tz = tz.strip_prefix(':').unwrap_or(&tz);
            let loaded = if tz.starts_with('/') {
                read_capped(tz).and_then(|d| Location::from_tzif("Local", &d).ok())
            } else {
                Location::load(tz).ok()
            };
            named("Local", loaded.unwrap_or_else(Location::utc))
        }
        Err(_) => {
            let loaded = read_capped("/etc/localtime").and_then(|d| Location::from_tzif("Local", &d).ok());
            named("Local", loaded.unwrap_or_else(Location::utc))
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn be32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn be64(&mut self) -> Option<i64> {
        self.take(8).map(|b| i64::from_be_bytes(b.try_into().expect("eight bytes")))
    }

    fn count(&mut self) -> Option<usize> {
        self.be32().and_then(|n| usize::try_from(n).ok())
    }
}

struct Counts {
    is_ut: usize,
    is_std: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

fn header(r: &mut Reader<'_>) -> Option<(u8, Counts)> {
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = r.take(1)?[0];
    r.take(15)?;
    let c = Counts {
        is_ut: r.count()?,
        is_std: r.count()?,
        leap: r.count()?,
        time: r.count()?,
        types: r.count()?,
        chars: r.count()?,
    };
    Some((version, c))
}

fn parse_tzif(data: &[u8]) -> Option<Zone> {
    let mut r = Reader(data);
    let (version, mut c) = header(&mut r)?;
    let mut wide = false;
    if version >= b'2' {
        // Skip the 32-bit body; the 64-bit one follows with its own header.
        let v1 = c.time * 5 + c.types * 6 + c.chars + c.leap * 8 + c.is_std + c.is_ut;
        r.take(v1)?;
        c = header(&mut r)?.1;
        wide = true;
    }
    let mut times = Vec::with_capacity(c.time);
    for _ in 0..c.time {
        times.push(if wide { r.be64()? } else { i64::from(r.be32()? as i32) });
    }
    let indices = r.take(c.time)?;
    let mut types = Vec::with_capacity(c.types);
    for _ in 0..c.types {
        let b = r.take(6)?;
        types.push(ZoneType { offset: i32::from_be_bytes([b[0], b[1], b[2], b[3]]), is_dst: b[4] != 0 });
    }
    if types.is_empty() {
        return None;
    }
    r.take(c.chars + c.leap * if wide { 12 } else { 8 } + c.is_std + c.is_ut)?;
    let mut transitions = Vec::with_capacity(c.time);
    for (when, &idx) in times.into_iter().zip(indices) {
        let idx = usize::from(idx);
        if idx >= types.len() {
            return None;
        }
        transitions.push((when, idx));
    }
    if transitions.is_empty() {
        // Fixed zones such as Etc/GMT+3 have no transitions; one at the dawn of time covers everything.
        transitions.push((ALPHA, 0));
    }
    let extend = if wide {
        let rest = std::str::from_utf8(r.0).ok()?;
        rest.strip_prefix('\n').and_then(|s| s.split('\n').next()).filter(|s| !s.is_empty()).map(str::to_owned)
    } else {
        None
    };
    Some(Zone { types, transitions, extend })
}

#[derive(Clone, Copy, Debug)]
enum RuleKind {
    /// `Jn`: day 1 to 365, February 29th never counted.
    Julian,
    /// `n`: day 0 to 365, February 29th counted.
    DayOfYear,
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay,
}

#[derive(Clone, Copy, Debug)]
struct Rule {
    kind: RuleKind,
    day: i64,
    week: i64,
    mon: i64,
    /// Seconds after local midnight.
    time: i64,
}

/// Go's `tzset`: the zone span at `sec` from a POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3`.
fn tzset(s: &str, last_tx: i64, sec: i64) -> Option<ZoneSpan> {
    let (_, s) = tz_name(s)?;
    let (std_off, s) = tz_offset(s)?;
    // POSIX offsets are west of UTC; ours are east.
    let std_off = -std_off;
    if s.is_empty() || s.starts_with(',') {
        return Some(ZoneSpan { offset: std_off as i32, start: last_tx, end: OMEGA });
    }
    let (_, s) = tz_name(s)?;
    let (dst_off, s) = if s.is_empty() || s.starts_with(',') {
        (std_off + 3600, s)
    } else {
        let (o, s) = tz_offset(s)?;
        (-o, s)
    };
    let s = if s.is_empty() { ",M3.2.0,M11.1.0" } else { s };
    let s = s.strip_prefix(',').or_else(|| s.strip_prefix(';'))?;
    let (start_rule, s) = tz_rule(s)?;
    let s = s.strip_prefix(',')?;
    let (end_rule, s) = tz_rule(s)?;
    if !s.is_empty() {
        return None;
    }
    let days = sec.div_euclid(86_400);
    let (year, _, _) = civil_from_days(days);
    let year_start = days_from_civil(year, 1, 1) * 86_400;
    let ysec = sec - year_start;
    let (mut start, mut end) = (rule_time(year, start_rule, std_off), rule_time(year, end_rule, dst_off));
    let (mut std, mut dst) = (std_off, dst_off);
    // Southern hemisphere: "DST" ends before it starts in the calendar year.
    if end < start {
        std::mem::swap(&mut start, &mut end);
        std::mem::swap(&mut std, &mut dst);
    }
    let span = if ysec < start {
        ZoneSpan { offset: std as i32, start: year_start, end: year_start + start }
    } else if ysec >= end {
        ZoneSpan { offset: std as i32, start: year_start + end, end: year_start + 365 * 86_400 }
    } else {
        ZoneSpan { offset: dst as i32, start: year_start + start, end: year_start + end }
    };
    Some(span)
}

fn tz_name(s: &str) -> Option<(&str, &str)> {
    if let Some(quoted) = s.strip_prefix('<') {
        let end = quoted.find('>')?;
        return Some((&quoted[..end], &quoted[end + 1..]));
    }
    match s.find(|c: char| c.is_ascii_digit() || matches!(c, ',' | '-' | '+')) {
        Some(i) if i < 3 => None,
        Some(i) => Some((&s[..i], &s[i..])),
        None if s.len() < 3 => None,
        None => Some((s, "")),
    }
}

fn tz_num(s: &str, min: i64, max: i64) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let n: i64 = s[..digits].parse().ok()?;
    (min..=max).contains(&n).then_some((n, &s[digits..]))
}

/// `[+-]hh[:mm[:ss]]` in seconds, signed as written.
fn tz_offset(s: &str) -> Option<(i64, &str)> {
    let (neg, s) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (h, mut s) = tz_num(s, 0, 24 * 7)?;
    let mut off = h * 3600;
    for unit in [60, 1] {
        match s.strip_prefix(':') {
            Some(rest) => {
                let (n, rest) = tz_num(rest, 0, 59)?;
                off += n * unit;
                s = rest;
            }
            None => break,
        }
    }
    Some((if neg { -off } else { off }, s))
}

fn tz_rule(s: &str) -> Option<(Rule, &str)> {
    let mut rule = Rule { kind: RuleKind::DayOfYear, day: 0, week: 0, mon: 0, time: 2 * 3600 };
    let s = if let Some(rest) = s.strip_prefix('J') {
        let (d, rest) = tz_num(rest, 1, 365)?;
        rule.kind = RuleKind::Julian;
        rule.day = d;
        rest
    } else if let Some(rest) = s.strip_prefix('M') {
        let (m, rest) = tz_num(rest, 1, 12)?;
        let (w, rest) = tz_num(rest.strip_prefix('.')?, 1, 5)?;
        let (d, rest) = tz_num(rest.strip_prefix('.')?, 0, 6)?;
        rule.kind = RuleKind::MonthWeekDay;
        (rule.mon, rule.week, rule.day) = (m, w, d);
        rest
    } else {
        let (d, rest) = tz_num(s, 0, 365)?;
        rule.day = d;
        rest
    };
    match s.strip_prefix('/') {
        Some(rest) => {
            let (t, rest) = tz_offset(rest)?;
            rule.time = t;
            Some((rule, rest))
        }
        None => Some((rule, s)),
    }
}

/// Go's `tzruleTime`: seconds after the start of `year` (UTC) at which the rule's transition happens.
fn rule_time(year: i64, r: Rule, off: i64) -> i64 {
    let day = match r.kind {
        RuleKind::Julian => r.day - 1 + i64::from(is_leap(year) && r.day >= 60),
        RuleKind::DayOfYear => r.day,
        RuleKind::MonthWeekDay => {
            // Weekday of the month's first day, then the first matching day, then the w-th (or last) one.
            let first = days_from_civil(year, r.mon, 1);
            let dow = (first + 4).rem_euclid(7);
            let mut d = (r.day - dow).rem_euclid(7);
            for _ in 1..r.week {
                if d + 7 >= days_in_month(year, r.mon) {
                    break;
                }
                d += 7;
            }
            first - days_from_civil(year, 1, 1) + d
        }
    };
    day * 86_400 + r.time - off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules_give_european_and_us_summer_time() {
        let eu = "CET-1CEST,M3.5.0,M10.5.0/3";
        // 2030-03-31 01:00:00 UTC is the switch to CEST.
        let t = days_from_civil(2030, 3, 31) * 86_400 + 3600;
        assert_eq!(tzset(eu, 0, t - 1).unwrap().offset, 3600);
        assert_eq!(tzset(eu, 0, t).unwrap().offset, 7200);
        // 2030-10-27 01:00:00 UTC is the switch back.
        let t = days_from_civil(2030, 10, 27) * 86_400 + 3600;
        assert_eq!(tzset(eu, 0, t - 1).unwrap().offset, 7200);
        assert_eq!(tzset(eu, 0, t).unwrap().offset, 3600);
        let us = "EST5EDT,M3.2.0,M11.1.0";
        // 2030-03-10 07:00 UTC (02:00 EST).
        let t = days_from_civil(2030, 3, 10) * 86_400 + 7 * 3600;
        assert_eq!(tzset(us, 0, t).unwrap().offset, -4 * 3600);
        assert_eq!(tzset(us, 0, t - 1).unwrap().offset, -5 * 3600);
        // Southern hemisphere and quoted names.
        let nz = "NZST-12NZDT,M9.5.0,M4.1.0/3";
        assert_eq!(tzset(nz, 0, days_from_civil(2030, 1, 15) * 86_400).unwrap().offset, 13 * 3600);
        assert_eq!(tzset(nz, 0, days_from_civil(2030, 7, 15) * 86_400).unwrap().offset, 12 * 3600);
        assert_eq!(tzset("<+0530>-5:30", 0, 0).unwrap().offset, 5 * 3600 + 1800);
        assert!(tzset("X1", 0, 0).is_none());
    }

    #[test]
    fn parses_a_minimal_tzif_v2_file() {
        // One transition at 0 to a +01:00 type, footer rule "<+01>-1".
        let mut v1 = b"TZif2".to_vec();
        v1.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 0, 1, 1] {
            v1.extend_from_slice(&n.to_be_bytes());
        }
        v1.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        v1.push(0);
        let mut data = v1.clone();
        data.extend_from_slice(b"TZif2");
        data.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 1, 2, 1] {
            data.extend_from_slice(&n.to_be_bytes());
        }
        data.extend_from_slice(&100i64.to_be_bytes());
        data.push(1);
        data.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        data.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 0]);
        data.push(0);
        data.extend_from_slice(b"\n<+01>-1\n");
        let loc = Location::from_tzif("Test/Zone", &data).unwrap();
        assert_eq!(loc.offset_at(99), 0);
        assert_eq!(loc.offset_at(100), 3600);
        assert_eq!(loc.offset_at(1 << 40), 3600);
        assert!(Location::from_tzif("bad", b"TZif2").is_err());
        assert!(Location::from_tzif("bad", b"nope").is_err());
    }

    #[test]
    fn load_refuses_bad_names() {
        assert_eq!(Location::load("../etc/passwd").unwrap_err(), "time: invalid location name");
        assert_eq!(Location::load("/etc/passwd").unwrap_err(), "time: invalid location name");
        assert_eq!(Location::load("No/Such_Zone").unwrap_err(), "unknown time zone No/Such_Zone");
        assert_eq!(Location::load("").unwrap().name(), "UTC");
        assert_eq!(Location::load("UTC").unwrap().offset_at(12345), 0);
    }
}
