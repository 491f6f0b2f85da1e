//! The `alerting:` section: an Alertmanager configuration written inline, or `config_file:` naming one. This
//! crate only finds it; `vigil-alerting` parses it, with positions that still point into the vigil file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::{ConfigError, Located};

/// Where the Alertmanager configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertingSource {
    /// Written under `alerting:`. `text` is the vigil file with everything outside the section blanked out
    /// (lines kept as empty lines, columns before the section as spaces), so a parser reading it reports
    /// the vigil file's own lines and columns.
    Inline { text: String, origin: String },
    /// `alerting: {config_file: PATH}`, the path made relative to the vigil file's directory.
    File(PathBuf),
}

/// The `alerting:` key as read: either `config_file` alone, or any other keys (the inline configuration).
#[derive(Debug, Default)]
pub struct AlertingSection {
    config_file: Option<Located<String>>,
    inline_keys: usize,
    source: Option<AlertingSource>,
}

impl AlertingSection {
    /// Where the configuration comes from; set once the whole file has been read.
    pub fn source(&self) -> Option<&AlertingSource> {
        self.source.as_ref()
    }

    /// Checks the section's shape and records where the configuration comes from. `at` is the position of
    /// the section's value in `text`.
    pub(crate) fn prepare(&mut self, text: &str, at: &serde_saphyr::Location, origin: &str) -> Result<(), ConfigError> {
        if let Some(file) = &self.config_file {
            if self.inline_keys > 0 {
                return Err(ConfigError::at(
                    origin,
                    &file.referenced,
                    "alerting: config_file cannot be combined with an inline configuration",
                ));
            }
            if file.value.is_empty() {
                return Err(ConfigError::at(origin, &file.referenced, "alerting: config_file must not be empty"));
            }
            self.source = Some(AlertingSource::File(PathBuf::from(&file.value)));
        } else {
            let text = cut_section(text, at.line() as usize, at.column() as usize);
            self.source = Some(AlertingSource::Inline { text, origin: origin.to_owned() });
        }
        Ok(())
    }

    pub(crate) fn set_directory(&mut self, dir: &Path) {
        if let Some(AlertingSource::File(path)) = &mut self.source {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }
}

/// The text of the top-level value that starts at `line`:`column` (1-based, columns in characters), with
/// everything before it blanked and everything from the next top-level key on dropped.
pub(crate) fn cut_section(text: &str, line: usize, column: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        if n < line {
            out.push('\n');
            continue;
        }
        if n == line {
            for (j, c) in l.chars().enumerate() {
                out.push(if j + 1 < column { ' ' } else { c });
            }
            out.push('\n');
            continue;
        }
        let top_level = l.chars().next().is_some_and(|c| !c.is_whitespace() && c != '#');
        if top_level {
            break;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

impl<'de> Deserialize<'de> for AlertingSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AlertingSection, D::Error> {
        struct SectionVisitor;
        impl<'de> Visitor<'de> for SectionVisitor {
            type Value = AlertingSection;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an Alertmanager configuration or {config_file: PATH}")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AlertingSection, A::Error> {
                let mut section = AlertingSection::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "config_file" {
                        section.config_file = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        section.inline_keys += 1;
                    }
                }
                Ok(section)
            }
        }
        d.deserialize_map(SectionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn inline_section_keeps_lines_and_columns() {
        let text = "server:\n  listen: 127.0.0.1:1\nalerting:\n  route:\n    receiver: x\n  # note\nglobal: {}\n";
        let c = Config::parse(text, "v.yml").unwrap();
        let Some(AlertingSource::Inline { text, origin }) = c.alerting.as_ref().unwrap().value.source() else {
            panic!("inline expected")
        };
        assert_eq!(origin, "v.yml");
        assert_eq!(text, "\n\n\n  route:\n    receiver: x\n  # note\n");
    }

    #[test]
    fn flow_section_on_the_key_line() {
        assert_eq!(
            cut_section("a: 1\nalerting: {route: {receiver: x}}\nb: 2\n", 2, 11),
            "\n          {route: {receiver: x}}\n"
        );
    }

    #[test]
    fn config_file_is_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.yml");
        std::fs::write(&path, "alerting:\n  config_file: am.yml\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.alerting.unwrap().value.source(), Some(&AlertingSource::File(dir.path().join("am.yml"))));
    }

    #[test]
    fn config_file_stands_alone() {
        let e = Config::parse("alerting:\n  route: {}\n  config_file: am.yml\n", "v.yml").unwrap_err().to_string();
        assert_eq!(e, "v.yml:3:16: alerting: config_file cannot be combined with an inline configuration");
        let e = Config::parse("alerting: [1]\n", "v.yml").unwrap_err().to_string();
        assert!(e.starts_with("v.yml:1:"), "{e}");
    }
}
