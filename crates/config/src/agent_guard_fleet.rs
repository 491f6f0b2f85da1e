//! `agent.guard.fleet:` (pull the server's fleet-wide ban list, report this host's bans to it) and
//! `agent.guard.intel:` (threat-intel feeds fetched on a schedule and matched against every security event).

use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Location;
use vigil_guard::intel::FeedFormat;

use crate::agent_logs::check_url;
use crate::{ConfigError, Located};

pub const DEFAULT_FLEET_POLL_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_INTEL_REFRESH: Duration = Duration::from_secs(3600);
pub const DEFAULT_INTEL_BANTIME: Duration = Duration::from_secs(3600);
const MIN_FLEET_POLL_INTERVAL: Duration = Duration::from_secs(1);
const MIN_INTEL_REFRESH: Duration = Duration::from_secs(60);
/// Feed names become file names and label values.
const MAX_FEED_NAME: usize = 64;

/// `fleet:`: the vigil server holding the fleet's ban list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// The server's base URL (`http://monitor:9090`); the agent uses `{url}/api/v1/bans`.
    pub url: Located<String>,
    /// How often the list is polled (default `15s`, at least `1s`).
    pub poll_interval: Option<Located<String>>,
    /// Whether this host's jail bans are reported to the server (default true).
    pub report: Option<bool>,
}

impl FleetSection {
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval.as_ref().and_then(|v| duration(&v.value).ok()).unwrap_or(DEFAULT_FLEET_POLL_INTERVAL)
    }

    pub fn report(&self) -> bool {
        self.report.unwrap_or(true)
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        check_url(&self.url.value).map_err(|e| at(&self.url.referenced, format!("fleet.url: {e}")))?;
        if let Some(p) = &self.poll_interval {
            at_least(&p.value, MIN_FLEET_POLL_INTERVAL)
                .map_err(|e| at(&p.referenced, format!("fleet.poll_interval: {e}")))?;
        }
        Ok(())
    }
}

/// `intel:`: threat-intel feeds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelSection {
    #[serde(default)]
    pub feeds: Vec<Located<FeedSection>>,
    /// Ban the source address of an event a feed lists (default false: record and count only).
    pub ban: Option<bool>,
    /// How long such a ban lasts (default `1h`).
    pub bantime: Option<Located<String>>,
}

/// One feed: `{name, url | path, format, refresh}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSection {
    /// 1 to 64 letters, digits, `-`, `_` or `.`; unique.
    pub name: Located<String>,
    /// Downloaded over `http://` or `https://`.
    pub url: Option<Located<String>>,
    /// Or read from a local file.
    pub path: Option<Located<String>>,
    /// `auto` (default), `plain`, `firehol`, `spamhaus-text`, `spamhaus-json` or `abusech-csv`.
    pub format: Option<Located<String>>,
    /// How often it is fetched again (default `1h`, at least `1m`).
    pub refresh: Option<Located<String>>,
}

impl IntelSection {
    pub fn ban(&self) -> bool {
        self.ban.unwrap_or(false)
    }

    pub fn bantime(&self) -> Duration {
        self.bantime.as_ref().and_then(|v| duration(&v.value).ok()).unwrap_or(DEFAULT_INTEL_BANTIME)
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        if let Some(b) = &self.bantime {
            at_least(&b.value, Duration::from_secs(1)).map_err(|e| at(&b.referenced, format!("intel.bantime: {e}")))?;
        }
        let mut seen: Vec<&str> = Vec::new();
        for feed in &self.feeds {
            let f = &feed.value;
            let name = &f.name.value;
            let ok = !name.is_empty()
                && name.len() <= MAX_FEED_NAME
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && !name.starts_with('.');
            if !ok {
                let msg = format!("intel.feeds: name {name:?} is not 1 to 64 letters, digits, '-', '_' or '.'");
                return Err(at(&f.name.referenced, msg));
            }
            if seen.contains(&name.as_str()) {
                return Err(at(&f.name.referenced, format!("intel.feeds: duplicate feed name {name:?}")));
            }
            seen.push(name);
            match (&f.url, &f.path) {
                (Some(_), Some(p)) => {
                    return Err(at(&p.referenced, format!("intel.feeds.{name}: either url or path, not both")))
                }
                (None, None) => return Err(at(&feed.referenced, format!("intel.feeds.{name}: needs url or path"))),
                (Some(u), None) => {
                    check_url(&u.value).map_err(|e| at(&u.referenced, format!("intel.feeds.{name}.url: {e}")))?
                }
                (None, Some(p)) if p.value.is_empty() => {
                    return Err(at(&p.referenced, format!("intel.feeds.{name}.path: empty")))
                }
                (None, Some(_)) => {}
            }
            if let Some(fmt) = &f.format {
                fmt.value
                    .parse::<FeedFormat>()
                    .map_err(|e| at(&fmt.referenced, format!("intel.feeds.{name}.format: {e}")))?;
            }
            if let Some(r) = &f.refresh {
                at_least(&r.value, MIN_INTEL_REFRESH)
                    .map_err(|e| at(&r.referenced, format!("intel.feeds.{name}.refresh: {e}")))?;
            }
        }
        Ok(())
    }
}

impl FeedSection {
    /// Only valid on a validated section.
    pub fn format(&self) -> FeedFormat {
        self.format.as_ref().and_then(|f| f.value.parse().ok()).unwrap_or_default()
    }

    pub fn refresh(&self) -> Duration {
        self.refresh.as_ref().and_then(|v| duration(&v.value).ok()).unwrap_or(DEFAULT_INTEL_REFRESH)
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    let ms = vigil_model::time::parse_duration(text)?;
    u64::try_from(ms).map(Duration::from_millis).map_err(|_| format!("{text:?} is negative"))
}

fn at_least(text: &str, min: Duration) -> Result<Duration, String> {
    let d = duration(text)?;
    if d < min {
        return Err(format!("{text:?} is shorter than {}", vigil_model::time::format_duration(min.as_millis() as i64)));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn parse(body: &str) -> Result<crate::GuardConfig, String> {
        Config::parse(&format!("agent:\n  guard:\n{body}"), "v.yml")
            .map(|c| c.agent.guard.unwrap())
            .map_err(|e| e.to_string())
    }

    fn err(body: &str) -> String {
        parse(body).unwrap_err()
    }

    #[test]
    fn reads_fleet_and_intel() {
        let g = parse("    fleet: {url: 'http://m:9090', poll_interval: 2s, report: false}\n    intel:\n      ban: true\n      bantime: 2h\n      feeds:\n        - {name: fh1, url: 'https://x/firehol_level1.netset', format: firehol, refresh: 30m}\n        - {name: local, path: /etc/vigil/bad.txt}\n").unwrap();
        let f = &g.fleet.as_ref().unwrap().value;
        assert_eq!((f.url.value.as_str(), f.poll_interval().as_secs(), f.report()), ("http://m:9090", 2, false));
        let i = &g.intel.as_ref().unwrap().value;
        assert_eq!((i.ban(), i.bantime().as_secs()), (true, 7200));
        let (a, b) = (&i.feeds[0].value, &i.feeds[1].value);
        assert_eq!((a.format().as_str(), a.refresh().as_secs()), ("firehol", 1800));
        assert_eq!((b.format().as_str(), b.refresh().as_secs()), ("auto", 3600));
        assert_eq!(b.path.as_ref().unwrap().value, "/etc/vigil/bad.txt");
        let g = parse("    fleet: {url: 'http://m:9090'}\n    intel: {}\n").unwrap();
        let f = &g.fleet.as_ref().unwrap().value;
        assert_eq!((f.poll_interval().as_secs(), f.report()), (15, true));
        let i = &g.intel.as_ref().unwrap().value;
        assert_eq!((i.ban(), i.bantime().as_secs(), i.feeds.len()), (false, 3600, 0));
    }

    #[test]
    fn errors_point_at_the_value() {
        assert_eq!(
            err("    fleet: {url: 'm:9090'}\n"),
            "v.yml:3:18: fleet.url: \"m:9090\" is not an http or https URL"
        );
        assert_eq!(
            err("    fleet: {url: 'http://m', poll_interval: 500ms}\n"),
            "v.yml:3:45: fleet.poll_interval: \"500ms\" is shorter than 1s"
        );
        assert!(err("    fleet: {url: 'http://m', poll: 1s}\n").contains("unknown field `poll`"));
        assert!(err("    fleet: {poll_interval: 1s}\n").contains("missing field `url`"));
        assert_eq!(
            err("    intel: {feeds: [{name: a, url: 'http://x/a', refresh: 30s}]}\n"),
            "v.yml:3:59: intel.feeds.a.refresh: \"30s\" is shorter than 1m"
        );
        assert_eq!(
            err("    intel: {feeds: [{name: a, path: /a}, {name: a, path: /b}]}\n"),
            "v.yml:3:49: intel.feeds: duplicate feed name \"a\""
        );
        assert_eq!(
            err("    intel: {feeds: [{name: 'a/b', path: /a}]}\n"),
            "v.yml:3:28: intel.feeds: name \"a/b\" is not 1 to 64 letters, digits, '-', '_' or '.'"
        );
        assert_eq!(err("    intel: {feeds: [{name: a}]}\n"), "v.yml:3:21: intel.feeds.a: needs url or path");
        assert_eq!(
            err("    intel: {feeds: [{name: a, url: 'http://x', path: /a}]}\n"),
            "v.yml:3:54: intel.feeds.a: either url or path, not both"
        );
        assert_eq!(
            err("    intel: {feeds: [{name: a, url: 'ftp://x'}]}\n"),
            "v.yml:3:36: intel.feeds.a.url: \"ftp://x\" is not an http or https URL"
        );
        let e = err("    intel: {feeds: [{name: a, path: /a, format: netset}]}\n");
        assert!(e.starts_with("v.yml:3:49: intel.feeds.a.format: unknown feed format \"netset\""), "{e}");
        assert_eq!(err("    intel: {bantime: 0s}\n"), "v.yml:3:22: intel.bantime: \"0s\" is shorter than 1s");
    }
}
