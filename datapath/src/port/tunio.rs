//! What the tunnel ports (`gre`, `udptun`) share: the underlay route (path MTU and source
//! address, re-read every second while transmitting and after `EMSGSIZE`), the queue of ICMP
//! "too big" replies with its PMD wake-up, and the transmit-side counters and MTU handling.
//!
//! ICMP replies: a frame that does not fit the tunnel (`tunnel::tx_decision`) gets one reply
//! per original frame, built like Linux does for bridged tunnels; it waits in port-owned slots
//! and is handed to the bridge by the port's next `rx_burst`, as if it had come out of the
//! tunnel. The port's poll descriptor is an epoll over its socket and an eventfd that is
//! readable while replies wait, so a reply queued by another PMD's transmit wakes the PMD
//! that receives from the port at once.
//!
//! Invariants: no allocation per packet (reply slots are allocated once); every frame the MTU
//! decision refuses is counted (`too_big`) and its buffer returned.

use super::linux;
use super::PortStats;
use crate::packet::{Batch, Packet, PacketPool};
use crate::tunnel::{self, TunnelConfig, TxDecision, ICMP_FRAME_MAX};
use core::net::Ipv4Addr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// ICMP replies waiting for the next `rx_burst`.
pub const ICMP_QUEUE: usize = 8;
/// Path MTU assumed until the route is known.
pub const DEFAULT_MTU: usize = 1500;
/// How often the route (MTU, source) is re-read while transmitting.
const REFRESH: Duration = Duration::from_secs(1);

/// Route MTU and source address toward `remote` (from `local` if set), via a connected UDP
/// socket. No packet is sent.
pub fn route_to(remote: Ipv4Addr, local: Option<Ipv4Addr>) -> io::Result<(usize, Ipv4Addr)> {
    let fd = linux::inet_socket(libc::SOCK_DGRAM, 0)?;
    let raw = fd.as_raw_fd();
    if let Some(l) = local {
        linux::bind_to(raw, &linux::sockaddr_in(l, 0))?;
    }
    linux::connect_to(raw, &linux::sockaddr_in(remote, 9))?;
    let mtu = linux::getopt_int(raw, libc::IPPROTO_IP, libc::IP_MTU)?;
    let src = linux::local_addr(raw)?.0;
    Ok((usize::try_from(mtu).unwrap_or(DEFAULT_MTU).max(68), src))
}

/// The underlay route toward a tunnel's remote.
#[derive(Debug)]
pub struct Route {
    /// Underlay path MTU toward `remote_ip`.
    pub mtu: usize,
    /// Outer source address (`local_ip`, or what the route picks; 0.0.0.0 until known).
    pub src: Ipv4Addr,
    next_refresh: Instant,
}

impl Route {
    /// The route toward `cfg.remote_ip`, read now.
    pub fn new(cfg: &TunnelConfig) -> Route {
        let mut r = Route {
            mtu: DEFAULT_MTU,
            src: cfg.local_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            next_refresh: Instant::now(),
        };
        r.refresh(cfg);
        r
    }

    /// Re-read MTU and source address.
    pub fn refresh(&mut self, cfg: &TunnelConfig) {
        self.next_refresh = Instant::now() + REFRESH;
        if let Ok((mtu, src)) = route_to(cfg.remote_ip, cfg.local_ip) {
            self.mtu = mtu;
            if cfg.local_ip.is_none() {
                self.src = src;
            }
        }
    }

    /// Re-read when due (call once per transmit burst).
    pub fn refresh_if_due(&mut self, cfg: &TunnelConfig) {
        if Instant::now() >= self.next_refresh {
            self.refresh(cfg);
        }
    }
}

/// Transmit-side events, by name in the ports' named counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxCounters {
    pub too_big: u64,
    pub icmp_frag_needed: u64,
    pub icmp6_too_big: u64,
    pub icmp_queue_full: u64,
    pub fragmented: u64,
    pub no_route: u64,
    pub encap_error: u64,
}

impl TxCounters {
    /// `(prefix_tx_NAME, value)` pairs for `coverage/show`, zeros included.
    pub fn named(&self, names: &[&'static str; 7]) -> [(&'static str, u64); 7] {
        [
            (names[0], self.too_big),
            (names[1], self.icmp_frag_needed),
            (names[2], self.icmp6_too_big),
            (names[3], self.icmp_queue_full),
            (names[4], self.fragmented),
            (names[5], self.no_route),
            (names[6], self.encap_error),
        ]
    }

    /// Follow up on `n` refused sends whose last error was `e`; true when the route should be
    /// re-read (the path MTU shrank).
    pub fn on_send_error(&mut self, e: i32, n: u64) -> bool {
        match e {
            libc::EMSGSIZE => {
                self.too_big += n;
                true
            }
            libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EHOSTDOWN => {
                self.no_route += n;
                false
            }
            _ => false,
        }
    }
}

/// ICMP replies waiting to be received, and the wake-up that goes with them.
pub struct IcmpQueue {
    slots: Box<[[u8; ICMP_FRAME_MAX]; ICMP_QUEUE]>,
    len: [usize; ICMP_QUEUE],
    head: usize,
    count: usize,
    /// An eventfd readable while replies wait, and an epoll over it and the port's socket.
    waker: Option<(OwnedFd, OwnedFd)>,
}

impl core::fmt::Debug for IcmpQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IcmpQueue")
            .field("count", &self.count)
            .finish()
    }
}

impl IcmpQueue {
    /// An empty queue; `watch` (the port's receive socket and any other descriptor that
    /// means "work to receive"; empty when the port has no socket) and the queue's eventfd
    /// are joined in one epoll descriptor for [`IcmpQueue::poll_fd`].
    pub fn new(watch: &[RawFd]) -> IcmpQueue {
        let waker = (!watch.is_empty())
            .then(|| {
                let ev = linux::eventfd().ok()?;
                let mut fds = watch.to_vec();
                fds.push(ev.as_raw_fd());
                let ep = linux::epoll_over(&fds).ok()?;
                Some((ev, ep))
            })
            .flatten();
        IcmpQueue {
            slots: Box::new([[0; ICMP_FRAME_MAX]; ICMP_QUEUE]),
            len: [0; ICMP_QUEUE],
            head: 0,
            count: 0,
            waker,
        }
    }

    /// The descriptor a PMD waits on: readable when the socket has data or replies wait
    /// (`socket` itself when no waker could be made).
    pub fn poll_fd(&self, socket: Option<RawFd>) -> Option<RawFd> {
        match &self.waker {
            Some((_, ep)) => Some(ep.as_raw_fd()),
            None => socket,
        }
    }

    /// Queue the reply to `frame` (one that did not fit) advertising `mtu`.
    fn push(&mut self, frame: &[u8], mtu: u32, v6: bool, tx: &mut TxCounters) {
        if self.count == ICMP_QUEUE {
            tx.icmp_queue_full += 1;
            return;
        }
        let slot = (self.head + self.count) % ICMP_QUEUE;
        if let Some(n) = tunnel::build_icmp_too_big(frame, mtu, &mut self.slots[slot]) {
            self.len[slot] = n;
            self.count += 1;
            if let Some((ev, _)) = &self.waker {
                linux::wake(ev);
            }
            if v6 {
                tx.icmp6_too_big += 1;
            } else {
                tx.icmp_frag_needed += 1;
            }
        }
    }

    /// Move queued replies into `batch` as received on `port_no`.
    pub fn drain(
        &mut self,
        port_no: u16,
        pool: &mut PacketPool,
        batch: &mut Batch,
        stats: &mut PortStats,
    ) -> usize {
        let mut n = 0;
        while self.count > 0 && !batch.is_full() {
            let Some(mut p) = pool.get() else { break };
            let slot = self.head;
            // An ICMP reply is at most a few hundred bytes: it always fits.
            let _fits = p.set_frame(&self.slots[slot][..self.len[slot]]);
            p.meta.in_port = port_no;
            self.head = (self.head + 1) % ICMP_QUEUE;
            self.count -= 1;
            stats.rx_packets += 1;
            stats.rx_bytes += p.len() as u64;
            match batch.push(p) {
                Ok(()) => n += 1,
                Err(p) => pool.put(p),
            }
        }
        if self.count == 0 {
            if let Some((ev, _)) = &self.waker {
                linux::unwake(ev);
            }
        }
        n
    }

    /// A frame the MTU decision refused (`decision` is not `Send`/`FragmentOuter`): count it,
    /// queue the ICMP reply it earns (at most one per original frame: `icmp_sent`), and give
    /// the buffer back.
    pub fn refuse(
        &mut self,
        p: Packet,
        decision: TxDecision,
        icmp_sent: &mut bool,
        tx: &mut TxCounters,
        stats: &mut PortStats,
        pool: &mut PacketPool,
    ) {
        tx.too_big += 1;
        stats.tx_dropped += 1;
        let reply = match decision {
            TxDecision::FragNeeded(m) => Some((u32::from(m), false)),
            TxDecision::PacketTooBig(m) => Some((m, true)),
            _ => None,
        };
        if let Some((mtu, v6)) = reply {
            if !*icmp_sent {
                *icmp_sent = true;
                self.push(p.data(), mtu, v6, tx);
            }
        }
        pool.put(p);
    }
}
