//! Names that are unique and say who owns them, and process identities.
//!
//! Interface names are limited to 15 bytes (`IFNAMSIZ - 1`); [`unique_ifname`] keeps to that.
//! Namespaces and scratch directories are named by [`owned_name`] (`rvst-PID-N-prefix`): the
//! PID of the owning process is part of the name, so [`sweep_dead_owners`] can remove what a
//! process killed by a signal (which runs no `Drop`) left behind. A [`ProcId`] is a PID plus
//! the process's start time, which names one process even after its PID is reused: check it
//! before signalling a PID read from a file.

use crate::netns::Netns;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

/// Longest interface name Linux accepts.
pub const IFNAME_MAX: usize = 15;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub(crate) fn next_count() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn base36(mut v: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A name unique to this process and call: `prefix` + pid + counter (base 36), cut to
/// `IFNAME_MAX` bytes by shortening the prefix, so it is valid as an interface name too.
pub fn unique_ifname(prefix: &str) -> String {
    let tail = format!(
        "{}x{}",
        base36(u64::from(std::process::id())),
        base36(u64::from(next_count()))
    );
    let room = IFNAME_MAX.saturating_sub(tail.len());
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}{tail}")
}

/// Prefix of every name [`owned_name`] makes.
pub const OWNED_PREFIX: &str = "rvst-";

/// A name for a namespace or scratch directory that records its owner: `rvst-PID-N-prefix`
/// (unique per process and call). Not for interface names (too long for IFNAMSIZ).
pub fn owned_name(prefix: &str) -> String {
    format!(
        "{OWNED_PREFIX}{}-{}-{prefix}",
        std::process::id(),
        next_count()
    )
}

/// The owner PID recorded in a name made by [`owned_name`] (or by a lab for its owner).
pub fn owner_of(name: &str) -> Option<u32> {
    name.strip_prefix(OWNED_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// True while process `pid` exists.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// One process: its PID and its start time (clock ticks after boot, field 22 of
/// `/proc/PID/stat`). A PID alone may name another process once the first is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    /// The process id.
    pub pid: u32,
    /// When it started, in clock ticks after boot.
    pub start: u64,
}

/// (state letter, start time) of `pid` from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields restart after the
    // last ')'. Field 3 is the state, field 22 the start time.
    let rest = s.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

impl ProcId {
    /// The process `pid` as it is now, if it exists.
    pub fn of(pid: u32) -> Option<ProcId> {
        proc_stat(pid).map(|(_, start)| ProcId { pid, start })
    }

    /// This process.
    pub fn current() -> ProcId {
        let pid = std::process::id();
        ProcId::of(pid).unwrap_or(ProcId { pid, start: 0 })
    }

    /// True while this very process runs (not a zombie, not a later process with its PID).
    pub fn alive(&self) -> bool {
        proc_stat(self.pid)
            .is_some_and(|(state, start)| start == self.start && !matches!(state, 'Z' | 'X' | 'x'))
    }

    /// The process's command line, arguments joined by spaces ("" when it is gone).
    pub fn cmdline(&self) -> String {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|b| {
                b.split(|&c| c == 0)
                    .map(String::from_utf8_lossy)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_end()
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The parent of this process, if it still exists.
    pub fn parent(&self) -> Option<ProcId> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let ppid = s
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        ProcId::of(ppid)
    }

    /// The short command name (`/proc/PID/comm`).
    pub fn comm(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/comm", self.pid))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// True when this is still the recorded process and its command line contains
    /// `must_mention` (e.g. the directory it was started with): the check before a signal.
    pub fn is_ours(&self, must_mention: &str) -> bool {
        self.alive() && self.cmdline().contains(must_mention)
    }

    /// Send `signal` if [`ProcId::is_ours`]; returns whether it was sent.
    pub fn signal(&self, must_mention: &str, signal: libc::c_int) -> bool {
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        // SAFETY: kill(2) on a PID whose start time and command line were just checked, so
        // it cannot be another process that reused the PID.
        self.is_ours(must_mention) && unsafe { libc::kill(pid, signal) } == 0
    }

    /// Stop this process if [`ProcId::is_ours`]: SIGTERM, up to `grace` for it to exit,
    /// then SIGKILL. Returns false when the process was not (or no longer) ours.
    pub fn terminate(&self, must_mention: &str, grace: std::time::Duration) -> bool {
        if !self.signal(must_mention, libc::SIGTERM) {
            return false;
        }
        let t = std::time::Instant::now();
        while self.alive() && t.elapsed() < grace {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.signal(must_mention, libc::SIGKILL);
        true
    }
}

/// Remove what dead processes left behind: labs whose owner is gone or whose `up` died
/// half-way ([`crate::lab::sweep_dead_labs`]), then the namespaces (after killing what runs
/// in them) and the scratch directories in the temp dir that [`owned_name`] named for
/// processes that no longer exist, e.g. a test run killed by a signal. Returns the names
/// removed.
pub fn sweep_dead_owners() -> Vec<String> {
    let mut swept = crate::lab::sweep_dead_labs();
    let dead = |name: &str| owner_of(name).is_some_and(|pid| !pid_alive(pid));
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for name in rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            if dead(&name) {
                drop(Netns::existing(&name));
                swept.push(name);
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(&name) && std::fs::remove_dir_all(e.path()).is_ok() {
                swept.push(name);
            }
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames_are_unique_and_short() {
        let a = unique_ifname("averyveryverylongprefix");
        let b = unique_ifname("averyveryverylongprefix");
        assert_ne!(a, b);
        assert!(a.len() <= IFNAME_MAX && b.len() <= IFNAME_MAX, "{a} {b}");
        assert!(unique_ifname("v").starts_with('v'));
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 - 1), "zz");
    }

    #[test]
    fn owned_names_carry_their_owner() {
        let n = owned_name("x");
        assert_eq!(owner_of(&n), Some(std::process::id()));
        assert_eq!(owner_of("other-1-x"), None);
    }

    #[test]
    fn process_identity() {
        let me = ProcId::current();
        assert!(me.alive());
        assert!(me.start > 0);
        assert!(me.cmdline().contains("rvs_testkit"), "{}", me.cmdline());
        let later = ProcId {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(!later.alive(), "a different start time is another process");
        assert!(me.parent().is_some_and(|p| p.alive()));
        // Refuses to signal a process whose command line does not mention the marker.
        assert!(!me.terminate("no-such-marker-in-any-cmdline", std::time::Duration::ZERO));
    }
}
