//! The systems `rvs-bench` compares and the topology it builds for each: a generator netns
//! and a sink netns, each with one veth `eth0` (DEFAULT offloads, IPv6 off so nothing else
//! talks), joined either directly (the generator's ceiling) or through a switch netns, or
//! through two switch "hosts" joined by an underlay veth carrying GRE.
//!
//! Every resource is owned by a value that removes it on drop, in this order: daemons
//! (rvsd: SIGTERM then SIGKILL; OVS: by pidfile), then namespaces (which takes every veth
//! with them), then the scratch directory. A [`Bed`] that fails half-way through building
//! drops what it had built already.

use rvs_testkit::{unique_ifname, Netns};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Generator side address (inside its netns).
pub const GEN_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// Sink side address.
pub const SINK_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// Underlay addresses of the two GRE hosts.
pub const UNDERLAY: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 99, 1, 1), Ipv4Addr::new(10, 99, 1, 2)];
/// MTU of the GRE underlay: room for 1500-byte frames plus the 38-byte encapsulation.
pub const UNDERLAY_MTU: &str = "9000";

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Generator and sink joined by one veth pair: the generator's ceiling and CPU baseline.
    Direct,
    /// rvsd with AF_PACKET ports.
    Rvs,
    /// rvsd with `type=afxdp` ports.
    RvsAfxdp,
    /// The kernel Linux bridge (bridge-netfilter as the machine has it).
    LinuxBridge,
    /// Open vSwitch userspace (`datapath_type=netdev`), as installed.
    Ovs,
    /// OVS userspace with `other_config:userspace-tso-enable=true`.
    OvsTso,
    /// rvsd ↔ rvsd over GRE on an underlay veth.
    RvsGre,
    /// OVS ↔ OVS over GRE on an underlay veth (`br-phy` holds the underlay address).
    OvsGre,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 8] = [
        System::Direct,
        System::Rvs,
        System::RvsAfxdp,
        System::LinuxBridge,
        System::Ovs,
        System::OvsTso,
        System::RvsGre,
        System::OvsGre,
    ];

    /// Name used on the command line, in tables and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Direct => "direct",
            System::Rvs => "rvs",
            System::RvsAfxdp => "rvs-afxdp",
            System::LinuxBridge => "linux-bridge",
            System::Ovs => "ovs",
            System::OvsTso => "ovs-tso",
            System::RvsGre => "rvs-gre",
            System::OvsGre => "ovs-gre",
        }
    }

    /// Look a system up by [`System::name`].
    pub fn parse(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|x| x.name() == s)
    }

    /// True for the OVS variants (they need `ovs-vswitchd`).
    pub fn is_ovs(self) -> bool {
        matches!(self, System::Ovs | System::OvsTso | System::OvsGre)
    }
}

/// Where the binaries are, and where scratch files go.
#[derive(Debug, Clone)]
pub struct Env {
    /// Directory holding `rvsd` and rvs's `ovs-vsctl`.
    pub bin_dir: PathBuf,
}

/// A scratch directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Create `$TMPDIR/rvst-PID-N-bench-<tag>` (see `rvs_testkit::owned_name`).
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        let p = std::env::temp_dir().join(rvs_testkit::owned_name(&format!("bench-{tag}")));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn describe(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    let msg = if err.trim().is_empty() { out } else { err };
    format!("{} ({})", msg.trim(), o.status)
}

fn check(what: &str, o: std::io::Result<Output>) -> Result<String, String> {
    match o {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!("{what}: {}", describe(&o))),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// One rvsd inside a netns with its own run and db directories.
#[derive(Debug)]
pub struct Rvsd {
    child: Option<Child>,
    rundir: PathBuf,
    vsctl: PathBuf,
    log: PathBuf,
}

impl Rvsd {
    /// Start rvsd in `ns` under `dir` and wait (10 s at most) until it answers.
    pub fn start(env: &Env, ns: &Netns, dir: &Path) -> Result<Rvsd, String> {
        let rvsd = env.bin_dir.join("rvsd");
        let vsctl = env.bin_dir.join("ovs-vsctl");
        for b in [&rvsd, &vsctl] {
            if !b.exists() {
                return Err(format!(
                    "{} not found (build it: cargo build --release -p rvs-control, or pass --bin-dir)",
                    b.display()
                ));
            }
        }
        let (rundir, dbdir, log) = (dir.join("run"), dir.join("db"), dir.join("rvsd.log"));
        let logf = std::fs::File::create(&log).map_err(|e| format!("rvsd log: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(&rvsd)
            .arg("--rundir")
            .arg(&rundir)
            .arg("--dbdir")
            .arg(&dbdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|e| format!("start rvsd: {e}"))?;
        let mut r = Rvsd {
            child: Some(child),
            rundir,
            vsctl,
            log,
        };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if r.vsctl(&["show"]).is_ok() {
                return Ok(r);
            }
            if let Some(c) = r.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(format!("rvsd exited ({st}): {}", r.log_tail()));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("rvsd did not answer in 10 s: {}", r.log_tail()))
    }

    /// Run rvs's `ovs-vsctl` against this daemon; stdout, or the error it printed.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, String> {
        check(
            &format!("ovs-vsctl {}", args.join(" ")),
            Command::new(&self.vsctl)
                .args(args)
                .env("RVS_RUNDIR", &self.rundir)
                .output(),
        )
    }

    /// `Err` with the `error` column of the first interface that has one (a port type the
    /// datapath cannot open, a device that vanished, …).
    pub fn port_errors(&self, ifaces: &[&str]) -> Result<(), String> {
        for i in ifaces {
            let e = self.vsctl(&["get", "interface", i, "error"])?;
            let e = e.trim().trim_matches('"');
            if !e.is_empty() && e != "[]" {
                return Err(format!("{i}: {e}"));
            }
        }
        Ok(())
    }

    /// The daemon's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

impl Drop for Rvsd {
    fn drop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// ovsdb-server + ovs-vswitchd inside a netns with their own directories; stopped by pid.
#[derive(Debug)]
pub struct Ovs {
    dir: PathBuf,
}

impl Ovs {
    /// Start both daemons in `ns` under `dir`; `tso` sets `userspace-tso-enable` before
    /// ovs-vswitchd starts (it is read only at start).
    pub fn start(ns: &Netns, dir: &Path, tso: bool) -> Result<Ovs, String> {
        let d = dir.join("ovs");
        for sub in ["run", "log", "db"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| e.to_string())?;
        }
        let ovs = Ovs { dir: d.clone() };
        let db = d.join("db/conf.db");
        let sock = d.join("run/db.sock");
        ovs.run(
            None,
            &[
                "ovsdb-tool",
                "create",
                &db.display().to_string(),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        )?;
        ovs.run(
            Some(ns),
            &[
                "ovsdb-server",
                &db.display().to_string(),
                &format!("--remote=punix:{}", sock.display()),
                "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                &format!("--pidfile={}", d.join("run/ovsdb-server.pid").display()),
                "--detach",
                &format!("--log-file={}", d.join("log/ovsdb-server.log").display()),
            ],
        )?;
        ovs.vsctl(&["--no-wait", "init"])?;
        if tso {
            ovs.vsctl(&[
                "--no-wait",
                "set",
                "Open_vSwitch",
                ".",
                "other_config:userspace-tso-enable=true",
            ])?;
        }
        ovs.run(
            Some(ns),
            &[
                "ovs-vswitchd",
                &format!("unix:{}", sock.display()),
                &format!("--pidfile={}", d.join("run/ovs-vswitchd.pid").display()),
                "--detach",
                &format!("--log-file={}", d.join("log/ovs-vswitchd.log").display()),
            ],
        )?;
        Ok(ovs)
    }

    fn run(&self, ns: Option<&Netns>, args: &[&str]) -> Result<String, String> {
        let mut c = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.name()]).args(args);
                c
            }
            None => {
                let mut c = Command::new(args[0]);
                c.args(&args[1..]);
                c
            }
        };
        for (k, v) in [
            ("OVS_RUNDIR", "run"),
            ("OVS_LOGDIR", "log"),
            ("OVS_DBDIR", "db"),
        ] {
            c.env(k, self.dir.join(v));
        }
        check(&args.join(" "), c.output())
    }

    /// Debian's `ovs-vsctl` against this instance.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, String> {
        let db = format!("--db=unix:{}", self.dir.join("run/db.sock").display());
        let mut a = vec!["ovs-vsctl", "--timeout=20", db.as_str()];
        a.extend_from_slice(args);
        self.run(None, &a)
    }

    /// PIDs of this instance's ovs-vswitchd and ovsdb-server: read from their pidfiles and
    /// kept only if the process is still that daemon started with this instance's directory
    /// (a stale pidfile's PID may belong to anything by now).
    pub fn pids(&self) -> Vec<u32> {
        ["ovs-vswitchd", "ovsdb-server"]
            .iter()
            .filter_map(|d| {
                let pid: u32 = std::fs::read_to_string(self.dir.join(format!("run/{d}.pid")))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let mut args = cmdline.split(|&b| b == 0).map(String::from_utf8_lossy);
                let prog = args.next()?;
                let dir = self.dir.display().to_string();
                (prog.rsplit('/').next() == Some(*d) && args.any(|a| a.contains(&dir)))
                    .then_some(pid)
            })
            .collect()
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: kill(2) on a pid that `pids` checked is our own instance's daemon.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3)
                && Path::new(&format!("/proc/{pid}")).exists()
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                // SAFETY: as above.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
}

/// A switch daemon owned by a bed.
#[derive(Debug)]
pub enum Daemon {
    /// An rvsd.
    Rvs(Rvsd),
    /// An OVS instance.
    Ovs(Ovs),
}

/// A built topology for one system. Field order is drop order.
#[derive(Debug)]
pub struct Bed {
    daemons: Vec<Daemon>,
    /// Generator netns; its veth is `eth0` with [`GEN_IP`].
    pub gen: Netns,
    /// Sink netns; its veth is `eth0` with [`SINK_IP`].
    pub sink: Netns,
    switches: Vec<Netns>,
    _dir: TempDir,
}

/// The veth name inside the generator and sink namespaces.
pub const ENDPOINT_IF: &str = "eth0";

fn quiet_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
    ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
    // AF_PACKET does not steal frames: keep a switch netns's own stack from answering ARP.
    ns.sysctl("net.ipv4.conf.all.arp_ignore", "1");
    ns
}

impl Bed {
    /// Build the topology of `sys` and start and configure its switch. Errors say why the
    /// system cannot be measured (a missing binary, a port type that is not built, …).
    /// Panics of the namespace helpers (a failing `ip` command) propagate.
    pub fn build(sys: System, env: &Env) -> Result<Bed, String> {
        let dir = TempDir::new(sys.name()).map_err(|e| format!("temp dir: {e}"))?;
        let gen = quiet_ns("bg");
        let sink = quiet_ns("bk");
        let mut bed = Bed {
            daemons: vec![],
            gen,
            sink,
            switches: vec![],
            _dir: dir,
        };
        let dir = bed._dir.0.clone();
        match sys {
            System::Direct => bed.gen.add_veth(ENDPOINT_IF, &bed.sink, ENDPOINT_IF),
            System::Rvs | System::RvsAfxdp | System::LinuxBridge | System::Ovs | System::OvsTso => {
                let sw = quiet_ns("bs");
                let (pg, ps) = (unique_ifname("bpg"), unique_ifname("bps"));
                sw.add_veth(&pg, &bed.gen, ENDPOINT_IF);
                sw.add_veth(&ps, &bed.sink, ENDPOINT_IF);
                match sys {
                    System::LinuxBridge => {
                        sw.exec(["ip", "link", "add", "lbr0", "type", "bridge"]);
                        sw.exec(["ip", "link", "set", "lbr0", "up"]);
                        sw.exec(["ip", "link", "set", &pg, "master", "lbr0"]);
                        sw.exec(["ip", "link", "set", &ps, "master", "lbr0"]);
                    }
                    System::Rvs | System::RvsAfxdp => {
                        let r = Rvsd::start(env, &sw, &dir)?;
                        let mut args = vec!["add-br", "br0", "--", "add-port", "br0", &pg];
                        args.extend(["--", "add-port", "br0", &ps]);
                        if sys == System::RvsAfxdp {
                            // Native mode, not best-effort: a silent fallback to AF_PACKET would
                            // be measured under the wrong name.
                            for p in [&pg, &ps] {
                                args.extend([
                                    "--",
                                    "set",
                                    "interface",
                                    p,
                                    "type=afxdp",
                                    "options:xdp-mode=native",
                                ]);
                            }
                        }
                        let res = r.vsctl(&args).and_then(|_| r.port_errors(&[&pg, &ps]));
                        bed.daemons.push(Daemon::Rvs(r));
                        res.map_err(|e| {
                            if sys == System::RvsAfxdp {
                                format!("not built: {e}")
                            } else {
                                e
                            }
                        })?;
                    }
                    _ => {
                        let o = Ovs::start(&sw, &dir, sys == System::OvsTso)?;
                        let res = o.vsctl(&[
                            "add-br",
                            "br0",
                            "--",
                            "set",
                            "bridge",
                            "br0",
                            "datapath_type=netdev",
                            "--",
                            "add-port",
                            "br0",
                            &pg,
                            "--",
                            "add-port",
                            "br0",
                            &ps,
                        ]);
                        bed.daemons.push(Daemon::Ovs(o));
                        res?;
                    }
                }
                bed.switches.push(sw);
            }
            System::RvsGre | System::OvsGre => {
                let h = [quiet_ns("bh"), quiet_ns("bh")];
                let up = [unique_ifname("bu"), unique_ifname("bu")];
                h[0].add_veth(&up[0], &h[1], &up[1]);
                let (pg, ps) = (unique_ifname("bpg"), unique_ifname("bps"));
                h[0].add_veth(&pg, &bed.gen, ENDPOINT_IF);
                h[1].add_veth(&ps, &bed.sink, ENDPOINT_IF);
                for i in 0..2 {
                    h[i].exec(["ip", "link", "set", &up[i], "mtu", UNDERLAY_MTU]);
                    let port = if i == 0 { &pg } else { &ps };
                    let remote = UNDERLAY[1 - i].to_string();
                    let sub = dir.join(format!("h{i}"));
                    std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
                    if sys == System::RvsGre {
                        h[i].set_addr(&up[i], &format!("{}/24", UNDERLAY[i]));
                        let r = Rvsd::start(env, &h[i], &sub)?;
                        let res = r
                            .vsctl(&[
                                "add-br",
                                "br0",
                                "--",
                                "add-port",
                                "br0",
                                port,
                                "--",
                                "add-port",
                                "br0",
                                "gre0",
                                "--",
                                "set",
                                "interface",
                                "gre0",
                                "type=gre",
                                &format!("options:remote_ip={remote}"),
                            ])
                            .and_then(|_| r.port_errors(&[port, "gre0"]));
                        bed.daemons.push(Daemon::Rvs(r));
                        res?;
                    } else {
                        let o = Ovs::start(&h[i], &sub, false)?;
                        let res = o.vsctl(&[
                            "add-br",
                            "br-phy",
                            "--",
                            "set",
                            "bridge",
                            "br-phy",
                            "datapath_type=netdev",
                            "--",
                            "add-port",
                            "br-phy",
                            &up[i],
                            "--",
                            "set",
                            "interface",
                            "br-phy",
                            &format!("mtu_request={UNDERLAY_MTU}"),
                        ]);
                        bed.daemons.push(Daemon::Ovs(o));
                        res?;
                        let Some(Daemon::Ovs(o)) = bed.daemons.last() else {
                            return Err("internal: OVS daemon missing".into());
                        };
                        h[i].set_addr("br-phy", &format!("{}/24", UNDERLAY[i]));
                        o.vsctl(&[
                            "add-br",
                            "br-int",
                            "--",
                            "set",
                            "bridge",
                            "br-int",
                            "datapath_type=netdev",
                            "--",
                            "add-port",
                            "br-int",
                            port,
                            "--",
                            "add-port",
                            "br-int",
                            "gre0",
                            "--",
                            "set",
                            "interface",
                            "gre0",
                            "type=gre",
                            &format!("options:remote_ip={remote}"),
                        ])?;
                    }
                }
                bed.switches.extend(h);
            }
        }
        bed.gen.set_addr(ENDPOINT_IF, &format!("{GEN_IP}/24"));
        bed.sink.set_addr(ENDPOINT_IF, &format!("{SINK_IP}/24"));
        Ok(bed)
    }

    /// PIDs whose CPU time is the switch's: its daemons (every thread).
    pub fn switch_pids(&self) -> Vec<u32> {
        self.daemons
            .iter()
            .flat_map(|d| match d {
                Daemon::Rvs(r) => r.pid().into_iter().collect::<Vec<_>>(),
                Daemon::Ovs(o) => o.pids(),
            })
            .collect()
    }

    /// True while every daemon still runs (a crashed switch makes the rest of its cases n/a).
    pub fn alive(&self) -> bool {
        self.switch_pids().iter().all(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
                .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
        })
    }
}
