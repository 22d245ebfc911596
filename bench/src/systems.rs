//! The systems `rvs-bench` compares and the topology it builds for each: a generator netns
//! and a sink netns, each with one veth `eth0` (DEFAULT offloads, IPv6 off so nothing else
//! talks), joined either directly (the generator's ceiling) or through a switch netns, or
//! through two switch "hosts" joined by an underlay veth carrying a tunnel (GRE, VXLAN or
//! Geneve; rvs, OVS, or the Linux bridge with the kernel's vxlan device).
//!
//! Deployments (VSPERF's word): `container` puts both veths on one bridge; `pvp` puts the
//! generator's veth and TAP `A` on bridge 0, TAP `B` and the sink's veth on bridge 1, and a
//! "VM" process ([`crate::relay`], this program re-run as `rvs-bench vm-relay A B`) holding
//! both TAPs with vnet headers relays frames between them — every frame crosses the switch
//! twice and the VM once. Only single-switch systems have a pvp form.
//!
//! The daemons are rvs_testkit's [`Rvsd`] and [`Ovs`], the scratch directory its
//! [`TempDir`]. Every resource is owned by a value that removes it on drop, in this order:
//! daemons (rvsd: SIGTERM then SIGKILL; OVS: by checked pidfile), then namespaces (which
//! takes every veth with them), then the scratch directory. A [`Bed`] that fails half-way
//! through building drops what it had built already.

use rvs_testkit::{
    unique_ifname, wait_for, Background, Bins, Netns, Ovs, Rvsd, TempDir, TunnelKind, Vsctl,
};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Generator side address (inside its netns).
pub const GEN_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// Sink side address.
pub const SINK_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// Underlay addresses of the two tunnel hosts.
pub const UNDERLAY: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 99, 1, 1), Ipv4Addr::new(10, 99, 1, 2)];
/// MTU of the tunnel underlay: room for 1500-byte frames plus any encapsulation.
pub const UNDERLAY_MTU: &str = "9000";

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Generator and sink joined by one veth pair: the generator's ceiling and CPU baseline.
    Direct,
    /// rvsd with AF_PACKET ports, userspace datapath only (`other_config:hw-offload=false`).
    Rvs,
    /// rvsd as configured by default: the kernel fast path on (`hw-offload=true`).
    RvsOffload,
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
    /// rvsd ↔ rvsd over VXLAN.
    RvsVxlan,
    /// rvsd ↔ rvsd over Geneve.
    RvsGeneve,
    /// A Linux bridge with the kernel's vxlan device on each host.
    LinuxVxlan,
    /// OVS ↔ OVS over VXLAN.
    OvsVxlan,
    /// OVS ↔ OVS over Geneve.
    OvsGeneve,
}

/// Who switches on each host of a tunnel system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TunnelSwitch {
    Rvs,
    Ovs,
    Linux,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 14] = [
        System::Direct,
        System::Rvs,
        System::RvsOffload,
        System::RvsAfxdp,
        System::LinuxBridge,
        System::Ovs,
        System::OvsTso,
        System::RvsGre,
        System::OvsGre,
        System::RvsVxlan,
        System::RvsGeneve,
        System::LinuxVxlan,
        System::OvsVxlan,
        System::OvsGeneve,
    ];

    /// Name used on the command line, in tables and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            System::Direct => "direct",
            System::Rvs => "rvs",
            System::RvsOffload => "rvs-offload",
            System::RvsAfxdp => "rvs-afxdp",
            System::LinuxBridge => "linux-bridge",
            System::Ovs => "ovs",
            System::OvsTso => "ovs-tso",
            System::RvsGre => "rvs-gre",
            System::OvsGre => "ovs-gre",
            System::RvsVxlan => "rvs-vxlan",
            System::RvsGeneve => "rvs-geneve",
            System::LinuxVxlan => "linux-vxlan",
            System::OvsVxlan => "ovs-vxlan",
            System::OvsGeneve => "ovs-geneve",
        }
    }

    /// The tunnel and who switches, for the two-host systems.
    fn tunnel(self) -> Option<(TunnelKind, TunnelSwitch)> {
        Some(match self {
            System::RvsGre => (TunnelKind::Gre, TunnelSwitch::Rvs),
            System::OvsGre => (TunnelKind::Gre, TunnelSwitch::Ovs),
            System::RvsVxlan => (TunnelKind::Vxlan, TunnelSwitch::Rvs),
            System::RvsGeneve => (TunnelKind::Geneve, TunnelSwitch::Rvs),
            System::LinuxVxlan => (TunnelKind::Vxlan, TunnelSwitch::Linux),
            System::OvsVxlan => (TunnelKind::Vxlan, TunnelSwitch::Ovs),
            System::OvsGeneve => (TunnelKind::Geneve, TunnelSwitch::Ovs),
            _ => return None,
        })
    }

    /// Look a system up by [`System::name`].
    pub fn parse(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|x| x.name() == s)
    }

    /// True for the OVS variants (they need `ovs-vswitchd`).
    pub fn is_ovs(self) -> bool {
        matches!(self, System::Ovs | System::OvsTso)
            || matches!(self.tunnel(), Some((_, TunnelSwitch::Ovs)))
    }
}

/// How generator and sink reach the switch (VSPERF's `deployment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deployment {
    /// Generator and sink veths on one bridge (VSPERF's p2p, with veths for NICs).
    Container,
    /// Generator → bridge 0 → TAP → VM relay → TAP → bridge 1 → sink.
    Pvp,
}

impl Deployment {
    /// Every deployment, in report order.
    pub const ALL: [Deployment; 2] = [Deployment::Container, Deployment::Pvp];

    /// Name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Deployment::Container => "container",
            Deployment::Pvp => "pvp",
        }
    }

    /// Look a deployment up by [`Deployment::name`].
    pub fn parse(s: &str) -> Option<Deployment> {
        Deployment::ALL.into_iter().find(|d| d.name() == s)
    }

    /// Whether `sys` can be built in this deployment (pvp: single-switch systems only).
    pub fn supports(self, sys: System) -> bool {
        self == Deployment::Container || (sys != System::Direct && sys.tunnel().is_none())
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
    vm: Option<Background>,
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
    // AF_PACKET does not steal frames: keep a switch netns's own stack from answering ARP.
    ns.quiet_switch_stack().unwrap_or_else(|e| panic!("{e}"));
    ns
}

/// Start the VM relay in `sw` (this executable as `vm-relay A B ERRFILE`) and wait until both
/// TAPs exist; an error carries what the relay wrote to ERRFILE.
fn start_vm(sw: &Netns, a: &str, b: &str, dir: &std::path::Path) -> Result<Background, String> {
    let exe = std::env::current_exe().map_err(|e| format!("vm relay: own executable: {e}"))?;
    let err = dir.join("vm-relay.err");
    let mut vm = sw.spawn([
        exe.as_os_str(),
        "vm-relay".as_ref(),
        a.as_ref(),
        b.as_ref(),
        err.as_os_str(),
    ]);
    let up = wait_for(Duration::from_secs(5), || {
        sw.run_in(|| crate::gen::ifindex(a).is_ok() && crate::gen::ifindex(b).is_ok())
    });
    if !up || !vm.running() {
        let why = std::fs::read_to_string(&err).unwrap_or_default();
        return Err(format!("vm relay did not create its TAPs: {}", why.trim()));
    }
    Ok(vm)
}

impl Bed {
    /// Build the topology of `sys` in deployment `dep` and start and configure its switch.
    /// Errors say why the system cannot be measured (a missing binary, a port type that is
    /// not built, a deployment the system has no form for, …). Panics of the namespace
    /// helpers (a failing `ip` command) propagate.
    pub fn build(sys: System, dep: Deployment, bins: &Bins) -> Result<Bed, String> {
        if !dep.supports(sys) {
            return Err(format!("no {} form of {}", dep.name(), sys.name()));
        }
        let dir = TempDir::try_new(&format!("bench-{}", sys.name()))
            .map_err(|e| format!("temp dir: {e}"))?;
        let gen = quiet_ns("bg");
        let sink = quiet_ns("bk");
        let mut bed = Bed {
            daemons: vec![],
            vm: None,
            gen,
            sink,
            switches: vec![],
            _dir: dir,
        };
        let dir = bed._dir.0.clone();
        match sys {
            System::Direct => bed.gen.add_veth(ENDPOINT_IF, &bed.sink, ENDPOINT_IF),
            System::Rvs
            | System::RvsOffload
            | System::RvsAfxdp
            | System::LinuxBridge
            | System::Ovs
            | System::OvsTso => {
                let sw = quiet_ns("bs");
                let (pg, ps) = (unique_ifname("bpg"), unique_ifname("bps"));
                sw.add_veth(&pg, &bed.gen, ENDPOINT_IF);
                sw.add_veth(&ps, &bed.sink, ENDPOINT_IF);
                // The ports of each bridge: one bridge (container), or two joined by the VM.
                let bridges: Vec<[String; 2]> = match dep {
                    Deployment::Container => vec![[pg, ps]],
                    Deployment::Pvp => {
                        let (va, vb) = (unique_ifname("bva"), unique_ifname("bvb"));
                        bed.vm = Some(start_vm(&sw, &va, &vb, &dir)?);
                        vec![[pg, va], [vb, ps]]
                    }
                };
                let ports: Vec<&str> = bridges.iter().flatten().map(String::as_str).collect();
                match sys {
                    System::LinuxBridge => {
                        for (i, b) in bridges.iter().enumerate() {
                            let br = format!("lbr{i}");
                            sw.exec(["ip", "link", "add", &br, "type", "bridge"]);
                            sw.exec(["ip", "link", "set", &br, "up"]);
                            for p in b {
                                sw.exec(["ip", "link", "set", p, "master", &br]);
                            }
                        }
                    }
                    System::Rvs | System::RvsOffload | System::RvsAfxdp => {
                        let r = Rvsd::try_start(bins, &sw, &dir)?;
                        let mut c = Vsctl::new();
                        for (i, b) in bridges.iter().enumerate() {
                            let br = format!("br{i}");
                            c = c.add_br(&br).add_port(&br, &b[0]).add_port(&br, &b[1]);
                        }
                        if sys == System::Rvs {
                            // The userspace datapath, as before the fast path became the
                            // default: `rvs-offload` is the default configuration.
                            let off = r.try_vsctl(&[
                                "set",
                                "Open_vSwitch",
                                ".",
                                "other_config:hw-offload=false",
                            ]);
                            if let Err(e) = off {
                                bed.daemons.push(Daemon::Rvs(r));
                                return Err(e);
                            }
                        }
                        if sys == System::RvsOffload {
                            // A fast path that failed to load would be measured under the
                            // wrong name: refuse the row instead.
                            let on = r
                                .try_vsctl(&[
                                    "set",
                                    "Open_vSwitch",
                                    ".",
                                    "other_config:hw-offload=true",
                                ])
                                .map(|_| r.log().contains("kernel fast path enabled"));
                            if on != Ok(true) {
                                let why = r.log_tail(3);
                                bed.daemons.push(Daemon::Rvs(r));
                                return Err(format!("fast path not enabled: {why}"));
                            }
                        }
                        if sys == System::RvsAfxdp {
                            // Native mode, not best-effort: a silent fallback to AF_PACKET would
                            // be measured under the wrong name.
                            for p in &ports {
                                c = c.set_interface(p, &["type=afxdp", "options:xdp-mode=native"]);
                            }
                        }
                        let res = r.try_vsctl(&c.words()).and_then(|_| r.port_errors(&ports));
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
                        let tso: &[&str] = if sys == System::OvsTso {
                            &["userspace-tso-enable=true"]
                        } else {
                            &[]
                        };
                        let o = Ovs::try_start(&sw, &dir, tso)?;
                        let mut c = Vsctl::new();
                        for (i, b) in bridges.iter().enumerate() {
                            let br = format!("br{i}");
                            c = c.netdev_br(&br).add_port(&br, &b[0]).add_port(&br, &b[1]);
                        }
                        let res = o.try_vsctl(&c.words());
                        bed.daemons.push(Daemon::Ovs(o));
                        res?;
                    }
                }
                bed.switches.push(sw);
            }
            _ => {
                let Some((kind, who)) = sys.tunnel() else {
                    return Err(format!("{}: no topology", sys.name()));
                };
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
                    let local = UNDERLAY[i].to_string();
                    let sub = dir.join(format!("h{i}"));
                    std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
                    let tunnel = |c: Vsctl, br: &str| {
                        c.add_port(br, port).tunnel(br, "tun0", kind, &remote, &[])
                    };
                    match who {
                        TunnelSwitch::Rvs => {
                            h[i].set_addr(&up[i], &format!("{local}/24"));
                            let r = Rvsd::try_start(bins, &h[i], &sub)?;
                            let res = r
                                .try_vsctl(&tunnel(Vsctl::new().add_br("br0"), "br0").words())
                                .and_then(|_| r.port_errors(&[port, "tun0"]));
                            bed.daemons.push(Daemon::Rvs(r));
                            res?;
                        }
                        TunnelSwitch::Linux => {
                            // The kernel's own VXLAN on a Linux bridge (MTU 1500 on the
                            // vxlan device: the underlay has room).
                            h[i].set_addr(&up[i], &format!("{local}/24"));
                            h[i].exec([
                                "ip", "link", "add", "vx0", "mtu", "1500", "type", "vxlan", "id",
                                "100", "remote", &remote, "local", &local, "dstport", "4789",
                            ]);
                            h[i].exec(["ip", "link", "add", "lbr0", "type", "bridge"]);
                            for dev in ["vx0", port.as_str()] {
                                h[i].exec(["ip", "link", "set", dev, "master", "lbr0"]);
                                h[i].link_up(dev);
                            }
                            h[i].link_up("lbr0");
                        }
                        TunnelSwitch::Ovs => {
                            // br-phy holds the underlay address, with the underlay veth as its
                            // port.
                            let o = Ovs::try_start(&h[i], &sub, &[])?;
                            let mtu = format!("mtu_request={UNDERLAY_MTU}");
                            let phy = Vsctl::new()
                                .netdev_br("br-phy")
                                .add_port("br-phy", &up[i])
                                .set_interface("br-phy", &[&mtu]);
                            let res = o.try_vsctl(&phy.words()).and_then(|_| {
                                h[i].try_set_addr("br-phy", &format!("{local}/24"))?;
                                o.try_vsctl(
                                    &tunnel(Vsctl::new().netdev_br("br-int"), "br-int").words(),
                                )
                            });
                            bed.daemons.push(Daemon::Ovs(o));
                            res?;
                        }
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

    /// PIDs of the pvp deployment's VM relay (none in other deployments).
    pub fn vm_pids(&self) -> Vec<u32> {
        self.vm.iter().map(Background::id).collect()
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
