//! Go's `filepath.Glob` and `filepath.Match` (`*`, `?`, `[...]`, `\` escapes), for `rule_files` patterns.

use std::path::{Path, PathBuf};

/// The existing paths matching `pattern`, sorted within each directory, as Go's `filepath.Glob`. A malformed
/// pattern is an error.
pub(crate) fn glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    if !has_meta(pattern) {
        let path = PathBuf::from(pattern);
        return Ok(if std::fs::symlink_metadata(&path).is_ok() { vec![path] } else { Vec::new() });
    }
    let path = Path::new(pattern);
    let (dir, file) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(file)) => (dir, file.to_string_lossy().into_owned()),
        _ => return Ok(Vec::new()),
    };
    // Check the last component's syntax even when no directory matches, as Go does.
    matches(&file, "")?;
    let dirs = match dir.to_str() {
        Some("") => vec![PathBuf::from("")],
        Some(d) if has_meta(d) => glob(d)?,
        _ => vec![dir.to_path_buf()],
    };
    let mut out = Vec::new();
    for dir in dirs {
        let listing = if dir.as_os_str().is_empty() { Path::new(".") } else { dir.as_path() };
        let Ok(entries) = std::fs::read_dir(listing) else { continue };
        let mut names: Vec<String> =
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            if matches(&file, &name)? {
                out.push(dir.join(&name));
            }
        }
    }
    Ok(out)
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Go's `filepath.Match` on one path component.
pub(crate) fn matches(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn bad() -> String {
    "syntax error in pattern".into()
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, String> {
    let Some(&c) = p.first() else { return Ok(n.is_empty()) };
    match c {
        '*' => {
            // Validate the rest of the pattern even if a shorter match decides.
            let mut result = false;
            for skip in 0..=n.len() {
                if skip > 0 && n[skip - 1] == '/' {
                    break;
                }
                if match_from(&p[1..], &n[skip..])? {
                    result = true;
                    break;
                }
            }
            if !result {
                match_from(&p[1..], &[])?;
            }
            Ok(result)
        }
        '?' => match n.first() {
            Some(&x) if x != '/' => match_from(&p[1..], &n[1..]),
            _ => check_rest(&p[1..]).map(|_| false),
        },
        '[' => {
            let (matched, len) = class(&p[1..], n.first().copied())?;
            if matched {
                match_from(&p[1 + len..], &n[1..])
            } else {
                check_rest(&p[1 + len..]).map(|_| false)
            }
        }
        '\\' => {
            let &escaped = p.get(1).ok_or_else(bad)?;
            match n.first() {
                Some(&x) if x == escaped => match_from(&p[2..], &n[1..]),
                _ => check_rest(&p[2..]).map(|_| false),
            }
        }
        _ => match n.first() {
            Some(&x) if x == c => match_from(&p[1..], &n[1..]),
            _ => check_rest(&p[1..]).map(|_| false),
        },
    }
}

/// Go reports a malformed pattern even when the name failed to match earlier.
fn check_rest(p: &[char]) -> Result<(), String> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '[' => i += 1 + class(&p[i + 1..], None)?.1,
            '\\' => i += 2,
            _ => i += 1,
        }
    }
    if p.last() == Some(&'\\') && p.len() % 2 == 1 {
        return Err(bad());
    }
    Ok(())
}

/// Matches `c` against a character class whose text follows `[`; returns whether it matched and the length of
/// the class text including the closing `]`.
fn class(p: &[char], c: Option<char>) -> Result<(bool, usize), String> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        match p.get(i) {
            None => return Err(bad()),
            Some(']') if !first => {
                i += 1;
                break;
            }
            _ => {}
        }
        first = false;
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        if c.is_some_and(|c| lo <= c && c <= hi) {
            matched = true;
        }
    }
    let matched = c.is_some_and(|c| c != '/') && matched != negated;
    Ok((matched, i))
}

fn class_char(p: &[char], i: usize) -> Result<(char, usize), String> {
    match p.get(i) {
        None | Some('-' | ']') => Err(bad()),
        Some('\\') => p.get(i + 1).map(|&c| (c, i + 2)).ok_or_else(bad),
        Some(&c) => Ok((c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_like_go() {
        let cases = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*/b", "abc/b", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("*.yml", "rules.yml", true),
            ("*.yml", "rules.yaml", false),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(matches(p, n), Ok(want), "{p} {n}");
        }
        for p in ["[", "[]", "a[", "[a-", "\\"] {
            assert!(matches(p, "x").is_err(), "{p}");
        }
    }

    #[test]
    fn glob_lists_matching_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yml", "a.yml", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let pattern = format!("{}/*.yml", dir.path().display());
        let got: Vec<String> =
            glob(&pattern).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(got, ["a.yml", "b.yml"]);
        let literal = dir.path().join("c.txt");
        assert_eq!(glob(&literal.display().to_string()).unwrap(), vec![literal]);
        assert!(glob(&format!("{}/missing.yml", dir.path().display())).unwrap().is_empty());
        assert!(glob(&format!("{}/[.yml", dir.path().display())).is_err());
    }
}
