//! file_sd: target groups from JSON or YAML files, re-read when they change and every refresh interval. A file
//! that cannot be read or parsed keeps its previous groups.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use tokio::sync::mpsc;
use vigil_config::scrape::{is_label_name, FileSdConfig};

use super::{address_only, glob, TargetGroup, Update};

/// How often file metadata is checked for changes (or the refresh interval, when shorter).
const POLL: Duration = Duration::from_millis(500);
/// Target files larger than this are refused.
const MAX_FILE_BYTES: u64 = 16 << 20;
pub(crate) const FILEPATH_LABEL: &str = "__meta_filepath";

/// One `file_sd_configs` entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileSdSpec {
    pub patterns: Vec<String>,
    pub refresh: Duration,
}

impl FileSdSpec {
    pub fn from_config(cfg: &FileSdConfig) -> FileSdSpec {
        FileSdSpec {
            patterns: cfg.files.iter().map(|f| f.value.clone()).collect(),
            refresh: cfg.refresh_interval().as_std(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    #[error("not UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Yaml(String),
    #[error("{0:?} is not a valid label name")]
    LabelName(String),
    #[error("unknown extension (expected .json, .yml or .yaml)")]
    Extension,
}

/// A group as written in the file.
#[derive(Deserialize)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads one target file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<TargetGroup>, FileError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let groups: Vec<FileGroup> = match ext.as_str() {
        "json" => serde_json::from_slice(&bytes)?,
        "yml" | "yaml" => {
            let text = std::str::from_utf8(&bytes).map_err(|_| FileError::NotUtf8)?;
            let blank = text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
            if blank {
                Vec::new()
            } else {
                serde_saphyr::from_str(text).map_err(|e| FileError::Yaml(e.without_snippet().to_string()))?
            }
        }
        _ => return Err(FileError::Extension),
    };
    let file_name = path.to_string_lossy();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            if let Some(bad) = g.labels.keys().find(|n| !is_label_name(n)) {
                return Err(FileError::LabelName(bad.clone()));
            }
            let mut labels = g.labels;
            labels.insert(FILEPATH_LABEL.to_owned(), file_name.clone().into_owned());
            Ok(TargetGroup {
                source: format!("{file_name}:{i}"),
                targets: g.targets.iter().map(|t| address_only(t)).collect(),
                labels,
            })
        })
        .collect()
}

/// What tells us a file changed without reading it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    /// Writers that replace the file by renaming change this even within one coarse mtime tick.
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { modified: m.modified().ok(), len: m.len(), inode })
}

struct Entry {
    stamp: Option<Stamp>,
    groups: Vec<TargetGroup>,
}

/// The files of one `file_sd_configs` entry and their last good groups.
pub(crate) struct Watcher {
    patterns: Vec<String>,
    files: BTreeMap<PathBuf, Entry>,
}

impl Watcher {
    pub fn new(patterns: Vec<String>) -> Watcher {
        Watcher { patterns, files: BTreeMap::new() }
    }

    /// Re-lists the patterns and re-reads files that changed (every file when `force`). True when the groups
    /// changed. Blocking.
    pub fn scan(&mut self, force: bool) -> bool {
        let mut present: Vec<PathBuf> = self.patterns.iter().flat_map(|p| glob::expand(p)).collect();
        present.sort();
        present.dedup();
        let before = self.files.len();
        self.files.retain(|p, _| present.binary_search(p).is_ok());
        let mut changed = self.files.len() != before;
        for path in present {
            let now = stamp(&path);
            let entry = self.files.get(&path);
            if !force && now.is_some() && entry.is_some_and(|e| e.stamp == now) {
                continue;
            }
            match read_file(&path) {
                Ok(groups) => {
                    changed |= entry.is_none_or(|e| e.groups != groups);
                    self.files.insert(path, Entry { stamp: now, groups });
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "file_sd: cannot read targets, keeping the previous ones");
                    let groups = entry.map(|e| e.groups.clone()).unwrap_or_default();
                    self.files.insert(path, Entry { stamp: now, groups });
                }
            }
        }
        changed
    }

    /// All groups, by file path.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.files.values().flat_map(|e| e.groups.iter().cloned()).collect()
    }
}

/// Watches the files of `spec`, sending provider `provider`'s full groups on start and on every change.
pub(crate) async fn watch(spec: FileSdSpec, provider: usize, tx: mpsc::Sender<Update>) {
    let poll = spec.refresh.min(POLL);
    let mut watcher = Some(Watcher::new(spec.patterns.clone()));
    let mut last_full: Option<Instant> = None;
    loop {
        let force = last_full.is_none_or(|t| t.elapsed() >= spec.refresh);
        let Some(mut w) = watcher.take() else { return };
        let first = last_full.is_none();
        let Ok((w, update)) = tokio::task::spawn_blocking(move || {
            let changed = w.scan(force);
            let groups = (changed || first).then(|| w.groups());
            (w, groups)
        })
        .await
        else {
            return;
        };
        if let Some(groups) = update {
            if tx.send(Update { provider, groups }).await.is_err() {
                return;
            }
        }
        if force {
            last_full = Some(Instant::now());
        }
        watcher = Some(w);
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        std::fs::write(
            &json,
            r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}, {"targets": ["h3:1"]}]"#,
        )
        .unwrap();
        let groups = read_file(&json).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].source, format!("{}:0", json.display()));
        assert_eq!(groups[0].targets[1]["__address__"], "h2:9100");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[1].labels[FILEPATH_LABEL], json.display().to_string());
        let yaml = dir.path().join("b.yml");
        std::fs::write(&yaml, "- targets: ['h4:1']\n  labels:\n    team: x\n").unwrap();
        let groups = read_file(&yaml).unwrap();
        assert_eq!(groups[0].targets[0]["__address__"], "h4:1");
        assert_eq!(groups[0].labels["team"], "x");
        std::fs::write(&yaml, "# nothing yet\n").unwrap();
        assert!(read_file(&yaml).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        for bad in ["[{\"targets\": [\"h:1\"]", "{}", "[null]", "[{\"labels\": {\"a-b\": \"x\"}}]"] {
            std::fs::write(&json, bad).unwrap();
            assert!(read_file(&json).is_err(), "{bad}");
        }
        let yaml = dir.path().join("a.yaml");
        std::fs::write(&yaml, "- targets: [\n").unwrap();
        assert!(read_file(&yaml).is_err());
    }

    #[test]
    fn watcher_keeps_groups_of_broken_files_and_drops_deleted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, r#"[{"targets": ["h1:1"]}]"#).unwrap();
        let mut w = Watcher::new(vec![format!("{}/*.json", dir.path().display())]);
        assert!(w.scan(true));
        assert_eq!(w.groups().len(), 1);
        assert!(!w.scan(false), "nothing changed");
        std::fs::write(&a, r#"[{"targets": ["h1:1"]"#).unwrap();
        assert!(!w.scan(false), "a broken file keeps its groups");
        assert_eq!(w.groups()[0].targets[0]["__address__"], "h1:1");
        std::fs::write(&a, r#"[{"targets": ["h2:2", "h3:3"]}]"#).unwrap();
        assert!(w.scan(false));
        assert_eq!(w.groups()[0].targets.len(), 2);
        let b = dir.path().join("b.json");
        std::fs::write(&b, r#"[{"targets": ["h4:4"]}]"#).unwrap();
        assert!(w.scan(false), "a new file matching the pattern is picked up");
        assert_eq!(w.groups().len(), 2);
        std::fs::remove_file(&a).unwrap();
        assert!(w.scan(false));
        assert_eq!(w.groups().len(), 1);
    }
}
