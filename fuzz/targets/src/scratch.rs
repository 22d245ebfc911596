//! Scratch directories for targets that persist a configuration: on tmpfs (`/dev/shm`) when
//! it is writable, so the fsyncs of `Config::save` cost little; removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

static N: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new(what: &str) -> ScratchDir {
        let name = format!(
            "rvs-fuzz-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Relaxed)
        );
        let shm = Path::new("/dev/shm").join(&name);
        if std::fs::create_dir(&shm).is_ok() {
            return ScratchDir(shm);
        }
        let p = std::env::temp_dir().join(name);
        // A scratch directory is the harness's own precondition, not the input's business.
        std::fs::create_dir_all(&p).expect("create scratch directory");
        ScratchDir(p)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
