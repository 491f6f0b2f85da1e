//! The template set notifications are rendered with: vigil's default templates (`default.tmpl`, under
//! Alertmanager's template names) plus the user's files from `templates:`, and Alertmanager's way of
//! executing one configuration field (`tmpl.ExecuteTextString`).

use std::path::Path;

use vigil_template::{alertmanager, Env, Template, Value};

use crate::error::SetupError;

const DEFAULTS: &str = include_str!("default.tmpl");

/// Parsed once when the notifier is built; executed for every notification.
#[derive(Clone, Debug)]
pub struct Templates {
    set: Template,
}

impl Templates {
    /// The default templates only.
    pub fn defaults() -> Templates {
        let set = Template::parse_with("default.tmpl", DEFAULTS, &alertmanager::functions(), alertmanager::options())
            .expect("the default templates parse");
        Templates { set }
    }

    /// The defaults plus every file matching the globs (later definitions replace earlier ones, as in
    /// Alertmanager, where user files are parsed after the defaults).
    pub fn load<'a>(globs: impl IntoIterator<Item = &'a str>) -> Result<Templates, SetupError> {
        let mut t = Templates::defaults();
        for glob in globs {
            for path in expand_glob(glob).map_err(|message| SetupError::Template { file: glob.into(), message })? {
                let file = path.display().to_string();
                let text =
                    read_capped(&path).map_err(|message| SetupError::Template { file: file.clone(), message })?;
                t.set.add(&file, &text).map_err(|e| SetupError::Template { file, message: e.to_string() })?;
            }
        }
        Ok(t)
    }

    /// Adds a template text (tests and embedders).
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), SetupError> {
        self.set.add(name, text).map_err(|e| SetupError::Template { file: name.into(), message: e.to_string() })
    }

    /// Alertmanager's `ExecuteTextString`: `text` is parsed as a template next to the set and run on `data`;
    /// an empty text gives an empty string.
    pub fn execute_text(&self, text: &str, data: &Value) -> Result<String, String> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let t = self.set.with_root("", text).map_err(|e| e.to_string())?;
        t.execute(data, &Env::new()).map_err(|e| e.to_string())
    }

    /// Runs one named template of the set.
    pub fn execute_named(&self, name: &str, data: &Value) -> Result<String, String> {
        self.set.execute_template(name, data, &Env::new()).map_err(|e| e.to_string())
    }
}

const MAX_TEMPLATE_FILE_BYTES: u64 = 4 << 20;

fn read_capped(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TEMPLATE_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_TEMPLATE_FILE_BYTES {
        return Err(format!("larger than {MAX_TEMPLATE_FILE_BYTES} bytes"));
    }
    Ok(text)
}

/// Go's `filepath.Glob` for patterns whose wildcards (`*`, `?`) are in the last path component, which is how
/// `templates:` entries are written (`/etc/alertmanager/templates/*.tmpl`). Matches are sorted.
fn expand_glob(pattern: &str) -> Result<Vec<std::path::PathBuf>, String> {
    let path = Path::new(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?']) {
        return Ok(if path.exists() { vec![path.to_path_buf()] } else { Vec::new() });
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if dir.to_string_lossy().contains(['*', '?']) {
        return Err("wildcards are only supported in the file name".into());
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard_match(name.as_bytes(), n.as_bytes())))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

fn wildcard_match(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard_match(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && wildcard_match(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && wildcard_match(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*.tmpl", b"a.tmpl"));
        assert!(!wildcard_match(b"*.tmpl", b"a.tmp"));
        assert!(wildcard_match(b"a?c", b"abc"));
    }
}
