//! Real Open vSwitch 3.1 (Debian's `openvswitch-switch`) as a peer and a baseline: a private
//! `ovsdb-server` ([`OvsdbServer`]) and the userspace switch on top of it ([`Ovs`]), each in
//! a directory of its own (run, log, db), optionally inside a network namespace.
//!
//! Both daemons run detached with pidfiles; they are stopped on drop by PID, but only after
//! checking that the PID is still that daemon started with this directory (a stale pidfile's
//! PID may belong to anything by now). [`ovs_missing`] is the skip check.

use crate::cmd::checked;
use crate::names::ProcId;
use crate::netns::Netns;
use crate::skip::find_tool;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The OVSDB schema Debian installs.
pub const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// Why real OVS cannot run here (a tool or the schema missing), or `None` when it can.
pub fn ovs_missing() -> Option<String> {
    ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl"]
        .iter()
        .find(|t| find_tool(t).is_none())
        .map(|t| format!("{t} is not installed (Debian's openvswitch-switch)"))
        .or_else(|| {
            (!Path::new(OVS_SCHEMA).exists())
                .then(|| format!("{OVS_SCHEMA} is missing (Debian's openvswitch-switch)"))
        })
}

fn tool_path(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| PathBuf::from(name))
}

/// A private ovsdb-server with the Open_vSwitch schema: `DIR/db/conf.db`, socket
/// `DIR/run/db.sock`, log `DIR/log/ovsdb-server.log`.
#[derive(Debug)]
pub struct OvsdbServer {
    dir: PathBuf,
    ns: Option<String>,
}

impl OvsdbServer {
    /// Create the database under `dir` (run inside `ns` when given); not started yet.
    pub fn try_create(ns: Option<&Netns>, dir: &Path) -> Result<OvsdbServer, String> {
        for sub in ["run", "log", "db"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.join(sub).display()))?;
        }
        let s = OvsdbServer {
            dir: dir.to_path_buf(),
            ns: ns.map(|n| n.name().to_string()),
        };
        s.tool(&[
            "ovsdb-tool",
            "create",
            &s.db().display().to_string(),
            OVS_SCHEMA,
        ])?;
        Ok(s)
    }

    /// The directory everything lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.dir.join("db/conf.db")
    }

    /// The server's unix socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("run/db.sock")
    }

    /// `PROG` (an OVS tool, or anything that reads `OVS_RUNDIR`/`OVS_LOGDIR`/`OVS_DBDIR`)
    /// with this instance's directories in its environment; add arguments and run it.
    pub fn ovs_command(&self, prog: &str) -> Command {
        self.command(&[prog], false)
    }

    /// [`OvsdbServer::ovs_command`], run inside the instance's namespace (when it has one).
    pub fn ovs_command_in_ns(&self, prog: &str) -> Command {
        self.command(&[prog], true)
    }

    fn command(&self, args: &[&str], in_ns: bool) -> Command {
        let prog = tool_path(args[0]);
        let mut c = match (&self.ns, in_ns) {
            (Some(ns), true) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(prog);
                c
            }
            _ => Command::new(prog),
        };
        c.args(&args[1..]);
        for (k, v) in [
            ("OVS_RUNDIR", "run"),
            ("OVS_LOGDIR", "log"),
            ("OVS_DBDIR", "db"),
        ] {
            c.env(k, self.dir.join(v));
        }
        c
    }

    /// Run an OVS tool (`args[0]`, e.g. `ovsdb-tool`) with this instance's directories;
    /// stdout, or what it printed on failure.
    pub fn tool(&self, args: &[&str]) -> Result<String, String> {
        checked(&args.join(" "), self.command(args, false).output())
    }

    /// Start a detached daemon `args[0]` inside the namespace (when there is one).
    fn daemon(&self, args: &[&str]) -> Result<(), String> {
        let name = args[0];
        let mut all = args.to_vec();
        let pidfile = format!(
            "--pidfile={}",
            self.dir.join(format!("run/{name}.pid")).display()
        );
        let log = format!(
            "--log-file={}",
            self.dir.join(format!("log/{name}.log")).display()
        );
        all.extend(["--detach", &pidfile, &log]);
        checked(&all.join(" "), self.command(&all, true).output()).map(drop)
    }

    /// Start the server (again, after [`OvsdbServer::kill9`]); returns once it serves.
    pub fn try_start(&self) -> Result<(), String> {
        let _ = std::fs::remove_file(self.sock());
        self.daemon(&[
            "ovsdb-server",
            &self.db().display().to_string(),
            &format!("--remote=punix:{}", self.sock().display()),
            "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
        ])
    }

    /// The running daemon `name` of this instance (from its pidfile, identity checked).
    pub fn daemon_pid(&self, name: &str) -> Option<ProcId> {
        let pid = std::fs::read_to_string(self.dir.join(format!("run/{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let p = ProcId::of(pid)?;
        let cmdline = p.cmdline();
        let prog = cmdline.split(' ').next()?.rsplit('/').next()?;
        let dir = self.dir.display().to_string();
        (p.alive() && prog == name && cmdline.contains(&dir)).then_some(p)
    }

    /// SIGKILL the server, as a crash would.
    pub fn kill9(&self) {
        if let Some(p) = self.daemon_pid("ovsdb-server") {
            p.signal(&self.dir.display().to_string(), libc::SIGKILL);
            crate::netns::wait_for(Duration::from_secs(5), || !p.alive());
        }
    }

    /// `unix:SOCKET`, the database as clients name it.
    pub fn remote(&self) -> String {
        format!("unix:{}", self.sock().display())
    }

    /// Debian's `ovs-vsctl --timeout=20 --db=unix:SOCKET ARGS`, whatever its exit status.
    pub fn vsctl(&self, args: &[&str]) -> std::process::Output {
        let db = format!("--db={}", self.remote());
        let out = self
            .ovs_command("ovs-vsctl")
            .args(["--timeout=20", db.as_str()])
            .args(args)
            .output();
        out.unwrap_or_else(|e| panic!("could not run ovs-vsctl: {e}"))
    }

    /// Debian's `ovs-vsctl ARGS` against this database: stdout, or the error it printed.
    pub fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        checked(
            &format!("ovs-vsctl {}", args.join(" ")),
            Ok(self.vsctl(args)),
        )
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        if let Some(p) = self.daemon_pid("ovsdb-server") {
            p.terminate(&self.dir.display().to_string(), Duration::from_secs(3));
        }
    }
}

/// Open vSwitch userspace: ovsdb-server + ovs-vswitchd inside a netns, under `DIR/ovs`.
#[derive(Debug)]
pub struct Ovs {
    db: OvsdbServer,
}

impl Ovs {
    /// Start both daemons in `ns` under `dir/ovs`; `other_config` (`KEY=VALUE`, e.g.
    /// `userspace-tso-enable=true`) is set in the Open_vSwitch row before ovs-vswitchd starts
    /// (some keys are read only at start). Panics with the error if it cannot.
    pub fn start(ns: &Netns, dir: &Path, other_config: &[&str]) -> Ovs {
        Ovs::try_start(ns, dir, other_config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Ovs::start`], returning why it could not start instead of panicking.
    pub fn try_start(ns: &Netns, dir: &Path, other_config: &[&str]) -> Result<Ovs, String> {
        if let Some(why) = ovs_missing() {
            return Err(why);
        }
        let db = OvsdbServer::try_create(Some(ns), &dir.join("ovs"))?;
        db.try_start()?;
        let ovs = Ovs { db };
        ovs.try_vsctl(&["--no-wait", "init"])?;
        for kv in other_config {
            ovs.try_vsctl(&[
                "--no-wait",
                "set",
                "Open_vSwitch",
                ".",
                &format!("other_config:{kv}"),
            ])?;
        }
        ovs.db.daemon(&["ovs-vswitchd", &ovs.db.remote()])?;
        Ok(ovs)
    }

    /// Debian's `ovs-vsctl ARGS` against this instance: stdout, or the error it printed.
    pub fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        self.db.try_vsctl(args)
    }

    /// `ovs-vsctl ARGS` that must succeed; returns stdout, panics with ovs-vswitchd's log.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        self.try_vsctl(args)
            .unwrap_or_else(|e| panic!("{e}\novs-vswitchd log:\n{}", self.log()))
    }

    /// ovs-vswitchd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.db.dir().join("log/ovs-vswitchd.log")).unwrap_or_default()
    }

    /// PIDs of this instance's ovs-vswitchd and ovsdb-server that still run.
    pub fn pids(&self) -> Vec<u32> {
        ["ovs-vswitchd", "ovsdb-server"]
            .iter()
            .filter_map(|d| self.db.daemon_pid(d).map(|p| p.pid))
            .collect()
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        // ovs-vswitchd first; the server goes when `db` drops.
        if let Some(p) = self.db.daemon_pid("ovs-vswitchd") {
            p.terminate(&self.db.dir().display().to_string(), Duration::from_secs(3));
        }
    }
}
