//! rvsd for tests, the lab and rvs-bench: where rvs's binaries are ([`Bins`]), a scratch
//! directory removed on drop ([`TempDir`]), one rvsd inside a netns with its own run and db
//! directories, driven through the real front ends ([`Rvsd`]), and the three together
//! ([`RvsdHost`]).
//!
//! An [`Rvsd`] is stopped when it drops (SIGTERM, then SIGKILL after 10 s), also on panic,
//! unless [`Rvsd::detach`] handed it over (the `rvs-lab` CLI does, and stops it later by
//! its [`ProcId`]). Every method that can fail comes in two forms: `try_…` returns the error
//! as a `String` (for code that reports, such as rvs-bench), the plain form panics with it
//! and the daemon's log (for tests).

use crate::cmd::{checked, output_text};
use crate::names::{owned_name, ProcId};
use crate::netns::Netns;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory `$TMPDIR/rvst-PID-N-prefix` (see [`owned_name`]) removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Create it; panics if it cannot.
    pub fn new(prefix: &str) -> TempDir {
        TempDir::try_new(prefix).unwrap_or_else(|e| panic!("temp dir {prefix}: {e}"))
    }

    /// Create it, or say why not.
    pub fn try_new(prefix: &str) -> std::io::Result<TempDir> {
        let p = std::env::temp_dir().join(owned_name(prefix));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// rvs's binaries: the daemon and its three front ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bins {
    /// `rvsd`.
    pub rvsd: PathBuf,
    /// rvs's `ovs-vsctl`.
    pub vsctl: PathBuf,
    /// rvs's `ovs-appctl`.
    pub appctl: PathBuf,
    /// rvs's `ovs-dpctl`.
    pub dpctl: PathBuf,
}

/// Environment variable naming the directory that holds rvs's binaries.
pub const BIN_DIR_ENV: &str = "RVS_BIN_DIR";

impl Bins {
    /// The binaries in `dir` (whether or not they exist; see [`Bins::check`]).
    pub fn in_dir(dir: &Path) -> Bins {
        Bins {
            rvsd: dir.join("rvsd"),
            vsctl: dir.join("ovs-vsctl"),
            appctl: dir.join("ovs-appctl"),
            dpctl: dir.join("ovs-dpctl"),
        }
    }

    /// Find rvs's binaries: in `$RVS_BIN_DIR` when it is set; else in the directory of the
    /// running executable or its parent (cargo puts test binaries in `target/*/deps` and
    /// binaries in `target/*`); else in the first `$PATH` directory that holds `rvsd`. The
    /// front ends are taken from rvsd's directory, never from elsewhere on `$PATH`, where
    /// Debian's own `ovs-vsctl` may be.
    pub fn find() -> Result<Bins, String> {
        if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
            let b = Bins::in_dir(Path::new(&dir));
            b.check()
                .map_err(|e| format!("{e} (from ${BIN_DIR_ENV})"))?;
            return Ok(b);
        }
        let exe_dirs = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
            .map(|d| {
                let parent = d.parent().map(Path::to_path_buf);
                std::iter::once(d).chain(parent)
            })
            .into_iter()
            .flatten();
        let path = std::env::var_os("PATH").unwrap_or_default();
        exe_dirs
            .chain(std::env::split_paths(&path))
            .map(|d| Bins::in_dir(&d))
            .find(|b| b.check().is_ok())
            .ok_or_else(|| {
                format!(
                    "rvsd and its front ends not found next to this program or on PATH \
                     (build them with `cargo build --bins`, or set ${BIN_DIR_ENV})"
                )
            })
    }

    /// `Err` naming the first binary that is missing.
    pub fn check(&self) -> Result<(), String> {
        for b in [&self.rvsd, &self.vsctl, &self.appctl, &self.dpctl] {
            if !b.is_file() {
                return Err(format!(
                    "{} not found (build it: cargo build --bins -p rvs-control)",
                    b.display()
                ));
            }
        }
        Ok(())
    }
}

/// One rvsd running inside a network namespace, with `DIR/run` and `DIR/db` as its run and
/// db directories and `DIR/rvsd.log` as its stderr.
#[derive(Debug)]
pub struct Rvsd {
    ns: String,
    /// The run directory (`RVS_RUNDIR` of the front ends; holds `rvsd.ctl`).
    pub rundir: PathBuf,
    /// The db directory (holds `conf.json`).
    pub dbdir: PathBuf,
    log: PathBuf,
    bins: Bins,
    /// A command rvsd runs under inside the netns (e.g. `setpriv` dropping capabilities).
    wrapper: Vec<String>,
    child: Option<Child>,
}

impl Rvsd {
    /// Start rvsd in `ns` with directories under `dir`, and wait until it answers; panics
    /// (with its log) if it does not.
    pub fn start(bins: &Bins, ns: &Netns, dir: &Path) -> Rvsd {
        Rvsd::start_wrapped(bins, ns, dir, &[])
    }

    /// Like [`Rvsd::start`], with rvsd run as `WRAPPER… rvsd …` (e.g. `setpriv …`).
    pub fn start_wrapped(bins: &Bins, ns: &Netns, dir: &Path, wrapper: &[&str]) -> Rvsd {
        Rvsd::try_start_wrapped(bins, ns, dir, wrapper).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Rvsd::start`], returning why it could not start instead of panicking.
    pub fn try_start(bins: &Bins, ns: &Netns, dir: &Path) -> Result<Rvsd, String> {
        Rvsd::try_start_wrapped(bins, ns, dir, &[])
    }

    /// [`Rvsd::start_wrapped`], returning why it could not start instead of panicking.
    pub fn try_start_wrapped(
        bins: &Bins,
        ns: &Netns,
        dir: &Path,
        wrapper: &[&str],
    ) -> Result<Rvsd, String> {
        bins.check()?;
        let mut r = Rvsd {
            ns: ns.name().to_string(),
            rundir: dir.join("run"),
            dbdir: dir.join("db"),
            log: dir.join("rvsd.log"),
            bins: bins.clone(),
            wrapper: wrapper.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        r.spawn()?;
        Ok(r)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(&self.log)
            .map_err(|e| format!("rvsd log {}: {e}", self.log.display()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(&self.wrapper)
            .arg(&self.bins.rvsd)
            .arg("--rundir")
            .arg(&self.rundir)
            .arg("--dbdir")
            .arg(&self.dbdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", self.bins.rvsd.display()))?;
        self.child = Some(child);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.appctl(&["version"]).status.success() {
                return Ok(());
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!("rvsd exited ({st}); log:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("rvsd did not answer in 10 s; log:\n{}", self.log()))
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log, joined by " | " (for one-line messages).
    pub fn log_tail(&self, n: usize) -> String {
        let s = self.log();
        let lines: Vec<&str> = s.lines().rev().take(n).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// The daemon's process id while it runs under this value.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &str {
        &self.ns
    }

    /// The binaries it was started from.
    pub fn bins(&self) -> &Bins {
        &self.bins
    }

    /// SIGTERM and wait (SIGKILL after 10 s); returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        if let Ok(pid) = libc::pid_t::try_from(c.id()) {
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again with the same directories (after [`Rvsd::stop`]); panics if it cannot.
    pub fn restart(&mut self) {
        self.stop();
        self.respawn();
    }

    /// Start again after a crash ([`Rvsd::kill9`]); panics if it cannot.
    pub fn respawn(&mut self) {
        self.spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Leave the daemon running when this value drops; returns its identity, by which it
    /// can be stopped later ([`ProcId::terminate`]).
    pub fn detach(mut self) -> Option<ProcId> {
        self.child.take().and_then(|c| ProcId::of(c.id()))
    }

    fn tool(&self, bin: &Path, args: &[&str]) -> Output {
        match Command::new(bin)
            .args(args)
            .env("RVS_RUNDIR", &self.rundir)
            .output()
        {
            Ok(o) => o,
            Err(e) => panic!("could not run {}: {e}", bin.display()),
        }
    }

    fn tool_checked(&self, bin: &Path, args: &[&str]) -> Result<String, String> {
        let name = bin.file_name().unwrap_or_default().to_string_lossy();
        checked(
            &format!("{name} {}", args.join(" ")),
            Command::new(bin)
                .args(args)
                .env("RVS_RUNDIR", &self.rundir)
                .output(),
        )
    }

    /// rvs's `ovs-vsctl ARGS` against this daemon, whatever its exit status.
    pub fn vsctl(&self, args: &[&str]) -> Output {
        self.tool(&self.bins.vsctl, args)
    }

    /// `ovs-vsctl ARGS` that must succeed; returns stdout, panics with the daemon's log.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        self.must("ovs-vsctl", args, self.vsctl(args))
    }

    /// stdout of a front end that must have succeeded; else panic with its output and the log.
    fn must(&self, tool: &str, args: &[&str], o: Output) -> String {
        assert!(
            o.status.success(),
            "{tool} {args:?} failed: {}\nrvsd log:\n{}",
            output_text(&o),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `ovs-vsctl ARGS`: stdout, or the error it printed.
    pub fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        self.tool_checked(&self.bins.vsctl, args)
    }

    /// `ovs-vsctl add-port BRIDGE NAME`, with `-- set interface NAME type=TY SETTINGS...` when
    /// `ty` is not empty (e.g. `"internal"`, `"afxdp"`; settings such as `"options:n_rxq=2"`).
    pub fn add_port(&self, bridge: &str, name: &str, ty: &str, settings: &[&str]) -> String {
        let t = format!("type={ty}");
        let mut args = vec!["add-port", bridge, name];
        if !ty.is_empty() {
            args.extend(["--", "set", "interface", name, t.as_str()]);
            args.extend(settings);
        }
        self.vsctl_ok(&args)
    }

    /// rvs's `ovs-appctl ARGS`, whatever its exit status.
    pub fn appctl(&self, args: &[&str]) -> Output {
        self.tool(&self.bins.appctl, args)
    }

    /// `ovs-appctl ARGS` that must succeed; returns stdout, panics with the daemon's log.
    pub fn appctl_ok(&self, args: &[&str]) -> String {
        self.must("ovs-appctl", args, self.appctl(args))
    }

    /// `ovs-appctl ARGS`: stdout, or the error it printed.
    pub fn try_appctl(&self, args: &[&str]) -> Result<String, String> {
        self.tool_checked(&self.bins.appctl, args)
    }

    /// rvs's `ovs-dpctl ARGS`, whatever its exit status.
    pub fn dpctl(&self, args: &[&str]) -> Output {
        self.tool(&self.bins.dpctl, args)
    }

    /// A `coverage/show` counter's total (0 when not listed).
    pub fn coverage(&self, name: &str) -> u64 {
        crate::coverage_total(&self.appctl_ok(&["coverage/show"]), name)
    }

    /// `Err` with the `error` column of the first interface that has one (a port type the
    /// datapath cannot open, a device that vanished, …).
    pub fn port_errors(&self, ifaces: &[&str]) -> Result<(), String> {
        for i in ifaces {
            let e = self.try_vsctl(&["get", "interface", i, "error"])?;
            let e = e.trim().trim_matches('"');
            if !e.is_empty() && e != "[]" {
                return Err(format!("{i}: {e}"));
            }
        }
        Ok(())
    }

    /// The names of the ports `ovs-appctl dpctl/show` lists (those the datapath opened).
    pub fn datapath_ports(&self) -> Result<Vec<String>, String> {
        let show = self.try_appctl(&["dpctl/show"])?;
        Ok(show
            .lines()
            .filter(|l| l.trim_start().starts_with("port "))
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
            .collect())
    }
}

impl Drop for Rvsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A "host" running rvsd: a namespace (its own stack quietened, see
/// [`Netns::quiet_switch_stack`]), a scratch directory, and rvsd in the one with its files in
/// the other. Fields drop in order: the daemon, the namespace, the directory.
#[derive(Debug)]
pub struct RvsdHost {
    /// The daemon.
    pub rvsd: Rvsd,
    /// Its namespace.
    pub ns: Netns,
    /// Its directory (run, db, log).
    pub dir: TempDir,
}

impl RvsdHost {
    /// Namespace and directory named after `prefix`, rvsd started; panics if it cannot.
    pub fn start(bins: &Bins, prefix: &str) -> RvsdHost {
        RvsdHost::start_wrapped(bins, prefix, &[])
    }

    /// [`RvsdHost::start`] with rvsd run under `wrapper` (see [`Rvsd::start_wrapped`]).
    pub fn start_wrapped(bins: &Bins, prefix: &str, wrapper: &[&str]) -> RvsdHost {
        let ns = Netns::new(prefix);
        ns.quiet_switch_stack().unwrap_or_else(|e| panic!("{e}"));
        let dir = TempDir::new(prefix);
        let rvsd = Rvsd::start_wrapped(bins, &ns, &dir.0, wrapper);
        RvsdHost { rvsd, ns, dir }
    }
}
