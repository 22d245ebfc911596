//! `dpif`: the only door between the control plane and the datapath.
//!
//! The control thread owns a `Dpif` and calls it with `&mut self`; the `Dpif` owns the PMD
//! threads, the ports and the per-bridge FDBs. Every method is a contract:
//! - Bridge and port names are the keys. Port numbers (`PortNo`, OVS's "odp port") are
//!   assigned here, from 1 upward, unique across bridges, and reused only after deletion.
//! - `add_port` always creates the port, as OVS does: if its netdev cannot be opened the port
//!   exists in an error state (`PortInfo::error`), is retried by `run()`, and starts passing
//!   traffic as soon as the netdev appears. The same happens when a netdev vanishes under
//!   traffic.
//! - Changes reach the PMDs over channels and are applied at their safe point; methods
//!   return once every PMD has applied them (a barrier), so a following `fdb_show` or
//!   `port_stats` reflects the change.
//! - Statistics are read without stopping the PMDs.

use crate::fastpath::{Attachment, FastPath};
use crate::fdb::{Fdb, FdbEntry, FdbStats};
use crate::flow::FlowDump;
use crate::pipeline::{BridgeId, Counters, DropReason, PortNo};
use crate::pmd::{lock_port, read_counters, Clock, PmdHandle, PmdMsg, SharedPort};
use crate::port::{Port, PortStats};
use crate::vlan::PortVlan;
use crate::wire::MacAddr;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The kinds of port rvs knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// An existing netdev (veth, …), opened with AF_PACKET.
    System,
    /// A TAP device rvs creates: the bridge's own port, or an extra `type=internal` port.
    Internal,
    /// A TAP device rvs creates for a VM or a program (`type=tap`).
    Tap,
    /// A tunnel to `options:remote_ip`, encapsulated by rvs (`type=gre`, `vxlan`, `geneve`).
    Tunnel(crate::tunnel::TunnelKind),
    /// An existing netdev opened with AF_XDP (`type=afxdp`, `options:xdp-mode`); with
    /// `best-effort` (the default) it falls back to AF_PACKET when AF_XDP cannot be set up.
    Afxdp,
}

impl PortKind {
    /// Parse an OVS interface type ("" is system).
    pub fn from_ovs_type(t: &str) -> Option<PortKind> {
        match t {
            "" | "system" => Some(PortKind::System),
            "internal" => Some(PortKind::Internal),
            "tap" => Some(PortKind::Tap),
            "afxdp" => Some(PortKind::Afxdp),
            t => crate::tunnel::TunnelKind::from_type(t).map(PortKind::Tunnel),
        }
    }
}

/// What the control plane asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub name: String,
    pub kind: PortKind,
    /// MAC for ports rvs creates (internal/tap); `None` keeps the kernel's.
    pub mac: Option<MacAddr>,
    /// The interface's `options` column (tunnel settings for GRE).
    pub options: BTreeMap<String, String>,
}

/// Datapath-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DpifConfig {
    /// Number of PMD threads (at least 1).
    pub n_pmd: usize,
    /// CPU cores to pin PMDs to, in order; empty means unpinned.
    pub pmd_cores: Vec<usize>,
}

/// A port as the listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub port_no: PortNo,
    pub name: String,
    pub bridge: String,
    pub kind: PortKind,
    /// The options the port was opened with.
    pub options: BTreeMap<String, String>,
    /// VLAN mode.
    pub vlan: PortVlan,
    /// Why the port passes no traffic, OVS-style ("could not open network device X (No such
    /// device)").
    pub error: Option<String>,
    /// The I/O backend in use ("afpacket", "tap"), for `dpctl/show`.
    pub backend: &'static str,
    /// The open port's remark (`Port::note`), e.g. why AF_XDP fell back to AF_PACKET.
    pub note: Option<String>,
    /// The kernel fast path on this port: `Some(Ok(()))` hooked, `Some(Err(why))` not
    /// hooked although the fast path is on, `None` fast path off or port not eligible.
    pub fastpath: Option<Result<(), String>>,
    /// rvs's counters plus the traffic the fast path forwarded from and to the port.
    pub stats: PortStats,
}

/// Flow cache totals for `dpctl/show` and `pmd-stats-show`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTotals {
    pub hits: u64,
    pub misses: u64,
    pub flows: u64,
    pub revalidated: u64,
    pub limit_hits: u64,
}

/// One PMD's statistics, copied while it runs (its published atomics; no stop, no lock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PmdSnapshot {
    /// The PMD's id (as `dump_flows` tags flows).
    pub id: usize,
    /// The core it is pinned to, if any.
    pub core: Option<usize>,
    /// Pipeline counters (frames, unicast, flooded, drops by reason).
    pub counters: Counters,
    /// Its flow cache.
    pub flows: FlowTotals,
    /// Nanoseconds spent in iterations that found frames (I/O included).
    pub busy_ns: u64,
}

/// Errors of the dpif calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpifError {
    NoSuchBridge(String),
    NoSuchPort(String),
    Exists(String),
    /// Out of port numbers, or a thread could not be started.
    Resource(String),
}

impl core::fmt::Display for DpifError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DpifError::NoSuchBridge(b) => write!(f, "no such bridge {b}"),
            DpifError::NoSuchPort(p) => write!(f, "no such port {p}"),
            DpifError::Exists(n) => write!(f, "{n} already exists"),
            DpifError::Resource(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for DpifError {}

#[derive(Debug)]
struct BridgeState {
    id: BridgeId,
    fdb: Arc<Fdb>,
}

#[derive(Debug)]
struct PortState {
    port_no: PortNo,
    bridge: String,
    spec: PortSpec,
    /// Open port, attached to the PMDs; `None` while in error.
    handle: Option<SharedPort>,
    error: Option<String>,
    backend: &'static str,
    /// Counters of previous incarnations (before the netdev vanished).
    carried: PortStats,
    /// VLAN mode.
    vlan: PortVlan,
    next_retry: Instant,
    /// The fast path's program on the port's netdev (dropping it detaches), or why not.
    fast: Option<Result<Attachment, String>>,
}

/// How often a port in error is retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Opens the I/O backend for a port. The default opens real netdevs; tests substitute
/// in-memory ports.
pub type PortOpener =
    Box<dyn Fn(&PortSpec, PortNo) -> std::io::Result<(Box<dyn Port>, &'static str)> + Send>;

/// The datapath as the control plane sees it.
pub struct Dpif {
    clock: Clock,
    pmds: Vec<PmdHandle>,
    bridges: BTreeMap<String, BridgeState>,
    ports: BTreeMap<String, PortState>,
    next_bridge_id: BridgeId,
    opener: PortOpener,
    started: Instant,
    /// The kernel fast path, while on.
    fastpath: Option<Arc<FastPath>>,
}

impl core::fmt::Debug for Dpif {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dpif")
            .field("bridges", &self.bridges.keys())
            .field("ports", &self.ports.keys())
            .finish()
    }
}

impl Dpif {
    /// Start the datapath with real netdev backends.
    pub fn new(cfg: &DpifConfig) -> Result<Dpif, DpifError> {
        Dpif::with_opener(cfg, Box::new(open_netdev))
    }

    /// Start the datapath with a custom port opener (tests).
    pub fn with_opener(cfg: &DpifConfig, opener: PortOpener) -> Result<Dpif, DpifError> {
        let clock = Clock::default();
        let n = cfg.n_pmd.max(1);
        let mut pmds = Vec::with_capacity(n);
        for i in 0..n {
            let core = cfg.pmd_cores.get(i).copied();
            pmds.push(
                PmdHandle::spawn(i, core, clock)
                    .map_err(|e| DpifError::Resource(format!("cannot start PMD thread: {e}")))?,
            );
        }
        Ok(Dpif {
            clock,
            pmds,
            bridges: BTreeMap::new(),
            ports: BTreeMap::new(),
            next_bridge_id: 0,
            opener,
            started: Instant::now(),
            fastpath: None,
        })
    }

    /// The shared clock (FDB ages are in its seconds).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn broadcast(&self, mk: impl Fn() -> PmdMsg) {
        for p in &self.pmds {
            p.send(mk());
        }
        for p in &self.pmds {
            p.barrier();
        }
    }

    /// Create a bridge (its FDB); ports are added separately.
    pub fn add_bridge(&mut self, name: &str) -> Result<(), DpifError> {
        if self.bridges.contains_key(name) {
            return Err(DpifError::Exists(name.to_string()));
        }
        let id = self.next_bridge_id;
        self.next_bridge_id += 1;
        let fdb = Arc::new(Fdb::default());
        self.broadcast(|| PmdMsg::AddBridge {
            id,
            fdb: fdb.clone(),
        });
        self.bridges
            .insert(name.to_string(), BridgeState { id, fdb });
        Ok(())
    }

    /// Delete a bridge and every port on it.
    pub fn del_bridge(&mut self, name: &str) -> Result<(), DpifError> {
        if !self.bridges.contains_key(name) {
            return Err(DpifError::NoSuchBridge(name.to_string()));
        }
        let ports: Vec<String> = self
            .ports
            .iter()
            .filter(|(_, p)| p.bridge == name)
            .map(|(n, _)| n.clone())
            .collect();
        for p in ports {
            self.del_port(&p)?;
        }
        if let Some(b) = self.bridges.remove(name) {
            self.broadcast(|| PmdMsg::DelBridge { id: b.id });
        }
        Ok(())
    }

    /// Bridge names.
    pub fn bridges(&self) -> Vec<String> {
        self.bridges.keys().cloned().collect()
    }

    /// Set FDB bounds of a bridge (`other_config:mac-table-size`, `mac-aging-time`).
    /// A table size above what the table was built for rebuilds it (empty).
    pub fn set_fdb_params(
        &mut self,
        bridge: &str,
        max_entries: Option<usize>,
        aging_secs: Option<u32>,
    ) -> Result<(), DpifError> {
        let b = self
            .bridges
            .get_mut(bridge)
            .ok_or_else(|| DpifError::NoSuchBridge(bridge.to_string()))?;
        if let Some(a) = aging_secs {
            b.fdb.set_aging(a);
        }
        if let Some(m) = max_entries {
            if !b.fdb.set_max_entries(m) {
                // Rebuild: a new table replaces the old one in every PMD.
                let fdb = Arc::new(Fdb::new(m));
                fdb.set_aging(b.fdb.aging());
                let (old_id, id) = (b.id, self.next_bridge_id);
                self.next_bridge_id += 1;
                b.fdb = fdb.clone();
                b.id = id;
                self.broadcast(|| PmdMsg::AddBridge {
                    id,
                    fdb: fdb.clone(),
                });
                self.broadcast(|| PmdMsg::DelBridge { id: old_id });
                let names: Vec<String> = self
                    .ports
                    .iter()
                    .filter(|(_, p)| p.bridge == bridge)
                    .map(|(n, _)| n.clone())
                    .collect();
                for n in names {
                    self.attach(&n);
                }
            }
        }
        Ok(())
    }

    fn free_port_no(&self) -> Option<PortNo> {
        let used: std::collections::BTreeSet<PortNo> =
            self.ports.values().map(|p| p.port_no).collect();
        (1..crate::fdb::MAX_PORTS as PortNo).find(|n| !used.contains(n))
    }

    /// Add a port to a bridge (see the module contract for netdevs that cannot be opened).
    pub fn add_port(&mut self, bridge: &str, spec: PortSpec) -> Result<PortInfo, DpifError> {
        if !self.bridges.contains_key(bridge) {
            return Err(DpifError::NoSuchBridge(bridge.to_string()));
        }
        if self.ports.contains_key(&spec.name) {
            return Err(DpifError::Exists(spec.name.clone()));
        }
        let port_no = self
            .free_port_no()
            .ok_or_else(|| DpifError::Resource("out of datapath port numbers".into()))?;
        let name = spec.name.clone();
        self.ports.insert(
            name.clone(),
            PortState {
                port_no,
                bridge: bridge.to_string(),
                spec,
                handle: None,
                error: None,
                backend: "",
                carried: PortStats::default(),
                vlan: PortVlan::default(),
                next_retry: Instant::now(),
                fast: None,
            },
        );
        self.try_open(&name);
        self.port_info(&name).ok_or(DpifError::NoSuchPort(name))
    }

    /// Open the port's backend and attach it to the PMDs, or record why not.
    fn try_open(&mut self, name: &str) {
        let Some(st) = self.ports.get_mut(name) else {
            return;
        };
        match (self.opener)(&st.spec, st.port_no) {
            Ok((port, backend)) => {
                st.handle = Some(Arc::new(Mutex::new(port)));
                st.error = None;
                st.backend = backend;
                self.attach(name);
            }
            Err(e) => {
                st.error = Some(crate::port::linux::open_error_message(&st.spec.name, &e));
                st.next_retry = Instant::now() + RETRY_EVERY;
            }
        }
    }

    /// (Re)attach an open port to every PMD; PMD `port_no % n` receives from it.
    fn attach(&mut self, name: &str) {
        let Some(st) = self.ports.get(name) else {
            return;
        };
        let (Some(h), Some(b)) = (st.handle.clone(), self.bridges.get(&st.bridge)) else {
            return;
        };
        let (port_no, bridge) = (st.port_no, b.id);
        // Ports sharing a receive socket are all polled by one PMD.
        let affinity = lock_port(&h).rx_affinity();
        let rx_pmd = affinity.map_or(usize::from(port_no), |a| a as usize) % self.pmds.len();
        let vlan = st.vlan.clone();
        for (i, p) in self.pmds.iter().enumerate() {
            p.send(PmdMsg::AddPort {
                port_no,
                bridge,
                port: h.clone(),
                rx: i == rx_pmd,
            });
            p.send(PmdMsg::SetVlan {
                port_no,
                cfg: vlan.clone(),
            });
        }
        for p in &self.pmds {
            p.barrier();
        }
        self.hook_port(name);
    }

    /// Put the fast path's program on an open port's netdev (replacing an older attachment),
    /// its filter on the port's packet socket, and tell the PMDs. No-op while the fast path
    /// is off or for ports it cannot carry (tunnels, AF_XDP).
    fn hook_port(&mut self, name: &str) {
        let Some(fp) = self.fastpath.clone() else {
            return;
        };
        let Some(st) = self.ports.get_mut(name) else {
            return;
        };
        let Some(h) = st.handle.clone() else {
            return;
        };
        st.fast = None;
        let mut port = lock_port(&h);
        let Some(hook) = port.fastpath_hook() else {
            return;
        };
        let attached = fp.attach(hook).and_then(|a| {
            port.set_fastpath_filter(Some(fp.socket_filter()))?;
            Ok(a)
        });
        drop(port);
        let port_no = st.port_no;
        st.fast = Some(attached.map_err(|e| format!("cannot attach the fast path to {name}: {e}")));
        if matches!(st.fast, Some(Ok(_))) {
            self.broadcast(|| PmdMsg::SetHook {
                port_no,
                hook: Some(hook),
            });
        }
    }

    /// Take the fast path off a port: the PMDs drop its entries, then its program and
    /// socket filter go.
    fn unhook_port(&mut self, name: &str) {
        let Some(st) = self.ports.get(name) else {
            return;
        };
        if st.fast.is_none() {
            return;
        }
        let port_no = st.port_no;
        self.broadcast(|| PmdMsg::SetHook {
            port_no,
            hook: None,
        });
        if let Some(st) = self.ports.get_mut(name) {
            st.fast = None;
            if let Some(h) = &st.handle {
                let _ = lock_port(h).set_fastpath_filter(None);
            }
        }
    }

    /// Turn the kernel fast path on or off (`other_config:hw-offload`). Turning it on loads
    /// the programs and hooks every eligible port; `Err` says why it stays off (no CAP_BPF,
    /// a kernel without TCX, a build without the feature). Returns whether anything changed.
    pub fn set_fastpath(&mut self, on: bool) -> Result<bool, String> {
        if on == self.fastpath.is_some() {
            return Ok(false);
        }
        let names: Vec<String> = self.ports.keys().cloned().collect();
        if on {
            let fp = FastPath::load()?;
            self.broadcast(|| PmdMsg::SetFastPath(Some(fp.clone())));
            self.fastpath = Some(fp);
            for n in &names {
                self.hook_port(n);
            }
        } else {
            self.broadcast(|| PmdMsg::SetFastPath(None));
            for n in &names {
                self.unhook_port(n);
            }
            // Keep what the fast path forwarded in the ports' counters.
            if let Some(fp) = self.fastpath.take() {
                for st in self.ports.values_mut() {
                    st.carried = add_stats(st.carried, fp.port_stats(st.port_no));
                    fp.reset_port(st.port_no);
                }
            }
        }
        Ok(true)
    }

    /// Bring the fast path's per-port counters up to date (the PMDs read them once a second
    /// otherwise): before a listing that shows port statistics.
    pub fn sync_fastpath(&self) {
        if self.fastpath.is_some() {
            self.broadcast(|| PmdMsg::SyncFastPath);
        }
    }

    /// Move the fast path's programs with the ports' netdevs: a port whose netdev was
    /// deleted, recreated or moved to another namespace is unhooked (the PMDs drop its
    /// entries) and hooked again where it is now, if it can be. The PMDs react to link
    /// notifications at once; this is the control thread's once-a-second follow-up.
    fn check_hooks(&mut self) {
        if self.fastpath.is_none() {
            return;
        }
        let names: Vec<String> = self.ports.keys().cloned().collect();
        for n in names {
            let st = &self.ports[&n];
            let Some(h) = &st.handle else {
                continue;
            };
            let now = lock_port(h).fastpath_hook();
            let was = match &st.fast {
                Some(Ok(a)) => Some(a.hook()),
                _ => None,
            };
            if now != was {
                self.unhook_port(&n);
                self.hook_port(&n);
            }
        }
    }

    /// Whether the kernel fast path is on.
    pub fn fastpath_on(&self) -> bool {
        self.fastpath.is_some()
    }

    fn detach(&mut self, name: &str) {
        let Some(st) = self.ports.get_mut(name) else {
            return;
        };
        let port_no = st.port_no;
        if let Some(h) = st.handle.take() {
            let s = lock_port(&h).stats();
            st.carried = add_stats(st.carried, s);
        }
        // DelPort removes the PMDs' entries from and to the port before the barrier returns;
        // only then does its program go.
        self.broadcast(|| PmdMsg::DelPort { port_no });
        if let Some(st) = self.ports.get_mut(name) {
            st.fast = None;
            if let Some(fp) = &self.fastpath {
                st.carried = add_stats(st.carried, fp.port_stats(port_no));
                fp.reset_port(port_no);
            }
        }
        if let Some(b) = self
            .ports
            .get(name)
            .and_then(|st| self.bridges.get(&st.bridge))
        {
            b.fdb.flush_port(port_no);
        }
    }

    /// Set a port's VLAN mode (no-op when unchanged). Applied at the PMDs' safe point;
    /// cached flows are re-decided.
    pub fn set_port_vlan(&mut self, name: &str, cfg: PortVlan) -> Result<(), DpifError> {
        let st = self
            .ports
            .get_mut(name)
            .ok_or_else(|| DpifError::NoSuchPort(name.to_string()))?;
        if st.vlan == cfg {
            return Ok(());
        }
        st.vlan = cfg.clone();
        let port_no = st.port_no;
        self.broadcast(|| PmdMsg::SetVlan {
            port_no,
            cfg: cfg.clone(),
        });
        if let Some(b) = self
            .ports
            .get(name)
            .and_then(|st| self.bridges.get(&st.bridge))
        {
            // Addresses learned under the old VLAN mode are stale.
            b.fdb.flush_port(port_no);
        }
        Ok(())
    }

    /// Delete a port. Its FDB entries go with it.
    pub fn del_port(&mut self, name: &str) -> Result<(), DpifError> {
        if !self.ports.contains_key(name) {
            return Err(DpifError::NoSuchPort(name.to_string()));
        }
        self.detach(name);
        self.ports.remove(name);
        Ok(())
    }

    /// Housekeeping, called by the control thread about once a second: FDB aging, memory a
    /// PMD's flow table freed goes back to the kernel, and ports whose netdev vanished or
    /// never opened are (re)tried.
    pub fn run(&mut self) {
        self.check_hooks();
        let now = self.clock.now_secs();
        for b in self.bridges.values() {
            b.fdb.expire(now);
        }
        // Take every PMD's flag (no short-circuit), then trim once if any asked.
        let trim = self.pmds.iter().fold(false, |any, p| {
            p.stats.trim_wanted.swap(false, Relaxed) | any
        });
        if trim {
            crate::flow::release_free_memory();
        }
        let names: Vec<String> = self.ports.keys().cloned().collect();
        for n in names {
            let vanished = self.ports[&n]
                .handle
                .as_ref()
                .and_then(|h| lock_port(h).error());
            if let Some(err) = vanished {
                self.detach(&n);
                if let Some(st) = self.ports.get_mut(&n) {
                    st.error = Some(err);
                    st.next_retry = Instant::now() + RETRY_EVERY;
                }
                continue;
            }
            let st = &self.ports[&n];
            if st.handle.is_none() && Instant::now() >= st.next_retry {
                self.try_open(&n);
            }
        }
    }

    /// One port's state.
    pub fn port_info(&self, name: &str) -> Option<PortInfo> {
        let st = self.ports.get(name)?;
        let (live, note) = st
            .handle
            .as_ref()
            .map(|h| {
                let p = lock_port(h);
                (p.stats(), p.note())
            })
            .unwrap_or_default();
        Some(PortInfo {
            port_no: st.port_no,
            name: name.to_string(),
            bridge: st.bridge.clone(),
            kind: st.spec.kind,
            options: st.spec.options.clone(),
            vlan: st.vlan.clone(),
            error: st.error.clone(),
            backend: st.backend,
            note,
            fastpath: st
                .fast
                .as_ref()
                .map(|r| r.as_ref().map(|_| ()).map_err(Clone::clone)),
            stats: add_stats(
                add_stats(st.carried, live),
                self.fastpath
                    .as_ref()
                    .map(|fp| fp.port_stats(st.port_no))
                    .unwrap_or_default(),
            ),
        })
    }

    /// Every port, by port number.
    pub fn ports(&self) -> Vec<PortInfo> {
        let mut v: Vec<PortInfo> = self
            .ports
            .keys()
            .filter_map(|n| self.port_info(n))
            .collect();
        v.sort_by_key(|p| p.port_no);
        v
    }

    fn fdb(&self, bridge: &str) -> Result<&Arc<Fdb>, DpifError> {
        self.bridges
            .get(bridge)
            .map(|b| &b.fdb)
            .ok_or_else(|| DpifError::NoSuchBridge(bridge.to_string()))
    }

    /// `fdb/show`: every entry with its age now.
    pub fn fdb_show(&self, bridge: &str) -> Result<Vec<FdbEntry>, DpifError> {
        Ok(self.fdb(bridge)?.snapshot(self.clock.now_secs()))
    }

    /// `fdb/flush [BR]`: all bridges when `None`.
    pub fn fdb_flush(&self, bridge: Option<&str>) -> Result<(), DpifError> {
        match bridge {
            Some(b) => {
                self.fdb(b)?.flush();
            }
            None => {
                for b in self.bridges.values() {
                    b.fdb.flush();
                }
            }
        }
        Ok(())
    }

    /// `fdb/stats-show`.
    pub fn fdb_stats(&self, bridge: &str) -> Result<FdbStats, DpifError> {
        Ok(self.fdb(bridge)?.stats())
    }

    /// `fdb/stats-clear [BR]`.
    pub fn fdb_stats_clear(&self, bridge: Option<&str>) -> Result<(), DpifError> {
        match bridge {
            Some(b) => self.fdb(b)?.clear_stats(),
            None => self.bridges.values().for_each(|b| b.fdb.clear_stats()),
        }
        Ok(())
    }

    /// `fdb/add BR PORT VLAN MAC`: a static entry.
    pub fn fdb_add(
        &self,
        bridge: &str,
        port: &str,
        vlan: u16,
        mac: MacAddr,
    ) -> Result<(), DpifError> {
        let port_no = self
            .ports
            .get(port)
            .filter(|p| p.bridge == bridge)
            .map(|p| p.port_no)
            .ok_or_else(|| DpifError::NoSuchPort(port.to_string()))?;
        self.fdb(bridge)?.add_static(vlan, mac, port_no);
        Ok(())
    }

    /// `fdb/del BR VLAN MAC`.
    pub fn fdb_del(&self, bridge: &str, vlan: u16, mac: MacAddr) -> Result<bool, DpifError> {
        Ok(self.fdb(bridge)?.remove(vlan, mac))
    }

    /// Pipeline counters summed over the PMDs.
    pub fn counters(&self) -> Counters {
        let mut total = Counters::default();
        for s in self.pmd_stats() {
            let c = s.counters;
            total.frames += c.frames;
            total.unicast += c.unicast;
            total.flooded += c.flooded;
            for (t, v) in total.drops.iter_mut().zip(c.drops) {
                *t += v;
            }
        }
        total
    }

    /// Every cached flow of every PMD, with the PMD's id. PMDs answer at their safe point.
    pub fn dump_flows(&self) -> Vec<(usize, FlowDump)> {
        let mut out = vec![];
        for p in &self.pmds {
            let (tx, rx) = crossbeam_channel::bounded(1);
            p.send(PmdMsg::DumpFlows(tx));
            if let Ok(v) = rx.recv_timeout(Duration::from_secs(5)) {
                out.extend(v.into_iter().map(|f| (p.id, f)));
            }
        }
        out
    }

    /// Remove every cached flow (`dpctl/del-flows`).
    pub fn del_flows(&self) {
        self.broadcast(|| PmdMsg::DelFlows);
    }

    /// Make every PMD re-decide its cached flows before their next use (after a
    /// configuration change that may alter decisions).
    pub fn revalidate(&self) {
        self.broadcast(|| PmdMsg::Revalidate);
    }

    /// Flow cache totals over all PMDs.
    pub fn flow_stats(&self) -> FlowTotals {
        let mut t = FlowTotals::default();
        for s in self.pmd_stats() {
            t.hits += s.flows.hits;
            t.misses += s.flows.misses;
            t.flows += s.flows.flows;
            t.revalidated += s.flows.revalidated;
            t.limit_hits += s.flows.limit_hits;
        }
        t
    }

    /// A snapshot of every PMD's statistics, in PMD order.
    pub fn pmd_stats(&self) -> Vec<PmdSnapshot> {
        self.pmds
            .iter()
            .map(|p| {
                let s = &p.stats;
                PmdSnapshot {
                    id: p.id,
                    core: p.core,
                    counters: read_counters(s),
                    flows: FlowTotals {
                        hits: s.flow_hits.load(Relaxed),
                        misses: s.flow_misses.load(Relaxed),
                        flows: s.flows.load(Relaxed),
                        revalidated: s.flow_revalidated.load(Relaxed),
                        limit_hits: s.flow_limit_hits.load(Relaxed),
                    },
                    busy_ns: s.busy_ns.load(Relaxed),
                }
            })
            .collect()
    }

    /// Named counters for `coverage/show`: every drop reason, plus totals.
    pub fn coverage(&self) -> Vec<(&'static str, u64)> {
        let c = self.counters();
        let f = self.flow_stats();
        let mut v = vec![
            ("flow_cache_hit", f.hits),
            ("flow_cache_miss", f.misses),
            ("flow_cache_revalidated", f.revalidated),
            ("flow_cache_limit", f.limit_hits),
            ("datapath_frames", c.frames),
            ("datapath_unicast", c.unicast),
            ("datapath_flood", c.flooded),
        ];
        v.extend(DropReason::ALL.iter().map(|r| (r.name(), c.drops_of(*r))));
        // Counters the ports keep themselves (e.g. GRE drops by reason), summed by name.
        let mut by_name: BTreeMap<&'static str, u64> = BTreeMap::new();
        for st in self.ports.values() {
            if let Some(h) = &st.handle {
                for (name, n) in lock_port(h).named_counters() {
                    *by_name.entry(name).or_default() += n;
                }
            }
        }
        v.extend(by_name);
        if let Some(fp) = &self.fastpath {
            v.extend(fp.coverage());
        }
        v
    }

    /// Seconds since the datapath started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stop the PMDs and close every port (TAP devices rvs created disappear).
    pub fn shutdown(mut self) {
        let names: Vec<String> = self.ports.keys().cloned().collect();
        for n in names {
            let _ = self.del_port(&n);
        }
        for p in &mut self.pmds {
            p.stop();
        }
    }
}

/// Open the real backend for `spec`: existing netdevs (`System`) with AF_PACKET; `Internal`
/// and `Tap` ports as TAP devices rvs creates, which vanish when rvs closes them.
pub fn open_netdev(
    spec: &PortSpec,
    port_no: PortNo,
) -> std::io::Result<(Box<dyn Port>, &'static str)> {
    match spec.kind {
        PortKind::System => Ok((
            Box::new(crate::port::afpacket::AfPacketPort::open(
                &spec.name, port_no,
            )?),
            "afpacket",
        )),
        PortKind::Tunnel(crate::tunnel::TunnelKind::Gre) => Ok((
            crate::port::gre::open(&spec.name, &spec.options, port_no)?,
            "gre",
        )),
        PortKind::Tunnel(kind) => Ok((
            crate::port::udptun::open(&spec.name, kind, &spec.options, port_no)?,
            kind.name(),
        )),
        PortKind::Afxdp => open_afxdp(spec, port_no),
        PortKind::Internal | PortKind::Tap => {
            let tap = crate::port::tap::TapPort::create(&spec.name, port_no)?;
            if let Some(mac) = spec.mac {
                tap.set_mac(mac)?;
            }
            Ok((Box::new(tap), "tap"))
        }
    }
}

/// Backend label of an AF_XDP port that fell back to AF_PACKET.
pub const AFXDP_FALLBACK: &str = "afpacket (afxdp fallback)";

/// `type=afxdp`: AF_XDP in the asked `xdp-mode` on `options:n_rxq` queues (default 1); in
/// `best-effort` mode, AF_PACKET when AF_XDP cannot be set up (no kernel support, EOPNOTSUPP,
/// not root, or a build without the `afxdp` feature). The fallback is visible as the port's
/// backend (`AFXDP_FALLBACK`) and its reason as the port's `note`. Configuration errors (an
/// unknown mode, more queues than the device has) never fall back: they are the port's error.
fn open_afxdp(spec: &PortSpec, port_no: PortNo) -> std::io::Result<(Box<dyn Port>, &'static str)> {
    use std::io::{Error, ErrorKind};
    let mode = spec
        .options
        .get("xdp-mode")
        .map_or("best-effort", String::as_str);
    let best_effort = mode == "best-effort";
    let n_rxq = match spec.options.get("n_rxq") {
        None => 1,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("invalid n_rxq {v}")))?,
    };
    #[cfg(feature = "afxdp")]
    let why = {
        use crate::port::afxdp::{AfXdpPort, XdpMode};
        let m = XdpMode::parse(mode).ok_or_else(|| {
            Error::new(ErrorKind::InvalidInput, format!("invalid xdp-mode {mode}"))
        })?;
        match AfXdpPort::open(&spec.name, port_no, m, n_rxq) {
            Ok(p) => return Ok((Box::new(p), "afxdp")),
            Err(e) if !best_effort || e.kind() == ErrorKind::InvalidInput => return Err(e),
            Err(e) => format!("AF_XDP unavailable ({e})"),
        }
    };
    #[cfg(not(feature = "afxdp"))]
    let why = {
        if !best_effort {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("xdp-mode {mode} needs AF_XDP, which this build of rvs lacks (datapath feature afxdp)"),
            ));
        }
        if n_rxq > 1 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "n_rxq needs AF_XDP, which this build of rvs lacks (datapath feature afxdp)",
            ));
        }
        "this build of rvs lacks AF_XDP (datapath feature afxdp)".to_string()
    };
    let inner = crate::port::afpacket::AfPacketPort::open(&spec.name, port_no)?;
    Ok((Box::new(AfxdpFallback { inner, why }), AFXDP_FALLBACK))
}

/// A `type=afxdp` port that fell back to AF_PACKET: the AF_PACKET port, plus why (`note`).
#[derive(Debug)]
struct AfxdpFallback {
    inner: crate::port::afpacket::AfPacketPort,
    why: String,
}

impl Port for AfxdpFallback {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn rx_burst(
        &mut self,
        pool: &mut crate::packet::PacketPool,
        b: &mut crate::packet::Batch,
    ) -> usize {
        self.inner.rx_burst(pool, b)
    }
    fn tx_burst(
        &mut self,
        b: &mut crate::packet::Batch,
        pool: &mut crate::packet::PacketPool,
    ) -> usize {
        self.inner.tx_burst(b, pool)
    }
    fn stats(&self) -> PortStats {
        self.inner.stats()
    }
    fn poll_fd(&self) -> Option<std::os::fd::RawFd> {
        self.inner.poll_fd()
    }
    fn error(&self) -> Option<String> {
        self.inner.error()
    }
    fn note(&self) -> Option<String> {
        Some(self.why.clone())
    }
    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        self.inner.named_counters()
    }
}

fn add_stats(a: PortStats, b: PortStats) -> PortStats {
    PortStats {
        rx_packets: a.rx_packets + b.rx_packets,
        rx_bytes: a.rx_bytes + b.rx_bytes,
        rx_errors: a.rx_errors + b.rx_errors,
        rx_dropped: a.rx_dropped + b.rx_dropped,
        rx_over_errors: a.rx_over_errors + b.rx_over_errors,
        tx_packets: a.tx_packets + b.tx_packets,
        tx_bytes: a.tx_bytes + b.tx_bytes,
        tx_errors: a.tx_errors + b.tx_errors,
        tx_dropped: a.tx_dropped + b.tx_dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::{MemPort, MemPortHandle};
    use std::collections::HashMap;

    type Handles = Arc<Mutex<HashMap<String, MemPortHandle>>>;

    /// A dpif whose "netdevs" are in-memory ports that exist only when listed in `present`.
    fn mem_dpif() -> (Dpif, Handles, Arc<Mutex<Vec<String>>>) {
        let handles: Handles = Arc::default();
        let present: Arc<Mutex<Vec<String>>> = Arc::default();
        let (h2, p2) = (handles.clone(), present.clone());
        let opener: PortOpener = Box::new(move |spec, no| {
            if spec.kind == PortKind::System && !p2.lock().unwrap().contains(&spec.name) {
                return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
            }
            let (p, h) = MemPort::new(&spec.name, no);
            h2.lock().unwrap().insert(spec.name.clone(), h);
            Ok((Box::new(p) as Box<dyn Port>, "mem"))
        });
        (
            Dpif::with_opener(
                &DpifConfig {
                    n_pmd: 1,
                    pmd_cores: vec![],
                },
                opener,
            )
            .unwrap(),
            handles,
            present,
        )
    }

    fn frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        crate::wire::ethernet::emit(&mut f, dst, src, 0x88b5);
        f
    }

    fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn ports_learn_forward_and_report() {
        let (mut dp, h, present) = mem_dpif();
        present
            .lock()
            .unwrap()
            .extend(["a".to_string(), "b".to_string()]);
        dp.add_bridge("br0").unwrap();
        assert_eq!(dp.add_bridge("br0"), Err(DpifError::Exists("br0".into())));
        let br = dp
            .add_port(
                "br0",
                PortSpec {
                    name: "br0".into(),
                    kind: PortKind::Internal,
                    mac: None,
                    options: BTreeMap::new(),
                },
            )
            .unwrap();
        let a = dp
            .add_port(
                "br0",
                PortSpec {
                    name: "a".into(),
                    kind: PortKind::System,
                    mac: None,
                    options: BTreeMap::new(),
                },
            )
            .unwrap();
        let b = dp
            .add_port(
                "br0",
                PortSpec {
                    name: "b".into(),
                    kind: PortKind::System,
                    mac: None,
                    options: BTreeMap::new(),
                },
            )
            .unwrap();
        assert_eq!((br.port_no, a.port_no, b.port_no), (1, 2, 3));
        let (ma, mb) = (MacAddr([2, 0, 0, 0, 0, 0xa]), MacAddr([2, 0, 0, 0, 0, 0xb]));
        h.lock().unwrap()["a"].inject(&frame(mb, ma));
        assert!(wait_for(|| dp.fdb_show("br0").unwrap().len() == 1));
        let e = dp.fdb_show("br0").unwrap()[0];
        assert_eq!((e.port, e.mac), (2, ma));
        assert!(wait_for(|| dp.port_info("b").unwrap().stats.tx_packets == 1));
        assert_eq!(dp.port_info("a").unwrap().stats.rx_packets, 1);
        assert_eq!(dp.counters().flooded, 1);
        dp.fdb_flush(Some("br0")).unwrap();
        assert!(dp.fdb_show("br0").unwrap().is_empty());
        assert!(dp.fdb_show("nobr").is_err());
        dp.shutdown();
    }

    #[test]
    fn missing_netdev_is_an_error_state_and_resumes_when_it_appears() {
        let (mut dp, h, present) = mem_dpif();
        dp.add_bridge("br0").unwrap();
        let p = dp
            .add_port(
                "br0",
                PortSpec {
                    name: "late".into(),
                    kind: PortKind::System,
                    mac: None,
                    options: BTreeMap::new(),
                },
            )
            .unwrap();
        assert_eq!(
            p.error.as_deref(),
            Some("could not open network device late (No such device)")
        );
        present.lock().unwrap().push("late".into());
        std::thread::sleep(RETRY_EVERY);
        dp.run();
        assert_eq!(dp.port_info("late").unwrap().error, None);
        assert!(h.lock().unwrap().contains_key("late"));
        dp.del_port("late").unwrap();
        assert!(dp.port_info("late").is_none());
        dp.del_bridge("br0").unwrap();
        assert!(dp.bridges().is_empty());
        dp.shutdown();
    }
}
