//! Label sets: the identity of a series. Sorted by name, names unique, so equal sets compare equal.

use std::fmt;

/// The name of the label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// A sorted set of labels with unique names. Labels with empty values are dropped, as in Prometheus.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

/// Why a set of pairs is not a valid label set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    #[error("empty label name")]
    EmptyName,
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
}

impl Labels {
    /// Builds a label set from pairs in any order; empty values are dropped, duplicate names rejected.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Labels, LabelsError> {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label { name: n.into(), value: v.into() })
            .filter(|l| !l.value.is_empty())
            .collect();
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for w in labels.windows(2) {
            if w[0].name == w[1].name {
                return Err(LabelsError::Duplicate(w[0].name.clone()));
            }
        }
        if labels.first().is_some_and(|l| l.name.is_empty()) {
            return Err(LabelsError::EmptyName);
        }
        Ok(Labels(labels))
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok().map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a sorted slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// Sets `name` to `value`, replacing any previous value; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_string(),
            Err(_) if value.is_empty() || name.is_empty() => {}
            Err(i) => self.0.insert(i, Label { name: name.to_string(), value: value.to_string() }),
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok()?;
        Some(self.0.remove(i).value)
    }

    /// A copy of the labels for which `keep` returns true, copying no others.
    pub fn filtered(&self, mut keep: impl FnMut(&Label) -> bool) -> Labels {
        Labels(self.0.iter().filter(|l| keep(l)).cloned().collect())
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn retain(&mut self, keep: impl FnMut(&Label) -> bool) {
        self.0.retain(keep)
    }
}

impl fmt::Display for Labels {
    /// Prometheus' notation: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_empty_values_dropped() {
        let l = Labels::from_pairs([("job", "node"), ("__name__", "up"), ("empty", "")]).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("job"), Some("node"));
        assert_eq!(l.get("empty"), None);
        assert_eq!(l.to_string(), "up{job=\"node\"}");
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job"]);
        assert_eq!(Labels::from_pairs([("a", "1"), ("a", "2")]), Err(LabelsError::Duplicate("a".into())));
        assert_eq!(Labels::from_pairs([("", "1")]), Err(LabelsError::EmptyName));
    }

    #[test]
    fn set_remove_and_retain_keep_the_set_sorted() {
        let mut l = Labels::from_pairs([("b", "2")]).unwrap();
        l.set("c", "3");
        l.set("a", "1");
        l.set("b", "two");
        l.set("ignored", "");
        assert_eq!(l.to_string(), "{a=\"1\", b=\"two\", c=\"3\"}");
        l.set("a", "");
        assert_eq!(l.remove("c"), Some("3".to_string()));
        assert_eq!(l.remove("c"), None);
        l.set("d", "4");
        l.retain(|l| l.name != "d");
        assert_eq!(l.as_slice(), &[Label { name: "b".into(), value: "two".into() }]);
    }
}
