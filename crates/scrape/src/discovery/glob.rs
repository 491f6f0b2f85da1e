//! Shell patterns (`*`, `?`, `[a-z]`, `[!x]`) in the last path component, for `file_sd_configs` file lists.

use std::path::{Path, PathBuf};

/// The existing paths `pattern` names, sorted. Only the last component may be a pattern.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    if !name.contains(['*', '?', '[']) {
        return if path.symlink_metadata().is_ok() { vec![path.to_path_buf()] } else { Vec::new() };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|candidate| matches(name, candidate))
        .map(|candidate| path.with_file_name(candidate))
        .collect();
    found.sort();
    found
}

/// Whether `name` matches the whole of `pattern`.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Where to resume after the last `*`: the pattern after it and the next name position to try.
    let mut resume: Option<(usize, usize)> = None;
    while ni < n.len() {
        if p.get(pi) == Some(&'*') {
            pi += 1;
            resume = Some((pi, ni));
            continue;
        }
        match single(&p, pi, n[ni]) {
            Some((true, next)) => {
                pi = next;
                ni += 1;
            }
            _ => match resume {
                Some((after_star, tried)) => {
                    pi = after_star;
                    ni = tried + 1;
                    resume = Some((after_star, tried + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches one character against the pattern element at `pi`: (matched, index after the element).
/// `None` when the pattern is exhausted or malformed.
fn single(p: &[char], pi: usize, c: char) -> Option<(bool, usize)> {
    match *p.get(pi)? {
        '?' => Some((true, pi + 1)),
        '\\' => Some((*p.get(pi + 1)? == c, pi + 2)),
        '[' => {
            let mut i = pi + 1;
            let negated = matches!(p.get(i), Some('!' | '^'));
            if negated {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            loop {
                let lo = *p.get(i)?;
                if lo == ']' && !first {
                    return Some((hit != negated, i + 1));
                }
                first = false;
                let lo = if lo == '\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    lo
                };
                if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
                    let hi = p[i + 2];
                    hit |= lo <= c && c <= hi;
                    i += 3;
                } else {
                    hit |= lo == c;
                    i += 1;
                }
            }
        }
        other => Some((other == c, pi + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, n) in [
            ("*.json", "a.json"),
            ("*.json", ".json"),
            ("t*s.yml", "targets.yml"),
            ("a?c", "abc"),
            ("[a-c]x", "bx"),
            ("[!a-c]x", "dx"),
            ("[^a]x", "bx"),
            ("*", ""),
            ("a*b*c", "aXbYbZc"),
            ("\\*", "*"),
        ] {
            assert!(matches(p, n), "{p} {n}");
        }
        for (p, n) in [
            ("*.json", "a.yml"),
            ("a?c", "ac"),
            ("[a-c]x", "dx"),
            ("[!a-c]x", "ax"),
            ("a*b", "abc"),
            ("[", "["),
            ("x", "xx"),
        ] {
            assert!(!matches(p, n), "{p} {n}");
        }
    }

    #[test]
    fn expands_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.json", "a.json", "c.yml"] {
            std::fs::write(dir.path().join(f), "[]").unwrap();
        }
        let pattern = format!("{}/*.json", dir.path().display());
        let names: Vec<String> =
            expand(&pattern).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.json", "b.json"]);
        assert_eq!(expand(&format!("{}/c.yml", dir.path().display())).len(), 1);
        assert!(expand(&format!("{}/missing.yml", dir.path().display())).is_empty());
        assert!(expand("/nonexistent-dir-vigil/*.json").is_empty());
    }
}
