//! Reading the YAML text, turning parser and validation errors into `file:line:col: message`.

use std::fmt;
use std::path::Path;

use serde_saphyr::{Location, Spanned};

use crate::Config;

/// The largest configuration file accepted; anything bigger is a mistake, not a config.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// A value together with where it was written, so validation can point at it.
pub type Located<T> = Spanned<T>;

/// A configuration that could not be read or is invalid. Displays as `file:line:col: message`.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.origin, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// A problem at `loc` in `origin`.
    pub fn at(origin: &str, loc: &Location, message: impl Into<String>) -> Self {
        ConfigError { origin: origin.to_owned(), line: loc.line(), column: loc.column(), message: message.into() }
    }

    /// A problem with the whole file (it cannot be read, it is too large): displays as `file: message`.
    pub fn whole(origin: &str, message: impl Into<String>) -> Self {
        ConfigError { origin: origin.to_owned(), line: 0, column: 0, message: message.into() }
    }

    /// A YAML parser error, at the parser's position, with its message as [`yaml_message`] words it.
    pub fn yaml(origin: &str, e: &serde_saphyr::Error) -> Self {
        ConfigError::at(origin, &e.location().unwrap_or(Location::UNKNOWN), yaml_message(e))
    }
}

/// Whether YAML text holds anything but comments, blank lines and document markers.
pub fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---" && t != "..."
    })
}

/// Reads a text file of at most `max` bytes; errors name the file.
pub fn read_capped(path: &Path, max: u64) -> Result<String, ConfigError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ConfigError::whole(&origin, format!("cannot open: {e}")))?;
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::whole(&origin, format!("cannot read: {e}")))?;
    if text.len() as u64 > max {
        return Err(ConfigError::whole(&origin, format!("file is larger than {max} bytes")));
    }
    Ok(text)
}

pub(crate) fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = read_capped(path, MAX_CONFIG_BYTES)?;
    let mut config = parse_str(&text, &origin)?;
    if let Some(dir) = path.parent() {
        for job in &mut config.scrape_configs {
            job.set_directory(dir);
        }
        if let Some(a) = &mut config.alerting {
            a.value.set_directory(dir);
        }
        if let Some(d) = &mut config.server.dashboards_dir {
            if !Path::new(&d.value).is_absolute() {
                d.value = dir.join(&d.value).to_string_lossy().into_owned();
            }
        }
        for f in config.rule_files.iter_mut().chain(config.log_rule_files.iter_mut()) {
            if !Path::new(&f.value).is_absolute() {
                f.value = dir.join(&f.value).to_string_lossy().into_owned();
            }
        }
    }
    Ok(config)
}

pub(crate) fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    // An empty document (or one holding only comments) is the all-defaults configuration.
    if !has_content(text) {
        return Ok(Config::default());
    }
    let mut config: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError::yaml(origin, &e))?;
    config.agent.validate(origin)?;
    config.server.validate(origin)?;
    if let Some(f) = config.rule_files.iter().find(|f| f.value.is_empty()) {
        return Err(ConfigError::at(origin, &f.referenced, "rule_files: empty path"));
    }
    if let Some(f) = config.log_rule_files.iter().find(|f| f.value.is_empty()) {
        return Err(ConfigError::at(origin, &f.referenced, "log_rule_files: empty path"));
    }
    crate::scrape::prepare(&mut config.global, &mut config.scrape_configs, origin)?;
    if let Some(a) = &mut config.alerting {
        a.value.prepare(text, &a.referenced, origin)?;
    }
    Ok(config)
}

/// The YAML parser's message without its source snippet and its own position, which `file:line:col` in front
/// replaces. Every YAML file vigil reads (its config, Alertmanager configs, rule files) words errors this way.
pub fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let msg = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid YAML").trim();
    // The parser may prefix its own position ("line 3 column 5: ..."); drop it, ours is in front.
    let msg = match msg.find(": ") {
        Some(i) if msg[..i].contains("line") => &msg[i + 2..],
        _ => msg,
    };
    // It may also append its own position; ours is in front already.
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    };
    msg.to_owned()
}
