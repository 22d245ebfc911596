//! The kernel fast path: flows the flow cache decided to send to one port are pushed into a
//! BPF map that a tc (TCX) program on the ports' netdevs reads, so their frames are
//! redirected inside the kernel — the skb as it is, GSO super-frames included — instead of
//! being copied into rvs and out again. It is what OVS's kernel datapath and TC offload do for
//! megaflows (`other_config:hw-offload=true`), with BPF because this kernel has no cls_flower.
//!
//! # What is offloaded
//! The flow cache stays the one source of truth. A flow is offloaded only when
//! `Switch::offload_plan` says so: a settled single-output decision (no flood, drop, tunnel
//! or double tag), with its source still learned on its ingress port, and both ports hooked
//! (system ports on AF_PACKET, internal and TAP ports). The entry's key is exactly the flow
//! key (ingress ifindex, MACs, outer TCI, EtherType); its action is the output netdev, how to
//! enter it, and the tag edit (`vlan::TagEdit`) userspace would apply.
//!
//! # Where the program sits
//! - system port (a veth): ingress of its netdev; output = transmit on it (`bpf_redirect`),
//!   so the veth's peer receives it. rvs's AF_PACKET socket sees ingress frames before tc
//!   runs, so a socket filter (same key, same map) drops the offloaded ones before the kernel
//!   copies them into rvs's ring.
//! - internal/TAP port: egress of its netdev (what the host stack sends into the switch);
//!   output = receive on it (`BPF_F_INGRESS`), as if rvs had written it to the TAP.
//!
//! # Ownership and revalidation
//! Each PMD's `Offloader` owns the entries of the flows in its own cache (a port is received
//! by one PMD, and the key holds the ingress port, so entries never overlap). It re-decides
//! every entry with `Switch::offload_plan` whenever a generation the decisions depend on
//! changed (`Switch::generations`: port, bridge and VLAN changes, and every FDB learn, move,
//! expiry and flush) — after each burst it processes, on its control messages (port removal
//! and VLAN changes take effect before the control thread's barrier returns), and on a
//! `REVALIDATE_EVERY` timer otherwise. So a MAC move, once learned, reaches the kernel within
//! `REVALIDATE_EVERY` (10 ms), at once when the PMD that learned it owns the entries.
//!
//! # Counters and learning
//! Once a second (`Offloader::sync`) every entry's kernel counters are read: the deltas go
//! into the flow's statistics (so `dpctl/dump-flows` shows the whole flow), into the ports'
//! rx/tx counters (`FastPath::port_stats`), and a flow that moved frames refreshes its source
//! in the FDB, as OVS's revalidators do, so hosts that only talk over offloaded flows do not
//! age out. Entries of flows the cache expired are removed then too.
//!
//! # Lifetime
//! Attachments are TCX links held by file descriptors (`bpf`): removing a port or stopping
//! rvs detaches its program, and so does the kernel when rvs dies, even by `kill -9`.

#[cfg(feature = "fastpath")]
mod bpf;
#[cfg(not(feature = "fastpath"))]
#[path = "nobpf.rs"]
mod bpf;

pub use bpf::{set_socket_filter, tcx_programs};

use crate::fdb::MAX_PORTS;
use crate::flow::FlowKey;
use crate::pipeline::{PortNo, Switch};
use crate::vlan::TagEdit;
use std::collections::HashMap;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// How often a PMD with offloaded flows re-checks the generations when no frame arrives.
pub const REVALIDATE_EVERY: Duration = Duration::from_millis(10);
/// How often kernel counters are read into flows, ports and the FDB.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Where the fast path hooks a port's netdev.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookDir {
    /// Frames enter the switch on the netdev's ingress (a system port); the switch outputs to
    /// it by transmitting on it.
    Ingress,
    /// Frames enter the switch on the netdev's egress (a TAP port rvs reads); the switch
    /// outputs to it by receiving on it.
    Egress,
}

/// A port's netdev as the fast path sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortHook {
    pub ifindex: u32,
    pub dir: HookDir,
}

impl PortHook {
    /// The hook of netdev `name` last known as `ifindex`, if that is still what the name means
    /// in rvs's network namespace: `None` once the netdev was deleted, or moved into another
    /// namespace (an internal port handed to a container), where the ifindex in an entry would
    /// name some other device.
    pub fn checked(name: &str, ifindex: u32, dir: HookDir) -> Option<PortHook> {
        (crate::port::linux::if_index(name).ok()? == ifindex).then_some(PortHook { ifindex, dir })
    }
}

/// A program attached to a port's netdev; dropping it detaches the program.
#[derive(Debug)]
pub struct Attachment {
    _link: OwnedFd,
    hook: PortHook,
}

impl Attachment {
    /// Where it is attached.
    pub fn hook(&self) -> PortHook {
        self.hook
    }
}

/// Per-port traffic the kernel forwarded, as rvs's port counters count it (rx: into the
/// switch from this port; tx: out of the switch to it).
#[derive(Debug, Default)]
struct PortCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
}

/// Named counters for `coverage/show`.
#[derive(Debug, Default)]
struct Counters {
    added: AtomicU64,
    modified: AtomicU64,
    removed: AtomicU64,
    add_failed: AtomicU64,
    vlan_errors: AtomicU64,
}

/// The loaded fast path, shared by the control thread (attachments, counters) and the PMDs
/// (their `Offloader`s).
#[derive(Debug)]
pub struct FastPath {
    bpf: bpf::Loaded,
    ports: Box<[PortCounters]>,
    counters: Counters,
}

impl FastPath {
    /// Load the BPF programs; `Err` says why the datapath must run without them.
    pub fn load() -> Result<Arc<FastPath>, String> {
        Ok(Arc::new(FastPath {
            bpf: bpf::Loaded::load()?,
            ports: (0..MAX_PORTS).map(|_| PortCounters::default()).collect(),
            counters: Counters::default(),
        }))
    }

    /// Attach the tc program to a port's netdev.
    pub fn attach(&self, hook: PortHook) -> io::Result<Attachment> {
        let link = self
            .bpf
            .attach_tcx(hook.ifindex, hook.dir == HookDir::Egress)?;
        Ok(Attachment { _link: link, hook })
    }

    /// The socket filter to attach to a system port's packet socket (`set_socket_filter`).
    pub fn socket_filter(&self) -> BorrowedFd<'_> {
        self.bpf.socket_filter()
    }

    /// Traffic the fast path forwarded from (rx) and to (tx) a port.
    pub fn port_stats(&self, port: PortNo) -> crate::port::PortStats {
        self.ports
            .get(usize::from(port))
            .map(|c| crate::port::PortStats {
                rx_packets: c.rx_packets.load(Relaxed),
                rx_bytes: c.rx_bytes.load(Relaxed),
                tx_packets: c.tx_packets.load(Relaxed),
                tx_bytes: c.tx_bytes.load(Relaxed),
                ..Default::default()
            })
            .unwrap_or_default()
    }

    /// Zero a port's counters (its number is being given to a new port).
    pub fn reset_port(&self, port: PortNo) {
        if let Some(c) = self.ports.get(usize::from(port)) {
            for a in [&c.rx_packets, &c.rx_bytes, &c.tx_packets, &c.tx_bytes] {
                a.store(0, Relaxed);
            }
        }
    }

    /// Named counters for `coverage/show`.
    pub fn coverage(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        vec![
            ("fastpath_flow_add", c.added.load(Relaxed)),
            ("fastpath_flow_mod", c.modified.load(Relaxed)),
            ("fastpath_flow_del", c.removed.load(Relaxed)),
            ("fastpath_flow_add_failed", c.add_failed.load(Relaxed)),
            ("fastpath_vlan_error", c.vlan_errors.load(Relaxed)),
        ]
    }

    fn credit(&self, in_port: PortNo, out_port: PortNo, packets: u64, bytes: u64) {
        if let Some(c) = self.ports.get(usize::from(in_port)) {
            c.rx_packets.fetch_add(packets, Relaxed);
            c.rx_bytes.fetch_add(bytes, Relaxed);
        }
        if let Some(c) = self.ports.get(usize::from(out_port)) {
            c.tx_packets.fetch_add(packets, Relaxed);
            c.tx_bytes.fetch_add(bytes, Relaxed);
        }
    }
}

/// The map key (`struct fp_key` in bpf/fastpath.bpf.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    ifindex: u32,
    tci: Option<u16>,
    dst: [u8; 6],
    src: [u8; 6],
    eth_type: u16,
}

const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 56;

impl Key {
    fn bytes(&self) -> [u8; KEY_LEN] {
        let mut b = [0u8; KEY_LEN];
        b[0..4].copy_from_slice(&self.ifindex.to_ne_bytes());
        b[4..6].copy_from_slice(&self.tci.unwrap_or(0).to_ne_bytes());
        b[6] = u8::from(self.tci.is_some());
        b[8..14].copy_from_slice(&self.dst);
        b[14..20].copy_from_slice(&self.src);
        b[20..22].copy_from_slice(&self.eth_type.to_ne_bytes());
        b
    }
}

/// What the program does with a hit (the first 16 bytes of `struct fp_value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Action {
    ifindex: u32,
    /// 0: transmit on the netdev; 1: receive on it (`BPF_F_INGRESS`).
    redirect: u16,
    /// 0 keep, 1 pop, 2 push, 3 set (`enum fp_vlan_op`).
    vlan_op: u16,
    tci: u16,
}

impl Action {
    fn new(to: PortHook, edit: TagEdit, in_tci: Option<u16>) -> Action {
        let (vlan_op, tci) = match edit {
            TagEdit::Keep => (0, 0),
            TagEdit::Pop => (1, 0),
            TagEdit::Push(vid) => (2, vid),
            TagEdit::SetVid(vid) => (3, (in_tci.unwrap_or(0) & 0xf000) | vid),
        };
        Action {
            ifindex: to.ifindex,
            redirect: u16::from(to.dir == HookDir::Egress),
            vlan_op,
            tci,
        }
    }
}

/// The kernel's counters of an entry (the rest of `struct fp_value`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    packets: u64,
    bytes: u64,
    used_ns: u64,
    tcp_flags: u64,
    errors: u64,
}

fn value_bytes(a: &Action, c: &Counts) -> [u8; VALUE_LEN] {
    let mut b = [0u8; VALUE_LEN];
    b[0..4].copy_from_slice(&a.ifindex.to_ne_bytes());
    b[4..6].copy_from_slice(&a.redirect.to_ne_bytes());
    b[6..8].copy_from_slice(&a.vlan_op.to_ne_bytes());
    b[8..10].copy_from_slice(&a.tci.to_ne_bytes());
    for (i, v) in [c.packets, c.bytes, c.used_ns, c.tcp_flags, c.errors]
        .into_iter()
        .enumerate()
    {
        b[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_ne_bytes());
    }
    b
}

fn counts_of(b: &[u8]) -> Option<Counts> {
    let word = |i: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(
            b.get(16 + 8 * i..24 + 8 * i)?.try_into().ok()?,
        ))
    };
    Some(Counts {
        packets: word(0)?,
        bytes: word(1)?,
        used_ns: word(2)?,
        tcp_flags: word(3)?,
        errors: word(4)?,
    })
}

/// An entry a PMD installed.
#[derive(Debug, Clone, Copy)]
struct Installed {
    key: Key,
    action: Action,
    in_port: PortNo,
    out_port: PortNo,
    /// Kernel counters already credited to the flow and the ports.
    seen: Counts,
}

/// One PMD's offloaded flows (see the module doc).
#[derive(Debug)]
pub struct Offloader {
    fp: Arc<FastPath>,
    hooks: Vec<Option<PortHook>>,
    installed: HashMap<FlowKey, Installed, ahash::RandomState>,
    generations: Vec<u64>,
    scratch: Vec<u64>,
    keys: Vec<FlowKey>,
}

impl Offloader {
    pub fn new(fp: Arc<FastPath>) -> Offloader {
        Offloader {
            fp,
            hooks: Vec::new(),
            installed: HashMap::with_hasher(ahash::RandomState::new()),
            generations: Vec::new(),
            scratch: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// The fast path this offloader writes to.
    pub fn fast_path(&self) -> &Arc<FastPath> {
        &self.fp
    }

    /// Number of offloaded flows.
    pub fn len(&self) -> usize {
        self.installed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
    }

    /// A port's hook (`None`: the port is not hooked, flows from or to it stay in userspace).
    /// The caller re-decides the entries (`revalidate`) after changing one.
    pub fn set_hook(&mut self, port: PortNo, hook: Option<PortHook>) {
        let i = usize::from(port);
        if i >= self.hooks.len() {
            self.hooks.resize(i + 1, None);
        }
        self.hooks[i] = hook;
    }

    /// The ports hooked now, with their hooks.
    pub fn hooked(&self) -> impl Iterator<Item = (PortNo, PortHook)> + '_ {
        self.hooks
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.map(|h| (i as PortNo, h)))
    }

    fn hook(&self, port: PortNo) -> Option<PortHook> {
        self.hooks.get(usize::from(port)).copied().flatten()
    }

    /// The entry for `key` as the switch would decide it now, if it may be offloaded.
    fn plan(&self, sw: &Switch, key: &FlowKey) -> Option<(Key, Action, PortNo)> {
        let from = self.hook(key.in_port)?;
        let plan = sw.offload_plan(key)?;
        let to = self.hook(plan.out)?;
        let k = Key {
            ifindex: from.ifindex,
            tci: key.vlan_tci,
            dst: key.dst.0,
            src: key.src.0,
            eth_type: key.eth_type,
        };
        Some((k, Action::new(to, plan.edit, key.vlan_tci), plan.out))
    }

    /// After a burst, and on the PMD's timer: re-decide the entries if a generation changed,
    /// then take over the flows `classify` proposed.
    pub fn run(&mut self, sw: &mut Switch, now_ms: u64) {
        sw.generations(&mut self.scratch);
        if self.scratch != self.generations {
            core::mem::swap(&mut self.scratch, &mut self.generations);
            self.revalidate(sw, now_ms);
        }
        let Some(mut wanted) = sw.offload_wanted.take() else {
            return;
        };
        for key in wanted.drain(..) {
            if self.installed.contains_key(&key) || !sw.flows.contains(&key) {
                continue;
            }
            if let Some((k, action, out_port)) = self.plan(sw, &key) {
                self.install(sw, key, k, action, out_port);
            }
        }
        sw.offload_wanted = Some(wanted);
    }

    fn install(&mut self, sw: &mut Switch, key: FlowKey, k: Key, action: Action, out: PortNo) {
        let zero = Counts::default();
        if self
            .fp
            .bpf
            .update(&k.bytes(), &value_bytes(&action, &zero))
            .is_err()
        {
            self.fp.counters.add_failed.fetch_add(1, Relaxed);
            return;
        }
        self.fp.counters.added.fetch_add(1, Relaxed);
        self.installed.insert(
            key,
            Installed {
                key: k,
                action,
                in_port: key.in_port,
                out_port: out,
                seen: zero,
            },
        );
        if let Some(f) = sw.flows.get_mut(&key) {
            f.offloaded = true;
        }
    }

    /// Re-decide every entry now: remove those that may no longer be offloaded, rewrite those
    /// whose action changed. Called on generation changes and port changes.
    pub fn revalidate(&mut self, sw: &mut Switch, now_ms: u64) {
        self.each(sw, |o, sw, key| {
            let Some(inst) = o.installed.get(key).copied() else {
                return;
            };
            match o.plan(sw, key) {
                Some((k, action, out)) if k == inst.key => {
                    if action != inst.action || out != inst.out_port {
                        o.modify(sw, key, action, out, now_ms);
                    }
                }
                _ => o.remove(sw, key, now_ms),
            }
        });
    }

    /// Run `f` on the flow key of every entry (`f` may remove or rewrite entries).
    fn each(&mut self, sw: &mut Switch, mut f: impl FnMut(&mut Offloader, &mut Switch, &FlowKey)) {
        let mut keys = core::mem::take(&mut self.keys);
        keys.clear();
        keys.extend(self.installed.keys().copied());
        for key in &keys {
            f(self, sw, key);
        }
        self.keys = keys;
    }

    /// Read an entry's kernel counters and credit what is new to its flow, its ports and the
    /// FDB. Returns the counters read (`None`: the entry is gone).
    fn credit(&mut self, sw: &mut Switch, key: &FlowKey, now_ms: u64) -> Option<Counts> {
        let inst = self.installed.get_mut(key)?;
        let now = self
            .fp
            .bpf
            .lookup(&inst.key.bytes())
            .ok()
            .flatten()
            .and_then(|v| counts_of(&v))?;
        let packets = now.packets.saturating_sub(inst.seen.packets);
        let bytes = now.bytes.saturating_sub(inst.seen.bytes);
        let errors = now.errors.saturating_sub(inst.seen.errors);
        if errors > 0 {
            self.fp.counters.vlan_errors.fetch_add(errors, Relaxed);
        }
        if packets > 0 {
            self.fp.credit(inst.in_port, inst.out_port, packets, bytes);
            let age_ms = monotonic_ns().saturating_sub(now.used_ns) / 1_000_000;
            if let Some(f) = sw.flows.get_mut(key) {
                f.stats.packets += packets;
                f.stats.bytes += bytes;
                f.stats.used_ms = f.stats.used_ms.max(now_ms.saturating_sub(age_ms));
                f.stats.tcp_flags |= now.tcp_flags as u8;
            }
            sw.refresh_source(key, (now_ms / 1000) as u32);
        }
        inst.seen = now;
        Some(now)
    }

    fn modify(&mut self, sw: &mut Switch, key: &FlowKey, action: Action, out: PortNo, now_ms: u64) {
        // Credit the old output first, then carry the counters over so none is counted twice.
        let counts = self.credit(sw, key, now_ms).unwrap_or_default();
        let Some(inst) = self.installed.get_mut(key) else {
            return;
        };
        if self
            .fp
            .bpf
            .update(&inst.key.bytes(), &value_bytes(&action, &counts))
            .is_err()
        {
            self.remove(sw, key, now_ms);
            return;
        }
        inst.action = action;
        inst.out_port = out;
        self.fp.counters.modified.fetch_add(1, Relaxed);
    }

    fn remove(&mut self, sw: &mut Switch, key: &FlowKey, now_ms: u64) {
        self.credit(sw, key, now_ms);
        if let Some(inst) = self.installed.remove(key) {
            let _ = self.fp.bpf.delete(&inst.key.bytes());
            self.fp.counters.removed.fetch_add(1, Relaxed);
        }
        if let Some(f) = sw.flows.get_mut(key) {
            f.offloaded = false;
        }
    }

    /// Once a second: kernel counters into flows, ports and the FDB; entries whose flow the
    /// cache no longer holds (expired, deleted) are removed.
    pub fn sync(&mut self, sw: &mut Switch, now_ms: u64) {
        self.each(sw, |o, sw, key| {
            if sw.flows.contains(key) {
                o.credit(sw, key, now_ms);
            } else {
                o.remove(sw, key, now_ms);
            }
        });
    }

    /// Remove the entries whose flow the cache no longer holds (after `FlowCache::expire`).
    pub fn prune(&mut self, sw: &mut Switch, now_ms: u64) {
        self.each(sw, |o, sw, key| {
            if !sw.flows.contains(key) {
                o.remove(sw, key, now_ms);
            }
        });
    }

    /// Remove every entry (the fast path is being turned off, or the flows deleted).
    pub fn clear(&mut self, sw: &mut Switch, now_ms: u64) {
        self.each(sw, |o, sw, key| o.remove(sw, key, now_ms));
    }
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns` reads.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_layout_match_the_c_structs() {
        let k = Key {
            ifindex: 7,
            tci: Some(0xa00a),
            dst: [1, 2, 3, 4, 5, 6],
            src: [7, 8, 9, 10, 11, 12],
            eth_type: 0x0800,
        };
        let b = k.bytes();
        assert_eq!(&b[0..4], &7u32.to_ne_bytes());
        assert_eq!(&b[4..6], &0xa00au16.to_ne_bytes());
        assert_eq!((b[6], b[7]), (1, 0));
        assert_eq!(&b[8..14], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&b[14..20], &[7, 8, 9, 10, 11, 12]);
        assert_eq!(&b[20..22], &0x0800u16.to_ne_bytes());
        assert_eq!(&b[22..24], &[0, 0]);
        let untagged = Key { tci: None, ..k }.bytes();
        assert_eq!(&untagged[4..8], &[0, 0, 0, 0]);

        let tap = PortHook {
            ifindex: 9,
            dir: HookDir::Egress,
        };
        let a = Action::new(tap, TagEdit::SetVid(20), Some(0xa00a));
        assert_eq!((a.redirect, a.vlan_op, a.tci), (1, 3, 0xa014));
        let c = Counts {
            packets: 3,
            bytes: 300,
            used_ns: 5,
            tcp_flags: 0x12,
            errors: 1,
        };
        let v = value_bytes(&a, &c);
        assert_eq!(&v[0..4], &9u32.to_ne_bytes());
        assert_eq!(counts_of(&v), Some(c));
        assert_eq!(counts_of(&v[..40]), None, "a short value is not read");
    }
}
