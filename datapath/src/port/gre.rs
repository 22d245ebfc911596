//! GRE tunnel port: a `Port` whose frames travel inside GRE to `options:remote_ip`, done in
//! userspace over a raw IPv4 socket for protocol 47 (the kernel routes and resolves the
//! underlay neighbour; it has no GRE of its own here). The NORMAL pipeline treats it like any
//! port: it learns remote MACs on it and floods to it. Header logic is in `crate::tunnel`.
//!
//! Transmit, per frame: `offload::prepare_tx` (a raw socket takes no vnet header, so partial
//! checksums are completed and GSO super-frames segmented in software), then the MTU decision
//! against the underlay path MTU (`tunnel::tx_decision`), then encapsulation in place in the
//! headroom and a batched `sendmmsg` with `IP_HDRINCL` (the outer header is ours, byte for
//! byte as OVS writes it; the kernel only fills in a zero source address, and re-checksums).
//! A frame that does not fit: inner IPv4 with DF gets an ICMP "fragmentation needed" and
//! inner IPv6 an ICMPv6 "packet too big" (one per original frame, built like Linux does for
//! bridged tunnels, see `tunnel::build_icmp_too_big`); the reply is queued in port-owned
//! buffers and handed to the bridge by the next `rx_burst`, as if it had come out of the
//! tunnel, so it reaches the sender through NORMAL. With `df_default=false` other frames are
//! sent as outer IPv4 fragments cut in software (`IP_HDRINCL` never fragments: an oversized
//! send fails with `EMSGSIZE`). Everything else that does not fit is dropped and counted.
//!
//! Path MTU and source address: a throw-away UDP socket connected to `remote_ip` (bound to
//! `local_ip` when set) reports the route MTU (`IP_MTU`, which includes PMTU learned from the
//! underlay) and the source address the kernel would pick; re-read at open, every second
//! while transmitting, and after `EMSGSIZE`.
//!
//! Receive: `recvmmsg` straight into packet buffers; `tunnel::decap` checks source, key,
//! version, flags, protocol and checksum; the outer headers are stripped with `pull_front`
//! and the inner frame is delivered with `meta.in_port` and `meta.tunnel` set.
//!
//! Demultiplexing: one raw socket per port. Every raw GRE socket of a netns receives every
//! GRE packet, so each port filters by source (and `local_ip`) and key. A packet refused by
//! one port for a reason that another GRE port of the same netns would accept (its remote,
//! its key) is counted as `gre_not_this_tunnel`, not as a hostile drop; ports learn about
//! each other through a process-wide registry that they re-read only when it changes (one
//! atomic load on the drop path). A shared per-netns socket with a demux table would save the
//! per-port copies when there are many tunnels; with a handful of tunnels the kernel's copy
//! per socket is cheap and the ports stay independent (any PMD may own any of them).
//!
//! While such a socket is open the kernel sends no ICMP protocol-unreachable for GRE (it
//! does when none is open); measured in `control/tests/gre.rs`.
//!
//! Invariants: no allocation per packet (ICMP replies live in port-owned slots; fragment
//! headers in a port-owned array); every frame handed to `tx_burst` is sent or counted; no
//! panic on any received bytes. Thread-safety: owned by one PMD at a time like every port;
//! the registry is a `Mutex` touched only at open/close and on a generation change.

use super::linux::{self, setopt};
use super::tunio::{IcmpQueue, Route, TxCounters};
use super::{Port, PortStats};
use crate::gro::{self, GroCounters};
use crate::offload::{self, OffloadCounters};
use crate::packet::{Batch, Packet, PacketPool, BATCH_SIZE, MAX_FRAME};
use crate::tunnel::{self, TunnelConfig, TunnelDrop, TunnelKind, TxDecision, OUTER_IP_LEN};
use core::net::Ipv4Addr;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Socket buffer size asked for (root may exceed rmem_max).
const SOCK_BUF: libc::c_int = 8 << 20;
/// Most outer fragments one frame may be cut into.
const FRAG_MAX: usize = 48;

/// A GRE tunnel port.
pub struct GrePort {
    name: String,
    port_no: u16,
    cfg: TunnelConfig,
    fd: Option<OwnedFd>,
    error: Option<String>,
    /// Underlay path MTU and outer source address.
    route: Route,
    /// Outer IPv4 id for fragmented (DF clear) packets.
    ident: u16,
    stats: PortStats,
    drops: [u64; TunnelDrop::ALL.len()],
    tx: TxCounters,
    offload: OffloadCounters,
    /// Receive coalescing of decapsulated TCP segments.
    gro: GroCounters,
    /// Encapsulated frames waiting for `sendmmsg`.
    txq: Batch,
    /// ICMP replies for frames that did not fit, with the PMD wake-up (`poll_fd`).
    icmp: IcmpQueue,
    frag_hdrs: [[u8; OUTER_IP_LEN]; FRAG_MAX],
    reg: Registration,
}

impl core::fmt::Debug for GrePort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GrePort")
            .field("name", &self.name)
            .field("port_no", &self.port_no)
            .field("cfg", &self.cfg)
            .field("route", &self.route)
            .field("error", &self.error)
            .finish()
    }
}

// ---- registry of the GRE ports of this process, for demultiplexing ----

#[derive(Debug, Clone, Copy)]
struct Claim {
    id: u64,
    netns: u64,
    cfg: TunnelConfig,
}

static CLAIMS: Mutex<Vec<Claim>> = Mutex::new(Vec::new());
static CLAIMS_GEN: AtomicU64 = AtomicU64::new(1);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// This port's entry in the registry and its cached view of the other ports.
#[derive(Debug)]
struct Registration {
    id: u64,
    netns: u64,
    seen_gen: u64,
    others: Vec<TunnelConfig>,
}

fn claims() -> std::sync::MutexGuard<'static, Vec<Claim>> {
    CLAIMS.lock().unwrap_or_else(|e| e.into_inner())
}

fn netns_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}

impl Registration {
    fn new(cfg: TunnelConfig) -> Registration {
        let r = Registration {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            netns: netns_id(),
            seen_gen: 0,
            others: Vec::new(),
        };
        claims().push(Claim {
            id: r.id,
            netns: r.netns,
            cfg,
        });
        CLAIMS_GEN.fetch_add(1, Ordering::Release);
        r
    }

    /// True when another GRE port of this netns would take `pkt`.
    fn claimed_by_other(&mut self, pkt: &[u8]) -> bool {
        let gen = CLAIMS_GEN.load(Ordering::Acquire);
        if gen != self.seen_gen {
            self.others = claims()
                .iter()
                .filter(|c| c.id != self.id && c.netns == self.netns)
                .map(|c| c.cfg)
                .collect();
            self.seen_gen = gen;
        }
        if self.others.is_empty() {
            return false;
        }
        tunnel::peek(pkt).is_some_and(|(s, d, k)| self.others.iter().any(|c| c.accepts(s, d, k)))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        claims().retain(|c| c.id != self.id);
        CLAIMS_GEN.fetch_add(1, Ordering::Release);
    }
}

/// The raw GRE socket: non-blocking, `IP_HDRINCL`, big buffers, bound to `local_ip` if set.
fn open_raw(local: Option<Ipv4Addr>) -> io::Result<OwnedFd> {
    let fd = linux::inet_socket(libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::IPPROTO_GRE)?;
    let raw = fd.as_raw_fd();
    setopt(raw, libc::IPPROTO_IP, libc::IP_HDRINCL, 1)?;
    let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCK_BUF);
    let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SOCK_BUF);
    if let Some(l) = local {
        linux::bind_to(raw, &linux::sockaddr_in(l, 0))?;
    }
    Ok(fd)
}

/// Open a GRE tunnel port named `name` with the interface's `options`. Bad options fail
/// with `InvalidInput` naming the option; a raw socket that cannot be created leaves a port
/// that reports `error()` and drops what it is given.
pub fn open(
    name: &str,
    options: &BTreeMap<String, String>,
    port_no: u16,
) -> io::Result<Box<dyn Port>> {
    Ok(Box::new(GrePort::open(name, options, port_no)?))
}

impl GrePort {
    /// See [`open`].
    pub fn open(
        name: &str,
        options: &BTreeMap<String, String>,
        port_no: u16,
    ) -> io::Result<GrePort> {
        let cfg = TunnelConfig::from_options(TunnelKind::Gre, options)
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
        let (fd, error) = match open_raw(cfg.local_ip) {
            Ok(fd) => (Some(fd), None),
            Err(e) => (
                None,
                Some(format!("{name}: could not open GRE socket ({e})")),
            ),
        };
        let p = GrePort {
            name: name.to_string(),
            port_no,
            cfg,
            icmp: IcmpQueue::new(
                &fd.as_ref()
                    .map(|f| f.as_raw_fd())
                    .into_iter()
                    .collect::<Vec<_>>(),
            ),
            fd,
            error,
            route: Route::new(&cfg),
            ident: 1,
            stats: PortStats::default(),
            drops: [0; TunnelDrop::ALL.len()],
            tx: TxCounters::default(),
            offload: OffloadCounters::default(),
            gro: GroCounters::default(),
            txq: Batch::new(),
            frag_hdrs: [[0; OUTER_IP_LEN]; FRAG_MAX],
            reg: Registration::new(cfg),
        };
        Ok(p)
    }

    /// The tunnel configuration.
    pub fn config(&self) -> &TunnelConfig {
        &self.cfg
    }

    /// The underlay path MTU last read.
    pub fn path_mtu(&self) -> usize {
        self.route.mtu
    }

    /// Per-reason counters (receive drops, MTU handling, software offloads), for
    /// `coverage/show`: `(name, value)` pairs in a fixed order, zeros included.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = TunnelDrop::ALL
            .iter()
            .map(|d| (d.name(TunnelKind::Gre), self.drops[d.index()]))
            .collect();
        let o = &self.offload;
        v.extend(self.tx.named(&[
            "gre_tx_too_big",
            "gre_tx_icmp_frag_needed",
            "gre_tx_icmp6_packet_too_big",
            "gre_tx_icmp_queue_full",
            "gre_tx_fragmented",
            "gre_tx_no_route",
            "gre_tx_encap_error",
        ]));
        v.extend([
            ("gre_tx_csum_completed", o.csum_completed),
            ("gre_tx_gso_segmented", o.gso_segmented_frames),
            ("gre_tx_gso_segments", o.gso_segments_out),
            ("gre_tx_offload_drops", o.drops()),
            ("gre_rx_gro_superframes", self.gro.superframes),
            ("gre_rx_gro_segments", self.gro.segments),
        ]);
        v
    }

    /// One frame after software offloads: decide, encapsulate, stage (or answer / fragment
    /// / drop). `icmp_sent` limits ICMP replies to one per original frame.
    fn tx_one(&mut self, mut p: Packet, pool: &mut PacketPool, icmp_sent: &mut bool) {
        let decision = tunnel::tx_decision(p.data(), &self.cfg, self.route.mtu);
        match decision {
            TxDecision::Send | TxDecision::FragmentOuter => {
                let ident = self.ident;
                self.ident = self.ident.wrapping_add(1).max(1);
                if tunnel::encap(&mut p, &self.cfg, self.route.src, ident).is_err() {
                    self.tx.encap_error += 1;
                    self.stats.tx_dropped += 1;
                    pool.put(p);
                    return;
                }
                if decision == TxDecision::Send {
                    if let Err(p) = self.txq.push(p) {
                        pool.put(p); // cannot happen: flushed below when full
                    }
                    if self.txq.is_full() {
                        self.flush(pool);
                    }
                } else {
                    self.flush(pool);
                    self.send_fragments(&p);
                    pool.put(p);
                }
            }
            TxDecision::FragNeeded(_) | TxDecision::PacketTooBig(_) | TxDecision::Drop => {
                self.icmp
                    .refuse(p, decision, icmp_sent, &mut self.tx, &mut self.stats, pool);
            }
        }
    }

    /// The raw socket, while it is open.
    fn raw_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// After a `send_msgs`: follow up on its errors; returns how many went out.
    fn sent(&mut self, out: linux::SendOutcome) -> usize {
        if let Some(e) = out.last_errno {
            if self.tx.on_send_error(e, out.refused) {
                self.route.refresh(&self.cfg);
            }
        }
        out.sent
    }

    /// Send every staged frame, then return the buffers to `pool`.
    fn flush(&mut self, pool: &mut PacketPool) {
        let k = self.txq.len();
        if k == 0 {
            return;
        }
        let dst = linux::sockaddr_in(self.cfg.remote_ip, 0);
        // Everything read through `self` is read before the messages point into it.
        let fd = self.raw_fd();
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers) is valid.
        let mut iov: [libc::iovec; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        let mut bytes = [0usize; BATCH_SIZE];
        let hl = self.cfg.header_len();
        for (i, p) in self.txq.iter().enumerate() {
            let d = p.data();
            iov[i] = libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            };
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = (&dst as *const libc::sockaddr_in) as *mut libc::c_void;
            msgs[i].msg_hdr.msg_namelen =
                core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            bytes[i] = d.len().saturating_sub(hl);
        }
        // The messages point into the frames of `self.txq`; the call borrows only other
        // fields, and the queue is drained only after it.
        let out = send_msgs(fd, &mut msgs[..k], &bytes[..k], &mut self.stats);
        let sent = self.sent(out);
        self.stats.tx_packets += sent as u64;
        for p in self.txq.drain() {
            pool.put(p);
        }
    }

    /// Send an encapsulated packet (DF clear) as outer IPv4 fragments.
    fn send_fragments(&mut self, p: &Packet) {
        let pkt = p.data();
        let mut ranges = [(0usize, 0usize); FRAG_MAX];
        let mut k = 0;
        let hdrs = &mut self.frag_hdrs;
        let n = tunnel::fragment_outer(pkt, self.route.mtu, |h, r| {
            if k < FRAG_MAX {
                hdrs[k] = *h;
                ranges[k] = (r.start, r.end);
                k += 1;
            }
        });
        if n == 0 || n > FRAG_MAX {
            self.tx.too_big += 1;
            self.stats.tx_dropped += 1;
            return;
        }
        let dst = linux::sockaddr_in(self.cfg.remote_ip, 0);
        // Everything read through `self` is read before the messages point into it.
        let fd = self.raw_fd();
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers) is valid.
        let mut iov: [[libc::iovec; 2]; FRAG_MAX] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; FRAG_MAX] = unsafe { core::mem::zeroed() };
        let mut bytes = [0usize; FRAG_MAX];
        for i in 0..n {
            let body = &pkt[ranges[i].0..ranges[i].1];
            iov[i][0] = libc::iovec {
                iov_base: self.frag_hdrs[i].as_mut_ptr().cast(),
                iov_len: OUTER_IP_LEN,
            };
            iov[i][1] = libc::iovec {
                iov_base: body.as_ptr() as *mut libc::c_void,
                iov_len: body.len(),
            };
            msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
            msgs[i].msg_hdr.msg_iovlen = 2;
            msgs[i].msg_hdr.msg_name = (&dst as *const libc::sockaddr_in) as *mut libc::c_void;
            msgs[i].msg_hdr.msg_namelen =
                core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            bytes[i] = body.len();
        }
        // The messages point into `self.frag_hdrs`; the call borrows only other fields.
        let out = send_msgs(fd, &mut msgs[..n], &bytes[..n], &mut self.stats);
        let sent = self.sent(out);
        if sent == n {
            self.tx.fragmented += 1;
            self.stats.tx_packets += 1;
        } else {
            self.stats.tx_dropped += 1;
        }
    }
}

/// `sendmmsg` `msgs` on `fd` (none: the socket is closed, all dropped), counting into `stats`.
/// A free function over the fields it needs, not a `&mut self` method, because the messages
/// point into the port's own buffers (queued frames, fragment headers): a `&mut` borrow of
/// the whole port while those pointers are live would be unsound.
fn send_msgs(
    fd: Option<RawFd>,
    msgs: &mut [libc::mmsghdr],
    bytes: &[usize],
    stats: &mut PortStats,
) -> linux::SendOutcome {
    let Some(fd) = fd else {
        stats.tx_dropped += msgs.len() as u64;
        return linux::SendOutcome::default();
    };
    linux::sendmmsg_all(fd, msgs, bytes, stats, |_| false)
}

impl Port for GrePort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        let start = batch.len();
        let icmp = self.icmp.drain(self.port_no, pool, batch, &mut self.stats);
        let Some(fd) = self.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return icmp;
        };
        let mut slots: [Option<Packet>; BATCH_SIZE] = Default::default();
        let mut k = 0;
        while k < batch.room() {
            let Some(p) = pool.get() else { break };
            slots[k] = Some(p);
            k += 1;
        }
        if k == 0 {
            return icmp;
        }
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero (null pointers) is valid.
        let mut iov: [libc::iovec; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH_SIZE] = unsafe { core::mem::zeroed() };
        for (i, p) in slots[..k].iter_mut().flatten().enumerate() {
            let area = p.rx_area();
            iov[i] = libc::iovec {
                iov_base: area.as_mut_ptr().cast(),
                iov_len: area.len().min(MAX_FRAME),
            };
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let got = linux::recvmmsg_batch(fd, &mut msgs[..k]).unwrap_or_else(|_| {
            self.stats.rx_errors += 1;
            0
        });
        for (i, slot) in slots[..k].iter_mut().enumerate() {
            let Some(mut p) = slot.take() else { continue };
            if i >= got {
                pool.put(p);
                continue;
            }
            if msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.drops[TunnelDrop::Truncated.index()] += 1;
                self.stats.rx_dropped += 1;
                pool.put(p);
                continue;
            }
            p.set_len(msgs[i].msg_len as usize);
            match tunnel::decap(p.data(), &self.cfg) {
                Ok(d) => {
                    p.pull_front(d.inner.start);
                    p.truncate(d.inner.len());
                    p.meta.in_port = self.port_no;
                    p.meta.tunnel = Some(d.meta);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += p.len() as u64;
                    if let Err(p) = batch.push(p) {
                        pool.put(p);
                    }
                }
                Err(mut why) => {
                    if why.is_demux() && self.reg.claimed_by_other(p.data()) {
                        why = TunnelDrop::NotThisTunnel;
                    } else {
                        self.stats.rx_dropped += 1;
                    }
                    self.drops[why.index()] += 1;
                    pool.put(p);
                }
            }
        }
        // One super-frame per run of TCP segments: fewer frames to switch and transmit, and
        // fewer ACKs coming back through the tunnel (see `gro`).
        gro::coalesce(batch, start, pool, &mut self.gro);
        batch.len() - start
    }

    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        if batch.is_empty() {
            return 0;
        }
        if self.fd.is_none() {
            self.stats.tx_dropped += batch.len() as u64;
            for p in batch.drain() {
                pool.put(p);
            }
            return 0;
        }
        self.route.refresh_if_due(&self.cfg);
        let before = self.stats.tx_packets;
        let mut oc = self.offload;
        let dropped_before = oc.drops();
        for p in batch.drain() {
            let mut icmp_sent = false;
            offload::prepare_tx(p, false, pool, &mut oc, &mut |s, pool| {
                self.tx_one(s, pool, &mut icmp_sent)
            });
        }
        self.flush(pool);
        self.stats.tx_dropped += oc.drops() - dropped_before;
        self.offload = oc;
        (self.stats.tx_packets - before) as usize
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    fn poll_fd(&self) -> Option<RawFd> {
        self.icmp.poll_fd(self.raw_fd())
    }

    fn error(&self) -> Option<String> {
        self.error.clone()
    }

    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        self.counters()
    }
}
