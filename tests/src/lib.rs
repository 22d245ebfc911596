//! rvs_testkit: build small network topologies out of network namespaces and veth pairs for
//! integration tests (rvs's own, and yours).
//!
//! Everything a test creates is named uniquely (prefix + process id + a per-process counter)
//! so tests can run in parallel, and is removed when its owner is dropped — also when the test
//! panics, because `Drop` runs during unwinding. A process killed by a signal runs no `Drop`:
//! namespaces and scratch directories carry their owner's PID in their names
//! ([`owned_name`], `rvst-PID-N-prefix`), and the first [`Netns::new`] of every process sweeps
//! those whose owner is dead ([`sweep_dead_owners`]).
//! - [`Netns`] deletes its namespace (and with it every interface inside, including veth ends
//!   whose peers live elsewhere);
//! - [`Veth`] deletes a pair still in the creating namespace;
//! - [`Background`] kills and reaps its process.
//!
//! Commands run through `ip netns exec`; a failing command panics with the command line, exit
//! status and stderr, so a test failure says what went wrong. Tests that need root or a tool
//! should call [`skip_unless_root`] / [`skip_unless_tools`] (or [`skip`] for any other reason)
//! first: they print why and return `true` when the test should return early — unless the
//! environment sets `RVS_REQUIRE_ROOT=1` (CI does), where a skip is a failure: a suite that
//! passes because it skipped has not passed.
//!
//! Interface names are limited to 15 bytes (`IFNAMSIZ - 1`); [`unique_ifname`] keeps to that.
//!
//! ```no_run
//! use rvs_testkit::{skip_unless_root, unique_ifname, Netns};
//!
//! if skip_unless_root("ping_between_namespaces") {
//!     return;
//! }
//! let a = Netns::new("a");
//! let b = Netns::new("b");
//! let (ea, eb) = (unique_ifname("va"), unique_ifname("vb"));
//! a.add_veth(&ea, &b, &eb);
//! a.set_addr(&ea, "10.9.0.1/24");
//! b.set_addr(&eb, "10.9.0.2/24");
//! a.exec(["ping", "-c1", "-W2", "10.9.0.2"]);
//! // Both namespaces (and the veth pair) are gone when `a` and `b` drop.
//! ```

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Longest interface name Linux accepts.
pub const IFNAME_MAX: usize = 15;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn base36(mut v: u64) -> String {
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

/// Split a command line into words the way a shell would for simple cases: spaces separate
/// words, single quotes group them (`set interface p1 'external_ids:a=b c'`). Used to turn
/// recorded `ovs-vsctl` command lines into argument vectors.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut in_q, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                in_q = !in_q;
                any = true;
            }
            ' ' if !in_q => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// A name unique to this process and call: `prefix` + pid + counter (base 36), cut to
/// `IFNAME_MAX` bytes by shortening the prefix, so it is valid as an interface name too.
pub fn unique_ifname(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tail = format!(
        "{}x{}",
        base36(u64::from(std::process::id())),
        base36(u64::from(n))
    );
    let room = IFNAME_MAX.saturating_sub(tail.len());
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}{tail}")
}

/// True when running as root (uid 0).
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// True when `tool` is an executable file on `$PATH`.
pub fn have_tool(tool: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|d| {
        let p = d.join(tool);
        p.metadata()
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
            .unwrap_or(false)
    })
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

/// Print a skip notice and return `true` unless running as root with every tool installed.
pub fn skip_unless_tools(test: &str, tools: &[&str]) -> bool {
    if skip_unless_root(test) {
        return true;
    }
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have_tool(t)).collect();
    !missing.is_empty() && skip(test, &format!("missing tools: {}", missing.join(", ")))
}

/// Resident memory of process `pid` in kB. Panics when it cannot be read: a memory check
/// that silently read 0 would pass whatever the memory did.
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS line in /proc/{pid}/status"))
}

/// Prefix of every name [`owned_name`] makes.
pub const OWNED_PREFIX: &str = "rvst-";

/// A name for a namespace or scratch directory that records its owner: `rvst-PID-N-prefix`
/// (unique per process and call). Not for interface names (too long for IFNAMSIZ).
pub fn owned_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{OWNED_PREFIX}{}-{n}-{prefix}", std::process::id())
}

/// The owner PID recorded in a name made by [`owned_name`].
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

/// Remove the namespaces (after killing what runs in them) and the scratch directories in the
/// temp dir that [`owned_name`] named for processes that no longer exist, e.g. a test run
/// killed by a signal. Returns the names removed.
pub fn sweep_dead_owners() -> Vec<String> {
    let dead = |name: &str| owner_of(name).is_some_and(|pid| !pid_alive(pid));
    let mut swept = vec![];
    if let Ok(rd) = std::fs::read_dir("/run/netns") {
        for name in rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            if dead(&name) {
                drop(Netns { name: name.clone() });
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

fn describe<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}

fn check(cmdline: &[String], out: io::Result<Output>) -> String {
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("could not run `{}`: {e}", cmdline.join(" ")),
    };
    if !out.status.success() {
        panic!(
            "`{}` failed ({}):\nstdout: {}\nstderr: {}",
            cmdline.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command in the current namespace; returns stdout, panics with details on failure.
pub fn run<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args = describe(args);
    let Some((prog, rest)) = args.split_first() else {
        panic!("run: empty command");
    };
    check(&args, Command::new(prog).args(rest).output())
}

/// Run a command in the current namespace and return its output whatever the exit status.
pub fn try_run<I, S>(args: I) -> io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args = describe(args);
    let Some((prog, rest)) = args.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    Command::new(prog).args(rest).output()
}

/// A coverage counter's total in `ovs-appctl coverage/show` output (0 when the counter is not
/// listed: OVS and rvs list only counters that were hit).
pub fn coverage_total(coverage_show: &str, name: &str) -> u64 {
    coverage_show
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.rsplit("total: ").next()?.trim().parse().ok())
        .unwrap_or(0)
}

/// Frames of a classic pcap file (either byte order, µs or ns timestamps). A missing or
/// truncated file gives the frames that are whole.
pub fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let Ok(d) = std::fs::read(path) else {
        return vec![];
    };
    if d.len() < 24 {
        return vec![];
    }
    let le = matches!(
        &d[0..4],
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
    );
    let rd = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut off = 24;
    let mut out = vec![];
    while off + 16 <= d.len() {
        let caplen = rd(&d[off + 8..off + 12]) as usize;
        off += 16;
        if off + caplen > d.len() {
            break;
        }
        out.push(d[off..off + caplen].to_vec());
        off += caplen;
    }
    out
}

/// tcpdump on one interface of a namespace, written to a pcap file packet by packet.
/// [`Capture::start`] returns only once tcpdump is capturing (it has opened its file), so a
/// test that checks a frame is *absent* knows the capture was running.
#[derive(Debug)]
pub struct Capture {
    bg: Background,
    file: PathBuf,
}

impl Capture {
    /// Capture on `dev` in `ns` what `filter` (a pcap filter; "" for everything) matches.
    pub fn start(ns: &Netns, dev: &str, filter: &str) -> Capture {
        let file = std::env::temp_dir().join(format!("{}.pcap", owned_name("cap")));
        let mut args = vec![
            "tcpdump".to_string(),
            "-i".into(),
            dev.into(),
            "--immediate-mode".into(),
            "-U".into(),
            "-n".into(),
            "-w".into(),
            file.display().to_string(),
        ];
        if !filter.is_empty() {
            args.push(filter.into());
        }
        let mut bg = ns.spawn(&args);
        // tcpdump opens its file once the capture is active.
        let started = ns.wait_until(Duration::from_secs(5), |_| file.exists());
        assert!(
            started && bg.running(),
            "tcpdump did not start capturing on {dev} in {}",
            ns.name()
        );
        Capture { bg, file }
    }

    /// Stop the capture (SIGINT, so tcpdump flushes) and return the frames it saw.
    pub fn frames(mut self) -> Vec<Vec<u8>> {
        std::thread::sleep(Duration::from_millis(300));
        let _ = try_run(["kill", "-INT", &self.bg.id().to_string()]);
        let t = Instant::now();
        while self.bg.running() && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        pcap_frames(&self.file)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// A network namespace that exists as long as this value does.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create a namespace named by [`owned_name`], with `lo` up. Panics (with the `ip`
    /// error) if it cannot be created. The first call of a process sweeps what dead test
    /// processes left behind ([`sweep_dead_owners`]).
    pub fn new(prefix: &str) -> Netns {
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            let swept = sweep_dead_owners();
            if !swept.is_empty() {
                eprintln!("rvs_testkit: removed leftovers of dead test processes: {swept:?}");
            }
        });
        let name = owned_name(prefix);
        run(["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`, the bind mount `setns` opens.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    fn command<I, S>(&self, args: I) -> (Vec<String>, Command)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = describe(args);
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(&args);
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
        let (line, mut c) = self.command(args);
        check(&line, c.output())
    }

    /// Run a command inside the namespace and return its output whatever the exit status.
    pub fn try_exec<I, S>(&self, args: I) -> io::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args).1.output()
    }

    /// Start a background process inside the namespace (stdout/stderr discarded); it is
    /// killed when the returned value drops.
    pub fn spawn<I, S>(&self, args: I) -> Background
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (line, mut c) = self.command(args);
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
        self.exec([
            "ip", "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns",
            &peer.name,
        ]);
        self.link_up(name);
        peer.link_up(peer_name);
    }

    /// Move interface `dev` of the current (calling) namespace into this one and bring it up.
    pub fn adopt(&self, dev: &str) {
        run(["ip", "link", "set", dev, "netns", &self.name]);
        self.link_up(dev);
    }

    /// `ip link set DEV up`.
    pub fn link_up(&self, dev: &str) {
        self.exec(["ip", "link", "set", dev, "up"]);
    }

    /// `ip addr add CIDR dev DEV` (IPv4 or IPv6), and bring the link up.
    pub fn set_addr(&self, dev: &str, cidr: &str) {
        let mut args = vec!["ip"];
        if cidr.contains(':') {
            args.push("-6");
        }
        args.extend(["addr", "add", cidr, "dev", dev]);
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.exec(args);
        self.link_up(dev);
    }

    /// `sysctl -w KEY=VALUE` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec(["sysctl", "-q", "-w", &format!("{key}={value}")]);
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
        let end = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

impl Drop for Netns {
    fn drop(&mut self) {
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
    run(["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
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
    fn tools_lookup() {
        assert!(have_tool("sh"));
        assert!(!have_tool("rvs-no-such-tool"));
    }

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
