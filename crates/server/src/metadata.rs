//! Metric metadata (type, help, unit per family) as senders and scrapes report it, for `/api/v1/metadata`.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// One family's metadata.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Metadata {
    pub family: String,
    pub kind: &'static str,
    pub help: String,
    pub unit: String,
}

/// Families beyond this many are not recorded: metadata is a convenience, and senders are untrusted.
const MAX_FAMILIES: usize = 200_000;
/// Distinct metadata kept per family (targets may disagree on help texts).
const MAX_PER_FAMILY: usize = 8;

/// The latest metadata seen per family, in memory.
#[derive(Debug, Default)]
pub struct MetadataStore {
    families: RwLock<BTreeMap<String, Vec<Metadata>>>,
}

impl MetadataStore {
    pub fn record(&self, items: impl IntoIterator<Item = Metadata>) {
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        for item in items {
            let full = families.len() >= MAX_FAMILIES;
            let entry = match families.get_mut(&item.family) {
                Some(entry) => entry,
                None if full => continue,
                None => families.entry(item.family.clone()).or_default(),
            };
            if !entry.contains(&item) && entry.len() < MAX_PER_FAMILY {
                entry.push(item);
            }
        }
    }

    /// Families (all, or the one named `metric`), at most `limit` of them, each with its metadata.
    pub fn list(&self, metric: Option<&str>, limit: usize) -> Vec<(String, Vec<Metadata>)> {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        match metric {
            Some(name) => families.get(name).map(|m| vec![(name.to_string(), m.clone())]).unwrap_or_default(),
            None => families.iter().take(limit).map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}
