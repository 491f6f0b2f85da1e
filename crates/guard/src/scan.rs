//! A jail's matchers over the lines of a log file, as `fail2ban-regex` runs a filter: the engine of
//! `vigil guard match`, which prints what this finds.

use std::collections::BTreeMap;
use std::io::BufRead;

use crate::event::Event;
use crate::jail::{Jail, JailConfig, JailError, Matcher, Offender};
use crate::parse::{access, parse_line};

/// Lines longer than this are cut before parsing (sshd itself cuts its lines at 1 KiB).
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// What a scan saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanSummary {
    pub lines: u64,
    /// Lines that gave an event.
    pub events: u64,
    /// Lines the jail counts as failures.
    pub matched: u64,
    /// Failures per offender, as displayed.
    pub offenders: BTreeMap<String, u64>,
}

/// The default jail named `name` (`sshd`, `sshd-aggressive`, `sudo`...).
pub fn default_jail(name: &str) -> Option<JailConfig> {
    JailConfig::defaults().into_iter().find(|j| j.name == name)
}

/// Runs `config`'s matchers over every line of `input`, calling `on_match` with the 1-based line number, the
/// event and the offender of each line the jail counts. Lines without a year in their timestamp are read as
/// of `year`; lines without a timestamp take the previous line's time. Jails of access-log requests read
/// the lines as access logs, the others as syslog.
pub fn scan(
    config: JailConfig,
    input: &mut dyn BufRead,
    year: i32,
    on_match: &mut dyn FnMut(u64, &Event<'_>, &Offender),
) -> Result<ScanSummary, ScanError> {
    let parse: fn(&str) -> Option<Event<'_>> =
        if matches!(config.matcher, Matcher::HttpScan { .. }) { access::parse_line } else { parse_line };
    let mut jail = Jail::new(config)?;
    let mut summary = ScanSummary::default();
    let mut buf = Vec::new();
    let mut now = 0i64;
    loop {
        buf.clear();
        let n = std::io::Read::take(&mut *input, MAX_LINE_BYTES as u64).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && n == MAX_LINE_BYTES {
            skip_line(input)?;
        }
        summary.lines += 1;
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        let Some(ev) = parse(line) else { continue };
        summary.events += 1;
        if let Some(t) = &ev.timestamp {
            now = t.unix_seconds(year, 0);
        }
        if let Some(offender) = jail.offender(&ev, now) {
            summary.matched += 1;
            *summary.offenders.entry(offender.to_string()).or_default() += 1;
            on_match(summary.lines, &ev, &offender);
        }
    }
    Ok(summary)
}

/// Skips the rest of an over-long line, in bounded pieces.
fn skip_line(input: &mut dyn BufRead) -> std::io::Result<()> {
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = std::io::Read::take(&mut *input, MAX_LINE_BYTES as u64).read_until(b'\n', &mut rest)?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    Jail(#[from] JailError),
    #[error("reading the log: {0}")]
    Read(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_lines_the_jail_counts() {
        let log = "Mar  5 10:01:02 h sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2\n\
                   Mar  5 10:01:03 h sshd[2]: Accepted publickey for ann from 192.0.2.8 port 22 ssh2\n\
                   not a log line at all\n\
                   Mar  5 10:01:04 h sshd[3]: Invalid user x y from 2001:db8::1 port 5 [preauth]\n";
        let mut seen = Vec::new();
        let summary = scan(default_jail("sshd").unwrap(), &mut log.as_bytes(), 2024, &mut |n, ev, who| {
            seen.push((n, ev.action.as_str(), who.to_string()))
        })
        .unwrap();
        assert_eq!((summary.lines, summary.events, summary.matched), (4, 3, 2), "{seen:?}");
        assert_eq!(seen[0].0, 1);
        assert_eq!(seen[0].2, "192.0.2.7");
        assert_eq!(seen[1].0, 4);
        assert_eq!(seen[1].2, "2001:db8::1");
        assert!(default_jail("nope").is_none());
    }

    #[test]
    fn access_logs_for_the_nginx_scan_jail() {
        let log = "192.0.2.7 - - [05/Mar/2024:10:01:02 +0000] \"GET /.env HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n\
                   192.0.2.8 - - [05/Mar/2024:10:01:03 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"\n\
                   Mar  5 10:01:02 h sshd[1]: Failed password for root from 192.0.2.9 port 22 ssh2\n";
        let mut seen = Vec::new();
        let summary = scan(default_jail("nginx-scan").unwrap(), &mut log.as_bytes(), 2024, &mut |n, _, who| {
            seen.push((n, who.to_string()))
        })
        .unwrap();
        assert_eq!((summary.lines, summary.events, summary.matched), (3, 2, 1));
        assert_eq!(seen, [(1, "192.0.2.7".to_string())]);
    }

    #[test]
    fn over_long_and_invalid_lines_do_not_stop_a_scan() {
        let mut log = vec![b'x'; MAX_LINE_BYTES + 10];
        log.push(b'\n');
        log.extend_from_slice(b"\xff\xfe\n");
        log.extend_from_slice(b"Mar  5 10:01:02 h sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2");
        let summary = scan(default_jail("sshd").unwrap(), &mut log.as_slice(), 2024, &mut |_, _, _| {}).unwrap();
        assert_eq!((summary.lines, summary.matched), (3, 1));
    }
}
