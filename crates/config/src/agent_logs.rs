//! The `agent.logs:` section: where the agent pushes logs (any Loki push endpoint), where it keeps its positions
//! and outbox, how it batches, and its sources (file globs or journald) with labels, multi-line grouping and a
//! LogQL pipeline.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Location;

use crate::http_client::{self, BasicAuth, ClientKeys, TlsConfig};
use crate::scrape::is_label_name;
use crate::{ConfigError, Located};

/// Positions and outbox live here unless told otherwise, relative to the working directory.
pub const DEFAULT_AGENT_DATA_DIR: &str = "./vigil-agent-data";
const DEFAULT_OUTBOX_MAX_BYTES: u64 = 1 << 30;
const DEFAULT_BATCH_MAX_LINES: usize = 1000;
const MAX_BATCH_LINES: usize = 100_000;
const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_secs(1);
const DEFAULT_PUSH_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
const DEFAULT_MULTILINE_MAX_LINES: usize = 128;
const DEFAULT_MULTILINE_MAX_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// A Loki push endpoint (`http(s)://host:port/loki/api/v1/push`): a vigil server or Loki.
    pub push_url: Located<String>,
    /// A bearer token read from this file at each push.
    pub bearer_token_file: Option<Located<String>>,
    pub basic_auth: Option<Located<BasicAuth>>,
    pub tls_config: Option<Located<TlsConfig>>,
    /// Positions file and outbox (default `./vigil-agent-data`).
    pub data_dir: Option<String>,
    /// Disk the outbox may take (`512MiB`, `1GiB`, `1GB`: base 2); the oldest batches are dropped beyond it.
    pub outbox_max_bytes: Option<Located<String>>,
    /// A batch is pushed once it holds this many lines (default 1000)...
    pub batch_max_lines: Option<Located<usize>>,
    /// ... or once its first line is this old (default `1s`).
    pub batch_max_wait: Option<Located<String>>,
    /// Deadline of one push request (default `10s`).
    pub timeout: Option<Located<String>>,
    /// How often files are checked for new lines (default `250ms`).
    pub poll_interval: Option<Located<String>>,
    #[serde(default)]
    pub sources: Vec<Located<LogSource>>,
}

/// One source: `files:` globs or `journald:`, with what is done to its lines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSource {
    /// Glob patterns of files to tail (`*`, `?`, `[...]`, `**`).
    pub files: Option<Vec<Located<String>>>,
    pub journald: Option<Located<JournaldSource>>,
    /// Stream labels of every line (`filename` and `host` are added).
    pub labels: Option<Located<BTreeMap<String, String>>>,
    pub multiline: Option<Located<MultilineSource>>,
    /// A LogQL pipeline without selector: `| logfmt | level != "debug"`.
    pub pipeline: Option<Located<String>>,
    /// Labels the pipeline extracts that become stream labels instead of fields (keep them low-cardinality).
    #[serde(default)]
    pub labels_from_fields: Vec<Located<String>>,
}

/// `journald:` of a source.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournaldSource {
    /// Stream labels (`unit` is added from `_SYSTEMD_UNIT`).
    pub labels: Option<Located<BTreeMap<String, String>>>,
    /// Journal matches, e.g. `_SYSTEMD_UNIT=ssh.service`.
    #[serde(default)]
    pub matches: Vec<String>,
    /// Where to start without a saved cursor, as `journalctl --since` takes it (default `-1h`).
    pub since: Option<String>,
    /// The journalctl program (default `journalctl` on `PATH`).
    pub journalctl: Option<String>,
}

/// Promtail's `multiline` stage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineSource {
    /// A line matching this regex starts a new record; others are appended to the current one.
    pub firstline: Located<String>,
    /// Default 128.
    pub max_lines: Option<Located<usize>>,
    /// A record is ended when no line came for this long (default `3s`).
    pub max_wait: Option<Located<String>>,
}

impl LogsConfig {
    pub fn data_dir(&self) -> &str {
        self.data_dir.as_deref().unwrap_or(DEFAULT_AGENT_DATA_DIR)
    }

    pub fn outbox_max_bytes(&self) -> u64 {
        self.outbox_max_bytes.as_ref().and_then(|s| parse_size(&s.value).ok()).unwrap_or(DEFAULT_OUTBOX_MAX_BYTES)
    }

    pub fn batch_max_lines(&self) -> usize {
        self.batch_max_lines.as_ref().map_or(DEFAULT_BATCH_MAX_LINES, |n| n.value)
    }

    pub fn batch_max_wait(&self) -> Duration {
        duration_or(&self.batch_max_wait, DEFAULT_BATCH_MAX_WAIT)
    }

    pub fn timeout(&self) -> Duration {
        duration_or(&self.timeout, DEFAULT_PUSH_TIMEOUT)
    }

    pub fn poll_interval(&self) -> Duration {
        duration_or(&self.poll_interval, DEFAULT_POLL_INTERVAL)
    }

    pub(crate) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        check_url(&self.push_url.value).map_err(|e| at(&self.push_url.referenced, format!("push_url: {e}")))?;
        let keys = ClientKeys {
            basic_auth: &self.basic_auth,
            authorization: &None,
            bearer_token: &None,
            bearer_token_file: &self.bearer_token_file,
            tls_config: &self.tls_config,
        };
        http_client::check(&keys).map_err(|(loc, msg)| at(&loc, msg))?;
        if let Some(s) = &self.outbox_max_bytes {
            let n = parse_size(&s.value).map_err(|e| at(&s.referenced, format!("outbox_max_bytes: {e}")))?;
            if n < 1 << 20 {
                return Err(at(&s.referenced, format!("outbox_max_bytes: {:?} is less than 1MiB", s.value)));
            }
        }
        if let Some(n) = &self.batch_max_lines {
            if n.value == 0 || n.value > MAX_BATCH_LINES {
                let msg = format!("batch_max_lines: {} is not between 1 and {MAX_BATCH_LINES}", n.value);
                return Err(at(&n.referenced, msg));
            }
        }
        for (key, value) in [
            ("batch_max_wait", &self.batch_max_wait),
            ("timeout", &self.timeout),
            ("poll_interval", &self.poll_interval),
        ] {
            if let Some(v) = value {
                positive_duration(&v.value).map_err(|e| at(&v.referenced, format!("{key}: {e}")))?;
            }
        }
        let mut journald_seen = false;
        for source in &self.sources {
            source.value.validate(origin, &source.referenced)?;
            if let Some(j) = &source.value.journald {
                if journald_seen {
                    return Err(at(&j.referenced, "journald: only one journald source is supported".into()));
                }
                journald_seen = true;
            }
        }
        Ok(())
    }
}

impl LogSource {
    /// The source's stream labels: its own plus its `journald.labels`.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut out = self.labels.as_ref().map(|l| l.value.clone()).unwrap_or_default();
        if let Some(j) = self.journald.as_ref().and_then(|j| j.value.labels.as_ref()) {
            out.extend(j.value.clone());
        }
        out
    }

    fn validate(&self, origin: &str, here: &Location) -> Result<(), ConfigError> {
        let at = |loc: &Location, msg: String| ConfigError::at(origin, loc, msg);
        match (&self.files, &self.journald) {
            (Some(_), Some(j)) => {
                return Err(at(&j.referenced, "a source has either files or journald, not both".into()));
            }
            (None, None) => return Err(at(here, "a source needs files or journald".into())),
            (Some(files), None) if files.is_empty() => return Err(at(here, "files: no glob given".into())),
            _ => {}
        }
        for g in self.files.iter().flatten() {
            if g.value.is_empty() {
                return Err(at(&g.referenced, "files: empty glob".into()));
            }
            glob::Pattern::new(&g.value)
                .map_err(|e| at(&g.referenced, format!("files: invalid glob {:?}: {}", g.value, e.msg)))?;
        }
        let own = self.labels.iter().chain(self.journald.as_ref().and_then(|j| j.value.labels.as_ref()));
        for labels in own {
            for (name, value) in &labels.value {
                if !is_label_name(name) || name.starts_with("__") {
                    return Err(at(&labels.referenced, format!("labels: {name:?} is not a valid label name")));
                }
                if value.is_empty() {
                    return Err(at(&labels.referenced, format!("labels: {name:?} has an empty value")));
                }
            }
        }
        if let (Some(m), Some(_)) = (&self.multiline, &self.journald) {
            let msg = "multiline: journald entries are whole records already; multiline is for files";
            return Err(at(&m.referenced, msg.into()));
        }
        if let Some(m) = &self.multiline {
            let re = &m.value.firstline;
            regex::Regex::new(&re.value).map_err(|e| {
                let first = e.to_string().lines().last().unwrap_or("invalid").trim().to_owned();
                at(&re.referenced, format!("multiline.firstline: invalid regex {:?}: {first}", re.value))
            })?;
            if let Some(n) = m.value.max_lines.as_ref().filter(|n| n.value == 0) {
                return Err(at(&n.referenced, "multiline.max_lines: must be at least 1".into()));
            }
            if let Some(w) = &m.value.max_wait {
                positive_duration(&w.value).map_err(|e| at(&w.referenced, format!("multiline.max_wait: {e}")))?;
            }
        }
        if let Some(p) = &self.pipeline {
            vigil_logql::parse_pipeline(&p.value).map_err(|e| at(&p.referenced, format!("pipeline: {e}")))?;
        }
        let labels = self.labels();
        for l in &self.labels_from_fields {
            if !is_label_name(&l.value) || l.value.starts_with("__") {
                return Err(at(&l.referenced, format!("labels_from_fields: {:?} is not a valid label name", l.value)));
            }
            if labels.contains_key(&l.value) {
                let msg = format!("labels_from_fields: {:?} is already a label of the source", l.value);
                return Err(at(&l.referenced, msg));
            }
        }
        Ok(())
    }

    /// The multi-line settings: the `firstline` regex text, max lines and max wait.
    pub fn multiline(&self) -> Option<(&str, usize, Duration)> {
        let m = &self.multiline.as_ref()?.value;
        let lines = m.max_lines.as_ref().map_or(DEFAULT_MULTILINE_MAX_LINES, |n| n.value);
        Some((&m.firstline.value, lines, duration_or(&m.max_wait, DEFAULT_MULTILINE_MAX_WAIT)))
    }
}

fn duration_or(v: &Option<Located<String>>, default: Duration) -> Duration {
    v.as_ref()
        .and_then(|v| vigil_model::time::parse_duration(&v.value).ok())
        .filter(|ms| *ms > 0)
        .map_or(default, |ms| Duration::from_millis(ms as u64))
}

fn positive_duration(text: &str) -> Result<(), String> {
    match vigil_model::time::parse_duration(text)? {
        ms if ms > 0 => Ok(()),
        _ => Err(format!("{text:?} must be longer than 0s")),
    }
}

/// A byte size: `512MiB` and `512MB` alike mean 512 × 2²⁰ bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let binary = ["KiB", "MiB", "GiB", "TiB", "PiB"].iter().find(|u| text.ends_with(*u));
    match binary {
        Some(u) => crate::parse_bytes(&format!("{}{}B", &text[..text.len() - 3], &u[..1]))
            .map_err(|_| format!("{text:?} is not a size like 512MiB or 1GiB")),
        None => crate::parse_bytes(text),
    }
}

/// An `http://` or `https://` URL with a host.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else { return Err(format!("{url:?} is not an http or https URL")) };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} has no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains whitespace"));
    }
    if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
        port.parse::<u16>().map_err(|_| format!("{url:?} has an invalid port {port:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn err(text: &str) -> String {
        Config::parse(text, "v.yml").unwrap_err().to_string()
    }

    const HEAD: &str = "agent:\n  logs:\n    push_url: http://m:9090/loki/api/v1/push\n";

    #[test]
    fn reads_the_example() {
        let text = format!(
            "{HEAD}    bearer_token_file: /etc/vigil/token\n    data_dir: /var/lib/vigil/agent\n    outbox_max_bytes: 1GiB\n    batch_max_lines: 500\n    batch_max_wait: 2s\n    sources:\n      - files: [/var/log/nginx/access.log*, /var/log/app/*.log]\n        labels: {{job: nginx}}\n        multiline: {{firstline: '^\\d{{4}}-', max_lines: 500, max_wait: 3s}}\n        pipeline: '| pattern \"<ip> - - <_> \\\"<method> <uri> <_>\\\" <status> <_>\"'\n        labels_from_fields: [method]\n      - journald: {{labels: {{job: systemd}}}}\n"
        );
        let c = Config::parse(&text, "v.yml").unwrap();
        let logs = c.agent.logs.unwrap();
        assert_eq!(
            (logs.data_dir(), logs.outbox_max_bytes(), logs.batch_max_lines()),
            ("/var/lib/vigil/agent", 1 << 30, 500)
        );
        assert_eq!(logs.batch_max_wait().as_millis(), 2000);
        assert_eq!(logs.sources.len(), 2);
        let s = &logs.sources[0].value;
        assert_eq!(s.labels()["job"], "nginx");
        assert_eq!(s.multiline().map(|m| (m.0, m.1, m.2.as_secs())), Some((r"^\d{4}-", 500, 3)));
        assert_eq!(logs.sources[1].value.labels()["job"], "systemd");
    }

    #[test]
    fn defaults() {
        let c = Config::parse(HEAD, "v.yml").unwrap();
        let logs = c.agent.logs.unwrap();
        assert_eq!(
            (logs.data_dir(), logs.outbox_max_bytes(), logs.batch_max_lines()),
            ("./vigil-agent-data", 1 << 30, 1000)
        );
        assert_eq!((logs.batch_max_wait().as_millis(), logs.timeout().as_secs()), (1000, 10));
    }

    #[test]
    fn errors_point_at_the_value() {
        let src = |s: &str| err(&format!("{HEAD}    sources:\n      - {s}\n"));
        assert_eq!(
            src("files: ['/var/log/[']"),
            "v.yml:5:17: files: invalid glob \"/var/log/[\": invalid range pattern"
        );
        assert_eq!(
            src("{files: [/a], multiline: {firstline: '(x'}}"),
            "v.yml:5:46: multiline.firstline: invalid regex \"(x\": error: unclosed group"
        );
        assert_eq!(
            src("{files: [/a], pipeline: '| nope'}"),
            "v.yml:5:33: pipeline: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"
        );
        assert_eq!(src("{files: [/a], labels: {'a-b': x}}"), "v.yml:5:31: labels: \"a-b\" is not a valid label name");
        assert_eq!(
            src("{files: [/a], labels: {job: x}, labels_from_fields: [job]}"),
            "v.yml:5:62: labels_from_fields: \"job\" is already a label of the source"
        );
        assert!(
            src("{files: [/a], colour: red}").starts_with("v.yml:5:23: unknown field `colour`"),
            "{}",
            src("{files: [/a], colour: red}")
        );
        assert_eq!(src("{labels: {job: x}}"), "v.yml:5:9: a source needs files or journald");
        assert!(src("{journald: {}, multiline: {firstline: a}}").starts_with("v.yml:5:35: multiline: journald entries"));
        assert_eq!(
            err(&format!("{HEAD}    sources: [{{journald: {{}}}}, {{journald: {{}}}}]\n")),
            "v.yml:4:42: journald: only one journald source is supported"
        );
        assert_eq!(
            err("agent:\n  logs:\n    push_url: monitor:9090\n"),
            "v.yml:3:15: push_url: \"monitor:9090\" is not an http or https URL"
        );
        assert_eq!(
            err("agent:\n  logs:\n    push_url: 'http://:1/x'\n"),
            "v.yml:3:15: push_url: \"http://:1/x\" has no host"
        );
        assert_eq!(
            err(&format!("{HEAD}    outbox_max_bytes: 1GiBs\n")),
            "v.yml:4:23: outbox_max_bytes: \"1GiBs\": unknown unit \"GiBs\" (use B, KB, MB, GB, TB or PB)"
        );
        assert_eq!(
            err(&format!("{HEAD}    batch_max_lines: 0\n")),
            "v.yml:4:22: batch_max_lines: 0 is not between 1 and 100000"
        );
        assert!(err(&format!("{HEAD}    batch_max_wait: 0s\n")).starts_with("v.yml:4:21: batch_max_wait:"));
        assert!(err("agent:\n  logs:\n    sources: []\n").contains("missing field `push_url`"));
    }
}
