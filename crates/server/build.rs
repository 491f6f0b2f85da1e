//! Embeds the web UI: writes a table of the files in `ui/dist` (each `include_bytes!`-ed, with a gzip copy made
//! here) for `src/ui.rs`; an empty table when the UI was not built, so `cargo build` works without Node.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Files smaller than this are served as they are: gzip would save nothing worth a header.
const GZIP_MIN_BYTES: usize = 512;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let ui = manifest.join("../../ui");
    let dist = ui.join("dist");
    let built = dist.join("index.html").is_file();
    // A path that does not exist would rerun this script on every build; without a build, watch `ui/` itself
    // (a directory is watched with everything under it) so that `npm run build` is noticed.
    if built {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else if ui.is_dir() {
        println!("cargo:rerun-if-changed={}", ui.display());
    }
    let mut files = Vec::new();
    if built {
        walk(&dist, &mut files);
    }
    files.sort();
    let gz_dir = out.join("ui-gzip");
    std::fs::create_dir_all(&gz_dir).expect("creating OUT_DIR/ui-gzip");
    let mut table = String::from("&[\n");
    for (i, file) in files.iter().enumerate() {
        let rel = file.strip_prefix(&dist).expect("walked under dist").to_string_lossy().replace('\\', "/");
        let body = std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let gzip = if body.len() >= GZIP_MIN_BYTES && compressible(&rel) {
            let path = gz_dir.join(format!("{i}.gz"));
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&body).expect("gzip into memory");
            let compressed = enc.finish().expect("gzip into memory");
            std::fs::write(&path, compressed).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            table,
            "    Asset {{ path: {rel:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            file.display().to_string()
        );
    }
    table.push(']');
    std::fs::write(out.join("ui_assets.rs"), table).expect("writing OUT_DIR/ui_assets.rs");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}

fn compressible(path: &str) -> bool {
    [".html", ".js", ".css", ".svg", ".json", ".map", ".txt"].iter().any(|ext| path.ends_with(ext))
}
