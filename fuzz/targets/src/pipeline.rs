//! Target `pipeline`: the whole switching core — flow cache, NORMAL, FDB, VLAN modes, floods
//! from a small buffer pool, a GRE tunnel port — under a small configuration chosen by the
//! input, with a virtual clock.
//!
//! Input: a header (bridges 1–2, ports 2–4 and which bridge each is on, FDB bound 1–32, aging,
//! VLAN mode of each port, tunnel options, remote and underlay MTU), then a program of
//! operations:
//! - a burst of 1–32 length-prefixed frames received on one port (port 0 and ports past the
//!   last are "unknown"; the port after the last is the GRE port: its bytes are an outer
//!   IPv4 packet that goes through `tunnel::decap` first, exactly as `port::gre` does, and
//!   reach the switch with `meta.tunnel` set);
//! - advance the clock; run housekeeping (FDB aging, flow expiry); reconfigure (detach,
//!   re-attach or move a port, change a VLAN mode, flush the FDB, revalidate).
//!
//! Invariants after every burst: every buffer is back in the pool; no frame goes back out of
//! its ingress port or to a port of another bridge; frames out ≤ frames in × ports; each
//! frame got at least one outcome in the counters; every FDB holds at most its bound, never a
//! multicast or zero address, and only ports of its own bridge. Frames sent to the GRE port
//! go through the port's transmit path (`gre::transmit`) and its checks.

use crate::gre::{self, REMOTE};
use crate::input::Input;
use core::net::Ipv4Addr;
use rvs_datapath::fdb::Fdb;
use rvs_datapath::packet::{Batch, Packet, PacketPool, BATCH_SIZE, MAX_FRAME};
use rvs_datapath::pipeline::{BridgeId, Outputs, PortNo, Switch};
use rvs_datapath::tunnel::TunnelConfig;
use rvs_datapath::vlan::PortVlan;
use std::cell::RefCell;
use std::sync::Arc;

/// Buffers in the pool: fewer than a burst flooded to three ports needs, so `NoBuffer` is
/// reachable.
const POOL: usize = 48;

thread_local! {
    /// Reused across inputs (64 KB buffers); every input must give all of them back.
    static POOL_CELL: RefCell<(PacketPool, Packet)> =
        RefCell::new((PacketPool::new(POOL), Packet::new()));
}

struct Rig {
    sw: Switch,
    fdbs: Vec<(BridgeId, Arc<Fdb>)>,
    /// Physical ports are 1..gre_port; the GRE port is the last.
    gre_port: PortNo,
    gre: TunnelConfig,
    mtu: usize,
}

impl Rig {
    fn vlan(b: u8, tag: u16) -> PortVlan {
        let tag = tag & 0x0fff;
        match b & 7 {
            0 | 1 => PortVlan::from_ovs(None, None, &[]),
            2 => PortVlan::from_ovs(None, Some(tag), &[]),
            3 => PortVlan::from_ovs(Some("native-untagged"), Some(tag), &[tag ^ 1]),
            4 => PortVlan::from_ovs(Some("native-tagged"), Some(tag), &[]),
            5 => PortVlan::from_ovs(Some("trunk"), None, &[0, tag]),
            _ => PortVlan::from_ovs(Some("trunk"), None, &[tag]),
        }
    }

    fn new(inp: &mut Input) -> Rig {
        let h = inp.u8();
        let n_bridges = 1 + usize::from(h & 1);
        let n_ports = 2 + u16::from((h >> 1) % 3);
        let fdb_size = 1 + usize::from(inp.u8() % 32);
        let aging = u32::from(inp.u8());
        let placement = inp.u8();
        let mut sw = Switch::new();
        let fdbs: Vec<(BridgeId, Arc<Fdb>)> = (0..n_bridges)
            .map(|_| {
                let fdb = Arc::new(Fdb::new(fdb_size));
                fdb.set_aging(aging);
                (sw.add_bridge(fdb.clone()), fdb)
            })
            .collect();
        let gre_port = n_ports + 1;
        for port in 1..=gre_port {
            let on = usize::from((placement >> (port - 1)) & 1) % n_bridges;
            assert!(sw.add_port(port, fdbs[on].0));
        }
        let vlan_bits = inp.u16();
        let tag = inp.u16();
        for port in 1..=gre_port {
            let b = (vlan_bits >> (3 * (port - 1))) as u8;
            sw.set_port_vlan(port, Rig::vlan(b, tag));
        }
        let (b, key) = (inp.u8(), inp.u32());
        let remote = match inp.u32().to_le_bytes() {
            [0, 0, 0, 0] => REMOTE,
            a => Ipv4Addr::from(a),
        };
        let gre = gre::config(b, key, remote);
        let mtu = usize::from(inp.u16());
        Rig {
            sw,
            fdbs,
            gre_port,
            gre,
            mtu,
        }
    }

    /// The FDB bounds and contents.
    fn check_fdbs(&self, now_secs: u32) {
        for (bid, fdb) in &self.fdbs {
            let st = fdb.stats();
            assert!(st.current <= st.max, "FDB over its bound: {st:?}");
            let snap = fdb.snapshot(now_secs);
            assert_eq!(snap.len(), st.current, "count matches the table");
            for e in snap {
                assert!(!e.mac.is_multicast() && !e.mac.is_zero(), "learned {e:?}");
                assert_eq!(
                    self.sw.bridge_of(e.port),
                    Some(*bid),
                    "{e:?} on a foreign port"
                );
            }
        }
    }

    /// Receive one burst on `port` from the program and run it through the switch.
    fn burst(
        &mut self,
        inp: &mut Input,
        port: PortNo,
        now_ms: u64,
        pool: &mut PacketPool,
        scratch: &mut Packet,
    ) {
        let count = 1 + usize::from(inp.u8()) % BATCH_SIZE;
        let mut batch = Batch::new();
        for _ in 0..count {
            let len = usize::from(inp.u16()) % (MAX_FRAME + 1);
            let bytes = inp.bytes(len);
            let Some(mut p) = pool.get() else { break };
            assert!(p.set_frame(bytes), "len <= MAX_FRAME");
            if port == self.gre_port {
                // What the GRE port does on receive.
                match gre::decap_checked(p.data(), &self.gre) {
                    Ok(d) => {
                        assert!(p.pull_front(d.inner.start));
                        p.truncate(d.inner.len());
                        p.meta.tunnel = Some(d.meta);
                    }
                    Err(_) => {
                        pool.put(p);
                        continue;
                    }
                }
            }
            p.meta.in_port = port;
            if batch.push(p).is_err() {
                unreachable!("at most BATCH_SIZE frames per burst");
            }
        }
        let n_in = batch.len();
        let ingress_bridge = self.sw.bridge_of(port);
        let before = self.sw.counters;
        let mut out = Outputs::new();
        self.sw.process(&mut batch, now_ms, pool, &mut out);
        assert!(batch.is_empty(), "process empties the batch");
        let c = self.sw.counters;
        let outcomes = (c.unicast - before.unicast)
            + (c.flooded - before.flooded)
            + (c.total_drops() - before.total_drops());
        assert_eq!(c.frames - before.frames, n_in as u64);
        assert!(
            outcomes >= n_in as u64,
            "a frame vanished from the counters"
        );
        let bound = n_in * usize::from(self.gre_port);
        assert!(
            out.pending() <= bound,
            "{} out for {n_in} in",
            out.pending()
        );
        for &q in out.active_ports() {
            assert_ne!(q, port, "frame sent back out of its ingress port");
            assert_eq!(
                self.sw.bridge_of(q),
                ingress_bridge,
                "frame crossed bridges"
            );
        }
        let (gre_port, gre, mtu) = (self.gre_port, self.gre, self.mtu);
        out.flush(pool, |q, b, pool| {
            for p in b.drain() {
                assert!(p.len() <= MAX_FRAME);
                if q == gre_port {
                    gre::transmit(p.data(), &gre, mtu, scratch);
                }
                pool.put(p);
            }
        });
        assert_eq!(out.pending(), 0);
    }

    /// Apply one reconfiguration chosen by the program.
    fn reconfigure(&mut self, inp: &mut Input) {
        let what = inp.u8();
        let port = 1 + PortNo::from(inp.u8()) % self.gre_port;
        let bridge = self.fdbs[usize::from(what >> 4) % self.fdbs.len()].0;
        match what % 6 {
            0 => self.sw.remove_port(port),
            1 => {
                assert!(self.sw.add_port(port, bridge));
            }
            2 => {
                let tag = inp.u16();
                self.sw.set_port_vlan(port, Rig::vlan(what >> 3, tag));
            }
            3 => {
                for (_, f) in &self.fdbs {
                    f.flush();
                }
            }
            4 => self.sw.revalidate_all(),
            _ => self.sw.flows.clear(),
        }
    }
}

/// The `pipeline` target.
pub fn pipeline(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut rig = Rig::new(&mut inp);
    POOL_CELL.with(|cell| {
        let (pool, scratch) = &mut *cell.borrow_mut();
        assert_eq!(pool.available(), pool.size());
        let mut now_ms: u64 = 0;
        let mut ops = 0;
        while !inp.is_empty() && ops < 256 {
            ops += 1;
            let op = inp.u8();
            match op % 8 {
                0..=4 => {
                    // Ports 0 and gre_port + 1 are unknown to the switch.
                    let port = PortNo::from(inp.u8()) % (rig.gre_port + 2);
                    rig.burst(&mut inp, port, now_ms, pool, scratch);
                    assert_eq!(pool.available(), pool.size(), "a buffer leaked");
                    rig.check_fdbs((now_ms / 1000) as u32);
                }
                5 => now_ms += u64::from(inp.u16()) * 10,
                6 => {
                    let secs = (now_ms / 1000) as u32;
                    for (_, f) in &rig.fdbs {
                        f.expire(secs);
                    }
                    rig.sw.flows.expire(now_ms);
                    rig.check_fdbs(secs);
                }
                _ => rig.reconfigure(&mut inp),
            }
        }
    });
}
