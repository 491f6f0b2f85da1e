//! Rule files from the config's `rule_files:` (PromQL) and `log_rule_files:` (LogQL) patterns: expanded (`*` in
//! the last component, sorted, each file once), then read and checked, every error `file:line:col: message`.

use std::path::PathBuf;

use vigil_rules::{Expander, GroupSpec, QueryLanguage};

/// The files `patterns` name, in pattern order, each once. A pattern without `*`, `?` or `[` names its file
/// whether or not it exists, so that a missing file is reported rather than silently skipped.
pub fn rule_file_paths(patterns: &[String]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let found = if pattern.contains(['*', '?', '[']) {
            vigil_scrape::expand_glob(pattern)
        } else {
            vec![PathBuf::from(pattern)]
        };
        for path in found {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Reads every rule file `patterns` name, its expressions in `language`; the groups of all files, or every error
/// of every file.
pub fn load_rule_files(
    patterns: &[String],
    language: QueryLanguage,
    expander: &dyn Expander,
) -> Result<Vec<GroupSpec>, Vec<String>> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in rule_file_paths(patterns) {
        match vigil_rules::load_rule_file_in(&path, expander, language) {
            Ok(file) => groups.extend(file.groups),
            Err(e) => errors.extend(e.iter().map(ToString::to_string)),
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

/// The groups of `rule_files` (PromQL) then `log_rule_files` (LogQL), or every error of both.
pub fn load_all_rule_files(
    rule_files: &[String],
    log_rule_files: &[String],
    expander: &dyn Expander,
) -> Result<Vec<GroupSpec>, Vec<String>> {
    match (
        load_rule_files(rule_files, QueryLanguage::PromQL, expander),
        load_rule_files(log_rule_files, QueryLanguage::LogQL, expander),
    ) {
        (Ok(mut metrics), Ok(logs)) => {
            metrics.extend(logs);
            Ok(metrics)
        }
        (a, b) => Err(a.err().into_iter().chain(b.err()).flatten().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_in_order_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yml", "a.yml", "c.txt"] {
            std::fs::write(dir.path().join(name), "groups: []\n").unwrap();
        }
        let d = dir.path().display();
        let paths = rule_file_paths(&[format!("{d}/*.yml"), format!("{d}/a.yml"), format!("{d}/none.yml")]);
        let want: Vec<PathBuf> = ["a.yml", "b.yml", "none.yml"].iter().map(|n| dir.path().join(n)).collect();
        assert_eq!(paths, want);
        let errors = load_rule_files(&[format!("{d}/none.yml")], QueryLanguage::PromQL, &vigil_rules::PlainExpander)
            .unwrap_err();
        assert!(errors[0].starts_with(&format!("{d}/none.yml: cannot open")), "{errors:?}");
    }
}
