//! Shared harness for the daemon's end-to-end tests: rvs's binaries as cargo built them for
//! this package, and `Lan`, a switch netns running rvsd with container namespaces on br0. The
//! daemon itself is the kit's `Rvsd` (stopped on drop, also on panic).

#![allow(dead_code)]

pub mod suite;

use rvs_testkit::{unique_ifname, Netns};
pub use rvs_testkit::{Bins, Rvsd, RvsdHost, TempDir};

pub const RVSD: &str = env!("CARGO_BIN_EXE_rvsd");
pub const VSCTL: &str = env!("CARGO_BIN_EXE_ovs-vsctl");
pub const APPCTL: &str = env!("CARGO_BIN_EXE_ovs-appctl");
pub const DPCTL: &str = env!("CARGO_BIN_EXE_ovs-dpctl");

/// The binaries cargo built for these tests.
pub fn bins() -> Bins {
    Bins {
        rvsd: RVSD.into(),
        vsctl: VSCTL.into(),
        appctl: APPCTL.into(),
        dpctl: DPCTL.into(),
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
        // AF_PACKET does not steal frames: the host keeps the switch netns's own stack quiet.
        let host = RvsdHost::start_wrapped(&bins(), "sw", wrapper);
        let (rvsd, sw, dir) = (host.rvsd, host.ns, host.dir);
        rvsd.vsctl_ok(&["add-br", "br0"]);
        sw.set_addr("br0", &format!("10.77.{subnet}.1/24"));
        let mut containers = vec![];
        let mut ports = vec![];
        for i in 0..n {
            let c = Netns::new("c");
            // Containers send only what a test makes them send: no IPv6 router
            // solicitations or MLD reports landing between two reads of a counter.
            c.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
            c.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
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
