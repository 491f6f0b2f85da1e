//! Turning a discovered target into a scrape target as Prometheus does: default and `__param_` labels,
//! `relabel_configs`, address and interval checks, `instance`, the public label set and the URL.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vigil_config::scrape::PromDuration;
use vigil_model::Labels;

use crate::discovery::ADDRESS_LABEL;
use crate::job::ScrapeSettings;
use crate::relabel;

const SCHEME_LABEL: &str = "__scheme__";
const METRICS_PATH_LABEL: &str = "__metrics_path__";
const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
const PARAM_PREFIX: &str = "__param_";
const META_PREFIX: &str = "__meta_";
/// Labels with this prefix steer the scrape and never reach the series.
const RESERVED_PREFIX: &str = "__";

/// Why a discovered target cannot be scraped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no address")]
    NoAddress,
    #[error("invalid scheme {0:?}")]
    Scheme(String),
    #[error("{0:?} is not a valid hostname")]
    Address(String),
    #[error("error parsing {label}: {message}")]
    Duration { label: &'static str, message: String },
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutTooLong { timeout: String, interval: String },
}

/// A target ready to scrape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Target {
    /// What every scraped series gets: the labels after relabeling without `__`-prefixed ones.
    pub labels: Labels,
    /// The labels before relabeling, for the targets API.
    pub discovered: Labels,
    /// `host:port` to connect to.
    pub address: String,
    /// `__scheme__` is `https`.
    pub https: bool,
    /// Request target: escaped path plus query.
    pub path_and_query: String,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
}

/// A target that is scraped, or one `relabel_configs` dropped (with its discovered labels).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Populated {
    Active(Target),
    Dropped(Labels),
}

/// Builds the target for one discovered label set of a group.
pub(crate) fn populate(
    target: &BTreeMap<String, String>,
    group_labels: &BTreeMap<String, String>,
    s: &ScrapeSettings,
) -> Result<Populated, TargetError> {
    // The target's own labels win over its group's.
    let mut merged = group_labels.clone();
    merged.extend(target.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged.remove("");
    let mut labels = Labels::from_pairs(merged).unwrap_or_default();
    let interval = PromDuration::from_millis(s.interval.as_millis() as u64).to_string();
    let timeout = PromDuration::from_millis(s.timeout.as_millis() as u64).to_string();
    for (name, value) in [
        ("job", s.job.as_str()),
        (SCRAPE_INTERVAL_LABEL, &interval),
        (SCRAPE_TIMEOUT_LABEL, &timeout),
        (METRICS_PATH_LABEL, &s.metrics_path),
        (SCHEME_LABEL, &s.scheme),
    ] {
        if labels.get(name).is_none() {
            labels.set(name, value);
        }
    }
    for (name, values) in &s.params {
        if let Some(first) = values.first() {
            labels.set(&format!("{PARAM_PREFIX}{name}"), first);
        }
    }
    let discovered = labels.clone();
    let Some(mut labels) = relabel::process(labels, &s.relabel) else { return Ok(Populated::Dropped(discovered)) };

    let mut address = labels.get(ADDRESS_LABEL).ok_or(TargetError::NoAddress)?.to_owned();
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("").to_owned();
    if needs_port(&address) {
        match scheme.as_str() {
            "http" | "" => address.push_str(":80"),
            "https" => address.push_str(":443"),
            _ => return Err(TargetError::Scheme(scheme)),
        }
        labels.set(ADDRESS_LABEL, &address);
    }
    if address.contains('/') {
        return Err(TargetError::Address(address));
    }
    if scheme != "http" && scheme != "https" {
        return Err(TargetError::Scheme(scheme));
    }
    let interval = duration_label(&labels, SCRAPE_INTERVAL_LABEL)?;
    let timeout = duration_label(&labels, SCRAPE_TIMEOUT_LABEL)?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutTooLong {
            timeout: labels.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("").to_owned(),
            interval: labels.get(SCRAPE_INTERVAL_LABEL).unwrap_or("").to_owned(),
        });
    }
    labels.retain(|l| !l.name.starts_with(META_PREFIX));
    if labels.get("instance").is_none() {
        labels.set("instance", &address);
    }
    let path_and_query = request_target(&labels, s);
    let url = format!("{scheme}://{address}{path_and_query}");
    let mut public = labels;
    public.retain(|l| !l.name.starts_with(RESERVED_PREFIX));
    let https = scheme == "https";
    Ok(Populated::Active(Target { labels: public, discovered, address, https, path_and_query, url, interval, timeout }))
}

fn duration_label(labels: &Labels, label: &'static str) -> Result<Duration, TargetError> {
    let text = labels.get(label).unwrap_or("");
    PromDuration::parse(text).map(PromDuration::as_std).map_err(|message| TargetError::Duration { label, message })
}

/// Whether `host[:port]` lacks a port that appending one would supply (Go's `SplitHostPort` rules).
fn needs_port(address: &str) -> bool {
    let has_port = |s: &str| match s.strip_prefix('[') {
        Some(rest) => rest.split_once(']').is_some_and(|(_, tail)| tail.starts_with(':') && !tail[1..].contains(':')),
        None => s.matches(':').count() == 1,
    };
    !has_port(address) && has_port(&format!("{address}:1234"))
}

/// The escaped path and the query: the job's `params`, each overridden by a `__param_<name>` label.
fn request_target(labels: &Labels, s: &ScrapeSettings) -> String {
    let mut params = s.params.clone();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_PREFIX) {
            match params.get_mut(name).and_then(|v| v.first_mut()) {
                Some(first) => first.clone_from(&l.value),
                None => {
                    params.insert(name.to_owned(), vec![l.value.clone()]);
                }
            }
        }
    }
    let mut out = String::new();
    for c in labels.get(METRICS_PATH_LABEL).unwrap_or("").bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
    let mut sep = '?';
    for (name, values) in &params {
        for value in values {
            out.push(sep);
            sep = '&';
            query_escape(name, &mut out);
            out.push('=');
            query_escape(value, &mut out);
        }
    }
    out
}

fn query_escape(s: &str, out: &mut String) {
    for c in s.bytes() {
        match c {
            b' ' => out.push('+'),
            c if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) => out.push(c as char),
            c => {
                let _ = write!(out, "%{c:02X}");
            }
        }
    }
}

impl Target {
    /// FNV-1a over the labels and URL: stable across restarts, so the scrape phase is too.
    pub fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for l in self.labels.iter() {
            eat(l.name.as_bytes());
            eat(&[0xff]);
            eat(l.value.as_bytes());
            eat(&[0xff]);
        }
        eat(self.url.as_bytes());
        h
    }

    /// How long to wait before the first scrape: each target scrapes at a fixed phase of its interval, derived
    /// from its hash, so targets spread out and keep their phase across restarts.
    pub fn first_scrape_in(&self, now: SystemTime) -> Duration {
        let interval = self.interval.as_nanos().max(1);
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let phase = u128::from(self.hash()) % interval;
        let until_boundary = interval - now % interval;
        let mut wait = until_boundary + phase;
        if wait > interval {
            wait -= interval;
        }
        Duration::from_nanos(wait.min(u128::from(u64::MAX)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::Rule;
    use vigil_config::scrape::RelabelConfig;

    fn settings(relabel: &str) -> ScrapeSettings {
        let cfgs: Vec<RelabelConfig> =
            if relabel.is_empty() { Vec::new() } else { serde_saphyr::from_str(relabel).unwrap() };
        ScrapeSettings {
            job: "node".into(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            body_size_limit: 1 << 20,
            auth: None,
            tls: std::sync::Arc::new(vigil_tls::Connector::new(vigil_tls::TlsSettings::default()).unwrap()),
            relabel: Rule::compile(&cfgs).unwrap(),
            metric_relabel: Vec::new(),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn active(p: Result<Populated, TargetError>) -> Target {
        match p.unwrap() {
            Populated::Active(t) => t,
            Populated::Dropped(l) => panic!("dropped: {l}"),
        }
    }

    #[test]
    fn defaults_job_instance_and_url() {
        let t = active(populate(&map(&[("__address__", "h:9100")]), &map(&[("env", "prod")]), &settings("")));
        assert_eq!(t.labels, Labels::from_pairs([("env", "prod"), ("instance", "h:9100"), ("job", "node")]).unwrap());
        assert_eq!(t.url, "http://h:9100/metrics");
        assert_eq!((t.interval, t.timeout), (Duration::from_secs(15), Duration::from_secs(10)));
        assert_eq!(t.discovered.get("__scrape_interval__"), Some("15s"));
        assert_eq!(t.discovered.get("__scheme__"), Some("http"));
    }

    #[test]
    fn target_labels_win_over_group_labels() {
        let t = active(populate(
            &map(&[("__address__", "h:1"), ("env", "dev")]),
            &map(&[("env", "prod"), ("job", "custom")]),
            &settings(""),
        ));
        assert_eq!(t.labels.get("env"), Some("dev"));
        // A discovered `job` label is kept over the job name.
        assert_eq!(t.labels.get("job"), Some("custom"));
    }

    #[test]
    fn relabeling_steers_address_path_params_and_interval() {
        let mut s = settings(
            "- {source_labels: [__address__], target_label: __param_target}\n\
             - {target_label: __address__, replacement: 'blackbox:9115'}\n\
             - {target_label: __metrics_path__, replacement: '/probe path'}\n\
             - {target_label: __scrape_interval__, replacement: 1m}\n\
             - {source_labels: [__meta_x], target_label: x}\n\
             - {source_labels: [__param_target], target_label: instance}",
        );
        s.params.insert("module".into(), vec!["http 2xx".into(), "second".into()]);
        let t = active(populate(&map(&[("__address__", "example.com"), ("__meta_x", "1")]), &map(&[]), &s));
        assert_eq!(t.url, "http://blackbox:9115/probe%20path?module=http+2xx&module=second&target=example.com");
        assert_eq!(t.interval, Duration::from_secs(60));
        assert_eq!(t.labels.get("instance"), Some("example.com"));
        assert_eq!(t.labels.get("x"), Some("1"));
        assert!(t.labels.iter().all(|l| !l.name.starts_with("__")));
    }

    #[test]
    fn param_labels_override_configured_params() {
        let mut s = settings("- {target_label: __param_module, replacement: icmp}");
        s.params.insert("module".into(), vec!["http".into()]);
        let t = active(populate(&map(&[("__address__", "h:1")]), &map(&[]), &s));
        assert_eq!(t.path_and_query, "/metrics?module=icmp");
    }

    #[test]
    fn default_port_is_added() {
        let t = active(populate(&map(&[("__address__", "h")]), &map(&[]), &settings("")));
        assert_eq!((t.address.as_str(), t.labels.get("instance")), ("h:80", Some("h:80")));
        let t = active(populate(&map(&[("__address__", "[::1]")]), &map(&[]), &settings("")));
        assert_eq!(t.address, "[::1]:80");
        let t = active(populate(&map(&[("__address__", "[::1]:9")]), &map(&[]), &settings("")));
        assert_eq!(t.address, "[::1]:9");
    }

    #[test]
    fn dropped_and_invalid_targets() {
        let s = settings("- {source_labels: [__address__], regex: 'skip.*', action: drop}");
        let p = populate(&map(&[("__address__", "skip:1")]), &map(&[]), &s).unwrap();
        assert!(matches!(p, Populated::Dropped(ref l) if l.get("__address__") == Some("skip:1")));
        assert_eq!(populate(&map(&[]), &map(&[]), &s), Err(TargetError::NoAddress));
        assert_eq!(
            populate(&map(&[("__address__", "h:1/x")]), &map(&[]), &s),
            Err(TargetError::Address("h:1/x".into()))
        );
        let s = settings("- {target_label: __scrape_timeout__, replacement: 1m}");
        assert!(matches!(
            populate(&map(&[("__address__", "h:1")]), &map(&[]), &s),
            Err(TargetError::TimeoutTooLong { .. })
        ));
        let s = settings("- {target_label: __scrape_interval__, replacement: soon}");
        assert!(matches!(populate(&map(&[("__address__", "h:1")]), &map(&[]), &s), Err(TargetError::Duration { .. })));
        let s = settings("- {target_label: __scheme__, replacement: ftp}");
        assert_eq!(populate(&map(&[("__address__", "h:1")]), &map(&[]), &s), Err(TargetError::Scheme("ftp".into())));
    }

    #[test]
    fn relabeling_to_https_defaults_the_port_to_443() {
        let s = settings("- {target_label: __scheme__, replacement: https}");
        let t = active(populate(&map(&[("__address__", "h")]), &map(&[]), &s));
        assert!(t.https);
        assert_eq!((t.address.as_str(), t.url.as_str()), ("h:443", "https://h:443/metrics"));
        assert_eq!(t.labels.get("instance"), Some("h:443"));
        let t = active(populate(&map(&[("__address__", "h")]), &map(&[]), &settings("")));
        assert!(!t.https);
        assert_eq!(t.url, "http://h:80/metrics");
    }

    #[test]
    fn first_scrape_phase_is_stable_and_within_the_interval() {
        let t = active(populate(&map(&[("__address__", "h:1")]), &map(&[]), &settings("")));
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = t.first_scrape_in(now);
        assert!(wait <= t.interval);
        // One interval later the phase is the same.
        assert_eq!(t.first_scrape_in(now + t.interval), wait);
        let phase = (now + wait).duration_since(UNIX_EPOCH).unwrap().as_nanos() % t.interval.as_nanos();
        assert_eq!(phase, u128::from(t.hash()) % t.interval.as_nanos());
    }
}
