//! Files the daemon owns: crash-safe replacement of a file (the configuration, the pidfile) and
//! the run-directory lock that keeps a second daemon off the same sockets and devices.
//!
//! # Replacing a file
//! [`replace_file`] writes a temporary file next to the target (created 0600 with
//! `O_EXCL | O_NOFOLLOW`, then given the caller's mode before any byte is written, so a file or symlink planted under the temporary name is never
//! written through), fsyncs it and renames it over the target. **The rename is the commit
//! point**: once it succeeded the new contents are what a restart reads, so the call reports
//! success even if the final fsync of the directory fails (that only weakens durability against
//! a power cut; it is logged as a warning). Any failure before the rename removes the temporary
//! file and leaves the target as it was. Temporary files are named `.NAME.tmp.PID.N`; the ones
//! a crash left behind are removed by [`remove_stale_temps`] at start-up.
//!
//! # The run-directory lock
//! [`RundirLock::acquire`] takes an exclusive `flock` on `RUNDIR/rvsd.lock` before the daemon
//! touches anything else (as OVS locks its pidfile) and records the holder's PID in it. A second
//! daemon on the same run directory fails with the holder's PID instead of unlinking a live
//! control socket. The kernel drops the lock when the holder exits, however it exits.

use crate::log::Level;
use crate::log_at;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Name of the lock file inside the run directory.
pub const LOCK_NAME: &str = "rvsd.lock";

/// An I/O error and the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!(".{name}.tmp.")
}

/// Replace `target` with `bytes` atomically (see the module header for the rules); the new
/// file gets permissions `mode` (0600 for anything secret).
pub fn replace_file(target: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    replace_file_with(target, bytes, mode, sync_dir, |_| Ok(())).map(drop)
}

/// [`replace_file`] with the directory fsync supplied (tests inject failures) and a step run
/// on the new file before it is renamed into place; returns the new file, still open.
fn replace_file_with(
    target: &Path,
    bytes: &[u8],
    mode: u32,
    sync_dir: impl FnOnce(&Path) -> io::Result<()>,
    before_rename: impl FnOnce(&fs::File) -> io::Result<()>,
) -> Result<fs::File, FileError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = temp_prefix(target);
    // A name taken by anything (a leftover, a planted symlink) is skipped, never reused.
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(
            "{prefix}{}.{}",
            std::process::id(),
            SEQ.fetch_add(1, Relaxed)
        ));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(at(&tmp)(e)),
        }
    };
    let written = f
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| f.sync_all())
        .and_then(|()| before_rename(&f))
        .map_err(at(&tmp))
        .and_then(|()| fs::rename(&tmp, target).map_err(at(target)));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Committed. Durability of the rename needs the directory synced; a failure here does not
    // undo the commit, so it is reported, not returned.
    if let Err(e) = sync_dir(dir) {
        log_at!(
            Level::Warn,
            "{}: replaced, but syncing directory {} failed ({e}); the change may not survive a power loss",
            target.display(),
            dir.display()
        );
    }
    Ok(f)
}

/// A pidfile as OVS keeps one: it holds the daemon's PID and stays write-locked (`fcntl`)
/// by the daemon for its whole life. OVS's tools (`ovs-appctl`) treat an unlocked pidfile as
/// stale ("No such process"), so the lock is what makes the file say "alive". The file is
/// written and locked under a temporary name and then renamed into place, so a reader never
/// sees it unlocked or half written. Removed on drop.
#[derive(Debug)]
pub struct Pidfile {
    _file: fs::File,
    path: PathBuf,
}

impl Pidfile {
    /// Write and lock `path` for this process (call after any fork: fcntl locks are not
    /// inherited).
    pub fn create(path: &Path) -> Result<Pidfile, FileError> {
        let pid = format!("{}\n", std::process::id());
        let file = replace_file_with(path, pid.as_bytes(), 0o644, sync_dir, |f| {
            // SAFETY: flock is plain data; all-zero is a valid starting value.
            let mut lk: libc::flock = unsafe { core::mem::zeroed() };
            lk.l_type = libc::F_WRLCK as libc::c_short;
            lk.l_whence = libc::SEEK_SET as libc::c_short;
            // SAFETY: F_SETLK with a valid flock on an open descriptor we own.
            if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &lk) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })?;
        Ok(Pidfile {
            _file: file,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Remove temporary files of `target` left by a crashed writer. Returns how many went.
pub fn remove_stale_temps(target: &Path) -> usize {
    let (Some(dir), prefix) = (target.parent(), temp_prefix(target)) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// The exclusive lock on a run directory, held for the life of the daemon.
#[derive(Debug)]
pub struct RundirLock {
    file: fs::File,
    path: PathBuf,
}

impl RundirLock {
    /// Lock `rundir`. Fails with a message naming the PID of the daemon holding it.
    pub fn acquire(rundir: &Path) -> Result<RundirLock, String> {
        let path = rundir.join(LOCK_NAME);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| format!("{}: cannot open lock file ({e})", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; LOCK_NB never blocks.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(format!("{}: cannot lock ({e})", path.display()));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(format!(
                "{}: already locked by {} (another rvsd uses run directory {})",
                path.display(),
                if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("pid {holder}")
                },
                rundir.display()
            ));
        }
        let lock = RundirLock { file, path };
        lock.record_pid()
            .map_err(|e| format!("{}: cannot write ({e})", lock.path.display()))?;
        Ok(lock)
    }

    /// Write the current PID into the lock file (again after `--detach` forked).
    pub fn record_pid(&self) -> io::Result<()> {
        let mut f = &self.file;
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(format!("{}\n", std::process::id()).as_bytes())
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvs-files-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Defect: the temporary file was opened with create+truncate, following a symlink
    /// planted under its name and writing the configuration (GRE keys included) into the
    /// symlink's target, with the process umask's mode.
    #[test]
    fn a_planted_symlink_is_never_written_through_and_the_file_is_private() {
        let d = tempdir("symlink");
        let target = d.join("conf.json");
        let victim = d.join("victim");
        fs::write(&victim, "untouched").unwrap();
        for n in 0..4 {
            let planted = d.join(format!(".conf.json.tmp.{}.{n}", std::process::id()));
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        replace_file(&target, b"{\"secret\":1}", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"secret\":1}");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            remove_stale_temps(&target),
            4,
            "the planted names are swept"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    /// Defect: a failed directory fsync after the rename reported the transaction failed,
    /// although the new file was in place and would be applied at the next start.
    #[test]
    fn the_rename_is_the_commit_point() {
        let d = tempdir("commit");
        let target = d.join("conf.json");
        fs::write(&target, "old").unwrap();
        let r = replace_file_with(
            &target,
            b"new",
            0o600,
            |_| Err(io::Error::other("injected")),
            |_| Ok(()),
        );
        assert!(r.is_ok(), "committed: {r:?}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        // A failure before the rename leaves the old file and no temporary behind.
        fs::remove_file(&target).unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "").unwrap();
        assert!(replace_file(&target, b"newer", 0o600).is_err());
        assert_eq!(remove_stale_temps(&target), 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let d = tempdir("lock");
        let first = RundirLock::acquire(&d).unwrap();
        let err = RundirLock::acquire(&d).unwrap_err();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        RundirLock::acquire(&d).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
