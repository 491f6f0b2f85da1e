//! Inhibition: a firing alert matching a rule's source matchers mutes alerts matching its target matchers
//! when the `equal` labels agree (a label missing on both sides counts as equal). An alert matching both
//! sides cannot be muted by another alert that also matches both, so it never mutes itself.

use std::collections::{BTreeMap, BTreeSet};

use crate::alert::Alert;
use crate::config::InhibitRuleConfig;
use crate::labels::{Fingerprint, LabelSet};
use crate::matchers::Matchers;
use crate::time::Timestamp;

#[derive(Clone, Debug)]
pub struct InhibitRule {
    pub source: Matchers,
    pub target: Matchers,
    pub equal: BTreeSet<String>,
    /// The latest version of every alert that matched the source side, resolved ones included until
    /// garbage collection; resolved ones are skipped when checking.
    sources: BTreeMap<Fingerprint, Alert>,
}

impl InhibitRule {
    pub fn new(source: Matchers, target: Matchers, equal: impl IntoIterator<Item = String>) -> InhibitRule {
        InhibitRule { source, target, equal: equal.into_iter().collect(), sources: BTreeMap::new() }
    }

    fn from_config(c: &InhibitRuleConfig) -> InhibitRule {
        InhibitRule::new(c.parsed_source.clone(), c.parsed_target.clone(), c.equal_labels().map(str::to_owned))
    }

    /// The firing sources inhibiting `labels`; `exclude_two_sided` skips sources that match the target side.
    fn inhibitors(&self, labels: &LabelSet, exclude_two_sided: bool, now: Timestamp) -> Vec<Fingerprint> {
        self.sources
            .iter()
            .filter(|(_, a)| !a.resolved_at(now))
            .filter(|(_, a)| self.equal.iter().all(|n| a.labels.get(n) == labels.get(n)))
            .filter(|(_, a)| !(exclude_two_sided && self.target.matches(&a.labels)))
            .map(|(fp, _)| *fp)
            .collect()
    }
}

/// The inhibition rules of a configuration and the source alerts they have seen.
#[derive(Clone, Debug, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRule>) -> Inhibitor {
        Inhibitor { rules }
    }

    pub fn from_config<'a>(rules: impl IntoIterator<Item = &'a InhibitRuleConfig>) -> Inhibitor {
        Inhibitor::new(rules.into_iter().map(InhibitRule::from_config).collect())
    }

    /// Records a received alert (its latest stored version) with every rule whose source side it matches.
    pub fn observe(&mut self, alert: &Alert) {
        for r in &mut self.rules {
            if r.source.matches(&alert.labels) {
                r.sources.insert(alert.fingerprint(), alert.clone());
            }
        }
    }

    /// The alerts inhibiting `labels` at `now`, sorted; empty when it is not inhibited.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> Vec<Fingerprint> {
        let mut out = BTreeSet::new();
        for r in &self.rules {
            if r.target.matches(labels) {
                out.extend(r.inhibitors(labels, r.source.matches(labels), now));
            }
        }
        out.into_iter().collect()
    }

    /// Forgets resolved source alerts.
    pub fn gc(&mut self, now: Timestamp) {
        for r in &mut self.rules {
            r.sources.retain(|_, a| !a.resolved_at(now));
        }
    }
}
