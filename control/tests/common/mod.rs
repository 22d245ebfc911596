//! Shared harness for the daemon's end-to-end tests: start rvsd inside a test netns with its
//! own run and db directories, drive it through the real front-end binaries, and stop it
//! (SIGTERM, then SIGKILL) when the harness drops — also on panic.

#![allow(dead_code)]

pub mod suite;

use rvs_testkit::{unique_ifname, Netns};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const RVSD: &str = env!("CARGO_BIN_EXE_rvsd");
pub const VSCTL: &str = env!("CARGO_BIN_EXE_ovs-vsctl");
pub const APPCTL: &str = env!("CARGO_BIN_EXE_ovs-appctl");
pub const DPCTL: &str = env!("CARGO_BIN_EXE_ovs-dpctl");

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(rvs_testkit::owned_name(prefix));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One rvsd running inside `ns`.
pub struct Rvsd {
    pub ns: String,
    pub rundir: PathBuf,
    pub dbdir: PathBuf,
    /// A command rvsd runs under inside the netns (e.g. `setpriv` dropping capabilities).
    wrapper: Vec<String>,
    child: Option<Child>,
}

fn out_str(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Rvsd {
    /// Start rvsd in `ns` with directories under `dir`, and wait for its socket.
    pub fn start(ns: &Netns, dir: &Path) -> Rvsd {
        Rvsd::start_wrapped(ns, dir, &[])
    }

    /// Like `start`, with rvsd run as `WRAPPER… rvsd …` (e.g. `setpriv --bounding-set …`).
    pub fn start_wrapped(ns: &Netns, dir: &Path, wrapper: &[&str]) -> Rvsd {
        let mut r = Rvsd {
            ns: ns.name().to_string(),
            rundir: dir.join("run"),
            dbdir: dir.join("db"),
            wrapper: wrapper.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.rundir.parent().unwrap().join("rvsd.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(&self.wrapper)
            .args([RVSD, "--rundir"])
            .arg(&self.rundir)
            .arg("--dbdir")
            .arg(&self.dbdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rvsd");
        self.child = Some(child);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.appctl(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("rvsd did not come up; log:\n{}", self.log());
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.rundir.parent().unwrap().join("rvsd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        // SAFETY-free: plain kill(1) of our own child.
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
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

    /// Start again with the same directories.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Start again after a crash.
    pub fn respawn(&mut self) {
        self.spawn();
    }

    fn tool(&self, bin: &str, args: &[&str]) -> Output {
        Command::new(bin)
            .args(args)
            .env("RVS_RUNDIR", &self.rundir)
            .output()
            .expect("run front end")
    }

    pub fn vsctl(&self, args: &[&str]) -> Output {
        self.tool(VSCTL, args)
    }

    /// ovs-vsctl that must succeed; returns stdout.
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

    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        let o = self.vsctl(args);
        assert!(
            o.status.success(),
            "ovs-vsctl {args:?} failed: {}\nrvsd log:\n{}",
            out_str(&o),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn appctl(&self, args: &[&str]) -> Output {
        self.tool(APPCTL, args)
    }

    pub fn appctl_ok(&self, args: &[&str]) -> String {
        let o = self.appctl(args);
        assert!(
            o.status.success(),
            "ovs-appctl {args:?} failed: {}",
            out_str(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A `coverage/show` counter's total (0 when not listed).
    pub fn coverage(&self, name: &str) -> u64 {
        rvs_testkit::coverage_total(&self.appctl_ok(&["coverage/show"]), name)
    }

    pub fn dpctl(&self, args: &[&str]) -> Output {
        self.tool(DPCTL, args)
    }
}

impl Drop for Rvsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A switch netns running rvsd with bridge `br0`, plus `n` container namespaces, each with an
/// `eth0` veth whose peer is a port of br0, addressed 10.77.X.(10+i)/24. The bridge's own
/// port has 10.77.X.1/24.
pub struct Lan {
    // Drop order: the daemon first, then the namespaces, then its directories.
    pub rvsd: Rvsd,
    pub containers: Vec<Netns>,
    pub ports: Vec<String>,
    pub sw: Netns,
    pub dir: TempDir,
    pub subnet: u8,
}

impl Lan {
    /// `n` containers on plain (system, AF_PACKET) ports.
    pub fn new(n: usize, subnet: u8) -> Lan {
        Lan::with_port_type(n, subnet, "")
    }

    /// `n` containers whose ports have interface type `ty` ("" is system; e.g. "afxdp").
    pub fn with_port_type(n: usize, subnet: u8, ty: &str) -> Lan {
        Lan::build(n, subnet, ty, &[])
    }

    /// `with_port_type`, with rvsd started under `wrapper` (see `Rvsd::start_wrapped`).
    pub fn build(n: usize, subnet: u8, ty: &str, wrapper: &[&str]) -> Lan {
        let sw = Netns::new("sw");
        // AF_PACKET does not steal frames: keep the switch netns's own stack quiet on its ports.
        sw.sysctl("net.ipv4.conf.all.arp_ignore", "1");
        sw.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        let dir = TempDir::new("lan");
        let rvsd = Rvsd::start_wrapped(&sw, &dir.0, wrapper);
        rvsd.vsctl_ok(&["add-br", "br0"]);
        sw.set_addr("br0", &format!("10.77.{subnet}.1/24"));
        let mut containers = vec![];
        let mut ports = vec![];
        for i in 0..n {
            let c = Netns::new("c");
            let p = unique_ifname("p");
            sw.add_veth(&p, &c, "eth0");
            c.set_addr("eth0", &format!("10.77.{subnet}.{}/24", 10 + i));
            rvsd.add_port("br0", &p, ty, &[]);
            containers.push(c);
            ports.push(p);
        }
        Lan {
            rvsd,
            containers,
            ports,
            sw,
            dir,
            subnet,
        }
    }

    pub fn ip(&self, i: usize) -> String {
        format!("10.77.{}.{}", self.subnet, 10 + i)
    }

    pub fn br_ip(&self) -> String {
        format!("10.77.{}.1", self.subnet)
    }

    /// Ping from container `from` to `to_ip`; true on success.
    pub fn ping(&self, from: usize, to_ip: &str) -> bool {
        self.containers[from]
            .try_exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", to_ip])
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The `dpctl/show` line of port `name` (without the newline), or "" when not listed.
    pub fn dpctl_line(&self, name: &str) -> String {
        let show = self.rvsd.appctl_ok(&["dpctl/show"]);
        show.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .unwrap_or_default()
            .to_string()
    }
}
