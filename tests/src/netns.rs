//! Network namespaces, veth pairs and background processes that clean up after themselves.
//!
//! - [`Netns`] deletes its namespace on drop (and with it every interface inside, including
//!   veth ends whose peers live elsewhere), after killing what still runs inside;
//! - [`Veth`] deletes a pair still in the creating namespace;
//! - [`Background`] kills and reaps its process.
//!
//! `Drop` also runs while a test panics (unwinding). Commands run through `ip netns exec`; a
//! failing [`Netns::exec`] panics with the command line, exit status and stderr.

use crate::cmd::{check, checked, describe, run, try_run};
use crate::names::{owned_name, sweep_dead_owners};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A network namespace that exists as long as this value does.
#[derive(Debug)]
pub struct Netns {
    name: String,
    /// False once [`Netns::detach`] handed the namespace over to someone else.
    owned: bool,
}

impl Netns {
    /// Create a namespace named by [`owned_name`], with `lo` up. Panics (with the `ip`
    /// error) if it cannot be created. The first call of a process sweeps what dead test
    /// processes left behind ([`sweep_dead_owners`]).
    pub fn new(prefix: &str) -> Netns {
        Netns::create(&owned_name(prefix)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Create the namespace `name` exactly (it must not exist), with `lo` up, or say why
    /// not. Sweeps once per process like [`Netns::new`].
    pub fn create(name: &str) -> Result<Netns, String> {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            let swept = sweep_dead_owners();
            if !swept.is_empty() {
                eprintln!("rvs_testkit: removed leftovers of dead test processes: {swept:?}");
            }
        });
        checked(
            &format!("ip netns add {name}"),
            try_run(["ip", "netns", "add", name]),
        )?;
        let ns = Netns::existing(name);
        ns.exec_checked(["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Take ownership of the existing namespace `name`: it is deleted when the value drops.
    pub fn existing(name: &str) -> Netns {
        Netns {
            name: name.to_string(),
            owned: true,
        }
    }

    /// A handle on the existing namespace `name` that someone else owns: it is left alone
    /// when the value drops.
    pub fn attach(name: &str) -> Netns {
        Netns {
            name: name.to_string(),
            owned: false,
        }
    }

    /// Give up ownership: the namespace outlives this value. Returns its name.
    pub fn detach(mut self) -> String {
        self.owned = false;
        std::mem::take(&mut self.name)
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`, the bind mount `setns` opens.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `ip netns exec NAME ARGS…` as a command to add to (environment, stdio) before running.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    fn line<I, S>(&self, args: I) -> (Vec<String>, Command)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = describe(args);
        let c = self.command(&args);
        let mut line = vec![format!("[netns {}]", self.name)];
        line.extend(args);
        (line, c)
    }

    /// Run a command inside the namespace; returns stdout. Panics with the command line,
    /// status and stderr when it fails.
    pub fn exec<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (line, mut c) = self.line(args);
        check(&line, c.output())
    }

    /// Run a command inside the namespace; stdout on success, else an error naming the
    /// command, its status and stderr.
    pub fn exec_checked<I, S>(&self, args: I) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (line, mut c) = self.line(args);
        checked(&line.join(" "), c.output())
    }

    /// Run a command inside the namespace and return its output whatever the exit status.
    pub fn try_exec<I, S>(&self, args: I) -> io::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args).output()
    }

    /// Start a background process inside the namespace (stdout/stderr discarded); it is
    /// killed when the returned value drops.
    pub fn spawn<I, S>(&self, args: I) -> Background
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (line, mut c) = self.line(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match c.spawn() {
            Ok(child) => Background {
                child,
                what: line.join(" "),
            },
            Err(e) => panic!("could not start `{}`: {e}", line.join(" ")),
        }
    }

    /// Create a veth pair `name` (here) ↔ `peer_name` (in `peer`).
    pub fn add_veth(&self, name: &str, peer: &Netns, peer_name: &str) {
        self.try_add_veth(name, peer, peer_name)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Netns::add_veth`], returning the error instead of panicking.
    pub fn try_add_veth(&self, name: &str, peer: &Netns, peer_name: &str) -> Result<(), String> {
        self.exec_checked([
            "ip", "link", "add", "name", name, "type", "veth", "peer", "name", peer_name, "netns",
            &peer.name,
        ])?;
        self.exec_checked(["ip", "link", "set", "dev", name, "up"])?;
        peer.exec_checked(["ip", "link", "set", "dev", peer_name, "up"])?;
        Ok(())
    }

    /// Move interface `dev` of the current (calling) namespace into this one and bring it up.
    pub fn adopt(&self, dev: &str) {
        run(["ip", "link", "set", "dev", dev, "netns", &self.name]);
        self.link_up(dev);
    }

    /// `ip link set DEV up`.
    pub fn link_up(&self, dev: &str) {
        self.exec(["ip", "link", "set", "dev", dev, "up"]);
    }

    /// `ip addr add CIDR dev DEV` (IPv4 or IPv6), and bring the link up.
    pub fn set_addr(&self, dev: &str, cidr: &str) {
        self.try_set_addr(dev, cidr)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Netns::set_addr`], returning the error instead of panicking.
    pub fn try_set_addr(&self, dev: &str, cidr: &str) -> Result<(), String> {
        let mut args = vec!["ip"];
        if cidr.contains(':') {
            args.push("-6");
        }
        args.extend(["addr", "add", cidr, "dev", dev]);
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.exec_checked(args)?;
        self.exec_checked(["ip", "link", "set", "dev", dev, "up"])?;
        Ok(())
    }

    /// `sysctl -w KEY=VALUE` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.try_sysctl(key, value)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Netns::sysctl`], returning the error instead of panicking.
    pub fn try_sysctl(&self, key: &str, value: &str) -> Result<(), String> {
        self.exec_checked(["sysctl", "-q", "-w", &format!("{key}={value}")])
            .map(drop)
    }

    /// Send each of `frames` (whole Ethernet frames) out of `dev` through a raw packet
    /// socket (python3), as a host or a misbehaving peer on that link would.
    pub fn send_frames(&self, dev: &str, frames: &[Vec<u8>]) {
        let script = "import socket,sys\n\
                      s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
                      s.bind((sys.argv[1],0))\n\
                      for h in sys.argv[2:]:\n    s.send(bytes.fromhex(h))\n";
        let mut args = vec![
            "python3".to_string(),
            "-c".into(),
            script.into(),
            dev.into(),
        ];
        args.extend(
            frames
                .iter()
                .map(|f| f.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        );
        self.exec(args);
    }

    /// Keep the namespace's own stack quiet on ports a switch reads with AF_PACKET (which
    /// does not steal frames from the kernel): no ARP answers for addresses on other
    /// interfaces, no IPv6 (router solicitations, DAD).
    pub fn quiet_switch_stack(&self) -> Result<(), String> {
        self.try_sysctl("net.ipv4.conf.all.arp_ignore", "1")?;
        self.try_sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        self.try_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
    }

    /// The Ethernet address of `dev`.
    pub fn mac(&self, dev: &str) -> String {
        let out = self.exec(["cat", &format!("/sys/class/net/{dev}/address")]);
        out.trim().to_string()
    }

    /// Move the calling thread into this namespace until the guard drops. Sockets opened
    /// meanwhile stay in this namespace for their whole life. Use it from a thread of your
    /// own (e.g. a forwarder); the test thread is better left where it is.
    pub fn enter(&self) -> io::Result<NsGuard> {
        let back = File::open("/proc/thread-self/ns/net")?;
        let target = File::open(self.path())?;
        setns(&target)?;
        Ok(NsGuard { back })
    }

    /// Run `f` on a fresh thread inside this namespace and return its result.
    pub fn run_in<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let _g = match self.enter() {
                    Ok(g) => g,
                    Err(e) => panic!("cannot enter netns {}: {e}", self.name),
                };
                f()
            });
            match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }

    /// Poll `cond` every 50 ms until it holds or `timeout` passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&Netns) -> bool) -> bool {
        wait_for(timeout, || cond(self))
    }

    /// True when `ping -c1 -W1 IP` from this namespace succeeds, trying until `timeout`.
    pub fn ping_until(&self, ip: &str, timeout: Duration) -> bool {
        self.wait_until(timeout, |ns| {
            ns.try_exec(["ping", "-c", "1", "-W", "1", ip])
                .is_ok_and(|o| o.status.success())
        })
    }

    /// A counter from `nstat -az NAME` (e.g. `TcpInCsumErrors`), or `None` if absent.
    pub fn nstat(&self, counter: &str) -> Option<u64> {
        let out = self.exec(["nstat", "-az", counter]);
        out.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(counter))
                .then(|| it.next().and_then(|v| v.parse().ok()))
                .flatten()
        })
    }
}

/// Poll `cond` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Kill whatever still runs inside, then delete; never panic in drop.
        let _ = try_run(["ip", "netns", "pids", &self.name]).map(|o| {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = try_run(["kill", "-9", pid]);
            }
        });
        match try_run(["ip", "netns", "del", &self.name]) {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "rvs_testkit: could not delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("rvs_testkit: could not delete netns {}: {e}", self.name),
        }
    }
}

fn setns(f: &File) -> io::Result<()> {
    // SAFETY: setns with a valid namespace fd only changes the calling thread's namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returned by [`Netns::enter`]: puts the thread back into its original namespace on drop.
#[derive(Debug)]
pub struct NsGuard {
    back: File,
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.back) {
            eprintln!("rvs_testkit: could not return to the original netns: {e}");
        }
    }
}

/// A veth pair created in the calling thread's namespace; deleted on drop if still there.
#[derive(Debug)]
pub struct Veth {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
}

/// Create a veth pair `a` ↔ `b` in the calling namespace (move ends with [`Netns::adopt`]).
pub fn veth_pair(a: &str, b: &str) -> Veth {
    run([
        "ip", "link", "add", "name", a, "type", "veth", "peer", "name", b,
    ]);
    Veth {
        a: a.to_string(),
        b: b.to_string(),
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Fails harmlessly when an end was moved into a namespace that is already gone.
        if Path::new("/sys/class/net").join(&self.a).exists() {
            let _ = try_run(["ip", "link", "del", &self.a]);
        }
    }
}

/// A background process, killed and reaped on drop.
#[derive(Debug)]
pub struct Background {
    child: Child,
    what: String,
}

impl Background {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// What was started (for messages).
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{skip_unless_root, skip_unless_tools, unique_ifname};

    #[test]
    fn namespace_lifecycle_and_veth() {
        if skip_unless_tools("namespace_lifecycle_and_veth", &["ip", "ping"]) {
            return;
        }
        let path;
        {
            let a = Netns::new("tka");
            let b = Netns::new("tkb");
            path = a.path();
            assert!(path.exists());
            let (ea, eb) = (unique_ifname("tva"), unique_ifname("tvb"));
            a.add_veth(&ea, &b, &eb);
            a.set_addr(&ea, "10.77.0.1/24");
            b.set_addr(&eb, "10.77.0.2/24");
            a.exec(["ping", "-c1", "-W5", "10.77.0.2"]);
            assert!(a.exec(["ip", "-o", "link"]).contains(&ea));
            assert_eq!(a.mac(&ea).len(), 17);
            // Threads can enter the namespace and see its interfaces.
            let seen = a.run_in(|| {
                std::fs::read_to_string("/proc/thread-self/net/dev").map(|s| s.contains(&ea))
            });
            assert!(seen.unwrap());
            // ... and the calling thread is back where it was.
            let here = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            assert!(!here.contains(&ea));
            let mut bg = b.spawn(["sleep", "30"]);
            assert!(bg.running());
            assert!(a.nstat("TcpInCsumErrors").is_some());
        }
        assert!(!path.exists(), "namespace not deleted");
    }

    #[test]
    fn detached_namespace_outlives_its_value() {
        if skip_unless_root("detached_namespace_outlives_its_value") {
            return;
        }
        let name = Netns::new("tkd").detach();
        assert!(Path::new("/run/netns").join(&name).exists());
        assert!(Netns::create(&name).is_err(), "a name is created once");
        drop(Netns::existing(&name));
        assert!(!Path::new("/run/netns").join(&name).exists());
    }

    #[test]
    fn failing_command_panics_with_details() {
        if skip_unless_root("failing_command_panics_with_details") {
            return;
        }
        let ns = Netns::new("tkf");
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ns.exec(["ip", "link", "set", "nosuchdev0", "up"]);
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("nosuchdev0") && msg.contains("failed"),
            "{msg}"
        );
        assert!(ns.try_exec(["false"]).is_ok_and(|o| !o.status.success()));
        let e = ns.exec_checked(["ip", "link", "set", "nosuchdev0", "up"]);
        assert!(e.unwrap_err().contains("nosuchdev0"));
    }

    #[test]
    fn cleanup_on_panic() {
        if skip_unless_root("cleanup_on_panic") {
            return;
        }
        let mut path = PathBuf::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ns = Netns::new("tkp");
            path = ns.path();
            panic!("boom");
        }));
        assert!(r.is_err());
        assert!(!path.as_os_str().is_empty() && !path.exists());
    }
}
