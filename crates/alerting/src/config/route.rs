//! A `route:` node: receiver, grouping, matchers (new `matchers:` and deprecated `match` / `match_re`),
//! timers, time intervals and child routes, checked as Alertmanager checks them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::types::{AnchoredRegex, PromDuration};
use super::{err_at, parse_matcher_lines, Located, Problem};
use crate::labels::is_valid_label_name;
use crate::matchers::{MatchOp, Matcher, Matchers};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Inherited from the parent when absent.
    pub receiver: Option<Located<String>>,
    /// Label names, or `...` for all labels. Absent (or empty): inherited from the parent.
    pub group_by: Option<Vec<Located<String>>>,
    /// Deprecated: equality matchers.
    #[serde(rename = "match")]
    pub match_eq: Option<Located<BTreeMap<String, String>>>,
    /// Deprecated: regex matchers, anchored.
    pub match_re: Option<Located<BTreeMap<String, AnchoredRegex>>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub matchers: Vec<Located<String>>,
    /// Not inherited by child routes.
    #[serde(default, deserialize_with = "super::nullable")]
    pub mute_time_intervals: Vec<Located<String>>,
    /// Not inherited by child routes.
    #[serde(default, deserialize_with = "super::nullable")]
    pub active_time_intervals: Vec<Located<String>>,
    #[serde(rename = "continue")]
    pub continue_matching: Option<Located<bool>>,
    #[serde(default, deserialize_with = "super::nullable")]
    pub routes: Vec<Located<RouteConfig>>,
    pub group_wait: Option<Located<PromDuration>>,
    pub group_interval: Option<Located<PromDuration>>,
    pub repeat_interval: Option<Located<PromDuration>>,

    /// Filled in by validation: every matcher of the node, sorted as Alertmanager sorts them.
    #[serde(skip)]
    pub parsed_matchers: Matchers,
    /// Filled in by validation: the `group_by` names, `None` when the parent's grouping applies.
    #[serde(skip)]
    pub parsed_group_by: Option<BTreeSet<String>>,
    /// Filled in by validation: `group_by: ['...']`.
    #[serde(skip)]
    pub group_by_all: bool,
}

impl RouteConfig {
    pub fn continues(&self) -> bool {
        self.continue_matching.as_ref().is_some_and(|c| c.value)
    }

    pub fn receiver_name(&self) -> Option<&str> {
        self.receiver.as_ref().map(|r| r.value.as_str()).filter(|r| !r.is_empty())
    }

    /// Checks this node and its children, and fills in the parsed fields.
    pub(crate) fn prepare(&mut self) -> Result<(), Problem> {
        let mut all = Vec::new();
        if let Some(m) = &self.match_eq {
            for (name, value) in &m.value {
                if !is_valid_label_name(name) {
                    return Err(err_at(&m.referenced, format!("invalid label name {name:?}")));
                }
                all.push(Matcher::new(MatchOp::Equal, name, value).map_err(|e| err_at(&m.referenced, e.0))?);
            }
        }
        if let Some(m) = &self.match_re {
            for (name, re) in &m.value {
                if !is_valid_label_name(name) {
                    return Err(err_at(&m.referenced, format!("invalid label name {name:?}")));
                }
                // The anchored source, as Alertmanager 0.25 builds it: it shows in route keys.
                let matcher = Matcher::new(MatchOp::Regex, name, re.anchored());
                all.push(matcher.map_err(|e| err_at(&m.referenced, e.0))?);
            }
        }
        all.extend(parse_matcher_lines(&self.matchers)?.0);
        let mut matchers = Matchers(all);
        matchers.sort();
        self.parsed_matchers = matchers;

        if let Some(list) = &self.group_by {
            let mut names = BTreeSet::new();
            let mut all_labels = false;
            for l in list {
                if l.value == "..." {
                    all_labels = true;
                } else if !is_valid_label_name(&l.value) {
                    return Err(err_at(&l.referenced, format!("invalid label name {:?} in group_by list", l.value)));
                } else if !names.insert(l.value.clone()) {
                    return Err(err_at(&l.referenced, format!("duplicated label {:?} in group_by", l.value)));
                }
            }
            if all_labels && !names.is_empty() {
                // Alertmanager 0.25's wording, typo included.
                return Err(err_at(
                    &list[0].referenced,
                    "cannot have wildcard group_by (`...`) and other other labels at the same time",
                ));
            }
            // As in Alertmanager, an empty list leaves the parent's grouping in place.
            self.group_by_all = all_labels;
            self.parsed_group_by = (!names.is_empty()).then_some(names);
        }
        for (key, d) in [("group_interval", &self.group_interval), ("repeat_interval", &self.repeat_interval)] {
            if let Some(d) = d.as_ref().filter(|d| d.value.0.is_zero()) {
                return Err(err_at(&d.referenced, format!("{key} cannot be zero")));
            }
        }
        for child in &mut self.routes {
            child.value.prepare()?;
        }
        Ok(())
    }

    /// Calls `f` on this node and every node below it, depth first.
    pub(crate) fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a RouteConfig)) {
        f(self);
        for child in &self.routes {
            child.value.visit(f);
        }
    }
}
