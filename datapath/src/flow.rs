//! The datapath flow cache: what `dpctl/dump-flows` lists.
//!
//! One `FlowCache` per PMD (inside its `Switch` replica), never shared, so the hot path takes
//! no lock. A flow's key is exactly what NORMAL looked at: ingress port, Ethernet source and
//! destination, the outer VLAN tag, the EtherType, and the tunnel metadata for frames that came
//! out of a tunnel. Its value is NORMAL's decision plus statistics (packets, bytes, last use,
//! TCP flags).
//!
//! # Validity
//! Every flow records the generation it was computed under: the bridge FDB's generation
//! (bumped by every learn of a new address, move, expiry, eviction and flush) and the switch's
//! own generation (bumped by port and bridge changes and by `Switch::revalidate_all`, which
//! the control plane calls on configuration changes). A hit whose generation is stale is
//! re-decided before it is used — a stale decision is never applied. A decision made on a
//! contended FDB read (`fdb::Lookup::Contended`) records no generation at all (`None`), so
//! it is re-decided on the flow's next hit: it is used for the one frame, never remembered.
//!
//! # Limits
//! At most `FLOW_LIMIT` flows (200000, OVS's default); beyond it frames still run NORMAL but
//! install nothing (counted). Flows idle for `MAX_IDLE_MS` (10 s, OVS's default) are removed
//! by `expire`.

use crate::packet::TunnelMeta;
use crate::pipeline::{BridgeId, DropReason, PortNo};
use crate::wire::ethernet::L2Info;
use crate::wire::MacAddr;
use std::collections::HashMap;

/// Most flows a cache holds.
pub const FLOW_LIMIT: usize = 200_000;
/// Idle time after which a flow is removed, in ms.
pub const MAX_IDLE_MS: u64 = 10_000;

/// What NORMAL decided for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Drop(DropReason),
    /// To one port, in a VLAN (tagged or not as that port wants).
    Output(PortNo, u16),
    /// To every other port of a bridge carrying the VLAN.
    Flood(BridgeId, u16),
}

/// The fields NORMAL looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    pub in_port: PortNo,
    pub src: MacAddr,
    pub dst: MacAddr,
    /// Outer VLAN TCI, if tagged.
    pub vlan_tci: Option<u16>,
    /// EtherType after the tags.
    pub eth_type: u16,
    /// The tunnel the frame came from.
    pub tunnel: Option<FlowTunnel>,
}

/// The outer headers of a tunnelled frame that a flow matches on (OVS's `tunnel(...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTunnel {
    pub src: core::net::Ipv4Addr,
    pub dst: core::net::Ipv4Addr,
    /// GRE key or VXLAN/Geneve VNI.
    pub key: Option<u32>,
    /// UDP destination port (VXLAN/Geneve; 0 for GRE).
    pub tp_dst: u16,
}

impl FlowKey {
    /// The key of a frame whose Ethernet header and tags have been parsed.
    #[inline]
    pub fn new(
        in_port: PortNo,
        src: MacAddr,
        dst: MacAddr,
        l2: &L2Info,
        tunnel: Option<&TunnelMeta>,
    ) -> FlowKey {
        FlowKey {
            in_port,
            src,
            dst,
            vlan_tci: l2.outer_tci,
            eth_type: l2.ethertype,
            tunnel: tunnel.map(|t| FlowTunnel {
                src: t.src,
                dst: t.dst,
                key: t.key,
                tp_dst: t.tp_dst.unwrap_or(0),
            }),
        }
    }
}

impl core::hash::Hash for FlowKey {
    /// Hash the key as three packed words: hashing field by field (the derived impl) costs
    /// several times more on the per-packet path.
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let vlan = self.vlan_tci.map_or(0, |t| u64::from(t) | 1 << 16);
        state.write_u64(self.src.to_u64() | u64::from(self.in_port) << 48);
        state.write_u64(self.dst.to_u64() | u64::from(self.eth_type) << 48);
        let t = self.tunnel.map_or(0, |t| {
            u64::from(u32::from(t.src))
                ^ u64::from(u32::from(t.dst)).rotate_left(32)
                ^ u64::from(t.key.unwrap_or(0)) << 17
                ^ u64::from(t.tp_dst) << 3
                ^ 1
        });
        state.write_u64(t ^ vlan << 40);
    }
}

/// Per-flow statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    /// Time of last use (ms on the datapath clock).
    pub used_ms: u64,
    /// OR of the TCP flags seen.
    pub tcp_flags: u8,
}

/// One cached flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub decision: Decision,
    /// (FDB generation, switch generation) the decision was made under; `None` when it must
    /// be re-made on the next hit (it was made on a contended FDB read).
    pub generation: Option<(u64, u64)>,
    /// Second (datapath clock) the source address was last refreshed in the FDB.
    pub learned_secs: u32,
    /// Counters: userspace hits plus, once offloaded, the kernel fast path's (`fastpath`).
    pub stats: FlowStats,
    /// The kernel fast path carries this flow (its frames no longer reach userspace).
    pub offloaded: bool,
}

/// A flow as dumped for `dpctl/dump-flows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowDump {
    pub key: FlowKey,
    pub decision: Decision,
    pub stats: FlowStats,
    /// Carried by the kernel fast path (`offloaded:yes, dp:tc`).
    pub offloaded: bool,
}

/// Counters of one cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounters {
    pub hits: u64,
    pub misses: u64,
    /// Hits whose decision was stale and recomputed.
    pub revalidated: u64,
    /// Misses that could not install a flow (limit reached).
    pub limit_hits: u64,
    /// Flows removed for idleness.
    pub expired: u64,
}

/// The per-PMD flow table.
#[derive(Debug)]
pub struct FlowCache {
    map: HashMap<FlowKey, Flow, ahash::RandomState>,
    limit: usize,
    /// Set when `expire` shrank the table: the owner asks the control thread to give the
    /// freed memory back (`malloc_trim` takes the allocator's locks: never on a PMD).
    shrunk: bool,
    pub counters: FlowCounters,
}

impl Default for FlowCache {
    fn default() -> Self {
        FlowCache::new(FLOW_LIMIT)
    }
}

impl FlowCache {
    pub fn new(limit: usize) -> FlowCache {
        FlowCache {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            limit,
            shrunk: false,
            counters: FlowCounters::default(),
        }
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Look a key up, counting the hit.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        let f = self.map.get_mut(key);
        if f.is_some() {
            self.counters.hits += 1;
        }
        f
    }

    /// A flow by key, without counting a hit (the fast path's bookkeeping).
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.map.get_mut(key)
    }

    /// Every flow, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Flow> {
        self.map.values_mut()
    }

    /// True if a flow with this key is cached.
    pub fn contains(&self, key: &FlowKey) -> bool {
        self.map.contains_key(key)
    }

    /// Install a flow; false (and counted) when the cache is full.
    #[inline]
    pub fn insert(&mut self, key: FlowKey, flow: Flow) -> bool {
        if self.map.len() >= self.limit && !self.map.contains_key(&key) {
            self.counters.limit_hits += 1;
            return false;
        }
        self.map.insert(key, flow);
        true
    }

    /// Remove flows idle for `MAX_IDLE_MS` or longer; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.map.len();
        self.map
            .retain(|_, f| now_ms.saturating_sub(f.stats.used_ms) < MAX_IDLE_MS);
        let n = before - self.map.len();
        self.counters.expired += n as u64;
        // Give memory back after a burst of flows (a MAC flood) has gone idle, so the
        // daemon's footprint returns to what its live flows need.
        if self.map.capacity() > 4 * self.map.len().max(1024) {
            self.map.shrink_to(self.map.len() * 2);
            self.shrunk = true;
        }
        n
    }

    /// True once after `expire` shrank the table (see `release_free_memory`).
    pub fn take_shrunk(&mut self) -> bool {
        core::mem::take(&mut self.shrunk)
    }

    /// Remove every flow (`dpctl/del-flows`).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Copy every flow out.
    pub fn dump(&self) -> Vec<FlowDump> {
        self.map
            .iter()
            .map(|(k, f)| FlowDump {
                key: *k,
                decision: f.decision,
                stats: f.stats,
                offloaded: f.offloaded,
            })
            .collect()
    }
}

/// Hand freed heap pages back to the kernel. glibc keeps freed memory in its arenas; after a
/// large table shrank, `malloc_trim` returns the free pages (rare: only after a shrink). It
/// walks and locks the allocator's arenas, so the control thread calls it, never a PMD.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator already considers free; it takes
    // the allocator's own locks and touches no memory we hold.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// OVS's `flags:` letters for TCP flags, in OVS's order.
pub fn format_tcp_flags(f: u8) -> String {
    use crate::wire::l4::tcp_flags::*;
    let mut s = String::new();
    for (bit, c) in [
        (SYN, 'S'),
        (FIN, 'F'),
        (PSH, 'P'),
        (RST, 'R'),
        (URG, 'U'),
        (ACK, '.'),
        (0x40, 'E'),
        (0x80, 'C'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> FlowKey {
        FlowKey {
            in_port: 1,
            src: MacAddr([2, 0, 0, 0, 0, n]),
            dst: MacAddr::BROADCAST,
            vlan_tci: None,
            eth_type: 0x0800,
            tunnel: None,
        }
    }

    fn flow(used_ms: u64) -> Flow {
        Flow {
            decision: Decision::Output(2, 0),
            generation: Some((0, 0)),
            learned_secs: 0,
            stats: FlowStats {
                used_ms,
                ..Default::default()
            },
            offloaded: false,
        }
    }

    #[test]
    fn limit_and_expiry() {
        let mut c = FlowCache::new(2);
        assert!(c.insert(key(1), flow(0)));
        assert!(c.insert(key(2), flow(5000)));
        assert!(!c.insert(key(3), flow(0)));
        assert!(
            c.insert(key(2), flow(6000)),
            "replacing an existing flow is fine when full"
        );
        assert_eq!(c.counters.limit_hits, 1);
        assert_eq!(c.expire(10_000), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.expire(16_000), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn tcp_flag_letters_follow_ovs() {
        use crate::wire::l4::tcp_flags::*;
        assert_eq!(format_tcp_flags(SYN | FIN | PSH | ACK), "SFP.");
        assert_eq!(format_tcp_flags(SYN | FIN), "SF");
        assert_eq!(format_tcp_flags(0), "");
    }
}
