//! VXLAN and Geneve tunnel ports: frames travel inside UDP to `options:remote_ip`, through
//! the kernel's UDP sockets and their segmentation offloads. Header logic is in
//! `crate::tunnel` (`udp_encap`, `udp_decap`, the MTU decision); the route and ICMP replies
//! are shared with GRE (`port::tunio`).
//!
//! Transmit, per frame handed to `tx_burst`: `offload::prepare_tx` cuts a GSO super-frame
//! into inner MSS-sized frames with complete checksums, each passes the MTU decision against
//! the underlay path MTU minus the 50 bytes of outer IPv4 + UDP + tunnel header + inner
//! Ethernet (ICMP "fragmentation needed"/"packet too big" otherwise), gets its 8-byte tunnel
//! header, and all the segments of the frame leave in **one** `sendmsg` with `UDP_SEGMENT`
//! (the kernel builds one UDP super-datagram and segments it in the IP stack, or the NIC
//! does), with the outer TOS/TTL of the frame as `IP_TOS`/`IP_TTL` control messages. One
//! `sendmmsg` carries every frame of the burst. The outer UDP source port follows the inner
//! flow, so the underlay's ECMP/RSS spreads flows: each port sends through `TX_SOCKETS`
//! source ports the kernel picks from its ephemeral range (what Linux's own vxlan uses),
//! chosen by a hash of the inner addresses and ports.
//!
//! UDP checksums: with `csum=false` (the default, as OVS) single datagrams carry checksum 0,
//! but a `UDP_SEGMENT` send must have checksums (Linux refuses it on a socket with
//! `SO_NO_CHECK`), so multi-segment sends go out with UDP checksums the kernel computes (or
//! offloads). RFC 7348 and RFC 8926 receivers accept both; each source port has a socket of
//! each kind bound to it, so a flow never changes port.
//!
//! Receive: the UDP socket bound to `dst_port` (on `local_ip` if set) has `UDP_GRO` on, so a
//! burst of datagrams of one flow arrives as one coalesced buffer (its segment size in a
//! control message); each datagram is checked (`tunnel::udp_decap`: flags, version,
//! protocol, critical Geneve options) and matched to its tunnel by source address and VNI,
//! then the inner TCP segments are merged again by the software GRO (`gro`) into one
//! super-frame for a veth/TAP egress.
//!
//! Sharing a UDP port: every tunnel port of one (kind, `local_ip`, `dst_port`) in a network
//! namespace shares one receive socket (an [`Endpoint`]), as OVS shares its
//! `vxlan_sys_4789` vport. Whichever member port reads the socket hands datagrams meant for
//! another member to that member's inbox and wakes its poll descriptor; all members report
//! the same receive affinity (`rx_affinity`), so one PMD polls them all and buffers stay in
//! that PMD's pool. A datagram that no member takes is counted by the member that read it
//! (`*_not_this_tunnel` when a member knows the remote, a key or spoofing drop otherwise).
//!
//! Invariants: no allocation per packet (inboxes and send scratch are allocated once); every
//! frame handed to `tx_burst` is sent or counted; no panic on any received bytes.
//! Thread-safety: the endpoint is behind a mutex taken once per burst; with the default single
//! PMD it is never contended.

use super::linux::{self, setopt, CmsgBuf};
use super::tunio::{IcmpQueue, Route, TxCounters};
use super::{Port, PortStats};
use crate::gro::{self, GroCounters};
use crate::offload::{self, OffloadCounters};
use crate::packet::{Batch, Packet, PacketPool, TunnelMeta, BATCH_SIZE, MAX_FRAME};
use crate::tunnel::{
    self, TunnelConfig, TunnelDrop, TunnelKind, TxDecision, OUTER_IP_LEN, UDP_LEN,
};
use core::net::Ipv4Addr;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Socket buffer size asked for (root may exceed rmem_max).
const SOCK_BUF: libc::c_int = 8 << 20;
/// Transmit sockets per port (distinct UDP source ports for the flows to spread over).
pub const TX_SOCKETS: usize = 8;
/// Frames waiting in a member's inbox at most (beyond: dropped, counted).
const INBOX: usize = 1024;
/// Segments one `UDP_SEGMENT` send may carry (the kernel's `UDP_MAX_SEGMENTS` is 128).
const MAX_SEGS: usize = 64;
/// The largest UDP payload of one send (IPv4 total length 65535).
const MAX_DGRAM: usize = 65535 - OUTER_IP_LEN - UDP_LEN;
// <linux/udp.h>
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;

/// What identifies a shared receive socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EndpointKey {
    netns: u64,
    kind: TunnelKind,
    local: Ipv4Addr,
    port: u16,
}

impl EndpointKey {
    fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in u32::from(self.local)
            .to_be_bytes()
            .into_iter()
            .chain(self.port.to_be_bytes())
            .chain([self.kind as u8])
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
}

/// One member port of an endpoint, as the endpoint sees it.
#[derive(Debug)]
struct Member {
    /// Unique per member (port numbers are only unique within one datapath).
    id: u64,
    port_no: u16,
    cfg: TunnelConfig,
    /// Frames another member read for this one.
    inbox: VecDeque<Packet>,
    /// Readable while `inbox` is not empty (part of the member's poll descriptor).
    wake: OwnedFd,
}

/// The receive socket shared by the tunnel ports of one (kind, local address, UDP port).
#[derive(Debug)]
struct Endpoint {
    key: EndpointKey,
    socket: OwnedFd,
    members: Vec<Member>,
}

static ENDPOINTS: Mutex<Vec<(EndpointKey, Weak<Mutex<Endpoint>>)>> = Mutex::new(Vec::new());
static NEXT_MEMBER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn netns_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}

/// The receive socket: non-blocking, big buffer, `UDP_GRO`, and the control messages that
/// tell each datagram's destination address, TOS and TTL.
fn open_rx(local: Ipv4Addr, port: u16) -> io::Result<OwnedFd> {
    let fd = linux::inet_socket(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, libc::IPPROTO_UDP)?;
    let raw = fd.as_raw_fd();
    let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCK_BUF);
    setopt(raw, libc::SOL_UDP, UDP_GRO, 1)?;
    setopt(raw, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
    setopt(raw, libc::IPPROTO_IP, libc::IP_RECVTOS, 1)?;
    setopt(raw, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
    linux::bind_to(raw, &linux::sockaddr_in(local, port))?;
    Ok(fd)
}

/// A transmit socket: non-blocking, big buffer, DF policy of `cfg`, UDP checksums on or off,
/// bound to `port` (0: an ephemeral port the kernel picks) on `local_ip` when set, shareable
/// (`SO_REUSEPORT`) so its checksum-less twin can take the same source port.
fn open_tx(cfg: &TunnelConfig, checksum: bool, port: u16) -> io::Result<OwnedFd> {
    let fd = linux::inet_socket(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, libc::IPPROTO_UDP)?;
    let raw = fd.as_raw_fd();
    let _ = setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SOCK_BUF);
    setopt(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    setopt(
        raw,
        libc::SOL_SOCKET,
        libc::SO_NO_CHECK,
        i32::from(!checksum),
    )?;
    let pmtu = if cfg.df_default {
        libc::IP_PMTUDISC_DO
    } else {
        libc::IP_PMTUDISC_DONT
    };
    setopt(raw, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, pmtu)?;
    let local = cfg.local_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    linux::bind_to(raw, &linux::sockaddr_in(local, port))?;
    Ok(fd)
}

/// One outer UDP source port's sockets: `gso` computes UDP checksums (Linux refuses
/// `UDP_SEGMENT` without them); `single` follows `csum` for sends of one datagram (VXLAN and
/// Geneve send checksum 0 by default, as OVS). Both are bound to the same port, so a flow
/// keeps its source port (and its underlay path) whichever is used.
#[derive(Debug)]
struct TxPair {
    gso: OwnedFd,
    single: Option<OwnedFd>,
}

impl TxPair {
    fn open(cfg: &TunnelConfig) -> io::Result<TxPair> {
        let gso = open_tx(cfg, true, 0)?;
        let single = if cfg.csum {
            None
        } else {
            let port = linux::local_addr(gso.as_raw_fd())?.1;
            Some(open_tx(cfg, false, port)?)
        };
        Ok(TxPair { gso, single })
    }

    /// The socket for a send of `segments` datagrams.
    fn for_send(&self, segments: usize) -> RawFd {
        match (&self.single, segments) {
            (Some(s), 1) => s.as_raw_fd(),
            _ => self.gso.as_raw_fd(),
        }
    }
}

/// Join (or create) the endpoint of `cfg` as `port_no`; returns it and the member's eventfd
/// descriptor number (for the poll descriptor).
fn join(cfg: &TunnelConfig, port_no: u16) -> io::Result<(Arc<Mutex<Endpoint>>, u64, RawFd)> {
    let key = EndpointKey {
        netns: netns_id(),
        kind: cfg.kind,
        local: cfg.local_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
        port: cfg.dst_port,
    };
    let mut all = lock(&ENDPOINTS);
    all.retain(|(_, w)| w.strong_count() > 0);
    let ep = match all
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        Some(ep) => ep,
        None => {
            let socket = open_rx(key.local, key.port)?;
            let ep = Arc::new(Mutex::new(Endpoint {
                key,
                socket,
                members: Vec::new(),
            }));
            all.push((key, Arc::downgrade(&ep)));
            ep
        }
    };
    let wake = linux::eventfd()?;
    let raw = wake.as_raw_fd();
    let id = NEXT_MEMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let mut e = lock(&ep);
        if let Some(other) = e.members.iter().find(|m| {
            m.cfg.remote_ip == cfg.remote_ip
                && m.cfg.in_key == cfg.in_key
                && m.cfg.local_ip == cfg.local_ip
        }) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "port {} already carries {} from {} with this key",
                    other.port_no,
                    cfg.kind.name(),
                    cfg.remote_ip
                ),
            ));
        }
        e.members.push(Member {
            id,
            port_no,
            cfg: *cfg,
            inbox: VecDeque::with_capacity(64),
            wake,
        });
    }
    Ok((ep, id, raw))
}

/// Open a VXLAN or Geneve tunnel port named `name` with the interface's `options`. Bad options
/// fail with `InvalidInput` naming the option; a UDP port already taken by something else
/// (e.g. the kernel's own vxlan device) fails with the OS error.
pub fn open(
    name: &str,
    kind: TunnelKind,
    options: &BTreeMap<String, String>,
    port_no: u16,
) -> io::Result<Box<dyn Port>> {
    Ok(Box::new(UdpTunnelPort::open(name, kind, options, port_no)?))
}

/// A VXLAN or Geneve tunnel port (one remote; see the module header for the shared socket).
pub struct UdpTunnelPort {
    name: String,
    port_no: u16,
    cfg: TunnelConfig,
    endpoint: Arc<Mutex<Endpoint>>,
    /// This port's member id in the endpoint.
    id: u64,
    affinity: u64,
    tx_socks: Vec<TxPair>,
    route: Route,
    icmp: IcmpQueue,
    stats: PortStats,
    drops: [u64; TunnelDrop::ALL.len()],
    no_buffer: u64,
    inbox_full: u64,
    /// Inner frames received with a partial checksum (marked for completion).
    csum_partial: u64,
    /// Inner TCP super-frames received whole (marked for segmentation).
    rx_superframes: u64,
    tx: TxCounters,
    offload: OffloadCounters,
    gro: GroCounters,
    /// Frames (datagrams) sent by `UDP_SEGMENT` sends of more than one segment, and those
    /// sends.
    gso_sends: u64,
    gso_segments: u64,
    /// Encapsulated segments of the burst being sent, and where each frame's run starts.
    txq: Vec<Packet>,
    groups: Vec<(usize, usize)>,
    /// Reused by every `flush`/`send_run` (no allocation per burst).
    scratch: SendScratch,
}

/// One message of a send: source port (transmit pair), segments `[first, end)` of the
/// queue, segment size and total bytes, outer TOS and TTL.
#[derive(Debug, Clone, Copy)]
struct Msg {
    pair: usize,
    first: usize,
    end: usize,
    seg: usize,
    bytes: usize,
    tos: u8,
    ttl: u8,
}

impl Msg {
    /// Append `next` (the queue's following segments) if the result is still one valid
    /// `UDP_SEGMENT` send: same source port and outer TOS/TTL, every segment but the last of
    /// the segment size (so this message must end with a full one), within the limits.
    fn absorb(&mut self, next: &Msg, last_len: usize) -> bool {
        let ok = next.first == self.end
            && (next.pair, next.tos, next.ttl, next.seg)
                == (self.pair, self.tos, self.ttl, self.seg)
            && last_len == self.seg
            && next.end - self.first <= MAX_SEGS
            && self.bytes + next.bytes <= MAX_DGRAM;
        if ok {
            self.end = next.end;
            self.bytes += next.bytes;
        }
        ok
    }
}

/// Buffers `sendmmsg` is built in, kept between bursts.
struct SendScratch {
    msgs: Vec<Msg>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    cmsg: Vec<CmsgBuf<64>>,
    bytes: Vec<usize>,
}

// SAFETY: the raw pointers inside `iov` and `hdrs` are written and read only within one
// `send_run` call, which rebuilds them first; between calls they are stale values nobody
// dereferences, so moving the scratch (with its port) to another thread is harmless.
unsafe impl Send for SendScratch {}

impl SendScratch {
    fn new() -> SendScratch {
        SendScratch {
            msgs: Vec::with_capacity(BATCH_SIZE * 2),
            iov: Vec::with_capacity(BATCH_SIZE * MAX_SEGS),
            hdrs: Vec::with_capacity(BATCH_SIZE),
            cmsg: vec![CmsgBuf::default(); BATCH_SIZE],
            bytes: Vec::with_capacity(BATCH_SIZE),
        }
    }
}

impl core::fmt::Debug for UdpTunnelPort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpTunnelPort")
            .field("name", &self.name)
            .field("port_no", &self.port_no)
            .field("cfg", &self.cfg)
            .field("route", &self.route)
            .finish()
    }
}

impl UdpTunnelPort {
    /// See [`open`].
    pub fn open(
        name: &str,
        kind: TunnelKind,
        options: &BTreeMap<String, String>,
        port_no: u16,
    ) -> io::Result<UdpTunnelPort> {
        let cfg = TunnelConfig::from_options(kind, options)
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
        let tx_socks = (0..TX_SOCKETS)
            .map(|_| TxPair::open(&cfg))
            .collect::<io::Result<Vec<_>>>()?;
        let (endpoint, id, wake) = join(&cfg, port_no)?;
        let (socket, affinity) = {
            let e = lock(&endpoint);
            (e.socket.as_raw_fd(), e.key.hash())
        };
        Ok(UdpTunnelPort {
            name: name.to_string(),
            port_no,
            icmp: IcmpQueue::new(&[socket, wake]),
            route: Route::new(&cfg),
            cfg,
            endpoint,
            id,
            affinity,
            tx_socks,
            stats: PortStats::default(),
            drops: [0; TunnelDrop::ALL.len()],
            no_buffer: 0,
            inbox_full: 0,
            csum_partial: 0,
            rx_superframes: 0,
            tx: TxCounters::default(),
            offload: OffloadCounters::default(),
            gro: GroCounters::default(),
            gso_sends: 0,
            gso_segments: 0,
            txq: Vec::with_capacity(BATCH_SIZE * MAX_SEGS),
            groups: Vec::with_capacity(BATCH_SIZE * 2),
            scratch: SendScratch::new(),
        })
    }

    /// The tunnel configuration.
    pub fn config(&self) -> &TunnelConfig {
        &self.cfg
    }

    /// The underlay path MTU last read.
    pub fn path_mtu(&self) -> usize {
        self.route.mtu
    }

    /// Per-reason counters for `coverage/show`, zeros included.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let kind = self.cfg.kind;
        let n = names(kind);
        let mut v: Vec<(&'static str, u64)> = TunnelDrop::ALL
            .iter()
            .map(|d| (d.name(kind), self.drops[d.index()]))
            .collect();
        v.extend(self.tx.named(&n.tx));
        let o = &self.offload;
        v.extend([
            (n.rest[0], o.csum_completed),
            (n.rest[1], o.gso_segmented_frames),
            (n.rest[2], o.gso_segments_out),
            (n.rest[3], o.drops()),
            (n.rest[4], self.gso_sends),
            (n.rest[5], self.gso_segments),
            (n.rest[6], self.gro.superframes),
            (n.rest[7], self.gro.segments),
            (n.rest[8], self.no_buffer),
            (n.rest[9], self.inbox_full),
            (n.rest[10], self.csum_partial),
            (n.rest[11], self.rx_superframes),
        ]);
        v
    }

    /// Hand a decapsulated frame to member `idx` of `e`: straight into `batch` when it is
    /// ours and there is room, else into the member's inbox (and wake it).
    fn deliver(
        &mut self,
        e: &mut Endpoint,
        idx: usize,
        p: Packet,
        batch: &mut Batch,
        pool: &mut PacketPool,
    ) {
        let m = &mut e.members[idx];
        let p = if m.id == self.id {
            let len = p.len() as u64;
            match batch.push(p) {
                Ok(()) => {
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len;
                    return;
                }
                // Counted when `rx_burst` takes it from the inbox, as another member's are.
                Err(p) => p,
            }
        } else {
            p
        };
        if m.inbox.len() < INBOX {
            m.inbox.push_back(p);
            linux::wake(&m.wake);
        } else {
            self.inbox_full += 1;
            pool.put(p);
        }
    }

    /// Check one received datagram's payload (see `tunnel::udp_demux`).
    fn classify(
        &self,
        e: &Endpoint,
        payload: &[u8],
        hdr: &RxMeta,
    ) -> Result<(usize, u32, core::ops::Range<usize>), TunnelDrop> {
        let members = e.members.iter().map(|m| m.cfg);
        tunnel::udp_demux(payload, self.cfg.kind, hdr.src, hdr.dst, members)
    }

    /// Stamp a decapsulated frame with its member's port and the outer headers, and deliver
    /// it.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        e: &mut Endpoint,
        idx: usize,
        vni: u32,
        hdr: &RxMeta,
        mut p: Packet,
        batch: &mut Batch,
        pool: &mut PacketPool,
    ) {
        // A kernel tunnel on a veth underlay may deliver a whole TCP super-frame as one
        // datagram: mark it for segmentation at the tunnel's inner MTU. Otherwise the inner
        // TCP/UDP checksum may be partial (the sender's offload): recognize it, as AF_XDP
        // receive does, so egress completes it.
        let max_l3 = self
            .route
            .mtu
            .saturating_sub(self.cfg.header_len() + crate::wire::ethernet::HEADER_LEN);
        if offload::mark_tcp_superframe(&mut p, max_l3) {
            self.rx_superframes += 1;
        } else if offload::mark_unflagged_partial(&mut p) {
            self.csum_partial += 1;
        }
        p.meta.in_port = e.members[idx].port_no;
        p.meta.tunnel = Some(TunnelMeta {
            src: hdr.src,
            dst: hdr.dst,
            key: Some(vni),
            tos: hdr.tos,
            ttl: hdr.ttl,
            df: false,
            csum: false,
            tp_dst: Some(self.cfg.dst_port),
        });
        self.deliver(e, idx, p, batch, pool);
    }

    fn drop(&mut self, why: TunnelDrop) {
        self.drops[why.index()] += 1;
        if why != TunnelDrop::NotThisTunnel {
            self.stats.rx_dropped += 1;
        }
    }

    /// Pick the transmit sockets (UDP source port) for a frame: a hash of its inner flow.
    fn tx_pair(&self, frame: &[u8]) -> usize {
        (flow_hash(frame) as usize) % self.tx_socks.len()
    }

    /// One segment after software offloads: decide, encapsulate, queue into the current
    /// frame's group (or answer / drop).
    fn tx_one(&mut self, mut p: Packet, pool: &mut PacketPool, icmp_sent: &mut bool) {
        let decision = tunnel::tx_decision(p.data(), &self.cfg, self.route.mtu);
        match decision {
            TxDecision::Send | TxDecision::FragmentOuter => {
                if tunnel::udp_encap(&mut p, &self.cfg).is_err() {
                    self.tx.encap_error += 1;
                    self.stats.tx_dropped += 1;
                    pool.put(p);
                    return;
                }
                if decision == TxDecision::FragmentOuter {
                    self.tx.fragmented += 1;
                }
                if self.txq.len() == self.txq.capacity() {
                    self.flush(pool);
                }
                self.txq.push(p);
            }
            TxDecision::FragNeeded(_) | TxDecision::PacketTooBig(_) | TxDecision::Drop => {
                self.icmp
                    .refuse(p, decision, icmp_sent, &mut self.tx, &mut self.stats, pool);
            }
        }
    }

    /// Close the current frame's group of segments (they leave in one send).
    fn end_group(&mut self) {
        let start = self.groups.last().map_or(0, |g| g.1);
        if self.txq.len() > start {
            self.groups.push((start, self.txq.len()));
        }
    }

    /// Send every queued group: one message per group (cut where a `UDP_SEGMENT` send would
    /// be over-long or segments differ in size), in `sendmmsg` calls of one socket each;
    /// then return the buffers.
    fn flush(&mut self, pool: &mut PacketPool) {
        self.end_group();
        if self.groups.is_empty() {
            return;
        }
        let mut msgs = core::mem::take(&mut self.scratch.msgs);
        msgs.clear();
        for &(a, b) in &self.groups {
            let inner = &self.txq[a].data()[tunnel::UDP_TUNNEL_HDR_LEN..];
            let pair = self.tx_pair(inner);
            let (tos, ttl) = tunnel::outer_tos_ttl(inner, &self.cfg);
            let mut i = a;
            while i < b {
                let seg = self.txq[i].len();
                let (mut j, mut total) = (i + 1, seg);
                // Equal-size segments; the last of a message may be shorter.
                while j < b && j - i < MAX_SEGS && total + self.txq[j].len() <= MAX_DGRAM {
                    let l = self.txq[j].len();
                    total += l;
                    j += 1;
                    if l != seg {
                        break;
                    }
                }
                let m = Msg {
                    pair,
                    first: i,
                    end: j,
                    seg,
                    bytes: total,
                    tos,
                    ttl,
                };
                // Frames of one flow and size (small datagrams, or the segments of
                // consecutive super-frames) share one send: one trip through the UDP and IP
                // stacks for the lot, and one coalesced buffer for the receiver.
                let merged = match msgs.last_mut() {
                    Some(prev) => {
                        let last_len = self.txq[prev.end - 1].len();
                        prev.absorb(&m, last_len)
                    }
                    None => false,
                };
                if !merged {
                    msgs.push(m);
                }
                i = j;
            }
        }
        let dst = linux::sockaddr_in(self.cfg.remote_ip, self.cfg.dst_port);
        let mut k = 0;
        while k < msgs.len() {
            let sock = |m: &Msg| self.tx_socks[m.pair].for_send(m.end - m.first);
            let s0 = sock(&msgs[k]);
            let mut l = k + 1;
            while l < msgs.len() && sock(&msgs[l]) == s0 && l - k < BATCH_SIZE {
                l += 1;
            }
            self.send_run(s0, &dst, &msgs[k..l]);
            k = l;
        }
        self.scratch.msgs = msgs;
        self.groups.clear();
        for p in self.txq.drain(..) {
            pool.put(p);
        }
    }

    /// One `sendmmsg` of `run` (messages on socket `sock`, at most `BATCH_SIZE`).
    fn send_run(&mut self, sock: RawFd, dst: &libc::sockaddr_in, run: &[Msg]) {
        let sc = &mut self.scratch;
        sc.iov.clear();
        sc.hdrs.clear();
        sc.bytes.clear();
        for m in run {
            for p in &self.txq[m.first..m.end] {
                let d = p.data();
                sc.iov.push(libc::iovec {
                    iov_base: d.as_ptr() as *mut libc::c_void,
                    iov_len: d.len(),
                });
            }
        }
        let mut at = 0;
        for (i, m) in run.iter().enumerate() {
            let segs = m.end - m.first;
            let c = &mut sc.cmsg[i];
            let mut used = 0;
            if segs > 1 {
                let size = u16::try_from(m.seg).unwrap_or(u16::MAX).to_ne_bytes();
                used = linux::cmsg_put(c, used, libc::SOL_UDP, UDP_SEGMENT, &size);
            }
            let tos = i32::from(m.tos).to_ne_bytes();
            used = linux::cmsg_put(c, used, libc::IPPROTO_IP, libc::IP_TOS, &tos);
            let ttl = i32::from(m.ttl).to_ne_bytes();
            used = linux::cmsg_put(c, used, libc::IPPROTO_IP, libc::IP_TTL, &ttl);
            // SAFETY: mmsghdr is a plain C struct; all-zero (null pointers) is valid.
            let mut h: libc::mmsghdr = unsafe { core::mem::zeroed() };
            // These pointers (into `iov`, `cmsg`, `dst` and, through the iovecs, the frames
            // of `self.txq`) stay valid and unmoved until `sendmmsg_all` returns: nothing
            // below touches those vectors or the queue; only `self.stats` is borrowed.
            h.msg_hdr.msg_iov = sc.iov[at..].as_mut_ptr();
            h.msg_hdr.msg_iovlen = segs as _;
            h.msg_hdr.msg_control = c.0.as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = used as _;
            h.msg_hdr.msg_name = (dst as *const libc::sockaddr_in) as *mut libc::c_void;
            h.msg_hdr.msg_namelen = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            sc.hdrs.push(h);
            let payload: usize = sc.iov[at..at + segs].iter().map(|v| v.iov_len).sum();
            sc.bytes.push(payload - segs * tunnel::UDP_TUNNEL_HDR_LEN);
            at += segs;
        }
        let out = linux::sendmmsg_all(sock, &mut sc.hdrs, &sc.bytes, &mut self.stats, |_| false);
        for m in &run[..out.sent.min(run.len())] {
            let segs = (m.end - m.first) as u64;
            self.stats.tx_packets += segs;
            if segs > 1 {
                self.gso_sends += 1;
                self.gso_segments += segs;
            }
        }
        if let Some(e) = out.last_errno {
            if self.tx.on_send_error(e, out.refused) {
                self.route.refresh(&self.cfg);
            }
        }
    }
}

/// The per-kind counter names.
struct Names {
    tx: [&'static str; 7],
    rest: [&'static str; 12],
}

fn names(kind: TunnelKind) -> Names {
    match kind {
        TunnelKind::Geneve => Names {
            tx: [
                "geneve_tx_too_big",
                "geneve_tx_icmp_frag_needed",
                "geneve_tx_icmp6_packet_too_big",
                "geneve_tx_icmp_queue_full",
                "geneve_tx_fragmented",
                "geneve_tx_no_route",
                "geneve_tx_encap_error",
            ],
            rest: [
                "geneve_tx_csum_completed",
                "geneve_tx_gso_segmented",
                "geneve_tx_gso_segments",
                "geneve_tx_offload_drops",
                "geneve_tx_udp_gso_sends",
                "geneve_tx_udp_gso_segments",
                "geneve_rx_gro_superframes",
                "geneve_rx_gro_segments",
                "geneve_rx_no_buffer",
                "geneve_rx_inbox_full",
                "geneve_rx_csum_partial",
                "geneve_rx_whole_superframes",
            ],
        },
        _ => Names {
            tx: [
                "vxlan_tx_too_big",
                "vxlan_tx_icmp_frag_needed",
                "vxlan_tx_icmp6_packet_too_big",
                "vxlan_tx_icmp_queue_full",
                "vxlan_tx_fragmented",
                "vxlan_tx_no_route",
                "vxlan_tx_encap_error",
            ],
            rest: [
                "vxlan_tx_csum_completed",
                "vxlan_tx_gso_segmented",
                "vxlan_tx_gso_segments",
                "vxlan_tx_offload_drops",
                "vxlan_tx_udp_gso_sends",
                "vxlan_tx_udp_gso_segments",
                "vxlan_rx_gro_superframes",
                "vxlan_rx_gro_segments",
                "vxlan_rx_no_buffer",
                "vxlan_rx_inbox_full",
                "vxlan_rx_csum_partial",
                "vxlan_rx_whole_superframes",
            ],
        },
    }
}

/// A hash of the inner flow of an Ethernet frame: IP addresses and TCP/UDP ports when
/// present, else the MAC addresses (FNV-1a; deterministic, so one flow keeps one port).
fn flow_hash(frame: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |b: &[u8]| {
        for &x in b {
            h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let l2 = crate::wire::EthernetFrame::new_checked(frame)
        .ok()
        .and_then(|e| e.parse_l2().ok());
    match l2 {
        Some(l2)
            if l2.ethertype == crate::wire::EtherType::IPV4 && frame.len() >= l2.l3_offset + 20 =>
        {
            let ip = &frame[l2.l3_offset..];
            mix(&ip[12..20]);
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if matches!(ip[9], 6 | 17) && ip.len() >= ihl + 4 {
                mix(&ip[ihl..ihl + 4]);
            }
        }
        Some(l2)
            if l2.ethertype == crate::wire::EtherType::IPV6 && frame.len() >= l2.l3_offset + 40 =>
        {
            let ip = &frame[l2.l3_offset..];
            mix(&ip[8..40]);
            if matches!(ip[6], 6 | 17) && ip.len() >= 44 {
                mix(&ip[40..44]);
            }
        }
        _ => mix(frame.get(..12).unwrap_or(frame)),
    }
    h ^ (h >> 29)
}

/// What the receive socket said about a buffer.
#[derive(Debug, Clone, Copy)]
struct RxMeta {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tos: u8,
    ttl: u8,
    /// `UDP_GRO` segment size (`None`: one datagram).
    gso: Option<usize>,
}

impl Port for UdpTunnelPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        let start = batch.len();
        self.icmp.drain(self.port_no, pool, batch, &mut self.stats);
        let ep = Arc::clone(&self.endpoint);
        let mut e = lock(&ep);
        // Frames another member read for us first.
        if let Some(me) = e.members.iter_mut().find(|m| m.id == self.id) {
            while !batch.is_full() {
                let Some(p) = me.inbox.pop_front() else { break };
                let len = p.len() as u64;
                if let Err(p) = batch.push(p) {
                    me.inbox.push_front(p);
                    break;
                }
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += len;
            }
            if me.inbox.is_empty() {
                linux::unwake(&me.wake);
            }
        }
        // Then the socket: a few coalesced buffers at most (each may hold 40+ datagrams).
        let want = batch.room().min(8);
        if want > 0 {
            self.read_socket(&mut e, want, pool, batch);
        }
        drop(e);
        gro::coalesce(batch, start, pool, &mut self.gro);
        batch.len() - start
    }

    fn tx_burst(&mut self, batch: &mut Batch, pool: &mut PacketPool) -> usize {
        if batch.is_empty() {
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
            self.end_group();
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
        self.icmp.poll_fd(None)
    }

    fn rx_affinity(&self) -> Option<u64> {
        Some(self.affinity)
    }

    fn named_counters(&self) -> Vec<(&'static str, u64)> {
        self.counters()
    }
}

impl UdpTunnelPort {
    /// `recvmmsg` up to `want` buffers from the endpoint's socket and deliver their
    /// datagrams.
    fn read_socket(
        &mut self,
        e: &mut Endpoint,
        want: usize,
        pool: &mut PacketPool,
        batch: &mut Batch,
    ) {
        let fd = e.socket.as_raw_fd();
        let mut slots: [Option<Packet>; 8] = Default::default();
        let mut k = 0;
        while k < want {
            let Some(p) = pool.get() else { break };
            slots[k] = Some(p);
            k += 1;
        }
        if k == 0 {
            return;
        }
        // SAFETY: iovec, mmsghdr and sockaddr_in are plain C structs; all-zero is valid.
        let mut iov: [libc::iovec; 8] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; 8] = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_in; 8] = unsafe { core::mem::zeroed() };
        let mut cmsg = [CmsgBuf::<128>::default(); 8];
        for (i, p) in slots[..k].iter_mut().flatten().enumerate() {
            let area = p.rx_area();
            iov[i] = libc::iovec {
                iov_base: area.as_mut_ptr().cast(),
                iov_len: area.len().min(MAX_FRAME),
            };
            let h = &mut msgs[i].msg_hdr;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_name = (&mut names[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_control = cmsg[i].0.as_mut_ptr().cast();
            h.msg_controllen = cmsg[i].0.len() as _;
        }
        let got = linux::recvmmsg_batch(fd, &mut msgs[..k]).unwrap_or_else(|_| {
            self.stats.rx_errors += 1;
            0
        });
        for (i, slot) in slots[..k].iter_mut().enumerate() {
            let Some(mut buf) = slot.take() else { continue };
            if i >= got {
                pool.put(buf);
                continue;
            }
            if msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.drop(TunnelDrop::Truncated);
                pool.put(buf);
                continue;
            }
            buf.set_len(msgs[i].msg_len as usize);
            let mut meta = RxMeta {
                src: linux::from_sockaddr_in(&names[i]).0,
                dst: Ipv4Addr::UNSPECIFIED,
                tos: 0,
                ttl: 0,
                gso: None,
            };
            linux::for_each_cmsg(&msgs[i].msg_hdr, |level, ty, data| match (level, ty) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) if data.len() >= 12 => {
                    meta.dst = Ipv4Addr::new(data[8], data[9], data[10], data[11]);
                }
                (libc::IPPROTO_IP, libc::IP_TOS) if !data.is_empty() => meta.tos = data[0],
                (libc::IPPROTO_IP, libc::IP_TTL) if data.len() >= 4 => {
                    meta.ttl = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as u8;
                }
                (libc::SOL_UDP, UDP_GRO) if data.len() >= 4 => {
                    let g = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
                    meta.gso = usize::try_from(g).ok().filter(|g| *g > 0);
                }
                _ => {}
            });
            let len = buf.len();
            let seg = meta.gso.unwrap_or(len).max(1);
            if seg >= len {
                // One datagram: its buffer becomes the frame (no copy).
                match self.classify(e, buf.data(), &meta) {
                    Ok((idx, vni, inner)) => {
                        buf.pull_front(inner.start);
                        buf.truncate(inner.len());
                        self.finish(e, idx, vni, &meta, buf, batch, pool);
                    }
                    Err(why) => {
                        self.drop(why);
                        pool.put(buf);
                    }
                }
                continue;
            }
            // Coalesced datagrams: each inner frame is copied into a buffer of its own (the
            // software GRO merges the TCP segments again).
            for r in tunnel::gro_datagrams(len, meta.gso) {
                match self.classify(e, &buf.data()[r.clone()], &meta) {
                    Ok((idx, vni, inner)) => {
                        if let Some(mut p) = pool.get() {
                            if p.set_frame(&buf.data()[r.start + inner.start..r.start + inner.end])
                            {
                                self.finish(e, idx, vni, &meta, p, batch, pool);
                            } else {
                                pool.put(p);
                                self.drop(TunnelDrop::Truncated);
                            }
                        } else {
                            self.no_buffer += 1;
                            self.stats.rx_dropped += 1;
                        }
                    }
                    Err(why) => self.drop(why),
                }
            }
            pool.put(buf);
        }
    }
}

impl Drop for UdpTunnelPort {
    /// Leave the endpoint (the last member's departure closes the shared socket). Frames
    /// still in this member's inbox are freed, not returned to their pool.
    fn drop(&mut self) {
        lock(&self.endpoint).members.retain(|m| m.id != self.id);
    }
}
