//! Dashboards as code: the built-in dashboards (YAML files under the repository's `dashboards/`, compiled in)
//! and the user's (`server.dashboards_dir`, read again on every request so edits show at once), each parsed and
//! checked by `vigil_config::dashboard`. A broken file is an entry with its `file:line:col` error; it never
//! hides the others.

use std::path::{Path, PathBuf};

use vigil_config::dashboard::{Dashboard, MAX_DASHBOARD_BYTES};

/// The dashboards shipped in the binary: id and YAML text.
const BUILTIN: &[(&str, &str)] = &[("host", include_str!("../../../../dashboards/host.yml"))];

/// The most files read from the user's directory; the rest are listed as an error.
pub const MAX_USER_FILES: usize = 500;

/// Where a dashboard comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Builtin,
    File,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::File => "file",
        }
    }
}

/// One dashboard of the list: parsed, or the error that its file has.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file name without `.yml`/`.yaml`, or the built-in's name; what `/api/v1/dashboards/{id}` takes.
    pub id: String,
    pub source: Source,
    /// The file it was read from (user dashboards).
    pub file: Option<PathBuf>,
    pub dashboard: Result<Dashboard, String>,
}

/// The built-in dashboards and the user's directory.
#[derive(Clone, Debug, Default)]
pub struct Dashboards {
    dir: Option<PathBuf>,
}

impl Dashboards {
    pub fn new(dir: Option<PathBuf>) -> Dashboards {
        Dashboards { dir }
    }

    /// Every dashboard, sorted by id; a user file with a built-in's id replaces it. Blocking (reads files).
    pub fn list(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = BUILTIN
            .iter()
            .map(|(id, text)| Entry {
                id: (*id).to_owned(),
                source: Source::Builtin,
                file: None,
                dashboard: Dashboard::parse(text, &format!("dashboards/{id}.yml")).map_err(|e| e.to_string()),
            })
            .collect();
        if let Some(dir) = &self.dir {
            for entry in read_dir(dir) {
                entries.retain(|e| e.id != entry.id);
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries
    }

    /// One dashboard by id: `None` when there is none. Blocking (reads files).
    pub fn get(&self, id: &str) -> Option<Entry> {
        if !is_id(id) {
            return None;
        }
        if let Some(dir) = &self.dir {
            for ext in ["yml", "yaml"] {
                let path = dir.join(format!("{id}.{ext}"));
                if path.is_file() {
                    return Some(read_file(id, path));
                }
            }
        }
        BUILTIN.iter().find(|(b, _)| *b == id).map(|(id, text)| Entry {
            id: (*id).to_owned(),
            source: Source::Builtin,
            file: None,
            dashboard: Dashboard::parse(text, &format!("dashboards/{id}.yml")).map_err(|e| e.to_string()),
        })
    }
}

/// The dashboard files of `dir` (`*.yml`, `*.yaml` whose stem is a valid id), each parsed.
fn read_dir(dir: &Path) -> Vec<Entry> {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            return vec![Entry {
                id: "dashboards_dir".to_owned(),
                source: Source::File,
                file: Some(dir.to_path_buf()),
                dashboard: Err(format!("{}: cannot read the dashboards directory: {e}", dir.display())),
            }]
        }
    };
    let mut files: Vec<(String, PathBuf)> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml") && p.is_file())
        .filter_map(|p| {
            let id = p.file_stem()?.to_str()?.to_owned();
            is_id(&id).then_some((id, p))
        })
        .collect();
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut entries: Vec<Entry> = files.iter().take(MAX_USER_FILES).map(|(id, p)| read_file(id, p.clone())).collect();
    if files.len() > MAX_USER_FILES {
        entries.push(Entry {
            id: "dashboards_dir".to_owned(),
            source: Source::File,
            file: Some(dir.to_path_buf()),
            dashboard: Err(format!(
                "{}: more than {MAX_USER_FILES} dashboard files; the rest are not read",
                dir.display()
            )),
        });
    }
    entries
}

fn read_file(id: &str, path: PathBuf) -> Entry {
    let origin = path.display().to_string();
    let dashboard = vigil_config::read_capped(&path, MAX_DASHBOARD_BYTES)
        .and_then(|text| Dashboard::parse(&text, &origin))
        .map_err(|e| e.to_string());
    Entry { id: id.to_owned(), source: Source::File, file: Some(path), dashboard }
}

/// Ids are file stems made of letters, digits, `-` and `_`, so that they are safe in paths and URLs.
fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_dashboards_are_valid() {
        for entry in Dashboards::default().list() {
            assert!(entry.dashboard.is_ok(), "{}: {:?}", entry.id, entry.dashboard);
        }
        assert!(Dashboards::default().get("host").is_some());
        assert!(Dashboards::default().get("../host").is_none());
    }

    #[test]
    fn a_broken_user_file_is_an_error_entry_beside_the_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.yml"),
            "title: Mine\nrows:\n  - title: r\n    panels:\n      - {title: up, type: stat, query: up}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("broken.yaml"),
            "title: Broken\nrows:\n  - title: r\n    panels: [{title: p, type: pie, query: up}]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a dashboard").unwrap();
        let d = Dashboards::new(Some(dir.path().to_path_buf()));
        let list = d.list();
        let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["broken", "host", "mine"]);
        let err = list[0].dashboard.as_ref().unwrap_err();
        assert!(err.contains("broken.yaml:4:"), "{err}");
        assert_eq!(list[2].dashboard.as_ref().unwrap().title, "Mine");
        assert_eq!(d.get("mine").unwrap().source, Source::File);
        assert!(d.get("nope").is_none());
    }

    #[test]
    fn a_missing_directory_is_reported_not_fatal() {
        let d = Dashboards::new(Some(PathBuf::from("/nonexistent/vigil-dashboards")));
        let list = d.list();
        assert!(list.iter().any(|e| e.id == "host" && e.dashboard.is_ok()));
        assert!(list
            .iter()
            .any(|e| e.dashboard.as_ref().is_err_and(|m| m.contains("cannot read the dashboards directory"))));
    }
}
