//! The relabeling engine: Prometheus' `relabel_configs` semantics, rule by rule, on a label set.

use regex::Regex;
use vigil_config::scrape::{is_label_name, RelabelAction, RelabelConfig, DEFAULT_RELABEL_REGEX};
use vigil_model::Labels;

/// A relabel rule that does not compile or breaks Prometheus' field rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RelabelError(String);

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    action: RelabelAction,
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    /// Anchored.
    regex: Regex,
    /// The regex as written; also what rules compare by.
    regex_text: String,
    regex_is_default: bool,
    modulus: u64,
    replacement: String,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.action == other.action
            && self.source_labels == other.source_labels
            && self.separator == other.separator
            && self.target_label == other.target_label
            && self.regex_text == other.regex_text
            && self.regex_is_default == other.regex_is_default
            && self.modulus == other.modulus
            && self.replacement == other.replacement
    }
}

impl Rule {
    pub fn new(cfg: &RelabelConfig) -> Result<Rule, RelabelError> {
        cfg.check().map_err(RelabelError)?;
        let regex = cfg.compile_regex().map_err(|e| RelabelError(e.to_string()))?;
        Ok(Rule {
            action: cfg.action(),
            source_labels: cfg.source_labels().to_vec(),
            separator: cfg.separator().to_owned(),
            target_label: cfg.target_label().to_owned(),
            regex,
            regex_text: cfg.regex().to_owned(),
            regex_is_default: cfg.regex.is_none() && cfg.regex() == DEFAULT_RELABEL_REGEX,
            modulus: cfg.modulus(),
            replacement: cfg.replacement().to_owned(),
        })
    }

    /// Compiles a list of rules.
    pub fn compile(cfgs: &[RelabelConfig]) -> Result<Vec<Rule>, RelabelError> {
        cfgs.iter().map(Rule::new).collect()
    }

    /// Applies this rule; false when the label set is dropped.
    fn apply(&self, labels: &mut Labels) -> bool {
        let value = self.source_value(labels);
        match self.action {
            RelabelAction::Drop => return !self.regex.is_match(&value),
            RelabelAction::Keep => return self.regex.is_match(&value),
            RelabelAction::DropEqual => return labels.get(&self.target_label).unwrap_or("") != value,
            RelabelAction::KeepEqual => return labels.get(&self.target_label).unwrap_or("") == value,
            RelabelAction::Replace => self.replace(labels, &value),
            RelabelAction::Lowercase => labels.set(&self.target_label, &value.to_lowercase()),
            RelabelAction::Uppercase => labels.set(&self.target_label, &value.to_uppercase()),
            RelabelAction::HashMod => {
                let digest = crate::md5::digest(value.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..]);
                // The last 8 bytes, big-endian: what Prometheus has always used.
                let shard = u64::from_be_bytes(tail) % self.modulus.max(1);
                labels.set(&self.target_label, &shard.to_string());
            }
            RelabelAction::LabelMap => {
                let snapshot = labels.clone();
                for l in snapshot.iter().filter(|l| self.regex.is_match(&l.name)) {
                    let name = self.regex.replace_all(&l.name, self.replacement.as_str());
                    labels.set(&name, &l.value);
                }
            }
            RelabelAction::LabelDrop => labels.retain(|l| !self.regex.is_match(&l.name)),
            RelabelAction::LabelKeep => labels.retain(|l| self.regex.is_match(&l.name)),
        }
        true
    }

    fn source_value(&self, labels: &Labels) -> String {
        let mut value = String::new();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                value.push_str(&self.separator);
            }
            value.push_str(labels.get(name).unwrap_or(""));
        }
        value
    }

    fn replace(&self, labels: &mut Labels, value: &str) {
        // Setting a constant: no need to run the regex.
        if value.is_empty()
            && self.regex_is_default
            && !self.target_label.contains('$')
            && !self.replacement.contains('$')
        {
            labels.set(&self.target_label, &self.replacement);
            return;
        }
        let Some(caps) = self.regex.captures(value) else { return };
        let mut target = String::new();
        caps.expand(&self.target_label, &mut target);
        if !is_label_name(&target) {
            return;
        }
        let mut result = String::new();
        caps.expand(&self.replacement, &mut result);
        // An empty value removes the label, as `set` does.
        labels.set(&target, &result);
    }
}

/// Applies `rules` in order; `None` when a rule drops the label set.
pub fn process(mut labels: Labels, rules: &[Rule]) -> Option<Labels> {
    for rule in rules {
        if !rule.apply(&mut labels) {
            return None;
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Vec<Rule> {
        let cfgs: Vec<RelabelConfig> = serde_saphyr::from_str(yaml).unwrap();
        Rule::compile(&cfgs).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn run(input: &[(&str, &str)], yaml: &str) -> Option<Labels> {
        process(labels(input), &rules(yaml))
    }

    #[test]
    fn replace_with_captures() {
        let out = run(
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}",
        );
        assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")])));
    }

    #[test]
    fn replace_joins_sources_with_the_separator() {
        let out = run(
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}\n\
             - {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
        );
        assert_eq!(out, Some(labels(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")])));
    }

    #[test]
    fn replace_without_match_changes_nothing() {
        let input = [("a", "foo")];
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'x(.*)', target_label: b}"), Some(labels(&input)));
    }

    #[test]
    fn replace_to_empty_deletes_and_missing_sources_read_empty() {
        let out = run(&[("a", "foo"), ("b", "x")], "- {source_labels: [a], regex: 'f(.*)o', target_label: b}");
        assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "o")])));
        let out = run(&[("a", "foo"), ("b", "x")], "- {source_labels: [a], regex: 'foo()', target_label: b}");
        assert_eq!(out, Some(labels(&[("a", "foo")])));
        // An absent source label is the empty string; the default regex matches it and sets the constant.
        let out = run(&[("a", "foo")], "- {source_labels: [nope], target_label: b, replacement: fixed}");
        assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "fixed")])));
    }

    #[test]
    fn regexes_are_anchored() {
        let input = [("a", "foo")];
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'o', action: drop}"), Some(labels(&input)));
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'x|fo+', action: drop}"), None);
    }

    #[test]
    fn target_label_may_reference_groups() {
        let out = run(
            &[("a", "some-name-value")],
            "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}'}",
        );
        assert_eq!(out, Some(labels(&[("a", "some-name-value"), ("name", "value")])));
        // A computed name that is not a label name leaves the set alone.
        let out = run(&[("a", "some-1x-v")], "- {source_labels: [a], regex: 'some-([^-]+)-(.*)', target_label: '$1'}");
        assert_eq!(out, Some(labels(&[("a", "some-1x-v")])));
        // `$1x` names a group "1x", which does not exist: empty.
        let out = run(&[("a", "foo")], "- {source_labels: [a], regex: '(f).*', target_label: b, replacement: '$1x'}");
        assert_eq!(out, Some(labels(&[("a", "foo")])));
        let out =
            run(&[("a", "foo")], "- {source_labels: [a], regex: '(f).*', target_label: b, replacement: '${1}x$$'}");
        assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "fx$")])));
    }

    #[test]
    fn keep_and_drop() {
        let input = [("a", "foo")];
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'f.*', action: drop}"), None);
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'f.*', action: keep}"), Some(labels(&input)));
        assert_eq!(run(&input, "- {source_labels: [a], regex: 'b.*', action: keep}"), None);
        // Keep on an absent label sees the empty string.
        assert_eq!(run(&input, "- {source_labels: [x], regex: '', action: keep}"), Some(labels(&input)));
        assert_eq!(run(&input, "- {source_labels: [x], regex: '.+', action: keep}"), None);
    }

    #[test]
    fn keepequal_and_dropequal() {
        let same = [("a", "foo"), ("b", "foo")];
        let diff = [("a", "foo"), ("b", "bar")];
        let keep = "- {source_labels: [a], target_label: b, action: keepequal}";
        let drop = "- {source_labels: [a], target_label: b, action: dropequal}";
        assert_eq!(run(&same, keep), Some(labels(&same)));
        assert_eq!(run(&diff, keep), None);
        assert_eq!(run(&same, drop), None);
        assert_eq!(run(&diff, drop), Some(labels(&diff)));
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Values from Prometheus' relabel tests.
        let out = run(
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
            "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
        );
        assert_eq!(out.unwrap().get("d"), Some("976"));
        let out = run(&[("a", "foo")], "- {source_labels: [a], target_label: d, modulus: 1000000000, action: hashmod}");
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; last 8 bytes 0xedef654fccc4a4d8.
        assert_eq!(out.unwrap().get("d"), Some(&*(0xedef654fccc4a4d8u64 % 1_000_000_000).to_string()));
    }

    #[test]
    fn labelmap_copies_matching_names() {
        let out = run(
            &[("a", "foo"), ("b", "bar"), ("__meta_my_bar", "aaa"), ("__meta_my_baz", "bbb")],
            "- {action: labelmap, regex: '__meta_(my.*)', replacement: '${1}'}",
        );
        assert_eq!(
            out,
            Some(labels(&[
                ("a", "foo"),
                ("b", "bar"),
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb")
            ]))
        );
        let out = run(&[("__meta_x", "1")], "- {action: labelmap, regex: '__meta_(.+)', replacement: 'p_$1'}");
        assert_eq!(out.unwrap().get("p_x"), Some("1"));
    }

    #[test]
    fn labeldrop_and_labelkeep() {
        let input = [("a", "foo"), ("b", "bar"), ("c", "baz")];
        assert_eq!(run(&input, "- {action: labeldrop, regex: 'a|b'}"), Some(labels(&[("c", "baz")])));
        assert_eq!(run(&input, "- {action: labelkeep, regex: 'a|b'}"), Some(labels(&[("a", "foo"), ("b", "bar")])));
        // Anchored: "a" does not match "aa".
        assert_eq!(run(&[("aa", "1")], "- {action: labeldrop, regex: 'a'}"), Some(labels(&[("aa", "1")])));
    }

    #[test]
    fn lowercase_and_uppercase() {
        let out = run(
            &[("foo", "bAr123Foo")],
            "- {source_labels: [foo], target_label: foo_lower, action: lowercase}\n\
             - {source_labels: [foo], target_label: foo_upper, action: uppercase}",
        );
        let out = out.unwrap();
        assert_eq!(out.get("foo_lower"), Some("bar123foo"));
        assert_eq!(out.get("foo_upper"), Some("BAR123FOO"));
    }

    #[test]
    fn rules_see_earlier_rules_changes() {
        let out = run(
            &[("__address__", "host:9100")],
            "- {source_labels: [__address__], regex: '(.*):.*', target_label: host}\n\
             - {source_labels: [host], regex: 'host', action: drop}",
        );
        assert_eq!(out, None);
    }

    #[test]
    fn case_insensitive_flags_work() {
        let input = [("a", "FOO")];
        assert_eq!(run(&input, "- {source_labels: [a], regex: '(?i)foo', action: drop}"), None);
    }

    #[test]
    fn invalid_rules_are_refused() {
        let cfgs: Vec<RelabelConfig> = serde_saphyr::from_str("- {action: hashmod, target_label: x}").unwrap();
        let e = Rule::compile(&cfgs).unwrap_err();
        assert!(e.to_string().contains("non-zero modulus"), "{e}");
    }
}
