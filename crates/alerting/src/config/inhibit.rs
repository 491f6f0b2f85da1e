//! An `inhibit_rules:` entry: source and target matchers (new `*_matchers` and deprecated `*_match` /
//! `*_match_re`) and the labels that must be equal between the two alerts.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::types::AnchoredRegex;
use super::{err_at, parse_matcher_lines, Located, Problem};
use crate::labels::is_valid_label_name;
use crate::matchers::{MatchOp, Matcher, Matchers};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Optional, for display only.
    #[serde(default)]
    pub name: String,
    pub source_match: Option<Located<BTreeMap<String, String>>>,
    pub source_match_re: Option<Located<BTreeMap<String, AnchoredRegex>>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub source_matchers: Vec<Located<String>>,
    pub target_match: Option<Located<BTreeMap<String, String>>>,
    pub target_match_re: Option<Located<BTreeMap<String, AnchoredRegex>>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub target_matchers: Vec<Located<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub equal: Vec<Located<String>>,

    /// Filled in by validation.
    #[serde(skip)]
    pub parsed_source: Matchers,
    /// Filled in by validation.
    #[serde(skip)]
    pub parsed_target: Matchers,
}

fn side(
    eq: &Option<Located<BTreeMap<String, String>>>,
    re: &Option<Located<BTreeMap<String, AnchoredRegex>>>,
    lines: &[Located<String>],
) -> Result<Matchers, Problem> {
    let mut all = Vec::new();
    if let Some(m) = eq {
        for (name, value) in &m.value {
            if !is_valid_label_name(name) {
                return Err(err_at(&m.referenced, format!("invalid label name {name:?}")));
            }
            all.push(Matcher::new(MatchOp::Equal, name, value).map_err(|e| err_at(&m.referenced, e.0))?);
        }
    }
    if let Some(m) = re {
        for (name, r) in &m.value {
            if !is_valid_label_name(name) {
                return Err(err_at(&m.referenced, format!("invalid label name {name:?}")));
            }
            all.push(Matcher::new(MatchOp::Regex, name, r.anchored()).map_err(|e| err_at(&m.referenced, e.0))?);
        }
    }
    all.extend(parse_matcher_lines(lines)?.0);
    Ok(Matchers(all))
}

impl InhibitRuleConfig {
    pub(crate) fn prepare(&mut self) -> Result<(), Problem> {
        self.parsed_source = side(&self.source_match, &self.source_match_re, &self.source_matchers)?;
        self.parsed_target = side(&self.target_match, &self.target_match_re, &self.target_matchers)?;
        for l in &self.equal {
            if !is_valid_label_name(&l.value) {
                return Err(err_at(&l.referenced, format!("{:?} is not a valid label name", l.value)));
            }
        }
        Ok(())
    }

    pub fn equal_labels(&self) -> impl Iterator<Item = &str> {
        self.equal.iter().map(|l| l.value.as_str())
    }
}
