//! Prometheus' notations for time: durations (`1h30m`, `5m`, `250ms`) and RFC 3339 timestamps, in milliseconds.

const MS_PER: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration such as `1h30m`, `5m`, `90s` or `250ms` (units `y w d h m s ms`, each at most
/// once, largest first) into milliseconds. `0` alone is allowed.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let bytes = text.as_bytes();
    let mut total: i64 = 0;
    let mut pos = 0;
    let mut last_unit = None;
    while pos < bytes.len() {
        let digits = bytes[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number at byte {pos}"));
        }
        let number: i64 =
            text[pos..pos + digits].parse().map_err(|_| format!("invalid duration {text:?}: number too large"))?;
        pos += digits;
        let unit_len = bytes[pos..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if unit_len == 0 {
            return Err(format!("invalid duration {text:?}: expected a unit (y, w, d, h, m, s or ms) at byte {pos}"));
        }
        let unit = &text[pos..pos + unit_len];
        pos += unit_len;
        let Some(index) = MS_PER.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("invalid duration {text:?}: unknown unit {unit:?} (use y, w, d, h, m, s or ms)"));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!("invalid duration {text:?}: units must appear once, largest first"));
        }
        last_unit = Some(index);
        total = number
            .checked_mul(MS_PER[index].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("invalid duration {text:?}: too large"))?;
    }
    Ok(total)
}

/// Formats milliseconds the way Prometheus prints durations: `1h30m`, `5m`, `250ms`, `0s`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (i, (unit, size)) in MS_PER.into_iter().enumerate() {
        let size = size as u64;
        // Years and weeks only when exact, as Prometheus does: `90d` reads better than `12w6d`.
        if i < 2 && !rest.is_multiple_of(size) {
            continue;
        }
        if rest >= size {
            out.push_str(&(rest / size).to_string());
            out.push_str(unit);
            rest %= size;
        }
    }
    out
}

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00Z`, `2024-05-01T12:00:00.250+02:00`) into milliseconds
/// since the Unix epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let err = || format!("invalid RFC 3339 timestamp {text:?}");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return Err(err());
    }
    if b[16] != b':' {
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
    if second > 60 {
        return Err(err());
    }
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        let digits = b[pos + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        for (i, c) in b[pos + 1..pos + 1 + digits].iter().take(3).enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][i];
        }
        pos += 1 + digits;
    }
    let offset_minutes = match b.get(pos) {
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let minutes = num(pos + 1..pos + 3)? * 60 + num(pos + 4..pos + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1-12) of `year`, proleptic Gregorian.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of the day `days` after 1970-01-01 (the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Counts in 400-year cycles starting on March 1st, so the leap day ends its (shifted) year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2024-05-01T10:00:00.000Z`.
pub fn format_rfc3339(t_ms: i64) -> String {
    let (y, m, d) = civil_from_days(t_ms.div_euclid(86_400_000));
    let ms = t_ms.rem_euclid(86_400_000);
    let (h, min, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{frac:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1d2h"), Ok(93_600_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").unwrap_err().contains("expected a unit"));
        assert!(parse_duration("5 minutes").unwrap_err().contains("expected a unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("1m1h").unwrap_err().contains("largest first"));
        assert!(parse_duration("99999999999999999y").unwrap_err().contains("too large"));
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn durations_format_like_prometheus() {
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(15 * 86_400_000), "15d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2015-07-01T20:10:51.781Z"), Ok(1_435_781_451_781));
        assert_eq!(parse_rfc3339("2015-07-01T22:10:51.781+02:00"), Ok(1_435_781_451_781));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(-1_000));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        for t in [0, 1_435_781_451_781, -1_000, 1_709_164_800_000, 253_402_300_799_999] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Ok(t));
        }
        assert_eq!(format_rfc3339(1_435_781_451_781), "2015-07-01T20:10:51.781Z");
        for bad in ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01", "2024-01-01T00:00:00", "x"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
