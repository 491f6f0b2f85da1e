//! Durations (Go's and Prometheus' notation) and byte sizes (go-humanize's) as LogQL reads them.

/// Parses `1h30m`, `250ms`, `1.5s`, `-2m`, `7d`, `0` into seconds. Units: ns, us, µs, ms, s, m, h, d, w, y.
pub fn parse_duration_secs(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(if neg { -total } else { total })
}

/// A duration in whole nanoseconds, for ranges and offsets; `None` if invalid or beyond ±292 years.
pub fn parse_duration_ns(s: &str) -> Option<i64> {
    let secs = parse_duration_secs(s)?;
    let ns = (secs * 1e9).round();
    if !ns.is_finite() || ns.abs() >= i64::MAX as f64 {
        return None;
    }
    Some(ns as i64)
}

/// Parses `42`, `1KB` (1000), `1KiB` (1024), `1.5 MB`, `3GiB` into bytes, case-insensitively, as go-humanize
/// does.
pub fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let num_len = s.bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'.' | b',')).count();
    if num_len == 0 {
        return None;
    }
    let number: String = s[..num_len].chars().filter(|c| *c != ',').collect();
    let value: f64 = number.parse().ok()?;
    let unit = s[num_len..].trim().to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024f64.powi(2),
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024f64.powi(3),
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        "e" | "eb" => 1e18,
        "ei" | "eib" => 1024f64.powi(6),
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("250ms"), Some(0.25));
        assert_eq!(parse_duration_secs("1h30m"), Some(5400.0));
        assert_eq!(parse_duration_secs("-1.5s"), Some(-1.5));
        assert_eq!(parse_duration_secs("2d"), Some(172800.0));
        assert_eq!(parse_duration_secs("0"), Some(0.0));
        assert_eq!(parse_duration_secs("5"), None);
        assert_eq!(parse_duration_secs("5x"), None);
        assert_eq!(parse_duration_ns("5m"), Some(300_000_000_000));
        assert_eq!(parse_duration_ns("100000000y"), None);
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("1KB"), Some(1000.0));
        assert_eq!(parse_bytes("1KiB"), Some(1024.0));
        assert_eq!(parse_bytes("1.5 mb"), Some(1.5e6));
        assert_eq!(parse_bytes("42"), Some(42.0));
        assert_eq!(parse_bytes("1,024 B"), Some(1024.0));
        assert_eq!(parse_bytes("KB"), None);
        assert_eq!(parse_bytes("1XB"), None);
    }
}
