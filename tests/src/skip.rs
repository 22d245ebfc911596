//! Whether a test can run here: root, tools, Open vSwitch. [`skip`] prints why a test returns
//! early and returns `true` — unless the environment sets `RVS_REQUIRE_ROOT=1` (CI does),
//! where a skip is a failure: a suite that passes because it skipped has not passed.

use std::path::PathBuf;

/// True when running as root (uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The executable `tool` on `$PATH`, or in `/usr/sbin` or `/sbin` (where Debian puts daemons
/// such as `ovs-vswitchd`, and which a non-login root shell may lack on its `PATH`).
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| {
            p.metadata().is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// True when `tool` is an executable file on `$PATH` (or `/usr/sbin`, `/sbin`).
pub fn have_tool(tool: &str) -> bool {
    find_tool(tool).is_some()
}

/// Environment variable under which a skipped test fails instead (set by CI).
pub const REQUIRE_ENV: &str = "RVS_REQUIRE_ROOT";

/// Skip `test` because of `why`: print a notice and return `true` (the caller returns early),
/// or panic when `RVS_REQUIRE_ROOT=1`.
pub fn skip(test: &str, why: &str) -> bool {
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{test} cannot run: {why} ({REQUIRE_ENV}=1 makes a skip a failure)");
    }
    eprintln!("SKIP {test}: {why}");
    true
}

/// Print a skip notice and return `true` unless running as root.
pub fn skip_unless_root(test: &str) -> bool {
    !is_root() && skip(test, "needs root (network namespaces)")
}

/// Print a skip notice and return `true` unless running as root with every tool installed
/// (a tool is a name looked up as [`find_tool`] does, or an absolute path).
pub fn skip_unless_tools(test: &str, tools: &[&str]) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have_tool(t)).collect();
    !missing.is_empty() && skip(test, &format!("missing tools: {}", missing.join(", ")))
}

/// Print a skip notice and return `true` unless running as root with Debian's Open vSwitch
/// (`openvswitch-switch`) installed: see [`crate::ovs_missing`].
pub fn skip_unless_ovs(test: &str) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    crate::ovs_missing().is_some_and(|why| skip(test, &why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_lookup() {
        assert!(have_tool("sh"));
        assert!(!have_tool("rvs-no-such-tool"));
        assert!(
            have_tool("/bin/sh"),
            "an absolute path names the file itself"
        );
        assert!(!have_tool("/nonexistent/sh"));
    }
}
