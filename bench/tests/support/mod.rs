//! What the rvs-bench root tests share: the built binary, and the check that the daemons it
//! drives were built next to it (`cargo build --workspace --bins`; `./rvs.sh test` does it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The rvs-bench binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rvs-bench");

/// Panic unless `rvsd` and rvs's `ovs-vsctl` are next to [`BIN`]: their absence is a
/// failure, not a skip.
pub fn require_daemons() {
    let dir = Path::new(BIN)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    for b in ["rvsd", "ovs-vsctl"] {
        assert!(
            dir.join(b).exists(),
            "{} missing: build the workspace binaries first (cargo build --workspace --bins)",
            dir.join(b).display()
        );
    }
}

/// Run rvs-bench with `args` and, for each `(flag, ext)` of `outputs`, `flag FILE` with a
/// scratch file named after `name`; assert that it succeeded. Returns its stdout and the text
/// of each output file (empty when not written); the files are removed.
pub fn run(name: &str, args: &[&str], outputs: &[(&str, &str)]) -> (String, Vec<String>) {
    let files: Vec<PathBuf> = outputs
        .iter()
        .map(|(_, ext)| std::env::temp_dir().join(format!("{name}-{}.{ext}", std::process::id())))
        .collect();
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for ((flag, _), f) in outputs.iter().zip(&files) {
        cmd.arg(flag).arg(f);
    }
    let out = cmd.output().expect("run rvs-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let texts = files
        .iter()
        .map(|f| {
            let t = std::fs::read_to_string(f).unwrap_or_default();
            let _ = std::fs::remove_file(f);
            t
        })
        .collect();
    assert!(
        out.status.success(),
        "rvs-bench {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, texts)
}
