//! Fixture helpers: a fake root with `proc/`, `sys/` and `root/` trees built from strings, and a one-shot
//! collection into a `VecSink`.

use std::path::Path;

use vigil_collect::{CollectError, Collector, Options, Paths};
use vigil_model::metric::VecSink;

/// A temporary directory standing in for a host's `/proc`, `/sys` and `/`.
pub struct FakeRoot {
    pub dir: tempfile::TempDir,
}

impl FakeRoot {
    pub fn new() -> Self {
        FakeRoot { dir: tempfile::tempdir().unwrap() }
    }

    fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    /// Writes `proc/<rel>`.
    pub fn proc(&self, rel: &str, content: &str) -> &Self {
        self.write(&format!("proc/{rel}"), content)
    }

    /// Writes `sys/<rel>`.
    pub fn sys(&self, rel: &str, content: &str) -> &Self {
        self.write(&format!("sys/{rel}"), content)
    }

    /// Writes `root/<rel>`.
    pub fn root(&self, rel: &str, content: &str) -> &Self {
        self.write(&format!("root/{rel}"), content)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn paths(&self) -> Paths {
        let d = self.dir.path();
        Paths { procfs: d.join("proc"), sysfs: d.join("sys"), rootfs: d.join("root") }
    }

    /// Options with node_exporter's defaults, pointed at this root.
    pub fn options(&self) -> Options {
        Options { paths: self.paths(), ..Options::default() }
    }
}

/// Runs a collector once against `root` and returns what it wrote and how it ended.
pub fn collect(c: &mut dyn Collector, root: &FakeRoot) -> (VecSink, Result<(), CollectError>) {
    let mut sink = VecSink::default();
    let r = c.collect(&root.paths(), &mut sink);
    (sink, r)
}
