//! What the front ends (`ovs-vsctl`, `ovs-appctl`, `ovs-dpctl`) share: finding rvsd's control
//! socket and calling it.
//!
//! Socket resolution, first match wins: an explicit path (`-t PATH` for ovs-appctl,
//! `--db=unix:PATH` for ovs-vsctl); then `$RVS_RUNDIR/rvsd.ctl`, `$OVS_RUNDIR/rvsd.ctl`,
//! `/var/run/rvs/rvsd.ctl`. A `-t NAME` without a slash (e.g. `ovs-vswitchd`, as scripts
//! written for OVS say) means the default socket.

use crate::unixctl::{client_call, CallError};
use std::path::PathBuf;
use std::time::Duration;

/// File name of the control socket inside the run directory.
pub const SOCKET_NAME: &str = "rvsd.ctl";
/// Default run directory.
pub const DEFAULT_RUNDIR: &str = "/var/run/rvs";
/// Default database directory.
pub const DEFAULT_DBDIR: &str = "/var/lib/rvs";

/// The run directory: `$RVS_RUNDIR`, else `$OVS_RUNDIR`, else `/var/run/rvs`.
pub fn default_rundir() -> PathBuf {
    std::env::var_os("RVS_RUNDIR")
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var_os("OVS_RUNDIR").filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNDIR))
}

/// The database directory: `$RVS_DBDIR`, else `/var/lib/rvs`.
pub fn default_dbdir() -> PathBuf {
    std::env::var_os("RVS_DBDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DBDIR))
}

/// Resolve a target (`None` = default) to a socket path.
pub fn socket_path(target: Option<&str>) -> PathBuf {
    match target {
        Some(t) if t.contains('/') => PathBuf::from(t.strip_prefix("unix:").unwrap_or(t)),
        _ => default_rundir().join(SOCKET_NAME),
    }
}

/// Call `method` with `params` on the daemon, with an optional timeout in seconds.
pub fn call(
    target: Option<&str>,
    method: &str,
    params: &[String],
    timeout_secs: Option<u64>,
) -> Result<String, CallError> {
    client_call(
        &socket_path(target),
        method,
        params,
        timeout_secs.filter(|&t| t > 0).map(Duration::from_secs),
    )
}

/// Parse `--timeout=N` / `--timeout N` / `-t N` style values.
pub fn parse_timeout(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_paths_win() {
        assert_eq!(
            socket_path(Some("/tmp/x/rvsd.ctl")),
            PathBuf::from("/tmp/x/rvsd.ctl")
        );
        assert_eq!(
            socket_path(Some("unix:/tmp/y.sock")),
            PathBuf::from("/tmp/y.sock")
        );
        assert!(socket_path(Some("ovs-vswitchd")).ends_with(SOCKET_NAME));
    }
}
