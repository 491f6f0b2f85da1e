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
    pub(crate) fn at(origin: &str, loc: &Location, message: impl Into<String>) -> Self {
        ConfigError { origin: origin.to_owned(), line: loc.line(), column: loc.column(), message: message.into() }
    }
}

pub(crate) fn load_file(path: &Path) -> Result<Config, ConfigError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let whole = |message: String| ConfigError { origin: origin.clone(), line: 0, column: 0, message };
    let file = std::fs::File::open(path).map_err(|e| whole(format!("cannot open: {e}")))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(|e| whole(format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(whole(format!("file is larger than {MAX_CONFIG_BYTES} bytes")));
    }
    let mut config = parse_str(&text, &origin)?;
    if let Some(dir) = path.parent() {
        for job in &mut config.scrape_configs {
            job.set_directory(dir);
        }
        if let Some(a) = &mut config.alerting {
            a.value.set_directory(dir);
        }
        for f in &mut config.rule_files {
            if !Path::new(&f.value).is_absolute() {
                f.value = dir.join(&f.value).to_string_lossy().into_owned();
            }
        }
    }
    Ok(config)
}

pub(crate) fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    // An empty document (or one holding only comments) is the all-defaults configuration.
    let has_content = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---"
    });
    if !has_content {
        return Ok(Config::default());
    }
    let mut config: Config = serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location().unwrap_or(Location::UNKNOWN);
        ConfigError { origin: origin.to_owned(), line: loc.line(), column: loc.column(), message: first_line(&e) }
    })?;
    config.agent.validate(origin)?;
    config.server.validate(origin)?;
    if let Some(f) = config.rule_files.iter().find(|f| f.value.is_empty()) {
        return Err(ConfigError::at(origin, &f.referenced, "rule_files: empty path"));
    }
    crate::scrape::prepare(&mut config.global, &mut config.scrape_configs, origin)?;
    if let Some(a) = &mut config.alerting {
        a.value.prepare(text, &a.referenced, origin)?;
    }
    Ok(config)
}

/// The parser's message without its source snippet, which we replace by `file:line:col`.
pub(crate) fn first_line(e: &serde_saphyr::Error) -> String {
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
