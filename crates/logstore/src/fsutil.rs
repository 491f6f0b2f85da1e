//! The few durable file-system steps the store takes: creating directories, fsyncing them, listing.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Error};

/// Fsyncs a directory, making created, renamed and removed entries in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err(dir))
}

/// Creates `dir` and its missing ancestors, fsyncing the parent of each created one.
pub(crate) fn create_dir_durably(dir: &Path) -> Result<(), Error> {
    let mut missing: Vec<PathBuf> = Vec::new();
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        missing.push(ancestor.to_path_buf());
    }
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    for created in missing.iter().rev() {
        let parent = match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        sync_dir(parent)?;
    }
    Ok(())
}

/// The names of the entries of `dir` that are UTF-8, sorted, with whether each is a directory.
pub(crate) fn list(dir: &Path) -> Result<Vec<(String, bool)>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let is_dir = entry.file_type().map_err(io_err(&entry.path()))?.is_dir();
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, is_dir));
        }
    }
    out.sort();
    Ok(out)
}

/// Renames `path` to `<path>.deleted`, fsyncs its directory, then removes it (a file or a directory tree). A
/// crash after the rename leaves a `.deleted` entry that opening removes.
pub(crate) fn delete_durably(path: &Path) -> Result<(), Error> {
    let mut deleted = path.as_os_str().to_owned();
    deleted.push(".deleted");
    let deleted = PathBuf::from(deleted);
    std::fs::rename(path, &deleted).map_err(io_err(path))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    remove_any(&deleted)
}

pub(crate) fn remove_any(path: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
    if meta.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) }.map_err(io_err(path))
}
