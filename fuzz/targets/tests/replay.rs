//! Stable-Rust replay of the fuzz corpora: every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through its target function. CI runs this with
//! `cargo test --workspace`; a crash the fuzzer once found stays fixed because its input
//! lives in `regressions/`.
//!
//! Each target has its own test; a failing test names every file that panicked.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.file_name().is_none_or(|n| n != ".gitkeep"));
    v.sort();
    v
}

fn replay(name: &str) {
    let f = rvs_fuzz_targets::target(name).expect("a known target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/")
        .to_path_buf();
    let corpus = files(&root.join("corpus").join(name));
    assert!(
        !corpus.is_empty(),
        "no seed corpus for {name}: run `cargo run -p rvs-fuzz-targets --example seed_corpus`"
    );
    let regressions = files(&root.join("regressions").join(name));
    let mut failed = vec![];
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("read corpus file");
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    eprintln!(
        "{name}: replayed {} corpus + {} regression files",
        corpus.len(),
        regressions.len()
    );
    assert!(
        failed.is_empty(),
        "{name}: inputs that fail:\n{}",
        failed.join("\n")
    );
}

#[test]
fn pipeline() {
    replay("pipeline");
}

#[test]
fn gre_decap() {
    replay("gre_decap");
}

#[test]
fn gro() {
    replay("gro");
}

#[test]
fn control_request() {
    replay("control_request");
}

#[test]
fn vsctl_argv() {
    replay("vsctl_argv");
}

#[test]
fn conf_loader() {
    replay("conf_loader");
}

#[test]
fn ovsdb_client() {
    replay("ovsdb_client");
}

#[test]
fn udp_tunnel() {
    replay("udp_tunnel");
}

#[test]
fn every_target_has_a_test_here() {
    let names: Vec<&str> = rvs_fuzz_targets::TARGETS.iter().map(|t| t.0).collect();
    assert_eq!(
        names,
        [
            "pipeline",
            "gre_decap",
            "gro",
            "control_request",
            "vsctl_argv",
            "conf_loader",
            "ovsdb_client",
            "udp_tunnel"
        ]
    );
}
