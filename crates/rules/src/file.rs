//! Prometheus rule files as written: `groups:` of `name`, `interval`, `limit` and `rules:`, each rule a `record`
//! or an `alert` with `expr`, `for`, `keep_firing_for`, `labels` and `annotations`. Unknown keys are errors; every
//! node keeps its position for `file:line:col` messages. `validate.rs` turns the nodes into [`RuleFile`].

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use crate::error::{has_content, read_capped, yaml_error, FileError};
use crate::template::Expander;

/// The largest rule file accepted.
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;

/// A validated rule file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFile {
    /// The file's name as given; groups are known by it and their name.
    pub origin: String,
    pub groups: Vec<GroupSpec>,
}

impl RuleFile {
    /// Rules in all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// A validated rule group, ready for [`crate::RuleGroup::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    pub name: String,
    /// The file the group comes from (its [`RuleFile::origin`]).
    pub file: String,
    /// The group's own `interval`, if it has one (the global evaluation interval applies otherwise).
    pub interval_ms: Option<i64>,
    /// Most series a recording rule, or alerts an alerting rule, may produce per evaluation; 0 for no limit.
    pub limit: usize,
    pub rules: Vec<RuleSpec>,
    /// What the expressions are written in: PromQL (`rule_files:`) or LogQL (`log_rule_files:`, as Loki's
    /// ruler reads them).
    pub language: QueryLanguage,
}

/// The query language of a rule file's expressions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueryLanguage {
    #[default]
    PromQL,
    /// LogQL metric queries over the log store, as in Loki's ruler.
    LogQL,
}

/// A validated rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    /// The `record` or `alert` name.
    pub name: String,
    pub expr: String,
    /// `labels`, sorted by name; values as written (an empty value removes the label from results).
    pub labels: Vec<(String, String)>,
    pub kind: RuleKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    Recording,
    Alerting {
        /// `for`: how long an alert stays pending before it fires.
        hold_ms: i64,
        /// `keep_firing_for`: how long a firing alert keeps firing once its condition is gone.
        keep_firing_for_ms: i64,
        /// `annotations`, sorted by name.
        annotations: Vec<(String, String)>,
    },
}

/// Reads, parses and validates a rule file. All problems found are returned, in file order.
pub fn load_rule_file(path: &Path, expander: &dyn Expander) -> Result<RuleFile, Vec<FileError>> {
    load_rule_file_in(path, expander, QueryLanguage::PromQL)
}

/// [`load_rule_file`] for a file whose expressions are in `language`.
pub fn load_rule_file_in(
    path: &Path,
    expander: &dyn Expander,
    language: QueryLanguage,
) -> Result<RuleFile, Vec<FileError>> {
    let text = read_capped(path, MAX_RULE_FILE_BYTES).map_err(|e| vec![e])?;
    parse_rule_file_in(&text, &path.display().to_string(), expander, language)
}

/// Parses and validates rule file text; `origin` names it in errors and in the groups' `file`.
pub fn parse_rule_file(text: &str, origin: &str, expander: &dyn Expander) -> Result<RuleFile, Vec<FileError>> {
    parse_rule_file_in(text, origin, expander, QueryLanguage::PromQL)
}

/// [`parse_rule_file`] for expressions in `language`.
pub fn parse_rule_file_in(
    text: &str,
    origin: &str,
    expander: &dyn Expander,
    language: QueryLanguage,
) -> Result<RuleFile, Vec<FileError>> {
    if text.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(vec![FileError::whole(origin, format!("file is larger than {MAX_RULE_FILE_BYTES} bytes"))]);
    }
    if !has_content(text) {
        return Ok(RuleFile { origin: origin.to_owned(), groups: Vec::new() });
    }
    let node: FileNode = serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(origin, &e)])?;
    crate::validate::validate(node, origin, expander, language)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileNode {
    #[serde(default)]
    pub groups: Option<Vec<Spanned<GroupNode>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupNode {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub interval: Option<Spanned<String>>,
    #[serde(default)]
    pub limit: Option<Spanned<i64>>,
    #[serde(default)]
    pub rules: Option<Vec<Spanned<RuleNode>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleNode {
    #[serde(default)]
    pub record: Option<Spanned<String>>,
    #[serde(default)]
    pub alert: Option<Spanned<String>>,
    #[serde(default)]
    pub expr: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    pub hold: Option<Spanned<String>>,
    #[serde(default)]
    pub keep_firing_for: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: Option<Spanned<Pairs>>,
    #[serde(default)]
    pub annotations: Option<Spanned<Pairs>>,
}

/// A YAML mapping of strings to strings, in file order with positions (a null value reads as empty, as in Go).
pub(crate) struct Pairs(pub Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings to strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Spanned<Option<String>>>()?;
                    let value = Spanned::new(value.value.unwrap_or_default(), value.referenced, value.defined);
                    pairs.push((key, value));
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(PairsVisitor)
    }
}
