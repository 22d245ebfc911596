//! Labs: network topologies of rvs switches, hosts, VLANs and tunnels in network namespaces,
//! from one TOML file ([`Topology`]) — built by [`Lab::up`], used by tests through
//! [`Lab::exec`], [`Lab::pingall`] and [`Lab::iperf`], and removed on drop (also on panic).
//! The `rvs-lab` binary is the same code behind a command line: `up` builds a lab and leaves
//! it running ([`Lab::detach`]); later commands find it through its state
//! ([`Lab::attach`], [`state::LabState`]).
//!
//! What a lab is made of:
//! - a switch is a namespace `rvst-OWNER-LAB-NAME` running rvsd (run and db directories in
//!   `ROOT/LAB/NAME/`) with bridge `br0`; its own stack ignores ARP for foreign addresses and
//!   has IPv6 off, because AF_PACKET ports do not steal frames from it;
//! - a host is a namespace whose `eth0` (MAC from the plan) is a veth whose peer, named like
//!   the host, is a port of its switch's `br0` (`tag=VLAN` for `vlan`);
//! - a tunnel is a veth `ulN` between two switch namespaces with addresses from
//!   172.16.0.0/12 that no host subnet overlaps, and a port `greN`, `vxlanN` or `geneveN`
//!   (`type=` the tunnel's type, `options:remote_ip=` the other end, `options:key=` its key)
//!   on each `br0`.
//!
//! **Ready.** [`Lab::up`] returns when every port of every switch is listed by
//! `ovs-appctl dpctl/show` and has no `error`, and a frame has crossed every switch: each
//! host pings one host it should reach (one behind a tunnel when there is one), or, when it
//! has none, sends an ARP request and its switch learns its MAC. That costs a few pings and
//! proves forwarding, not just configuration.
//!
//! **Reachability** ([`topology::Plan::expect_reach`]): two hosts should reach each other iff
//! they are in the same L2 domain (one switch, or switches joined by tunnels), the same VLAN
//! (untagged is one VLAN) and each address is in the other's subnet. [`Lab::pingall`] checks
//! every ordered pair both ways: reached when expected, and not reached when not.
//!
//! **Ownership.** A lab belongs to a process (a [`Lab`] from Rust: the test process; a lab
//! from `rvs-lab up`: the process that invoked it). Once that process is gone, `rvs-lab down
//! --all` and the kit's [`crate::sweep_dead_owners`] (run by the first namespace a process
//! creates) remove it; so does a lab whose `up` died half-way (`kill -9`).
//!
//! ```no_run
//! use rvs_testkit::{skip_unless_root, Lab};
//!
//! if skip_unless_root("two_sites") {
//!     return;
//! }
//! let lab = Lab::from_toml(r#"
//!     [[switch]]
//!     name = "s1"
//!     [[switch]]
//!     name = "s2"
//!     [[host]]
//!     name = "h1"
//!     switch = "s1"
//!     ip = "10.0.0.1/24"
//!     [[host]]
//!     name = "h2"
//!     switch = "s2"
//!     ip = "10.0.0.2/24"
//!     [[tunnel]]
//!     between = ["s1", "s2"]
//!     type = "gre"
//! "#).expect("lab up");
//! lab.exec("h1", ["ping", "-c1", "10.0.0.2"]);
//! let m = lab.pingall();
//! assert!(m.all_expected(), "{m}");
//! // Everything is removed when `lab` drops.
//! ```

pub mod state;
pub mod topology;

use crate::daemon::{Bins, Rvsd};
use crate::names::ProcId;
use crate::netns::Netns;
use crate::skip::have_tool;
use crate::vsctl::Vsctl;
use serde::Serialize;
use state::{teardown, LabState};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use topology::{PlannedHost, Topology, TopologyError, BRIDGE, HOST_IF};

pub use state::sweep_dead_labs;

/// Why a lab could not be built or found.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The topology is not valid; nothing was created.
    #[error("{0}")]
    Topology(#[from] TopologyError),
    /// A lab of this name exists already.
    #[error("lab {0} exists already (rvs-lab down {0})")]
    Exists(String),
    /// No lab of this name.
    #[error("no lab {0} (rvs-lab list)")]
    NotFound(String),
    /// Building it failed (everything made so far was removed).
    #[error("{0}")]
    Setup(String),
}

/// How to build a lab; `Default` suits tests.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab's name (default: `tPID-N`, unique to this process).
    pub name: Option<String>,
    /// The process that owns it (default: this one).
    pub owner: ProcId,
    /// Where labs keep their state (default: [`state::state_root`]).
    pub root: PathBuf,
    /// How long ports may take to forward (default: 20 s).
    pub ready_timeout: Duration,
    /// rvs's binaries (default: [`Bins::find`]).
    pub bins: Option<Bins>,
    /// The file it came from, for `list`.
    pub source: Option<String>,
}

impl Default for LabOptions {
    fn default() -> LabOptions {
        LabOptions {
            name: None,
            owner: ProcId::current(),
            root: state::state_root(),
            ready_timeout: Duration::from_secs(20),
            bins: None,
            source: None,
        }
    }
}

/// Longest lab name.
pub const LAB_NAME_MAX: usize = 32;

/// Ok when `name` can name a lab: 1–32 letters, digits, `_`, `.` or `-`, starting with a
/// letter or digit.
pub fn check_lab_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= LAB_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    ok.then_some(()).ok_or_else(|| {
        format!(
            "{name:?} is not a lab name (1 to {LAB_NAME_MAX} letters, digits, '_', '.' or '-', \
             starting with a letter or digit)"
        )
    })
}

/// A running lab. Owned (from [`Lab::up`]): removed when dropped. Attached (from
/// [`Lab::attach`]): someone else's, left as it is.
#[derive(Debug)]
pub struct Lab {
    // Drop order matters and is explicit in `Drop`: daemons, namespaces, directory.
    rvsds: BTreeMap<String, Rvsd>,
    netns: BTreeMap<String, Netns>,
    state: LabState,
    owned: bool,
}

impl Lab {
    /// Parse `toml` ([`Topology::from_toml`]) and build it with default options: owned by
    /// this process, removed when the value drops.
    pub fn from_toml(toml: &str) -> Result<Lab, LabError> {
        Lab::up(&Topology::from_toml(toml)?, LabOptions::default())
    }

    /// Build `topo` and return once every port forwards (see the module documentation).
    /// On error everything made so far is removed.
    pub fn up(topo: &Topology, opts: LabOptions) -> Result<Lab, LabError> {
        let plan = topo.plan()?;
        let bins = match opts.bins {
            Some(b) => b,
            None => Bins::find().map_err(LabError::Setup)?,
        };
        bins.check().map_err(LabError::Setup)?;
        let name = opts
            .name
            .unwrap_or_else(|| format!("t{}-{}", std::process::id(), crate::names::next_count()));
        check_lab_name(&name).map_err(LabError::Setup)?;
        let root = opts.root;
        std::fs::create_dir_all(&root)
            .map_err(|e| LabError::Setup(format!("{}: {e}", root.display())))?;
        let dir = root.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(LabError::Exists(name))
            }
            Err(e) => return Err(LabError::Setup(format!("{}: {e}", dir.display()))),
        }
        let owner = opts.owner;
        let mut lab = Lab {
            rvsds: BTreeMap::new(),
            netns: BTreeMap::new(),
            state: LabState::new(&name, &dir, owner, bins, plan, opts.source),
            owned: true,
        };
        // From here on, dropping `lab` removes what was made (also on a panic).
        lab.state.save().map_err(LabError::Setup)?;
        lab.build()
            .and_then(|()| lab.wait_ready(opts.ready_timeout))
            .map_err(|e| LabError::Setup(format!("lab {name}: {e}")))?;
        lab.state.complete = true;
        lab.state.save().map_err(LabError::Setup)?;
        Ok(lab)
    }

    /// The running lab `name` (under `$RVS_LAB_DIR` or `/run/rvs-lab`), not owned: dropping
    /// the value leaves the lab as it is.
    pub fn attach(name: &str) -> Result<Lab, LabError> {
        check_lab_name(name).map_err(LabError::Setup)?;
        let dir = state::state_root().join(name);
        if !dir.is_dir() {
            return Err(LabError::NotFound(name.to_string()));
        }
        let state = LabState::load(&dir).map_err(LabError::Setup)?;
        let netns = state
            .namespaces
            .iter()
            .map(|(node, ns)| (node.clone(), Netns::attach(ns)))
            .collect();
        Ok(Lab {
            rvsds: BTreeMap::new(),
            netns,
            state,
            owned: false,
        })
    }

    /// Remove the lab `name`: its daemons, namespaces and directory, whoever owns it.
    /// Returns what was removed.
    pub fn down(name: &str) -> Result<Vec<String>, LabError> {
        let lab = Lab::attach(name)?;
        Ok(teardown(&lab.state))
    }

    /// Leave the lab running when this value drops (the `rvs-lab up` command does this);
    /// returns its state.
    pub fn detach(mut self) -> LabState {
        for (_, r) in std::mem::take(&mut self.rvsds) {
            r.detach();
        }
        for (_, ns) in std::mem::take(&mut self.netns) {
            ns.detach();
        }
        self.owned = false;
        self.state.clone()
    }

    fn build(&mut self) -> Result<(), String> {
        let plan = self.state.plan.clone();
        for s in &plan.switches {
            let ns = Netns::create(&self.state.namespaces[&s.name])?;
            ns.quiet_switch_stack()?;
            self.netns.insert(s.name.clone(), ns);
        }
        for h in &plan.hosts {
            let ns = Netns::create(&self.state.namespaces[&h.name])?;
            self.netns.insert(h.name.clone(), ns);
        }
        for s in &plan.switches {
            let dir = self.state.switch_dir(&s.name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let r = Rvsd::try_start(&self.state.bins, &self.netns[&s.name], &dir)
                .map_err(|e| format!("switch {}: {e}", s.name))?;
            if let Some(p) = r.pid().and_then(ProcId::of) {
                self.state.daemons.insert(s.name.clone(), p);
            }
            self.rvsds.insert(s.name.clone(), r);
            self.state.save()?;
            self.vsctl_checked(&s.name, &["add-br", BRIDGE])?;
        }
        for h in &plan.hosts {
            let (sw, host) = (&self.netns[&h.switch], &self.netns[&h.name]);
            // The MAC is set as the peer is made, so IPv6 link-local addresses derive from it.
            sw.exec_checked([
                "ip",
                "link",
                "add",
                // `name` first: a host called "a" would otherwise read as `address`.
                "name",
                &h.port,
                "type",
                "veth",
                "peer",
                "name",
                HOST_IF,
                "address",
                &h.mac,
                "netns",
                host.name(),
            ])?;
            sw.exec_checked(["ip", "link", "set", "dev", &h.port, "up"])?;
            host.try_set_addr(HOST_IF, &h.ip)?;
            let mut c = Vsctl::new().add_port(BRIDGE, &h.port);
            if let Some(v) = h.vlan {
                c = c.set_port(&h.port, &[&format!("tag={v}")]);
            }
            self.vsctl_checked(&h.switch, &c.words())?;
        }
        for t in &plan.tunnels {
            let [a, b] = &t.ends;
            self.netns[&a.switch].try_add_veth(
                &a.underlay_if,
                &self.netns[&b.switch],
                &b.underlay_if,
            )?;
            for (end, peer) in [(a, b), (b, a)] {
                self.netns[&end.switch].try_set_addr(&end.underlay_if, &end.underlay_ip)?;
                let key = t.key.map(|k| format!("key={k}"));
                let opts: Vec<&str> = key.as_deref().into_iter().collect();
                let c = Vsctl::new().tunnel(BRIDGE, &end.port, t.kind, peer.addr(), &opts);
                let args = c.words();
                self.vsctl_checked(&end.switch, &args)?;
            }
        }
        Ok(())
    }

    /// Wait until every port is open without error and a frame crossed every switch.
    fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let plan = &self.state.plan;
        for s in &plan.switches {
            let want = plan.ports_of(&s.name);
            loop {
                let show = self.appctl_checked(&s.name, &["dpctl/show"])?;
                let listed: BTreeSet<&str> = show
                    .lines()
                    .filter(|l| l.trim_start().starts_with("port "))
                    .filter_map(|l| l.split_whitespace().nth(2))
                    .collect();
                let missing: Vec<&String> = want
                    .iter()
                    .filter(|p| !listed.contains(p.as_str()))
                    .collect();
                let errors = self.port_errors(&s.name, &want)?;
                if missing.is_empty() && errors.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "switch {}: ports not forwarding after {timeout:?}: not in dpctl/show: \
                         {missing:?}; errors: {errors:?}",
                        s.name
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let (pairs, lonely) = probes(plan);
        let failures: Vec<String> = std::thread::scope(|sc| {
            let pings: Vec<_> = pairs
                .iter()
                .map(|(a, b)| {
                    sc.spawn(move || {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let ok = self.netns[&a.name].ping_until(&b.addr.to_string(), left);
                        (!ok).then(|| format!("{} cannot ping {} ({})", a.name, b.name, b.addr))
                    })
                })
                .collect();
            let arps: Vec<_> = lonely
                .iter()
                .map(|h| {
                    sc.spawn(move || {
                        let learned = self.learns(h, deadline);
                        (!learned).then(|| {
                            format!("switch {} did not learn host {}'s MAC", h.switch, h.name)
                        })
                    })
                })
                .collect();
            pings
                .into_iter()
                .chain(arps)
                .filter_map(|t| t.join().unwrap_or_else(|_| Some("probe panicked".into())))
                .collect()
        });
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "not forwarding after {timeout:?}: {}",
                failures.join("; ")
            ))
        }
    }

    /// A host with no peer to ping asks for an unused address of its subnet (an ARP
    /// broadcast); true once its switch has learned its MAC.
    fn learns(&self, h: &PlannedHost, deadline: Instant) -> bool {
        let used: BTreeSet<Ipv4Addr> = self.state.plan.hosts.iter().map(|h| h.addr).collect();
        let net = u32::from(h.addr) & (u32::MAX << (32 - u32::from(h.prefix)));
        let top = net | !(u32::MAX << (32 - u32::from(h.prefix)));
        let Some(target) = (net + 1..top)
            .rev()
            .map(Ipv4Addr::from)
            .find(|a| !used.contains(a))
        else {
            return false;
        };
        let ns = &self.netns[&h.name];
        loop {
            let _ = ns.try_exec(["ping", "-c", "1", "-W", "1", &target.to_string()]);
            let fdb = self.appctl_checked(&h.switch, &["fdb/show", BRIDGE]);
            if fdb.is_ok_and(|f| f.contains(&h.mac)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn port_errors(&self, switch: &str, ports: &[String]) -> Result<Vec<String>, String> {
        let mut errors = vec![];
        for p in ports {
            let e = self.vsctl_checked(switch, &["get", "interface", p, "error"])?;
            let e = e.trim().trim_matches('"');
            if !e.is_empty() && e != "[]" {
                errors.push(format!("{p}: {e}"));
            }
        }
        Ok(errors)
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Everything the lab made, with names and addresses.
    pub fn state(&self) -> &LabState {
        &self.state
    }

    /// The namespace of node `node` (switch or host); panics for an unknown node.
    pub fn netns(&self, node: &str) -> &Netns {
        self.netns
            .get(node)
            .unwrap_or_else(|| panic!("lab {} has no node {node:?}", self.state.name))
    }

    /// Host `name` as planned (address, MAC, port, VLAN); panics for an unknown host.
    pub fn host(&self, name: &str) -> &PlannedHost {
        self.state
            .plan
            .host(name)
            .unwrap_or_else(|| panic!("lab {} has no host {name:?}", self.state.name))
    }

    /// The rvsd of switch `name` (only in the process that built the lab).
    pub fn rvsd(&self, name: &str) -> Option<&Rvsd> {
        self.rvsds.get(name)
    }

    /// The rvsd of switch `name`, to stop or restart it (only in the process that built it).
    pub fn rvsd_mut(&mut self, name: &str) -> Option<&mut Rvsd> {
        self.rvsds.get_mut(name)
    }

    /// Run a command in node `node`; returns stdout, panics with details when it fails.
    pub fn exec<I, S>(&self, node: &str, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.netns(node).exec(args)
    }

    /// Run a command in node `node` and return its output whatever the exit status.
    pub fn try_exec<I, S>(&self, node: &str, args: I) -> io::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.netns(node).try_exec(args)
    }

    /// `ip netns exec` of `node` as a [`Command`] to run yourself (the CLI's `exec`): on a
    /// switch, `RVS_RUNDIR` names its rvsd and `PATH` starts with rvs's binaries, so
    /// `ovs-vsctl` there talks to it.
    pub fn command<I, S>(&self, node: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = self.netns(node).command(args);
        if self.state.is_switch(node) {
            c.env("RVS_RUNDIR", self.state.rundir(node));
            if let Some(dir) = self.state.bins.vsctl.parent() {
                let path = std::env::var_os("PATH").unwrap_or_default();
                let all = std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path));
                if let Ok(joined) = std::env::join_paths(all) {
                    c.env("PATH", joined);
                }
            }
        }
        c
    }

    /// rvs's front end `bin` against switch `switch`'s rvsd, as a command to run.
    pub fn front_end(&self, switch: &str, bin: &Path) -> Command {
        let mut c = Command::new(bin);
        c.env("RVS_RUNDIR", self.state.rundir(switch));
        c
    }

    fn vsctl_checked(&self, switch: &str, args: &[&str]) -> Result<String, String> {
        let mut c = self.front_end(switch, &self.state.bins.vsctl);
        crate::cmd::checked(
            &format!("[{switch}] ovs-vsctl {}", args.join(" ")),
            c.args(args).output(),
        )
    }

    fn appctl_checked(&self, switch: &str, args: &[&str]) -> Result<String, String> {
        let mut c = self.front_end(switch, &self.state.bins.appctl);
        crate::cmd::checked(
            &format!("[{switch}] ovs-appctl {}", args.join(" ")),
            c.args(args).output(),
        )
    }

    /// `ovs-vsctl ARGS` on switch `switch`; stdout, panics with the error.
    pub fn vsctl(&self, switch: &str, args: &[&str]) -> String {
        self.vsctl_checked(switch, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ovs-appctl ARGS` on switch `switch`; stdout, panics with the error.
    pub fn appctl(&self, switch: &str, args: &[&str]) -> String {
        self.appctl_checked(switch, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// True when host `from` pings host `to` (a few tries within 3 s).
    pub fn ping(&self, from: &str, to: &str) -> bool {
        let ip = self.host(to).addr.to_string();
        self.netns(from).ping_until(&ip, Duration::from_secs(3))
    }

    /// Ping every ordered pair of hosts and compare with what the topology says
    /// ([`topology::Plan::expect_reach`]). Pairs that should reach get three tries; pairs
    /// that should not get one (two echo requests, 1 s): a leak is caught at once.
    pub fn pingall(&self) -> PingMatrix {
        let plan = &self.state.plan;
        let pairs: Vec<PingResult> = std::thread::scope(|sc| {
            let per_source: Vec<_> = plan
                .hosts
                .iter()
                .map(|a| {
                    sc.spawn(move || {
                        plan.hosts
                            .iter()
                            .filter(|b| b.name != a.name)
                            .map(|b| self.ping_pair(a, b))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            per_source
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_default())
                .collect()
        });
        PingMatrix {
            lab: self.state.name.clone(),
            hosts: plan.hosts.iter().map(|h| h.name.clone()).collect(),
            pairs,
        }
    }

    fn ping_pair(&self, a: &PlannedHost, b: &PlannedHost) -> PingResult {
        let expect = self.state.plan.expect_reach(a, b);
        let ns = &self.netns[&a.name];
        let ip = b.addr.to_string();
        let once = |args: &[&str]| {
            let mut v = vec!["ping"];
            v.extend_from_slice(args);
            v.push(&ip);
            ns.try_exec(v).is_ok_and(|o| o.status.success())
        };
        let reached = match expect {
            Ok(()) => (0..3).any(|_| once(&["-c", "1", "-W", "1"])),
            Err(_) => once(&["-c", "2", "-i", "0.2", "-W", "1"]),
        };
        PingResult {
            from: a.name.clone(),
            to: b.name.clone(),
            expect: expect.is_ok(),
            reached,
            why: match expect {
                Ok(()) => format!(
                    "same L2 domain, {}, same subnet",
                    a.vlan.map_or("untagged".into(), |v| format!("VLAN {v}"))
                ),
                Err(why) => why,
            },
        }
    }

    /// TCP throughput from host `client` to host `server` with iperf3 for `secs` seconds.
    pub fn iperf(&self, client: &str, server: &str, secs: u32) -> Result<Iperf, String> {
        if !have_tool("iperf3") {
            return Err("iperf3 is not installed".into());
        }
        let ip = self.host(server).addr.to_string();
        let srv = self.netns(server);
        let _server = srv.spawn(["iperf3", "-s", "-1", "-B", &ip]);
        let listening = srv.wait_until(Duration::from_secs(5), |ns| {
            ns.exec_checked(["ss", "-Hltn", "sport", "=", ":5201"])
                .is_ok_and(|o| !o.trim().is_empty())
        });
        if !listening {
            return Err(format!("iperf3 server on {server} did not start"));
        }
        let out = self.netns(client).exec_checked([
            "iperf3",
            "-c",
            &ip,
            "-t",
            &secs.to_string(),
            "-J",
        ])?;
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("iperf3 output: {e}"))?;
        let bps = v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .ok_or("iperf3 output has no end.sum_received")?;
        Ok(Iperf {
            client: client.into(),
            server: server.into(),
            seconds: secs,
            gbit_per_s: bps / 1e9,
            retransmits: v["end"]["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Daemons first (they hold ports in the namespaces), then the namespaces, then the
        // directory with the state: if this process dies half-way, the state still says
        // what is left.
        self.rvsds.clear();
        self.netns.clear();
        teardown(&self.state);
    }
}

impl fmt::Display for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", describe(&self.state))
    }
}

/// Probes that show every switch forwards: host pairs to ping (one per host, preferring a
/// peer on another switch, each pair once) and hosts without any peer (they send an ARP
/// request instead).
fn probes(plan: &topology::Plan) -> (Vec<(&PlannedHost, &PlannedHost)>, Vec<&PlannedHost>) {
    let mut pairs: Vec<(&PlannedHost, &PlannedHost)> = vec![];
    let mut lonely = vec![];
    for a in &plan.hosts {
        let peers: Vec<&PlannedHost> = plan
            .hosts
            .iter()
            .filter(|b| b.name != a.name && plan.expect_reach(a, b).is_ok())
            .collect();
        let peer = peers
            .iter()
            .find(|b| b.switch != a.switch)
            .or(peers.first());
        match peer {
            Some(b)
                if !pairs
                    .iter()
                    .any(|(x, y)| x.name == b.name && y.name == a.name) =>
            {
                pairs.push((a, b));
            }
            Some(_) => {}
            None => lonely.push(a),
        }
    }
    (pairs, lonely)
}

/// One iperf3 run.
#[derive(Debug, Clone, Serialize)]
pub struct Iperf {
    /// The sending host.
    pub client: String,
    /// The receiving host.
    pub server: String,
    /// Duration.
    pub seconds: u32,
    /// The receiver's goodput.
    pub gbit_per_s: f64,
    /// TCP retransmissions seen by the sender.
    pub retransmits: u64,
}

/// One ordered pair of [`Lab::pingall`].
#[derive(Debug, Clone, Serialize)]
pub struct PingResult {
    /// Pinging host.
    pub from: String,
    /// Pinged host.
    pub to: String,
    /// Whether the topology says it should reach.
    pub expect: bool,
    /// Whether it did.
    pub reached: bool,
    /// Why it should or should not.
    pub why: String,
}

impl PingResult {
    /// True when what happened is what the topology says.
    pub fn as_expected(&self) -> bool {
        self.expect == self.reached
    }
}

/// The result of [`Lab::pingall`]; `Display` prints the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct PingMatrix {
    /// The lab.
    pub lab: String,
    /// The hosts, in topology order.
    pub hosts: Vec<String>,
    /// Every ordered pair.
    pub pairs: Vec<PingResult>,
}

impl PingMatrix {
    /// True when every pair did what the topology says.
    pub fn all_expected(&self) -> bool {
        self.pairs.iter().all(PingResult::as_expected)
    }

    /// The pairs that did not.
    pub fn unexpected(&self) -> Vec<&PingResult> {
        self.pairs.iter().filter(|p| !p.as_expected()).collect()
    }

    /// The result for `from` → `to`.
    pub fn get(&self, from: &str, to: &str) -> Option<&PingResult> {
        self.pairs.iter().find(|p| p.from == from && p.to == to)
    }

    /// The matrix as JSON (`--json`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["ok"] = self.all_expected().into();
        v["unexpected"] = self.unexpected().len().into();
        v
    }
}

impl fmt::Display for PingMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .hosts
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("from\\to".len())
            + 2;
        let cw = self.hosts.iter().map(String::len).max().unwrap_or(0).max(6) + 2;
        writeln!(f, "pingall {}: {} hosts", self.lab, self.hosts.len())?;
        write!(f, "{:<w$}", "from\\to")?;
        for h in &self.hosts {
            write!(f, "{h:<cw$}")?;
        }
        writeln!(f)?;
        for a in &self.hosts {
            write!(f, "{a:<w$}")?;
            for b in &self.hosts {
                let cell = match self.get(a, b) {
                    None => "-",
                    Some(p) => match (p.expect, p.reached) {
                        (true, true) => "OK",
                        (false, false) => "x",
                        (true, false) => "FAIL!",
                        (false, true) => "LEAK!",
                    },
                };
                write!(f, "{cell:<cw$}")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "OK reached; x unreachable as it should be (other VLAN, L2 domain or subnet); \
             FAIL! should reach but did not; LEAK! reached but should not"
        )?;
        for p in self.unexpected() {
            let what = if p.reached {
                "reached, but should not"
            } else {
                "did not reach, but should"
            };
            writeln!(f, "UNEXPECTED {} -> {}: {what}: {}", p.from, p.to, p.why)?;
        }
        let reached = self.pairs.iter().filter(|p| p.reached && p.expect).count();
        let isolated = self
            .pairs
            .iter()
            .filter(|p| !p.reached && !p.expect)
            .count();
        write!(
            f,
            "{} pairs: {reached} reached, {isolated} isolated as expected, {} unexpected",
            self.pairs.len(),
            self.unexpected().len()
        )
    }
}

/// The lab's nodes, names and addresses, as `rvs-lab up` prints them.
pub fn describe(s: &LabState) -> String {
    use std::fmt::Write;
    let plan = &s.plan;
    let mut out = format!(
        "lab {} ({}): {}; state in {}\n",
        s.name,
        s.status().as_str(),
        plan.counts(),
        s.dir.display()
    );
    for sw in &plan.switches {
        let pid = s
            .daemons
            .get(&sw.name)
            .map_or("-".into(), |p| p.pid.to_string());
        let _ = writeln!(
            out,
            "switch {:<12} netns {}  rvsd pid {pid}  RVS_RUNDIR={}  {}: {}",
            sw.name,
            s.namespaces[&sw.name],
            s.rundir(&sw.name).display(),
            sw.bridge,
            plan.ports_of(&sw.name).join(" ")
        );
    }
    for h in &plan.hosts {
        let vlan = h.vlan.map_or(String::new(), |v| format!("  vlan {v}"));
        let _ = writeln!(
            out,
            "host   {:<12} netns {}  {HOST_IF} {} {}  on {} port {}{vlan}",
            h.name, s.namespaces[&h.name], h.ip, h.mac, h.switch, h.port
        );
    }
    for t in &plan.tunnels {
        let [a, b] = &t.ends;
        let key = t.key.map_or(String::new(), |k| format!(" key {k}"));
        let _ = writeln!(
            out,
            "tunnel {} <-> {}  {}{key}  ports {}/{}  underlay {} {} <-> {} {}",
            a.switch,
            b.switch,
            t.kind.as_str(),
            a.port,
            b.port,
            a.underlay_if,
            a.underlay_ip,
            b.underlay_if,
            b.underlay_ip
        );
    }
    out
}

/// The lab as JSON (`up --json`, `list --json`).
pub fn to_json(s: &LabState) -> serde_json::Value {
    let plan = &s.plan;
    serde_json::json!({
        "name": s.name,
        "status": s.status(),
        "dir": s.dir,
        "source": s.source,
        "owner": s.owner.pid,
        "complete": s.complete,
        "switches": plan.switches.iter().map(|sw| serde_json::json!({
            "name": sw.name,
            "netns": s.namespaces.get(&sw.name),
            "rvsd_pid": s.daemons.get(&sw.name).map(|p| p.pid),
            "rundir": s.rundir(&sw.name),
            "bridge": sw.bridge,
            "ports": plan.ports_of(&sw.name),
        })).collect::<Vec<_>>(),
        "hosts": plan.hosts.iter().map(|h| serde_json::json!({
            "name": h.name,
            "netns": s.namespaces.get(&h.name),
            "switch": h.switch,
            "port": h.port,
            "interface": HOST_IF,
            "ip": h.ip,
            "mac": h.mac,
            "vlan": h.vlan,
        })).collect::<Vec<_>>(),
        "tunnels": plan.tunnels,
    })
}
