//! Build script: compile the kernel fast path's BPF object (`bpf/fastpath.bpf.c`) with clang
//! when the `fastpath` feature is on. The object is embedded in the library
//! (`fastpath::bpf::OBJECT`) and loaded at run time with libbpf-rs.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=bpf/fastpath.bpf.c");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_FASTPATH").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("fastpath.bpf.o");
    // libbpf-sys (a `links = "bpf"` crate) exports the directory holding bpf/bpf_helpers.h.
    let libbpf_include = std::env::var("DEP_BPF_INCLUDE").expect(
        "DEP_BPF_INCLUDE is not set: the fastpath feature needs libbpf-sys as a direct dependency",
    );
    // <linux/bpf.h> includes <asm/types.h>, which Debian keeps under the multiarch directory.
    let target = std::env::var("TARGET").unwrap_or_default();
    let arch = target.split('-').next().unwrap_or("x86_64");
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
        .arg(format!("-I{libbpf_include}"))
        .arg(format!("-I{multiarch}"))
        .args(["-c", "bpf/fastpath.bpf.c", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {clang} to build the BPF fast path ({e}); ./rvs.sh installs clang")
        });
    assert!(status.success(), "{clang} failed on bpf/fastpath.bpf.c");
}
