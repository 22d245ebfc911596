//! The OVS "NORMAL" action behind a flow cache: an I/O-free learning switch over batches.
//!
//! `Switch::process` takes a batch received on a port, the current time and a buffer pool, and
//! sorts the frames into per-port output batches (`Outputs`). It does two passes, as in
//! "classify first, then act":
//! 1. classify: check the frame and look its key up in the flow cache (`flow`). A hit uses
//!    the cached decision (re-deciding it first if the FDB or the ports changed since). A miss
//!    runs NORMAL inline — learn the source (unicast, non-zero sources only), look up the
//!    destination — and installs the flow. Either way a `Decision` is recorded per frame;
//! 2. act: move each frame to its output batch, cloning from the pool for floods.
//!
//! Bad frames are dropped and counted by reason (`DropReason`); nothing here allocates or
//! panics on frame contents. The caller owns the ports: it transmits `Outputs` and returns the
//! buffers to the pool.
//!
//! VLANs (`vlan`): every port has a mode (trunk by default, as in OVS). Ingress resolves the
//! frame's VLAN (the access tag, the native VLAN, or the frame's own VID); the FDB is keyed by
//! (VLAN, MAC); floods go only to ports carrying that VLAN; egress pushes, pops or rewrites the
//! tag per port.

use crate::fdb::{Fdb, Lookup};
use crate::flow::{Decision, Flow, FlowCache, FlowDump, FlowKey, FlowStats};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE};
use crate::vlan::{retag, tag_edit, PortVlan, TagEdit, VlanMode};
use crate::wire::l4::tcp_flags_of;
use crate::wire::{EtherType, EthernetFrame, Ipv4Packet};
use std::sync::Arc;

/// A datapath port number (OVS "odp port"), unique across all bridges of the datapath.
pub type PortNo = u16;
/// Index of a bridge inside a `Switch`.
pub type BridgeId = usize;

/// Why a frame was dropped. Every variant is a named counter (`coverage/show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum DropReason {
    /// Shorter than an Ethernet header (14 B).
    Runt,
    /// A VLAN TPID with the tag cut short.
    VlanTruncated,
    /// Source MAC is multicast or broadcast (never learned, never forwarded, as OVS).
    MulticastSrc,
    /// Source MAC is all zeros.
    ZeroSrc,
    /// Destination was learned on the ingress port: never sent back out.
    SamePort,
    /// The ingress port is not (or no longer) attached to a bridge.
    UnknownPort,
    /// Flooding needed a copy and the buffer pool was empty.
    NoBuffer,
    /// The port does not carry the frame's VLAN (in or out), e.g. a tagged frame on an
    /// access port.
    VlanNotAllowed,
    /// EtherType IPv4 with a header that cannot be IPv4: version ≠ 4, IHL < 5, or a total
    /// length shorter than the header or longer than the frame (the Linux bridge's netfilter
    /// drops these too).
    BadIpv4,
    /// A flood copy of a frame longer than a packet buffer holds (a tag pushed onto a
    /// maximal GSO frame): refused rather than cut short.
    Oversize,
    /// The egress VLAN tag could not be applied (`vlan::retag`: no headroom, a frame too
    /// short for its tag, or offload offsets that would leave their range).
    RetagFailed,
}

impl DropReason {
    /// All reasons, in counter order.
    pub const ALL: [DropReason; 11] = [
        DropReason::Runt,
        DropReason::VlanTruncated,
        DropReason::MulticastSrc,
        DropReason::ZeroSrc,
        DropReason::SamePort,
        DropReason::UnknownPort,
        DropReason::NoBuffer,
        DropReason::VlanNotAllowed,
        DropReason::BadIpv4,
        DropReason::Oversize,
        DropReason::RetagFailed,
    ];
    /// Counter name, in OVS's `coverage/show` style.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Runt => "datapath_drop_runt",
            DropReason::VlanTruncated => "datapath_drop_vlan_truncated",
            DropReason::MulticastSrc => "datapath_drop_multicast_src",
            DropReason::ZeroSrc => "datapath_drop_zero_src",
            DropReason::SamePort => "datapath_drop_same_port",
            DropReason::UnknownPort => "datapath_drop_unknown_port",
            DropReason::NoBuffer => "datapath_drop_no_buffer",
            DropReason::VlanNotAllowed => "datapath_drop_vlan_not_allowed",
            DropReason::BadIpv4 => "datapath_drop_bad_ipv4",
            DropReason::Oversize => "datapath_drop_oversize",
            DropReason::RetagFailed => "datapath_drop_retag_failed",
        }
    }
}

/// Pipeline counters (owned by one thread; read by copying).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames that entered `process`.
    pub frames: u64,
    /// Frames sent to one known port.
    pub unicast: u64,
    /// Frames flooded.
    pub flooded: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    #[inline]
    pub fn drop(&mut self, r: DropReason) {
        self.drops[r as usize] += 1;
    }
    pub fn drops_of(&self, r: DropReason) -> u64 {
        self.drops[r as usize]
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

#[derive(Debug)]
struct BridgeEntry {
    fdb: Arc<Fdb>,
    ports: Vec<PortNo>,
}

/// Per-port output batches produced by one `process` call.
///
/// Invariant: one input batch puts at most `BATCH_SIZE` frames on any port, so the caller
/// transmits (and empties) the outputs after every `process` call and no batch overflows.
#[derive(Debug, Default)]
pub struct Outputs {
    per_port: Vec<Batch>,
    active: Vec<PortNo>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs::default()
    }
    fn push(&mut self, port: PortNo, p: Packet, pool: &mut PacketPool) {
        let i = usize::from(port);
        if i >= self.per_port.len() {
            self.per_port.resize_with(i + 1, Batch::new);
        }
        let b = &mut self.per_port[i];
        if b.is_empty() {
            self.active.push(port);
        }
        if let Err(p) = b.push(p) {
            pool.put(p); // unreachable by the invariant above; never leak a buffer
        }
    }
    /// Ports that have frames waiting, in first-use order.
    pub fn active_ports(&self) -> &[PortNo] {
        &self.active
    }
    /// The batch for `port` (empty if none).
    pub fn batch_mut(&mut self, port: PortNo) -> Option<&mut Batch> {
        self.per_port.get_mut(usize::from(port))
    }
    /// Visit every non-empty batch and then forget the active list. `f` should empty the
    /// batch (transmit, returning buffers to the pool); anything left is recycled into `pool`.
    pub fn flush(
        &mut self,
        pool: &mut PacketPool,
        mut f: impl FnMut(PortNo, &mut Batch, &mut PacketPool),
    ) {
        for &port in &self.active {
            let b = &mut self.per_port[usize::from(port)];
            f(port, b, pool);
            for p in b.drain() {
                pool.put(p);
            }
        }
        self.active.clear();
    }
    /// Total frames waiting.
    pub fn pending(&self) -> usize {
        self.active
            .iter()
            .map(|&p| self.per_port[usize::from(p)].len())
            .sum()
    }
}

/// The switching core: bridges, port membership, and the NORMAL pipeline.
#[derive(Debug, Default)]
pub struct Switch {
    port_bridge: Vec<Option<BridgeId>>,
    bridges: Vec<Option<BridgeEntry>>,
    /// VLAN configuration per port (default: trunk of all VLANs).
    port_vlan: Vec<PortVlan>,
    /// Bumped by every port, bridge or configuration change: cached flows made under an
    /// older generation are re-decided before use.
    generation: u64,
    /// The flow cache in front of NORMAL.
    pub flows: FlowCache,
    /// Counters since creation.
    pub counters: Counters,
    /// Flows the kernel fast path may take over (`fastpath::Offloader` drains it); `None`
    /// while there is no fast path, so nothing is collected.
    pub offload_wanted: Option<Vec<FlowKey>>,
}

/// Most keys waiting for the fast path; beyond it proposals are dropped (a later userspace
/// hit proposes the flow again).
const OFFLOAD_WANTED_MAX: usize = 4096;
/// A cached single-output flow that still reaches userspace is proposed again every this many
/// hits (its first proposal may have met a contended FDB read).
const OFFLOAD_REPROPOSE_EVERY: u64 = 64;

/// A flow the kernel fast path may carry: its one output port and the tag edit on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffloadPlan {
    pub out: PortNo,
    pub edit: TagEdit,
}

impl Switch {
    pub fn new() -> Switch {
        Switch::default()
    }

    /// Add a bridge that learns into `fdb`; returns its id.
    pub fn add_bridge(&mut self, fdb: Arc<Fdb>) -> BridgeId {
        let e = Some(BridgeEntry {
            fdb,
            ports: Vec::new(),
        });
        self.generation += 1;
        match self.bridges.iter().position(Option::is_none) {
            Some(i) => {
                self.bridges[i] = e;
                i
            }
            None => {
                self.bridges.push(e);
                self.bridges.len() - 1
            }
        }
    }

    /// Remove a bridge and detach its ports.
    pub fn remove_bridge(&mut self, id: BridgeId) {
        self.generation += 1;
        if let Some(Some(b)) = self.bridges.get_mut(id).map(Option::take) {
            for p in b.ports {
                self.port_bridge[usize::from(p)] = None;
            }
        }
    }

    /// The FDB of a bridge.
    pub fn fdb(&self, id: BridgeId) -> Option<&Arc<Fdb>> {
        self.bridges.get(id)?.as_ref().map(|b| &b.fdb)
    }

    /// Attach `port` to bridge `id` (moving it if it was elsewhere). False if no such bridge.
    pub fn add_port(&mut self, port: PortNo, id: BridgeId) -> bool {
        if !matches!(self.bridges.get(id), Some(Some(_))) {
            return false;
        }
        self.remove_port(port);
        self.generation += 1;
        let i = usize::from(port);
        if i >= self.port_bridge.len() {
            self.port_bridge.resize(i + 1, None);
        }
        self.port_bridge[i] = Some(id);
        if let Some(Some(b)) = self.bridges.get_mut(id) {
            b.ports.push(port);
        }
        true
    }

    /// Detach `port` and forget what its bridge learned on it.
    pub fn remove_port(&mut self, port: PortNo) {
        let Some(Some(id)) = self.port_bridge.get(usize::from(port)).copied() else {
            return;
        };
        self.port_bridge[usize::from(port)] = None;
        self.generation += 1;
        if let Some(Some(b)) = self.bridges.get_mut(id) {
            b.ports.retain(|&p| p != port);
            b.fdb.flush_port(port);
        }
    }

    /// The bridge a port belongs to.
    pub fn bridge_of(&self, port: PortNo) -> Option<BridgeId> {
        self.port_bridge.get(usize::from(port)).copied().flatten()
    }

    /// Set a port's VLAN mode (`tag`, `trunks`, `vlan_mode`). Cached decisions are re-made.
    pub fn set_port_vlan(&mut self, port: PortNo, cfg: PortVlan) {
        let i = usize::from(port);
        if i >= self.port_vlan.len() {
            self.port_vlan.resize(i + 1, PortVlan::default());
        }
        self.port_vlan[i] = cfg;
        self.generation += 1;
    }

    /// Invalidate every cached decision (configuration changed).
    pub fn revalidate_all(&mut self) {
        self.generation += 1;
    }

    /// Every cached flow.
    pub fn dump_flows(&self) -> Vec<FlowDump> {
        self.flows.dump()
    }

    /// The generations every cached decision depends on (the switch's, then each bridge's
    /// FDB's), into `out`: when they are unchanged, no decision changed.
    pub fn generations(&self, out: &mut Vec<u64>) {
        out.clear();
        out.push(self.generation);
        out.extend(self.bridges.iter().flatten().map(|b| b.fdb.generation()));
    }

    /// NORMAL's decision for `key` as the FDB and ports stand now, if the kernel fast path may
    /// carry it: a settled single output (no flood, no drop, not from a tunnel, at most one
    /// tag), and the source still learned on the ingress port — so a host that moves sends
    /// its first frame from the new port to userspace, which learns the move.
    pub fn offload_plan(&self, key: &FlowKey) -> Option<OffloadPlan> {
        if key.tunnel.is_some() || crate::wire::ethernet::is_vlan_tpid(key.eth_type) {
            return None;
        }
        let bid = self.bridge_of(key.in_port)?;
        let bridge = self.bridges.get(bid)?.as_ref()?;
        let port_vlan = &self.port_vlan;
        let vlan = vlan_of(port_vlan, key.in_port).ingress(key.vlan_tci.map(|t| t & 0x0fff))?;
        let (Decision::Output(out, vlan), true) =
            normal_decision(bridge, bid, key, vlan, port_vlan)
        else {
            return None;
        };
        if bridge.fdb.lookup(vlan, key.src) != Lookup::Hit(key.in_port) {
            return None;
        }
        let tagged = vlan_of(port_vlan, out).egress(vlan)?;
        Some(OffloadPlan {
            out,
            edit: tag_edit(key.vlan_tci, tagged, vlan),
        })
    }

    /// Keep the source of `key` alive in its bridge's FDB (its frames are forwarded by the
    /// kernel fast path and never pass `classify`). Only a refresh: the frames counted may
    /// predate a move userspace has learned since, which must stand.
    pub fn refresh_source(&self, key: &FlowKey, now_secs: u32) {
        let Some(bid) = self.bridge_of(key.in_port) else {
            return;
        };
        let Some(Some(bridge)) = self.bridges.get(bid) else {
            return;
        };
        let vid = key.vlan_tci.map(|t| t & 0x0fff);
        if let Some(vlan) = vlan_of(&self.port_vlan, key.in_port).ingress(vid) {
            bridge.fdb.touch(vlan, key.src, key.in_port, now_secs);
        }
    }

    fn propose_offload(&mut self, key: FlowKey) {
        if let Some(w) = self.offload_wanted.as_mut() {
            if w.len() < OFFLOAD_WANTED_MAX {
                w.push(key);
            }
        }
    }

    /// Run the flow cache, and NORMAL on a miss, over `batch` (emptied) at time `now_ms`,
    /// filling `out`.
    pub fn process(
        &mut self,
        batch: &mut Batch,
        now_ms: u64,
        pool: &mut PacketPool,
        out: &mut Outputs,
    ) {
        let mut decisions = [Decision::Drop(DropReason::Runt); BATCH_SIZE];
        // Pass 1: classify (cache, or learn + look up).
        for (d, p) in decisions.iter_mut().zip(batch.iter()) {
            *d = self.classify(p, now_ms);
        }
        // Pass 2: act.
        let n = batch.len();
        self.counters.frames += n as u64;
        for (i, p) in batch.drain().enumerate().take(n) {
            match decisions[i] {
                Decision::Drop(r) => {
                    self.counters.drop(r);
                    pool.put(p);
                }
                Decision::Output(port, vlan) => {
                    self.counters.unicast += 1;
                    let mut p = p;
                    match vlan_of(&self.port_vlan, port).egress(vlan) {
                        Some(tagged) if retag(&mut p, tagged, vlan) => out.push(port, p, pool),
                        Some(_) => {
                            self.counters.drop(DropReason::RetagFailed);
                            pool.put(p);
                        }
                        None => {
                            self.counters.drop(DropReason::VlanNotAllowed);
                            pool.put(p);
                        }
                    }
                }
                Decision::Flood(bid, vlan) => {
                    self.counters.flooded += 1;
                    self.flood(bid, vlan, p, pool, out);
                }
            }
        }
    }

    #[inline]
    fn classify(&mut self, p: &Packet, now_ms: u64) -> Decision {
        let in_port = p.meta.in_port;
        let Some(bid) = self.bridge_of(in_port) else {
            return Decision::Drop(DropReason::UnknownPort);
        };
        let Some(Some(bridge)) = self.bridges.get(bid) else {
            return Decision::Drop(DropReason::UnknownPort);
        };
        let Ok(eth) = EthernetFrame::new_checked(p.data()) else {
            return Decision::Drop(DropReason::Runt);
        };
        let Ok(l2) = eth.parse_l2() else {
            return Decision::Drop(DropReason::VlanTruncated);
        };
        let Some(vlan) =
            vlan_of(&self.port_vlan, in_port).ingress(l2.outer_tci.map(|t| t & 0x0fff))
        else {
            return Decision::Drop(DropReason::VlanNotAllowed);
        };
        if l2.ethertype == EtherType::IPV4
            && Ipv4Packet::new_checked(&p.data()[l2.l3_offset..]).is_err()
        {
            return Decision::Drop(DropReason::BadIpv4);
        }
        let (src, dst) = (eth.src(), eth.dst());
        let key = FlowKey::new(in_port, src, dst, &l2, p.meta.tunnel.as_ref());
        let now_secs = (now_ms / 1000) as u32;
        let len = p.len() as u64;
        let flags = tcp_flags_of(p.data(), &l2);
        let fdb = &bridge.fdb;
        let switch_generation = self.generation;
        let port_vlan = &self.port_vlan;
        let hit = self.flows.lookup(&key).map(|f| {
            let learnable = !src.is_multicast() && !src.is_zero();
            if learnable && f.learned_secs != now_secs {
                // Keep the source alive in the FDB while its traffic hits the cache.
                fdb.learn(vlan, src, in_port, now_secs);
                f.learned_secs = now_secs;
            }
            let generation = (fdb.generation(), switch_generation);
            let stale = f.generation != Some(generation);
            if stale {
                let (decision, settled) = normal_decision(bridge, bid, &key, vlan, port_vlan);
                f.decision = decision;
                f.generation = settled.then_some(generation);
            }
            f.stats.packets += 1;
            f.stats.bytes += len;
            f.stats.used_ms = now_ms;
            f.stats.tcp_flags |= flags;
            let propose = !f.offloaded
                && f.generation.is_some()
                && matches!(f.decision, Decision::Output(..))
                && (stale || f.stats.packets % OFFLOAD_REPROPOSE_EVERY == 0);
            (f.decision, stale, propose)
        });
        if let Some((decision, stale, propose)) = hit {
            if stale {
                self.flows.counters.revalidated += 1;
            }
            if propose && key.tunnel.is_none() {
                self.propose_offload(key);
            }
            return decision;
        }
        // Miss: the "upcall" runs NORMAL inline and installs the flow.
        self.flows.counters.misses += 1;
        if !src.is_multicast() && !src.is_zero() {
            fdb.learn(vlan, src, in_port, now_secs);
        }
        let generation = (fdb.generation(), self.generation);
        let (decision, settled) = normal_decision(bridge, bid, &key, vlan, port_vlan);
        let stats = FlowStats {
            packets: 1,
            bytes: len,
            used_ms: now_ms,
            tcp_flags: flags,
        };
        self.flows.insert(
            key,
            Flow {
                decision,
                generation: settled.then_some(generation),
                learned_secs: now_secs,
                stats,
                offloaded: false,
            },
        );
        if settled && matches!(decision, Decision::Output(..)) && key.tunnel.is_none() {
            self.propose_offload(key);
        }
        decision
    }

    /// Send to every other port of the bridge that carries `vlan`, tagged or not as each
    /// port wants. The last port gets the original buffer, the others copies.
    fn flood(
        &mut self,
        bid: BridgeId,
        vlan: u16,
        p: Packet,
        pool: &mut PacketPool,
        out: &mut Outputs,
    ) {
        let Some(Some(bridge)) = self.bridges.get(bid) else {
            pool.put(p);
            return;
        };
        let in_port = p.meta.in_port;
        let port_vlan = &self.port_vlan;
        let mut targets = bridge
            .ports
            .iter()
            .copied()
            .filter(|&q| q != in_port)
            .filter_map(|q| vlan_of(port_vlan, q).egress(vlan).map(|tagged| (q, tagged)))
            .peekable();
        while let Some((port, tagged)) = targets.next() {
            let mut copy = if targets.peek().is_none() {
                let mut p = p;
                if retag(&mut p, tagged, vlan) {
                    out.push(port, p, pool);
                } else {
                    self.counters.drop(DropReason::RetagFailed);
                    pool.put(p);
                }
                return;
            } else {
                match pool.get() {
                    Some(mut c) => {
                        if !c.clone_from_packet(&p) {
                            pool.put(c);
                            self.counters.drop(DropReason::Oversize);
                            continue;
                        }
                        c
                    }
                    None => {
                        self.counters.drop(DropReason::NoBuffer);
                        continue;
                    }
                }
            };
            if retag(&mut copy, tagged, vlan) {
                out.push(port, copy, pool);
            } else {
                self.counters.drop(DropReason::RetagFailed);
                pool.put(copy);
            }
        }
        pool.put(p); // no other port on the bridge carries this VLAN
    }
}

/// NORMAL's decision for a flow, given the FDB as it is now (no learning here), and whether
/// it is settled: false when the FDB read was contended, so the decision (a flood) is good
/// for this frame only and must not be cached under the current generation.
#[inline]
fn normal_decision(
    bridge: &BridgeEntry,
    bid: BridgeId,
    key: &FlowKey,
    vlan: u16,
    port_vlan: &[PortVlan],
) -> (Decision, bool) {
    if key.src.is_multicast() {
        return (Decision::Drop(DropReason::MulticastSrc), true);
    }
    if key.src.is_zero() {
        return (Decision::Drop(DropReason::ZeroSrc), true);
    }
    if key.dst.is_multicast() {
        return (Decision::Flood(bid, vlan), true);
    }
    let decision = match bridge.fdb.lookup(vlan, key.dst) {
        Lookup::Hit(port) if port == key.in_port => Decision::Drop(DropReason::SamePort),
        Lookup::Hit(port) if vlan_of(port_vlan, port).egress(vlan).is_none() => {
            Decision::Drop(DropReason::VlanNotAllowed)
        }
        Lookup::Hit(port) => Decision::Output(port, vlan),
        Lookup::Miss => Decision::Flood(bid, vlan),
        Lookup::Contended => return (Decision::Flood(bid, vlan), false),
    };
    (decision, true)
}

/// A port's VLAN configuration (the default trunk when none was set).
#[inline]
fn vlan_of(cfg: &[PortVlan], port: PortNo) -> &PortVlan {
    static DEFAULT: PortVlan = PortVlan {
        mode: VlanMode::Trunk,
        trunks: Vec::new(),
    };
    cfg.get(usize::from(port)).unwrap_or(&DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{emit, MacAddr};

    /// Run one frame from `in_port` through `sw`; the ports it went out on.
    pub(super) fn forward(
        sw: &mut Switch,
        in_port: PortNo,
        dst: MacAddr,
        src: MacAddr,
    ) -> Vec<PortNo> {
        let mut f = vec![0u8; 60];
        emit(&mut f, dst, src, 0x88b5);
        let mut p = Packet::from_bytes(&f);
        p.meta.in_port = in_port;
        let (mut pool, mut out, mut batch) = (PacketPool::new(8), Outputs::new(), Batch::new());
        assert!(batch.push(p).is_ok());
        sw.process(&mut batch, 0, &mut pool, &mut out);
        let mut ports = out.active_ports().to_vec();
        out.flush(&mut pool, |_, _, _| {});
        ports.sort_unstable();
        ports
    }

    /// Defect: a lookup that met a writer mid-update reported a plain miss, the pipeline
    /// cached the resulting flood under the current FDB generation, and since that writer
    /// changed nothing (no generation bump) the flow kept flooding a known unicast host.
    #[test]
    fn a_decision_made_on_a_contended_read_is_not_cached() {
        let fdb = Arc::new(Fdb::new(64));
        let mut sw = Switch::new();
        let br = sw.add_bridge(fdb.clone());
        for p in 1..=3 {
            assert!(sw.add_port(p, br));
        }
        let b = MacAddr([2, 0, 0, 0, 0, 0xb]);
        let a = (1..=255u8)
            .map(|n| MacAddr([2, 0, 0, 0, 1, n]))
            .find(|&a| !fdb.same_bucket((0, a), (0, b)))
            .expect("two buckets");
        fdb.learn(0, b, 2, 0);
        fdb.learn(0, a, 1, 0);
        {
            let _writer = fdb.hold_bucket(0, b);
            assert_eq!(
                forward(&mut sw, 1, b, a),
                vec![2, 3],
                "unknown for now: flood"
            );
        }
        assert_eq!(forward(&mut sw, 1, b, a), vec![2], "re-decided, not cached");
        assert_eq!(forward(&mut sw, 1, b, a), vec![2]);
        assert_eq!(sw.flows.counters.misses, 1);
    }
}

/// Model check (loom, see `fdb`'s loom tests for how to run) of the flow cache's revalidation
/// against FDB writers on other threads.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::tests::forward;
    use super::*;
    use crate::wire::ethernet::MacAddr;

    /// A move of the destination racing the PMD's decision for it (and the flow install):
    /// whatever the interleaving, the first frame goes to the old port, the new port or
    /// everywhere (a contended read), and the next frame after the move follows the FDB —
    /// a decision cached under a generation never outlives a change made after it.
    #[test]
    fn a_cached_decision_never_outlives_a_move() {
        crate::fdb::loom_tests::model(|| {
            let fdb = Arc::new(Fdb::new(8));
            let mut sw = Switch::new();
            let br = sw.add_bridge(fdb.clone());
            for p in 1..=3 {
                assert!(sw.add_port(p, br));
            }
            let (a, b) = (MacAddr([2, 0, 0, 0, 0, 0xa]), MacAddr([2, 0, 0, 0, 0, 0xb]));
            fdb.learn(0, b, 2, 0);
            fdb.learn(0, a, 1, 0);
            let mover = {
                let fdb = fdb.clone();
                loom::thread::spawn(move || fdb.learn(0, b, 3, 0))
            };
            let first = forward(&mut sw, 1, b, a);
            assert!(first == [2] || first == [3] || first == [2, 3], "{first:?}");
            assert_eq!(
                mover.join().unwrap(),
                crate::fdb::Learned::Moved { from: 2 }
            );
            assert_eq!(forward(&mut sw, 1, b, a), vec![3]);
        });
    }
}
